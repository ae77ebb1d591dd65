//! Mail repos for the tests: a throwaway repo in a temp dir ([`Repo`]), built
//! up file by file, and the example repo's tenants read as plain TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailops::testkit::TenantText;
pub use mailops::testkit::{MINIMAL_PLATFORM, toml_string};

use super::bin::{Mailops, Run, mailops, ok, password_hash, root, run};

/// An RSA-2048 public key (a throwaway test key) for tenant files in tests
/// (an Ed25519 key alone is refused: it needs an RSA key beside it).
pub const TEST_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0YgwsRQjcqJNN9FVl8Y0mE6aGTBWNdKW1hEPCAsA8JGiG/UbUFRh/GWsuXGdAnK+YMqJoM/NY8G8chtiNMofGUfBDvT1NqJlhxI8MvbbsVPbkHq5KR/vOOQKahX4+m6Zigd1kLAAhX3EGyoEf/om/mFlWY4Jol3r5tRyF73wXdwn0hdb+i6YXwYDMtufJ+NVIOKNfFTM07wJb3j7E4lf/KdBkBIR7q7EanykJLk0TwTklI8qLk4Nxhri4Nrdnw3KINCScmSVaMKuBLk0gET0CraGH/uhcS6Y4GZat/9bTmE7DeQo9yeaExf/H+BKrn0YuVOg1fTp/OHr35psyGU0wwIDAQAB";

/// A valid ARGON2ID hash (of `x`), for tenant files in tests.
pub const TEST_HASH: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$dTjnnUNyhPgIXlxzHNISZQ$J5yYlij+HWhj46l27rbElfoVpmATQzjPZeqKzatuOT4";

/// A throwaway mail repo in a temp dir, and the commands run in it.
///
/// Made by one of the constructors, then built up either in a chain that
/// takes and returns the repo (`Repo::new().tenant(…).file(…)`) or through a
/// reference (`repo.add_tenant(…)`, `repo.append(…)`).
pub struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// `mailops apply --yes` against the test database.
    pub fn apply_to(&self, db: &super::TestDb) -> std::process::Output {
        super::run(self.path(), &["apply", "--yes", "--database", &db.url])
    }

    /// `mailops plan --detailed-exitcode` against the test database.
    pub fn plan_against(&self, db: &super::TestDb) -> std::process::Output {
        super::run(
            self.path(),
            &["plan", "--detailed-exitcode", "--database", &db.url],
        )
    }

    /// An empty directory: no mailops.toml, no tenants/.
    pub fn empty() -> Self {
        Repo {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The smallest valid mail repo: a platform file and an empty `tenants/`
    /// (a missing `tenants/` is an error).
    pub fn new() -> Self {
        Repo::empty()
            .file("mailops.toml", MINIMAL_PLATFORM)
            .folder("tenants")
    }

    /// The project's `mailops.toml` and an empty `tenants/`, for tenants
    /// made by `mailops new` ([`Repo::add_tenant`]).
    pub fn example_platform() -> Self {
        Repo::empty().copy("mailops.toml").folder("tenants")
    }

    /// A copy of the example mail repo: `mailops.toml`, `tenants/`, `bimi/`,
    /// `schema/` and the committed `generated/` (not its local key store).
    pub fn example() -> Self {
        ["tenants", "bimi", "schema", "generated"]
            .into_iter()
            .fold(Repo::empty().copy("mailops.toml"), Repo::copy)
    }

    /// [`Repo::example`], built (its compile cache written).
    pub fn example_built() -> Self {
        let repo = Repo::example();
        repo.ok(&["build"]);
        repo
    }

    /// The usual database fixture: `a.example` (alice, bob, a catch-all) and
    /// `b.example` (carol, dave), with the RFC 2142 aliases `new` writes.
    pub fn two_tenants() -> Self {
        let repo = Repo::example_platform();
        repo.add_tenant("a.example", &["alice", "bob"]);
        repo.append(
            "a.example",
            TenantText::blocks()
                .alias("*", &["alice"])
                .alias("team", &["alice", "bob"])
                .as_str(),
        );
        repo.add_tenant("b.example", &["carol", "dave"]);
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

    /// Make a folder (and its parents).
    pub fn folder(self, relative: &str) -> Self {
        std::fs::create_dir_all(self.path().join(relative)).expect("create a folder");
        self
    }

    /// Copy a file or folder of the project (the example repo) to the same place here.
    pub fn copy(self, relative: &str) -> Self {
        let from = root().join(relative);
        let to = self.path().join(relative);
        if from.is_dir() {
            copy_tree(&from, &to, &[]);
        } else {
            std::fs::copy(&from, &to).expect("copy a file of the project");
        }
        self
    }

    /// A tenant file `tenants/<domain>.toml` with the test key, one mailbox
    /// `alice`, postmaster@ and abuse@ to alice, and `extra` appended.
    pub fn tenant(self, domain: &str, extra: &str) -> Self {
        let text = TenantText::new(domain)
            .dkim(TEST_KEY)
            .mailbox("alice", None, TEST_HASH, None)
            .alias("postmaster", &["alice"])
            .alias("abuse", &["alice"])
            .raw(extra)
            .to_string();
        self.file(&format!("tenants/{domain}.toml"), &text)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).expect("read a file")
    }

    /// `tenants/<domain>.toml`.
    pub fn tenant_file(&self, domain: &str) -> PathBuf {
        self.path().join("tenants").join(format!("{domain}.toml"))
    }

    /// `mailops new <domain>`, then one `[[mailbox]]` per user.
    pub fn add_tenant(&self, domain: &str, users: &[&str]) {
        self.ok(&["new", domain]);
        for user in users {
            self.add_mailbox(domain, user, Some(&format!("{user} of {domain}")));
        }
    }

    /// A mailbox of 1 GiB with [`password_hash`].
    pub fn add_mailbox(&self, domain: &str, user: &str, name: Option<&str>) {
        self.append(
            domain,
            TenantText::blocks()
                .mailbox(user, name, password_hash(), Some("1 GiB"))
                .as_str(),
        );
    }

    /// Text appended to `tenants/<domain>.toml`.
    pub fn append(&self, domain: &str, text: &str) {
        let path = self.tenant_file(domain);
        let mut contents = std::fs::read_to_string(&path).expect("read the tenant file");
        contents.push_str(text);
        std::fs::write(&path, contents).expect("write the tenant file");
    }

    /// The first `from` in `tenants/<domain>.toml` replaced by `to` (it must be there).
    pub fn replace(&self, domain: &str, from: &str, to: &str) {
        let path = self.tenant_file(domain);
        let contents = std::fs::read_to_string(&path).expect("read the tenant file");
        assert!(contents.contains(from), "{from} not in {}", path.display());
        std::fs::write(&path, contents.replacen(from, to, 1)).expect("write the tenant file");
    }

    pub fn remove_tenant(&self, domain: &str) {
        std::fs::remove_file(self.tenant_file(domain)).expect("remove the tenant file");
    }

    /// `mailops <args>` in this repo's directory.
    pub fn mailops(&self) -> Mailops {
        let mut cmd = mailops();
        cmd.current_dir(self.path());
        cmd
    }

    /// Run `mailops <args>` here and return what it did.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.mailops().args(args))
    }

    /// Run `mailops <args>` here; it must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> std::process::Output {
        ok(self.path(), args)
    }
}

/// Copy a directory tree (the example repo without target/ and .git, or a
/// fixture), keeping the folders' modes as `cp -a` does.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    // Keep the folder's mode: a key store stays private.
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
                file: format!(
                    "tenants/{}",
                    path.file_name().expect("a file name").to_string_lossy()
                ),
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
pub fn example_passwords() -> BTreeMap<String, String> {
    let path = root().join("tests/fixtures/example-passwords.toml");
    let text = std::fs::read_to_string(&path).expect("example-passwords.toml exists");
    let table: toml::Table = text.parse().expect("example-passwords.toml is TOML");
    table
        .into_iter()
        .map(|(k, v)| (k, v.as_str().expect("passwords are strings").to_string()))
        .collect()
}
