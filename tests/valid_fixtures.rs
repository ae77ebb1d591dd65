//! Valid edge cases under tests/fixtures/valid/<case>/: each is a mail repo
//! at a boundary of the rules (exact limits, spelling variants of one domain,
//! alias chains through catch-alls, every platform key). Each must validate
//! with no diagnostic at all, not even a warning.

mod support;

use std::collections::BTreeSet;

use support::{mailops, root};

const FIXTURES: &str = "tests/fixtures/valid";

fn check(case: &str) {
    let dir = format!("{FIXTURES}/{case}");
    let output = mailops()
        .args(["-C", &dir, "validate", "--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(doc["diagnostics"], serde_json::json!([]), "{case}: {doc:#}");
    assert_eq!(output.status.code(), Some(0), "{case}");
}

macro_rules! fixtures {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(&stringify!($name).replace('_', "-"));
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($name)),*];
    };
}

fixtures! {
    minimal,
    no_tenants,
    limits_at_the_edge,
    spelling_variants,
    alias_chains,
    spf_at_the_limit,
    platform_every_key,
    catch_all_receives_rfc2142,
    dual_dkim_keys,
    mailbox_operations,
    two_hosts,
}

#[test]
fn every_valid_fixture_directory_is_listed() {
    let listed: BTreeSet<String> = LISTED.iter().map(|n| n.replace('_', "-")).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join(FIXTURES))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, on_disk);
}
