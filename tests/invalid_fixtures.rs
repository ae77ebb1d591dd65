//! Every invalid fixture under tests/fixtures/invalid/<case>/ is a small mail
//! repo with one problem (or, for `multi-error`, many). For each one:
//!
//! - `mailops -C <fixture> validate` exits 1 (0 for warning-only fixtures),
//!   and its rendered diagnostics (no colour) match the insta snapshot in
//!   tests/snapshots/ — the snapshots are the spec of what users see;
//! - `--format json` names file, line, column, code, severity, message and
//!   help of every diagnostic, exactly the codes listed below, and the human
//!   form shows the same `file:line:col`.
//!
//! Two more tests keep the list honest: every fixture directory is listed
//! here, and every diagnostic code of the catalogues (`mailops::diagnostic_codes`,
//! from the stages' code enums) has a fixture.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::{mailops, root};

const FIXTURES: &str = "tests/fixtures/invalid";

/// Codes no fixture can reach, and why.
const UNREACHABLE: &[(&str, &str)] = &[];

/// Diagnostics without a place in a file.
/// (The load stage's refusals name a path whose contents were never read.)
const WITHOUT_LOCATION: &[&str] = &[
    "mailops::load::no-platform-file",
    "mailops::load::no-tenants-folder",
    "mailops::load::not-a-regular-file",
    "mailops::load::not-a-folder",
];

/// The key-mismatch fixture needs a real private key that does not belong to
/// its tenant's public key. No private key is committed: a fresh one, made
/// for another domain, is put in the fixture's (git-ignored) key store.
fn ensure_mismatched_key(dir: &str) {
    let key = root().join(dir).join("keys/acme.example.dkim.key");
    if key.exists() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join(dir).join("mailops.toml"),
        scratch.path().join("mailops.toml"),
    )
    .unwrap();
    let made = mailops()
        .arg("-C")
        .arg(scratch.path())
        .args([
            "new",
            "throwaway.example",
            "--admin",
            "postmaster@webhizzy.in",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::copy(scratch.path().join("keys/throwaway.example.dkim.key"), &key).unwrap();
}

/// mailops refuses a key store that group or others may read, and git
/// records no such modes: make a fixture's key store private as
/// `mailops dkim keygen` would have made it.
fn make_key_store_private(dir: &str) {
    use std::os::unix::fs::PermissionsExt;
    let keys = root().join(dir).join("keys");
    let Ok(entries) = std::fs::read_dir(&keys) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn check(case: &str, exit: i32, codes: &[&str]) {
    let dir = format!("{FIXTURES}/{case}");
    assert!(root().join(&dir).is_dir(), "{dir} is missing");
    if case == "dkim-key-mismatch" {
        ensure_mismatched_key(&dir);
    }
    make_key_store_private(&dir);

    let human = mailops().args(["-C", &dir, "validate"]).output().unwrap();
    let stderr = String::from_utf8(human.stderr).unwrap();
    assert_eq!(
        human.status.code(),
        Some(exit),
        "`mailops -C {dir} validate` exit code; stderr:\n{stderr}"
    );
    assert!(human.stdout.is_empty(), "diagnostics go to stderr");
    assert!(
        !stderr.contains(root().to_str().unwrap()) && !stderr.contains("/tmp/"),
        "paths in diagnostics are relative:\n{stderr}"
    );
    insta::assert_snapshot!(
        case,
        format!("$ mailops -C {dir} validate\nexit code: {exit}\n\n{stderr}")
    );

    let json = mailops()
        .args(["-C", &dir, "validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        json.status.code(),
        Some(exit),
        "--format json exits the same"
    );
    let doc: Value = serde_json::from_slice(&json.stdout).expect("--format json prints JSON");
    let diagnostics = doc["diagnostics"].as_array().expect("a diagnostics list");
    assert!(!diagnostics.is_empty(), "{case} reports nothing");

    let mut found = BTreeSet::new();
    let (mut errors, mut warnings) = (0, 0);
    for d in diagnostics {
        let code = d["code"].as_str().expect("a code");
        found.insert(code);
        match d["severity"].as_str() {
            Some("error") => errors += 1,
            Some("warning") => warnings += 1,
            other => panic!("{case}: severity {other:?}"),
        }
        for key in ["message", "help"] {
            let text = d[key]
                .as_str()
                .unwrap_or_else(|| panic!("{case}: {code} has no {key}"));
            assert!(!text.trim().is_empty(), "{case}: {code} has an empty {key}");
        }
        assert!(stderr.contains(code), "{case}: the human form shows {code}");
        if WITHOUT_LOCATION.contains(&code) {
            continue;
        }
        let file = d["file"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: {code} names no file"));
        let line = d["line"]
            .as_u64()
            .unwrap_or_else(|| panic!("{case}: {code} has no line"));
        let column = d["column"]
            .as_u64()
            .unwrap_or_else(|| panic!("{case}: {code} has no column"));
        assert!(line >= 1 && column >= 1);
        assert!(
            Path::new(&dir).join(file).is_file() || root().join(&dir).join(file).is_file(),
            "{case}: {code} names {file}, which is not in the fixture"
        );
        let place = format!("{file}:{line}:{column}");
        assert!(
            stderr.contains(&format!("[{place}]")),
            "{case}: the human form names {place} for {code}:\n{stderr}"
        );
    }
    assert_eq!(doc["errors"], errors);
    assert_eq!(doc["warnings"], warnings);
    assert_eq!(
        exit,
        i32::from(errors > 0),
        "{case}: exit 1 exactly when there are errors"
    );
    let expected: BTreeSet<&str> = codes.iter().copied().collect();
    assert_eq!(found, expected, "{case}: the codes reported");
}

macro_rules! fixtures {
    ($($name:ident: exit $exit:literal, [$($code:literal),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                check(&stringify!($name).replace('_', "-"), $exit, &[$($code),*]);
            }
        )*

        /// (directory, codes) of every fixture.
        const LISTED: &[(&str, &[&str])] = &[$((stringify!($name), &[$($code),*])),*];
    };
}

fixtures! {
    // several mail hosts (issue 18)
    host_duplicate: exit 1, ["mailops::host::duplicate"];
    host_outside_network: exit 1, ["mailops::host::outside-network"];
    host_no_primary: exit 1, ["mailops::host::no-primary"];
    host_no_inbound: exit 1, ["mailops::host::no-inbound"];
    host_invalid: exit 1, ["mailops::platform::invalid"];
    host_unknown_home: exit 1, ["mailops::host::unknown-home"];
    home_without_hosts: exit 1, ["mailops::host::unknown-home"];

    // load
    no_platform_file: exit 1, ["mailops::load::no-platform-file"];
    not_utf8: exit 1, ["mailops::load::not-utf8"];
    no_tenants_folder: exit 1, ["mailops::load::no-tenants-folder"];
    not_a_regular_file: exit 1, ["mailops::load::not-a-regular-file"];
    not_a_folder: exit 1, ["mailops::load::not-a-folder"];

    // parse: TOML, keys, types
    malformed_toml: exit 1, ["mailops::parse::syntax"];
    unknown_key: exit 1, ["mailops::parse::unknown-key"];
    wrong_type: exit 1, ["mailops::parse::wrong-type"];
    integer_out_of_range: exit 1, ["mailops::parse::invalid-value"];
    missing_domain: exit 1, ["mailops::parse::missing-key"];
    missing_dkim_public_key: exit 1, ["mailops::parse::missing-key"];
    missing_dkim_table: exit 1, ["mailops::parse::missing-key"];

    // domains
    file_name_mismatch: exit 1, ["mailops::domain::file-name"];
    invalid_domain: exit 1, ["mailops::domain::invalid"];
    domain_file_name_too_long: exit 1, ["mailops::domain::file-name-too-long"];
    duplicate_domain_idn: exit 1, ["mailops::domain::duplicate"];

    // local parts and addresses
    invalid_local_part: exit 1, ["mailops::mailbox::invalid-user"];
    local_part_too_long: exit 1, ["mailops::mailbox::invalid-user"];
    alias_address_with_domain: exit 1, ["mailops::alias::invalid-address"];
    duplicate_mailbox: exit 1, ["mailops::mailbox::duplicate"];
    duplicate_alias: exit 1, ["mailops::alias::duplicate"];
    duplicate_catch_all: exit 1, ["mailops::alias::duplicate-catch-all"];
    alias_shadows_mailbox: exit 1, ["mailops::alias::shadows-mailbox"];
    empty_alias: exit 1, ["mailops::alias::empty"];
    invalid_destination: exit 1, ["mailops::alias::invalid-destination"];
    duplicate_destination: exit 0, ["mailops::alias::duplicate-destination"];

    // the alias graph
    dangling_same_domain: exit 1, ["mailops::alias::dangling"];
    dangling_cross_tenant: exit 1, ["mailops::alias::dangling"];
    alias_cycle: exit 1, ["mailops::alias::cycle"];
    catch_all_self_loop: exit 1, ["mailops::alias::cycle"];

    // limits and quotas
    too_many_mailboxes: exit 1, ["mailops::mailbox::too-many"];
    too_many_aliases: exit 1, ["mailops::alias::too-many"];
    invalid_limit: exit 1, ["mailops::limits::invalid"];
    send_rate_invalid: exit 1, ["mailops::limits::invalid", "mailops::limits::invalid"];
    platform_send_rate_invalid: exit 1, ["mailops::limits::invalid"];
    platform_inbound_tls_invalid: exit 1, ["mailops::platform::invalid"];
    platform_tlsa_invalid: exit 1, ["mailops::platform::invalid", "mailops::platform::invalid"];
    external_forward_not_allowed: exit 1, ["mailops::limits::external-forward"];
    idn_in_diagnostics: exit 0, ["mailops::rfc2142::missing", "mailops::alias::duplicate-destination"];
    invalid_quota: exit 1, ["mailops::quota::invalid"];
    quota_above_max_quota: exit 1, ["mailops::quota::above-limit"];

    // mailbox operations: state, protocols, app passwords, send-as
    mailbox_invalid_state: exit 1, ["mailops::mailbox::invalid-state"];
    mailbox_invalid_protocol: exit 1, ["mailops::mailbox::invalid-protocol"];
    pop3_not_offered: exit 1, ["mailops::mailbox::protocol-not-offered"];
    app_password_not_of_mailbox: exit 1, ["mailops::mailbox::protocol-not-offered"];
    app_password_plaintext: exit 1, ["mailops::password::plaintext"];
    app_password_scheme_not_allowed: exit 1, ["mailops::password::scheme-not-allowed"];
    app_password_duplicate: exit 1, ["mailops::app-password::duplicate"];
    app_password_invalid_name: exit 1, ["mailops::app-password::invalid-name"];
    app_password_too_many: exit 1, ["mailops::app-password::too-many"];
    send_as_unknown_address: exit 1, ["mailops::send-as::unknown-address"];
    send_as_invalid_grantee: exit 1, ["mailops::send-as::invalid-grantee"];
    send_as_off_platform: exit 1, ["mailops::send-as::off-platform"];
    send_as_not_granted: exit 1, ["mailops::send-as::not-granted"];
    alias_disabled_destination: exit 0, ["mailops::alias::disabled-destination"];

    // a mailbox's forward (issue 22): an alias's rules, its own words
    mailbox_forward_invalid: exit 1, ["mailops::mailbox::invalid-forward"];
    mailbox_forward_to_self: exit 1, ["mailops::mailbox::forward-to-self"];
    mailbox_forward_duplicate: exit 0, ["mailops::mailbox::duplicate-forward"];
    mailbox_keep_copy_without_forward: exit 0, ["mailops::mailbox::keep-copy-without-forward"];
    mailbox_forward_external_not_allowed: exit 1, ["mailops::limits::external-forward"];
    mailbox_forward_loop: exit 1, ["mailops::alias::cycle"];
    mailbox_forward_dangling: exit 1, ["mailops::alias::dangling"];

    // passwords
    password_plaintext: exit 1, ["mailops::password::plaintext"];
    password_plain_scheme: exit 1, ["mailops::password::plaintext"];
    password_scheme_not_allowed: exit 1, ["mailops::password::scheme-not-allowed"];
    password_unknown_scheme: exit 1, ["mailops::password::unknown-scheme"];
    password_legacy_scheme: exit 0, ["mailops::password::legacy-scheme"];
    password_malformed_argon2: exit 1, ["mailops::password::malformed"];
    password_malformed_bcrypt: exit 1, ["mailops::password::malformed"];
    password_malformed_sha512: exit 1, ["mailops::password::malformed"];
    password_with_quote: exit 1, ["mailops::password::malformed"];

    // DKIM
    dkim_not_base64: exit 1, ["mailops::dkim::invalid-key"];
    dkim_not_a_key: exit 1, ["mailops::dkim::invalid-key"];
    dkim_rsa_1024: exit 1, ["mailops::dkim::weak-key"];
    dkim_invalid_selector: exit 1, ["mailops::dkim::invalid-selector"];
    dkim_key_mismatch: exit 1, ["mailops::dkim::key-mismatch"];
    dkim_bad_private_key: exit 1, ["mailops::dkim::bad-private-key"];
    dkim_ed25519_without_rsa: exit 1, ["mailops::dkim::ed25519-without-rsa"];
    dkim_duplicate_selector: exit 1, ["mailops::dkim::duplicate-selector"];
    dkim_no_key: exit 1, ["mailops::dkim::no-key"];
    dkim_invalid_state: exit 1, ["mailops::dkim::invalid-state"];
    dkim_invalid_published: exit 1, ["mailops::dkim::invalid-published"];
    dkim_invalid_retiring: exit 1, ["mailops::dkim::invalid-retiring"];
    dkim_missing_published: exit 1, ["mailops::dkim::missing-published"];
    dkim_several_active: exit 1, ["mailops::dkim::several-active"];
    dkim_no_active_key: exit 1, ["mailops::dkim::no-active-key"];

    // DKIM keys encrypted with age in keys/ (`[secrets]`), checked without decrypting
    dkim_missing_encrypted_key: exit 1, ["mailops::dkim::missing-encrypted-key"];
    dkim_bad_encrypted_key: exit 1, ["mailops::dkim::bad-encrypted-key"];
    dkim_stale_recipients: exit 1, ["mailops::dkim::stale-recipients"];
    secrets_invalid_recipient: exit 1, ["mailops::secrets::invalid-recipient"];
    secrets_no_recipients: exit 1, ["mailops::secrets::no-recipients"];
    secrets_key_store_unused: exit 0, ["mailops::secrets::key-store-unused"];

    // DMARC, SPF, DNS
    dmarc_bad_policy: exit 1, ["mailops::dmarc::invalid"];
    dmarc_pct_150: exit 1, ["mailops::dmarc::invalid"];
    dmarc_rua_not_mailto: exit 1, ["mailops::dmarc::invalid-uri"];
    bimi_invalid_url: exit 1, ["mailops::bimi::invalid-url", "mailops::bimi::invalid-url"];
    bimi_dmarc_policy: exit 1, ["mailops::bimi::dmarc-policy"];
    bimi_svg: exit 1, ["mailops::bimi::svg"];
    spf_bad_term: exit 1, ["mailops::spf::invalid"];
    spf_too_many_lookups: exit 1, ["mailops::spf::too-many-lookups"];
    tenant_invalid_state: exit 1, ["mailops::tenant::invalid-state"];

    // alias domains (issue 15)
    alias_domain_invalid: exit 1, ["mailops::alias-domain::invalid"];
    alias_domain_own_domain: exit 1, ["mailops::alias-domain::own-domain"];
    alias_domain_duplicate: exit 1, ["mailops::alias-domain::duplicate"];
    alias_domain_two_tenants: exit 1, ["mailops::alias-domain::duplicate"];
    alias_domain_is_tenant: exit 1, ["mailops::alias-domain::is-tenant"];
    srs_domain_is_tenant: exit 1, ["mailops::srs::tenant-domain"];
    srs_domain_outside_zone: exit 1, ["mailops::platform::invalid"];
    dmarc_report_unauthorized: exit 0, ["mailops::dmarc::report-authorization"];
    dmarc_default_report_unauthorized: exit 0, ["mailops::dmarc::report-authorization"];
    alias_domain_dangling: exit 1, ["mailops::alias::dangling"];
    // relay domains and backup MX
    relay_with_mailboxes: exit 1, ["mailops::relay::with-mailboxes"];
    relay_invalid_target: exit 1, ["mailops::relay::invalid-target"];
    relay_backup_mx_without_relay: exit 1, ["mailops::relay::backup-mx-without-relay"];
    relay_invalid_recipient: exit 1, ["mailops::relay::invalid-recipient"];
    relay_duplicate_recipient: exit 1, ["mailops::relay::duplicate-recipient"];
    relay_no_recipients: exit 1, ["mailops::relay::no-recipients"];
    relay_any_recipient: exit 0, ["mailops::relay::any-recipient"];
    relay_primary_mx: exit 1, ["mailops::relay::primary-mx"];
    dns_invalid_ttl: exit 1, ["mailops::dns::invalid-ttl"];
    dns_invalid_zone_id: exit 1, ["mailops::dns::invalid-zone-id"];
    dns_dnssec_unmanaged: exit 1, ["mailops::dns::dnssec-unmanaged"];
    // MTA-STS and TLS-RPT (issue 17)
    mta_sts_invalid_mode: exit 1, ["mailops::mta-sts::invalid-mode"];
    mta_sts_default_invalid_mode: exit 1, ["mailops::mta-sts::invalid-mode"];
    tls_rpt_invalid_uri: exit 1, ["mailops::tls-rpt::invalid-uri"];
    tls_rpt_default_invalid_uri: exit 1, ["mailops::tls-rpt::invalid-uri"];

    // a tenant removed while others still forward into it: a warning
    forward_into_removed_domain: exit 0, ["mailops::alias::into-removed-domain"];

    // RFC 2142: a warning, not an error
    missing_rfc2142: exit 0, ["mailops::rfc2142::missing"];

    // characters that could break out of SQL, HCL or configs
    unsafe_char_quote: exit 1, ["mailops::value::unsafe-char"];
    unsafe_char_backslash: exit 1, ["mailops::value::unsafe-char"];
    unsafe_char_control: exit 1, ["mailops::value::unsafe-char"];
    unsafe_char_in_name: exit 1, ["mailops::value::unsafe-char"];

    // invisible characters, placeholders, lengths and confusables
    invisible_char_in_domain: exit 1, ["mailops::value::invisible-char"];
    platform_host_invisible_char: exit 1, ["mailops::value::invisible-char"];
    placeholder_in_vmail_root: exit 1, ["mailops::value::placeholder"];
    mailbox_name_too_long: exit 1, ["mailops::value::too-long"];
    quota_over_bigint: exit 1, ["mailops::quota::invalid"];
    mixed_script_domain: exit 0, ["mailops::value::mixed-script"];

    // the platform file
    platform_password_in_url: exit 1, ["mailops::platform::password-in-url"];
    platform_bad_driver: exit 1, ["mailops::platform::invalid"];
    platform_unknown_key: exit 1, ["mailops::parse::unknown-key"];
    platform_missing_hostname: exit 1, ["mailops::parse::missing-key"];

    // every problem of several files, reported in one run
    multi_error: exit 1, [
        "mailops::platform::invalid",
        "mailops::dns::invalid-ttl",
        "mailops::dmarc::invalid",
        "mailops::password::plaintext",
        "mailops::quota::above-limit",
        "mailops::mailbox::duplicate",
        "mailops::alias::dangling",
        "mailops::parse::syntax",
        "mailops::parse::unknown-key",
        "mailops::dkim::weak-key",
        "mailops::alias::cycle",
    ];
}

#[test]
fn every_fixture_directory_is_listed() {
    let listed: BTreeSet<String> = LISTED
        .iter()
        .map(|(name, _)| name.replace('_', "-"))
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join(FIXTURES))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, on_disk);
    assert!(listed.len() >= 30);
}

#[test]
fn every_diagnostic_code_has_a_fixture() {
    let covered: BTreeSet<String> = LISTED
        .iter()
        .flat_map(|(_, codes)| codes.iter().map(|c| c.to_string()))
        .chain(UNREACHABLE.iter().map(|(c, _)| c.to_string()))
        .collect();
    let catalogue: BTreeSet<String> = mailops::diagnostic_codes()
        .into_iter()
        .map(str::to_string)
        .collect();
    assert!(catalogue.len() >= 40, "the catalogues: {catalogue:?}");
    let missing: Vec<&String> = catalogue.difference(&covered).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    let unknown: Vec<&String> = covered.difference(&catalogue).collect();
    assert!(
        unknown.is_empty(),
        "fixtures list codes no catalogue has: {unknown:?}"
    );
}
