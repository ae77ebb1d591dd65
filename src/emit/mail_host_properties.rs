//! Properties of the files the mail host runs (Postfix, Dovecot, Rspamd,
//! cloud-init), each proven on compiled test repos:
//! - onboarding or changing a tenant changes none of them (tenants are rows,
//!   so no reload and no instance replacement);
//! - free text in tenant files (descriptions, mailbox names), however
//!   hostile, never reaches them;
//! - no secret is in them, and the database password is only a placeholder;
//! - each starts with the generated-file header; two builds are identical.

use std::collections::BTreeMap;

use crate::emit::test_repo::{self, tenant};
use crate::emit::{Artifacts, header, mail_host};

/// The files of the mail host: everything installed on it, and the user data.
fn host_files(artifacts: &Artifacts) -> BTreeMap<String, String> {
    artifacts
        .iter()
        .filter(|(path, contents)| {
            mail_host::placement(path, contents).is_some() || *path == crate::emit::cloud_init::PATH
        })
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

fn tenants(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let domain = format!("tenant{i}.example");
            let text = tenant(
                &domain,
                "dkim",
                3,
                &format!("Tenant {i}"),
                &format!("User of {i}"),
            );
            (domain, text)
        })
        .collect()
}

fn emit(database: &str, tenants: &[(String, String)]) -> Artifacts {
    let borrowed: Vec<(&str, String)> = tenants
        .iter()
        .map(|(d, t)| (d.as_str(), t.clone()))
        .collect();
    test_repo::emit(&test_repo::platform(database), &borrowed)
}

const DRIVERS: [&str; 2] = ["driver = \"mysql\"", "driver = \"sqlite\""];

#[test]
fn adding_a_tenant_changes_no_mail_host_file() {
    for driver in DRIVERS {
        let before = emit(driver, &tenants(2));
        let after = emit(driver, &tenants(3));
        assert_eq!(host_files(&before).len(), 30);
        assert_eq!(host_files(&before), host_files(&after), "{driver}");
    }
}

#[test]
fn changing_a_tenant_changes_no_mail_host_file() {
    let before = emit("driver = \"mysql\"", &tenants(2));
    let mut changed = tenants(2);
    changed[1].1 = tenant(
        "tenant1.example",
        "other-selector",
        5,
        "Renamed",
        "Someone else",
    );
    let after = emit("driver = \"mysql\"", &changed);
    assert_eq!(host_files(&before), host_files(&after));
}

#[test]
fn hostile_free_text_never_reaches_a_mail_host_file() {
    // TOML basic-string escapes: the values hold quotes, backslashes, `${`,
    // `%{`, a newline that tries to start a setting, and a YAML document marker.
    let hostile = r#"HOSTILE \" \\ ${x} %{y} $z '; DROP TABLE virtual_users; --\nmydestination = evil\n---\n"#;
    let plain = emit("driver = \"mysql\"", &tenants(1));
    let mut evil = tenants(1);
    evil.push((
        "evil.example".into(),
        tenant("evil.example", "dkim", 2, hostile, hostile),
    ));
    let attacked = emit("driver = \"mysql\"", &evil);
    for (path, contents) in host_files(&attacked) {
        assert!(!contents.contains("HOSTILE"), "{path}");
        assert!(!contents.contains("evil"), "{path}");
    }
    assert_eq!(host_files(&plain), host_files(&attacked));
}

#[test]
fn no_secret_and_only_the_password_placeholder() {
    for driver in DRIVERS {
        let out = emit(driver, &tenants(2));
        for (path, contents) in host_files(&out) {
            assert!(
                !contents.contains("{ARGON2ID}"),
                "{path} holds a password hash"
            );
            assert!(
                !contents.contains("PRIVATE KEY"),
                "{path} holds a private key"
            );
            for line in contents.lines() {
                let line = line.trim_start();
                if let Some(value) = line.strip_prefix("password = ") {
                    assert_eq!(value, mail_host::DB_PASSWORD_PLACEHOLDER, "{path}");
                }
                if let Some((_, value)) = line.split_once(" password=") {
                    assert_eq!(value, mail_host::DB_PASSWORD_PLACEHOLDER, "{path}");
                }
            }
        }
    }
}

#[test]
fn every_file_starts_with_the_header() {
    let out = emit("driver = \"mysql\"", &tenants(1));
    for (path, contents) in host_files(&out) {
        let first = if path.starts_with("cloud-init/") {
            contents.lines().nth(1)
        } else {
            contents.lines().next()
        };
        let comment = if path.ends_with(".lua") { "--" } else { "#" };
        assert_eq!(
            format!("{}\n", first.unwrap_or("")),
            header::header(comment, "mailops.toml"),
            "{path}"
        );
        assert!(header::is_owned(&contents), "{path}");
    }
}

#[test]
fn two_builds_are_identical() {
    let first = emit("driver = \"mysql\"", &tenants(2));
    let second = emit("driver = \"mysql\"", &tenants(2));
    assert_eq!(first, second);
}
