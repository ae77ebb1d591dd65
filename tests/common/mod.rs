//! Helpers shared by the integration tests: where the repo is, how to run the
//! binary, and the example tenants read as plain TOML.
//!
//! The tests run the built `mailops` binary, as a user would; they never link
//! to the crate's internals. Each test file uses a different subset of these
//! helpers, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The project root (the example mail repo).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `mailops` with a clean environment for stable output: no colour, and run
/// from the project root so that paths it prints are relative.
pub fn mailops() -> Command {
    let mut cmd = Command::cargo_bin("mailops").expect("the mailops binary is built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("MAILOPS_DATABASE_URL")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

/// A mailbox of the example repo, as written.
#[derive(Debug, Clone)]
pub struct ExampleMailbox {
    /// Login name: lowercase local part @ A-label domain.
    pub address: String,
    /// `{SCHEME}hash`.
    pub password: String,
    pub file: String,
}

/// An example tenant file, parsed as plain TOML.
#[derive(Debug, Clone)]
pub struct ExampleTenant {
    pub file: String,
    pub text: String,
    pub toml: toml::Table,
    /// A-label.
    pub domain: String,
}

pub fn a_label(domain: &str) -> String {
    idna::domain_to_ascii(domain).expect("example domains are valid IDNA")
}

/// Every `tenants/*.toml` of the example repo, sorted by file name.
pub fn example_tenants() -> Vec<ExampleTenant> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("tenants"))
        .expect("tenants/ exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable tenant file");
            let toml: toml::Table = text.parse().expect("example tenant files are TOML");
            let domain = a_label(toml["domain"].as_str().expect("domain is a string"));
            ExampleTenant {
                file: file_name(&path),
                text,
                toml,
                domain,
            }
        })
        .collect()
}

pub fn example_mailboxes() -> Vec<ExampleMailbox> {
    let mut out = Vec::new();
    for tenant in example_tenants() {
        let Some(mailboxes) = tenant.toml.get("mailbox").and_then(|m| m.as_array()) else {
            continue;
        };
        for mailbox in mailboxes {
            let user = mailbox["user"].as_str().expect("user is a string");
            out.push(ExampleMailbox {
                address: format!("{}@{}", user.to_lowercase(), tenant.domain),
                password: mailbox["password"].as_str().expect("password is a string").to_string(),
                file: tenant.file.clone(),
            });
        }
    }
    out
}

/// tests/fixtures/example-passwords.toml: login name → plaintext.
pub fn example_passwords() -> std::collections::BTreeMap<String, String> {
    let path = root().join("tests/fixtures/example-passwords.toml");
    let text = std::fs::read_to_string(&path).expect("example-passwords.toml exists");
    let table: toml::Table = text.parse().expect("example-passwords.toml is TOML");
    table
        .into_iter()
        .map(|(k, v)| (k, v.as_str().expect("passwords are strings").to_string()))
        .collect()
}

fn file_name(path: &Path) -> String {
    format!(
        "tenants/{}",
        path.file_name().expect("a file name").to_string_lossy()
    )
}

/// Copy a directory tree (the example repo without target/ and .git, or a fixture).
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("readable source directory") {
        let entry = entry.expect("readable dir entry");
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target, &[]);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// A temporary copy of the example mail repo: mailops.toml, tenants/, schema/
/// and generated/ (and the local key store, if any).
pub fn temp_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = root();
    std::fs::copy(root.join("mailops.toml"), dir.path().join("mailops.toml")).expect("copy mailops.toml");
    for sub in ["tenants", "schema", "generated", ".mailops"] {
        if root.join(sub).is_dir() {
            copy_tree(&root.join(sub), &dir.path().join(sub), &[]);
        }
    }
    dir
}
