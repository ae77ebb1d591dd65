//! The example mail repo in tenants/: it validates cleanly, it uses every
//! feature of the tenant file, and every password hash in it verifies
//! against the plaintext in tests/fixtures/example-passwords.toml.

mod support;

use std::collections::BTreeSet;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use support::{example_mailboxes, example_passwords, example_tenants, mailops};

/// Does `hash` (`{SCHEME}…`) verify `password`? Uses the reference crates for
/// each scheme, not mailops itself.
fn verifies(hash: &str, password: &str) -> bool {
    let (scheme, body) = hash
        .strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
        .unwrap_or_else(|| panic!("not a {{SCHEME}} hash: {hash}"));
    match scheme {
        "ARGON2ID" => {
            let parsed = PasswordHash::new(body).expect("a PHC string");
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }
        "BLF-CRYPT" => bcrypt::verify(password, body).expect("a bcrypt hash"),
        "SHA512-CRYPT" => sha_crypt::sha512_check(password, body).is_ok(),
        other => panic!("the examples use no {other} hashes"),
    }
}

#[test]
fn validate_passes_the_examples_without_warnings() {
    let output = mailops()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["diagnostics"], serde_json::json!([]), "{json:#}");
    assert_eq!(json["errors"], 0);
    assert_eq!(json["warnings"], 0);
    assert!(output.status.success());
}

#[test]
fn every_example_hash_verifies_against_its_plaintext() {
    let passwords = example_passwords();
    let mailboxes = example_mailboxes();
    assert!(mailboxes.len() >= 8, "the examples have several mailboxes");
    for mailbox in &mailboxes {
        let plaintext = passwords.get(&mailbox.address).unwrap_or_else(|| {
            panic!(
                "{} ({}) has no plaintext in example-passwords.toml",
                mailbox.address, mailbox.file
            )
        });
        assert!(
            verifies(&mailbox.password, plaintext),
            "the hash of {} in {} does not verify",
            mailbox.address,
            mailbox.file
        );
        assert!(
            !verifies(&mailbox.password, &format!("{plaintext}x")),
            "the hash of {} accepts a wrong password",
            mailbox.address
        );
    }
}

#[test]
fn every_plaintext_belongs_to_an_example_mailbox() {
    let addresses: BTreeSet<String> = example_mailboxes().into_iter().map(|m| m.address).collect();
    for address in example_passwords().keys() {
        assert!(
            addresses.contains(address),
            "{address} is not a mailbox in tenants/"
        );
    }
}

#[test]
fn no_plaintext_password_appears_in_a_tenant_file() {
    let passwords = example_passwords();
    for tenant in example_tenants() {
        for plaintext in passwords.values() {
            assert!(
                !tenant.text.contains(plaintext.as_str()),
                "{} holds a plaintext password",
                tenant.file
            );
        }
    }
}

#[test]
fn every_example_file_points_editors_at_the_schema() {
    for tenant in example_tenants() {
        assert!(
            tenant
                .text
                .starts_with("#:schema ../schema/tenant.schema.json\n"),
            "{} does not start with the #:schema line",
            tenant.file
        );
    }
}

/// The examples are the feature tour: if a feature disappears from them,
/// this test names it.
#[test]
fn the_examples_use_every_feature() {
    let tenants = example_tenants();
    let domains: BTreeSet<String> = tenants.iter().map(|t| t.domain.clone()).collect();
    let mut features: BTreeSet<&str> = BTreeSet::new();

    for mailbox in example_mailboxes() {
        let scheme = mailbox.password.split('}').next().unwrap_or("");
        features.insert(match scheme {
            "{ARGON2ID" => "hash ARGON2ID",
            "{BLF-CRYPT" => "hash BLF-CRYPT",
            "{SHA512-CRYPT" => "hash SHA512-CRYPT",
            _ => "hash other",
        });
    }
    assert!(tenants.len() >= 5, "four clients and the operator");
    for tenant in &tenants {
        let t = &tenant.toml;
        let dns = t.get("dns").and_then(|d| d.as_table());
        // `[dkim]` is one key, `[[dkim]]` several.
        let dkim_keys: Vec<&toml::Table> = match &t["dkim"] {
            toml::Value::Array(keys) => keys.iter().map(|k| k.as_table().unwrap()).collect(),
            other => vec![other.as_table().unwrap()],
        };
        if dkim_keys.len() > 1 {
            features.insert("dkim several keys");
        }
        let limits = t.get("limits").and_then(|l| l.as_table());
        if tenant.domain.starts_with("xn--") || tenant.domain.contains(".xn--") {
            features.insert("IDN domain");
            assert!(
                !t["domain"].as_str().unwrap().is_ascii(),
                "the IDN example is written in Unicode"
            );
            assert_eq!(
                tenant.file,
                format!("tenants/{}.toml", tenant.domain),
                "named by its A-label"
            );
        }
        if let Some(dns) = dns {
            if dns.contains_key("ttl") {
                features.insert("dns ttl");
            }
            if dns.contains_key("zone_id") {
                features.insert("dns zone_id");
            }
            if let Some(spf) = dns.get("spf").and_then(|s| s.as_table()) {
                if spf
                    .get("include")
                    .and_then(|i| i.as_array())
                    .is_some_and(|i| !i.is_empty())
                {
                    features.insert("spf include");
                }
                for m in spf
                    .get("mechanisms")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                {
                    let m = m.as_str().unwrap();
                    if m.starts_with("ip4:") {
                        features.insert("spf ip4");
                    }
                    if m.starts_with("ip6:") {
                        features.insert("spf ip6");
                    }
                }
            }
            if let Some(dmarc) = dns.get("dmarc").and_then(|d| d.as_table()) {
                if dmarc.get("policy").and_then(|p| p.as_str()) == Some("reject") {
                    features.insert("dmarc reject");
                }
                if dmarc.contains_key("pct") {
                    features.insert("dmarc pct");
                }
                if dmarc.contains_key("rua") {
                    features.insert("dmarc rua");
                }
            }
        }
        for dkim in &dkim_keys {
            if dkim
                .get("selector")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s != "dkim")
            {
                features.insert("dkim other selector");
            }
            // The DER prefix of an Ed25519 SubjectPublicKeyInfo.
            if dkim["public_key"]
                .as_str()
                .unwrap()
                .starts_with("MCowBQYDK2VwAyEA")
            {
                features.insert("dkim ed25519");
            }
        }
        if let Some(limits) = limits {
            for key in ["max_mailboxes", "max_quota", "default_quota"] {
                if limits.contains_key(key) {
                    features.insert(match key {
                        "max_mailboxes" => "limit max_mailboxes",
                        "max_quota" => "limit max_quota",
                        _ => "limit default_quota",
                    });
                }
            }
        }
        for alias in t
            .get("alias")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let address = alias["address"].as_str().unwrap();
            let to: Vec<&str> = alias["to"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect();
            if address == "*" {
                features.insert("catch-all");
            }
            if to.len() >= 2 {
                features.insert("alias with several destinations");
            }
            for destination in to {
                let Some((_, domain)) = destination.rsplit_once('@') else {
                    if to_is_alias(t, destination) {
                        features.insert("alias of an alias");
                    }
                    continue;
                };
                let domain = support::a_label(domain);
                if domain == tenant.domain {
                    continue;
                }
                features.insert(if domains.contains(&domain) {
                    "cross-tenant alias"
                } else {
                    "external forward"
                });
            }
        }
        if tenant.text.contains("description = ")
            && t["description"].as_str().unwrap().contains('"')
        {
            features.insert("description with quotes");
        }
    }

    let expected = [
        "IDN domain",
        "alias of an alias",
        "alias with several destinations",
        "catch-all",
        "cross-tenant alias",
        "description with quotes",
        "dkim ed25519",
        "dkim other selector",
        "dkim several keys",
        "dmarc pct",
        "dmarc reject",
        "dmarc rua",
        "dns ttl",
        "dns zone_id",
        "external forward",
        "hash ARGON2ID",
        "hash BLF-CRYPT",
        "hash SHA512-CRYPT",
        "limit default_quota",
        "limit max_mailboxes",
        "limit max_quota",
        "spf include",
        "spf ip4",
        "spf ip6",
    ];
    let missing: Vec<&&str> = expected
        .iter()
        .filter(|f| !features.contains(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "the examples no longer show: {missing:?}"
    );
}

fn to_is_alias(tenant: &toml::Table, local: &str) -> bool {
    tenant
        .get("alias")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .any(|alias| alias["address"].as_str() == Some(local))
}
