//! `mailops new <domain>`: scaffold a tenant file that validates as written.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::keys::KeyWriter;
use crate::commands::selector::{self, check_companion_selector, check_selector};
use crate::commands::{EXIT_OK, Error, Result, domain_argument};
use crate::dkim_keys::{self, KeyAlgorithm};
use crate::fsutil;
use crate::load::TENANTS_DIR;
use crate::load::find_tenant_file;
use crate::pipeline;
use crate::validate::address::normalize_address;

pub(crate) fn run(
    dir: &Path,
    domain: &str,
    selector: Option<String>,
    algorithm: KeyAlgorithm,
    admin: Option<String>,
) -> Result<ExitCode> {
    let name = domain_argument(domain)?;
    if let Some(existing) = find_tenant_file(dir, &name.ascii, &name.unicode) {
        return Err(Error::user(format!(
            "{} already exists",
            existing.display()
        )));
    }
    let compiled = pipeline::compile(dir)?;
    let platform = &compiled.model.platform;
    let selector = selector.unwrap_or_else(|| platform.defaults.dkim_selector.clone());
    check_selector(&selector)?;
    let admin = admin.unwrap_or_else(|| platform.admin_email.clone());
    let admin = match normalize_address(&admin) {
        Ok((local, domain)) => format!("{local}@{domain}"),
        Err(problem) => {
            return Err(Error::user(format!(
                "`{admin}` is not a valid address: {}",
                problem.describe()
            )));
        }
    };
    // An admin address inside the new domain itself would make postmaster@ an alias of itself.
    let admin_domain = admin.rsplit_once('@').map_or("", |(_, d)| d);
    if admin_domain == name.ascii {
        return Err(Error::user(format!(
            "postmaster@ and abuse@ of {} cannot forward into the same domain before it has a mailbox\nhelp: pass --admin with an address elsewhere",
            name.unicode
        )));
    }

    // An Ed25519 key comes with an RSA key beside it (ARC seals with RSA, and
    // many receivers verify only RSA): `[[dkim]]` entries, signed with both.
    let mut planned = vec![(selector.clone(), algorithm)];
    if algorithm == KeyAlgorithm::Ed25519 {
        let rsa = format!("{selector}-rsa");
        check_companion_selector(&rsa)?;
        planned.push((rsa, KeyAlgorithm::Rsa2048));
    }
    let writer = KeyWriter::for_platform(dir, platform, None)?;
    let mut keys = Vec::new();
    for (selector, algorithm) in &planned {
        selector::key_file_name_fits(&name.ascii, selector)?;
        let key_path = writer.path(&name.ascii, selector);
        if std::fs::symlink_metadata(&key_path).is_ok() {
            return Err(Error::user(format!(
                "{} already exists; remove it or run `mailops dkim keygen` after creating the file by hand",
                key_path.display()
            )));
        }
        let pair = dkim_keys::generate(*algorithm)?;
        // Encrypted in memory with `[secrets]`: the plaintext is never written.
        let contents = writer.contents(&pair)?;
        keys.push((selector.as_str(), key_path, pair, contents));
    }
    let public: Vec<(&str, &str)> = keys
        .iter()
        .map(|(selector, _, pair, _)| (*selector, pair.public_base64.as_str()))
        .collect();
    let text = tenant_template(&name.unicode, &public, &admin);
    let tenant_path = dir.join(TENANTS_DIR).join(format!("{}.toml", name.ascii));
    // Not through a link in the repo (`fsutil::Beneath`).
    for (_, key_path, _, _) in &keys {
        writer.prepare(dir, key_path)?;
    }
    fsutil::dirs_in_repo(dir, &tenant_path, None)?;
    let mut written = Vec::new();
    for (_, key_path, _, contents) in &keys {
        if let Err(err) = writer.write(key_path, contents) {
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            return Err(err.into());
        }
        written.push(key_path.clone());
    }
    if let Err(err) = fsutil::write_atomic(&tenant_path, text.as_bytes()) {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(err.into());
    }
    eprintln!(
        "created {} (postmaster@ and abuse@ forward to {admin})",
        tenant_path
            .strip_prefix(dir)
            .unwrap_or(&tenant_path)
            .display()
    );
    for path in &written {
        eprintln!("{}", writer.wrote(path));
    }
    Ok(EXIT_OK)
}

fn tenant_template(domain: &str, keys: &[(&str, &str)], admin: &str) -> String {
    let dkim = match keys {
        [(selector, public_key)] => {
            format!("[dkim]\nselector = \"{selector}\"\npublic_key = \"{public_key}\"\n")
        }
        several => {
            let mut text = String::from(
                "# An Ed25519 key and an RSA key: mail is signed with both (RFC 8463),\n# and ARC seals with the RSA key.\n",
            );
            for (i, (selector, public_key)) in several.iter().enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "[[dkim]]\nselector = \"{selector}\"\npublic_key = \"{public_key}\"\n"
                ));
            }
            text
        }
    };
    format!(
        r#"#:schema ../schema/tenant.schema.json
domain = "{domain}"
# description = "Who the client is"

[dns]
# ttl = 3600
# spf.include = ["_spf.newsletter-provider.example"]
# dmarc = {{ policy = "quarantine", rua = ["mailto:dmarc-reports@{domain}"] }}

{dkim}
[limits]
# max_mailboxes = 50
# default_quota = "5 GiB"

# [[mailbox]]
# user = "alice"
# name = "Alice"
# password = "{{ARGON2ID}}…"   # from `mailops hash-password`

[[alias]]
address = "postmaster"
to = ["{admin}"]

[[alias]]
address = "abuse"
to = ["{admin}"]
"#
    )
}
