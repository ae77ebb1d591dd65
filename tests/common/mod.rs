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
                password: mailbox["password"]
                    .as_str()
                    .expect("password is a string")
                    .to_string(),
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
    // Keep the folder's mode, as `cp -a` does: a key store stays private.
    let mode = std::fs::metadata(from).expect("stat").permissions();
    std::fs::set_permissions(to, mode).expect("set the copy's mode");
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

/// A throwaway mail repo in a temp dir, built up file by file, and the
/// commands run in it (from its own directory, so printed paths are relative).
pub struct Repo {
    dir: tempfile::TempDir,
}

/// The smallest valid platform file.
pub const MINIMAL_PLATFORM: &str = "[mail_host]\nhostname = \"mx.webhizzy.in\"\n";

/// An RSA-2048 public key (a throwaway test key) for tenant files in tests
/// (an Ed25519 key alone is refused: it needs an RSA key beside it).
pub const TEST_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0YgwsRQjcqJNN9FVl8Y0mE6aGTBWNdKW1hEPCAsA8JGiG/UbUFRh/GWsuXGdAnK+YMqJoM/NY8G8chtiNMofGUfBDvT1NqJlhxI8MvbbsVPbkHq5KR/vOOQKahX4+m6Zigd1kLAAhX3EGyoEf/om/mFlWY4Jol3r5tRyF73wXdwn0hdb+i6YXwYDMtufJ+NVIOKNfFTM07wJb3j7E4lf/KdBkBIR7q7EanykJLk0TwTklI8qLk4Nxhri4Nrdnw3KINCScmSVaMKuBLk0gET0CraGH/uhcS6Y4GZat/9bTmE7DeQo9yeaExf/H+BKrn0YuVOg1fTp/OHr35psyGU0wwIDAQAB";

/// A valid ARGON2ID hash (of `x`), for tenant files in tests.
pub const TEST_HASH: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$dTjnnUNyhPgIXlxzHNISZQ$J5yYlij+HWhj46l27rbElfoVpmATQzjPZeqKzatuOT4";

impl Repo {
    /// An empty directory: no mailops.toml, no tenants/.
    pub fn empty() -> Self {
        Repo {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The smallest valid mail repo: a platform file and an empty `tenants/`
    /// (a missing `tenants/` is an error).
    pub fn new() -> Self {
        let repo = Repo::empty().file("mailops.toml", MINIMAL_PLATFORM);
        std::fs::create_dir(repo.path().join("tenants")).expect("create tenants/");
        repo
    }

    /// A copy of the example mail repo (without its local key store).
    pub fn example() -> Self {
        let repo = Repo::empty();
        let root = root();
        std::fs::copy(root.join("mailops.toml"), repo.path().join("mailops.toml"))
            .expect("copy mailops.toml");
        for sub in ["tenants", "schema", "generated"] {
            copy_tree(&root.join(sub), &repo.path().join(sub), &[]);
        }
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (creating its directories).
    pub fn file(self, relative: &str, text: &str) -> Self {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
        std::fs::write(&path, text).expect("write a file");
        self
    }

    /// A tenant file `tenants/<domain>.toml` with the test key, one mailbox
    /// `alice`, postmaster@ and abuse@ to alice, and `extra` appended.
    pub fn tenant(self, domain: &str, extra: &str) -> Self {
        let text = format!(
            "domain = \"{domain}\"\n\n[dkim]\npublic_key = \"{TEST_KEY}\"\n\n[[mailbox]]\nuser = \"alice\"\npassword = \"{TEST_HASH}\"\n\n[[alias]]\naddress = \"postmaster\"\nto = [\"alice\"]\n\n[[alias]]\naddress = \"abuse\"\nto = [\"alice\"]\n{extra}"
        );
        self.file(&format!("tenants/{domain}.toml"), &text)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).expect("read a file")
    }

    /// `mailops <args>` in this repo's directory.
    pub fn mailops(&self) -> Command {
        let mut cmd = mailops();
        cmd.current_dir(self.path());
        cmd
    }

    /// Run `mailops <args>` here and return what it did.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.mailops().args(args))
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(cmd: &mut Command) -> Run {
        let output = cmd.output().expect("mailops runs");
        Run {
            code: output.status.code().expect("an exit code"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }

    /// Assert the exit code; returns self for more checks.
    pub fn exits(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stderr_lacks(self, text: &str) -> Self {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// The codes of `--format json` output, in order.
    pub fn codes(&self) -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&self.stdout).expect("JSON on stdout");
        doc["diagnostics"]
            .as_array()
            .expect("a diagnostics list")
            .iter()
            .map(|d| d["code"].as_str().expect("a code").to_string())
            .collect()
    }
}
