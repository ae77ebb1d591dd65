//! Shared by the database tests: small mail repos in temp dirs, and databases
//! to run against — a fresh SQLite file, or a uniquely named MariaDB database
//! that is dropped when the test ends.
//!
//! Rows are checked through the `sqlite3` and `mysql` command-line clients,
//! independently of the code under test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const MARIADB_HELP: &str = "MariaDB is not reachable at 127.0.0.1:3306 as root with an empty password. \
Start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
(or `/etc/init.d/mariadb start`), then run the tests again";

pub fn mailops() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo_bin!("mailops"));
    cmd.env_remove("MAILOPS_DATABASE_URL")
        .env_remove("MAILOPS_TEST_FAIL_AFTER")
        .env_remove("MAILOPS_TEST_HOLD_LOCK_MS")
        .env_remove("MAILOPS_TEST_HOLD_AFTER_READ_MS")
        .env_remove("MAILOPS_TIMINGS")
        .env_remove("MAILOPS_LOCK_TIMEOUT")
        .env("NO_COLOR", "1");
    cmd
}

/// Run mailops in `dir` with `args`; stdin is empty (not a terminal).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[])
}

pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = mailops();
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("mailops runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Assert an exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// One `{ARGON2ID}` hash for every mailbox of every test (hashing is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut child = mailops()
            .arg("hash-password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("mailops hash-password runs");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "hash-password failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// A second valid hash, for "password changed".
pub fn other_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut child = mailops()
            .arg("hash-password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"battery staple\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A mail repo in a temp dir: the project's mailops.toml and tenant files made
/// by `mailops new` (with their DKIM keys), plus mailboxes.
pub struct MailRepo {
    pub dir: tempfile::TempDir,
}

impl MailRepo {
    pub fn new() -> MailRepo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo_root().join("mailops.toml"),
            dir.path().join("mailops.toml"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("tenants")).unwrap();
        MailRepo { dir }
    }

    /// The usual fixture: `a.example` (alice, bob, a catch-all) and
    /// `b.example` (carol, dave), with the RFC 2142 aliases `new` writes.
    pub fn two_tenants() -> MailRepo {
        let repo = MailRepo::new();
        repo.add_tenant("a.example", &["alice", "bob"]);
        repo.append(
            "a.example",
            "\n[[alias]]\naddress = \"*\"\nto = [\"alice\"]\n\n[[alias]]\naddress = \"team\"\nto = [\"alice\", \"bob\"]\n",
        );
        repo.add_tenant("b.example", &["carol", "dave"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tenant_file(&self, domain: &str) -> PathBuf {
        self.path().join("tenants").join(format!("{domain}.toml"))
    }

    /// `mailops new <domain>`, then one `[[mailbox]]` per user.
    pub fn add_tenant(&self, domain: &str, users: &[&str]) {
        let out = run(self.path(), &["new", domain]);
        assert_code(&out, 0);
        for user in users {
            self.add_mailbox(domain, user, Some(&format!("{user} of {domain}")));
        }
    }

    pub fn add_mailbox(&self, domain: &str, user: &str, name: Option<&str>) {
        let name_line = name
            .map(|n| format!("name = {}\n", toml_string(n)))
            .unwrap_or_default();
        self.append(
            domain,
            &format!(
                "\n[[mailbox]]\nuser = \"{user}\"\n{name_line}password = \"{}\"\nquota = \"1 GiB\"\n",
                password_hash()
            ),
        );
    }

    pub fn append(&self, domain: &str, text: &str) {
        let path = self.tenant_file(domain);
        let mut contents = std::fs::read_to_string(&path).unwrap();
        contents.push_str(text);
        std::fs::write(&path, contents).unwrap();
    }

    pub fn replace(&self, domain: &str, from: &str, to: &str) {
        let path = self.tenant_file(domain);
        let contents = std::fs::read_to_string(&path).unwrap();
        assert!(contents.contains(from), "{from} not in {}", path.display());
        std::fs::write(&path, contents.replacen(from, to, 1)).unwrap();
    }

    pub fn remove_tenant(&self, domain: &str) {
        std::fs::remove_file(self.tenant_file(domain)).unwrap();
    }
}

/// A TOML basic string with every special character escaped.
pub fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which database engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Mariadb,
}

/// A database for one test.
pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    /// SQLite: the file. MariaDB: the database name.
    target: String,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub fn new(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("state.db");
                TestDb {
                    engine,
                    url: format!("sqlite://{}", path.display()),
                    target: path.display().to_string(),
                    _dir: Some(dir),
                }
            }
            Engine::Mariadb => {
                mariadb_reachable();
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let name = format!(
                    "mailops_test_{}_{}_{nanos}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                mysql_admin(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"));
                TestDb {
                    engine,
                    url: format!("mysql://root@127.0.0.1:3306/{name}"),
                    target: name,
                    _dir: None,
                }
            }
        }
    }

    /// Run SQL through the engine's command-line client; rows as tab-separated lines.
    #[track_caller]
    pub fn sql(&self, sql: &str) -> String {
        let out = match self.engine {
            Engine::Sqlite => Command::new("sqlite3")
                .arg("-batch")
                .arg("-separator")
                .arg("\t")
                .arg(&self.target)
                .arg(format!("PRAGMA foreign_keys = ON; {sql}"))
                .output()
                .expect("the sqlite3 client runs (apt-get install sqlite3)"),
            Engine::Mariadb => Command::new("mysql")
                .args(["-uroot", "-h127.0.0.1", "-P3306", "-N", "-B", "-r"])
                .arg(&self.target)
                .arg("-e")
                .arg(sql)
                .output()
                .expect("the mysql client runs"),
        };
        assert!(
            out.status.success(),
            "{sql}\nfailed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Feed a SQL file to the engine's client.
    #[track_caller]
    pub fn sql_file(&self, path: &Path) {
        let file = std::fs::File::open(path).unwrap();
        let out = match self.engine {
            Engine::Sqlite => Command::new("sqlite3")
                .arg("-batch")
                .arg("-bail")
                .arg(&self.target)
                .stdin(file)
                .output()
                .expect("the sqlite3 client runs"),
            Engine::Mariadb => Command::new("mysql")
                .args(["-uroot", "-h127.0.0.1", "-P3306"])
                .arg(&self.target)
                .stdin(file)
                .output()
                .expect("the mysql client runs"),
        };
        assert!(
            out.status.success(),
            "{} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn count(&self, table: &str) -> usize {
        self.sql(&format!("SELECT COUNT(*) FROM {table}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// The rows of the routing tables by their natural keys (no ids), in a
    /// stable order: equal when the same rows were written again.
    pub fn snapshot_rows(&self) -> String {
        [
            "SELECT name FROM virtual_domains ORDER BY name",
            "SELECT d.name, u.email, u.password, u.quota_bytes, u.name FROM virtual_users u \
             JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email",
            "SELECT d.name, a.source, a.destination FROM virtual_aliases a \
             JOIN virtual_domains d ON d.id = a.domain_id ORDER BY a.source, a.destination",
        ]
        .iter()
        .map(|q| self.sql(q))
        .collect::<Vec<_>>()
        .join("--\n")
    }

    /// Every row of the routing tables and the apply log, in a stable order:
    /// equal snapshots mean nothing was changed.
    pub fn snapshot(&self) -> String {
        [
            "SELECT id, name FROM virtual_domains ORDER BY id",
            "SELECT id, domain_id, email, password, quota_bytes, name FROM virtual_users ORDER BY id",
            "SELECT id, domain_id, source, destination FROM virtual_aliases ORDER BY id",
            "SELECT id, plan_hash, rows_inserted, rows_updated, rows_deleted FROM mailops_apply_log ORDER BY id",
        ]
        .iter()
        .map(|q| self.sql(q))
        .collect::<Vec<_>>()
        .join("--\n")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.engine == Engine::Mariadb {
            mysql_admin(&format!("DROP DATABASE IF EXISTS `{}`", self.target));
        }
    }
}

fn mysql_admin(sql: &str) {
    let out = Command::new("mysql")
        .args(["-uroot", "-h127.0.0.1", "-P3306", "-e", sql])
        .output()
        .unwrap_or_else(|e| panic!("{MARIADB_HELP} (the mysql client did not run: {e})"));
    assert!(
        out.status.success(),
        "{MARIADB_HELP}\n`{sql}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fail loudly, saying how to start MariaDB, when it is not there. Never skip.
pub fn mariadb_reachable() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let out = Command::new("mysql")
            .args(["-uroot", "-h127.0.0.1", "-P3306", "-e", "SELECT 1"])
            .output()
            .map_err(|e| format!("the mysql client did not run: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(why) = result {
        panic!("{MARIADB_HELP}\n({})", why.trim());
    }
}
