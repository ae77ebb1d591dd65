//! Databases to run against: a fresh SQLite file, or a uniquely named
//! MariaDB database (127.0.0.1:3306, root, empty password) that is dropped
//! when the test ends; and [`on_both_engines!`], one test per engine.
//!
//! Rows are read and written through the `sqlite3` and `mysql` command-line
//! clients, independently of the code under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::bin::{output_with_stdin, root};

pub const MARIADB_HELP: &str = "MariaDB is not reachable at 127.0.0.1:3306 as root with an empty password. \
Start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
(or `/etc/init.d/mariadb start`), then run the tests again";

/// One test per engine for each scenario, a `fn(Engine)` of the test file:
/// `sqlite::<scenario>` and `mariadb::<scenario>`.
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $scenario() { super::$scenario($crate::support::Engine::Sqlite) })*
        }
        mod mariadb {
            $(#[test] fn $scenario() { super::$scenario($crate::support::Engine::Mariadb) })*
        }
    };
}
pub(crate) use on_both_engines;

/// Which database engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Mariadb,
}

impl Engine {
    /// The engine's folder under `migrations/`, and its file under `generated/sql/`.
    pub fn dialect(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Mariadb => "mysql",
        }
    }

    /// The project's migrations for this engine, in the order they run.
    pub fn migrations(self) -> Vec<PathBuf> {
        let dir = root().join("migrations").join(self.dialect());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        files
    }

    /// Every migration of this engine, as one script.
    /// Every SQL file of this dialect under `<repo>/generated/sql/` as one
    /// script, in the order of the documented load by hand
    /// (`generated/sql/<dialect>-begin.sql`): the begin file, each tenant's
    /// file, the end file.
    pub fn whole_load(self, repo: &Path) -> String {
        let sql = repo.join("generated/sql");
        let dialect = self.dialect();
        let read = |path: &Path| std::fs::read_to_string(path).unwrap();
        let mut script = read(&sql.join(format!("{dialect}-begin.sql")));
        for file in crate::support::sorted_files(&sql.join(dialect)) {
            script.push_str(&read(&file));
        }
        script.push_str(&read(&sql.join(format!("{dialect}-end.sql"))));
        script
    }

    pub fn migrations_script(self) -> String {
        let mut script = String::new();
        for path in self.migrations() {
            script.push_str(&std::fs::read_to_string(&path).expect("a readable migration"));
            script.push('\n');
        }
        script
    }
}

/// A database for one test.
pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    /// SQLite: the file. MariaDB: the database name.
    pub target: String,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub fn new(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir");
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
                    .expect("after 1970")
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

    /// Run SQL through the engine's command-line client; rows as tab-separated
    /// lines, values as stored (no escaping).
    #[track_caller]
    pub fn sql(&self, sql: &str) -> String {
        let out = match self.engine {
            // A busy timeout: a test may read or write while mailops holds
            // the write lock (the reconcile loop, an apply in the background).
            Engine::Sqlite => Command::new("sqlite3")
                .arg("-batch")
                .args(["-cmd", ".timeout 10000"])
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
        String::from_utf8(out.stdout).expect("UTF-8 rows")
    }

    /// Feed a SQL file to the engine's client.
    #[track_caller]
    pub fn sql_file(&self, path: &Path) {
        let script =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.script(&script, &path.display().to_string());
    }

    /// The client's arguments that name this database (what `DATABASE` stands
    /// for in a documented command): SQLite the file, MariaDB the connection
    /// and the database.
    pub fn client_args(&self) -> Vec<String> {
        match self.engine {
            Engine::Sqlite => vec![self.target.clone()],
            Engine::Mariadb => ["-uroot", "-h127.0.0.1", "-P3306", &self.target]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Feed SQL statements to the engine's client, stopping at the first
    /// error; what the client printed and how it exited.
    pub fn try_script(&self, sql: &str) -> Output {
        let mut cmd = match self.engine {
            Engine::Sqlite => {
                let mut cmd = Command::new("sqlite3");
                cmd.arg("-batch").arg("-bail");
                cmd
            }
            Engine::Mariadb => Command::new("mysql"),
        };
        cmd.args(self.client_args());
        output_with_stdin(&mut cmd, sql.as_bytes()).expect("the database client runs")
    }

    /// Feed SQL statements to the engine's client; they must all succeed.
    #[track_caller]
    pub fn script(&self, sql: &str, what: &str) {
        let out = self.try_script(sql);
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn count(&self, table: &str) -> usize {
        self.sql(&format!("SELECT COUNT(*) FROM {table}"))
            .trim()
            .parse()
            .expect("a count")
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

    /// Copy the domain, mailbox and alias rows of `from` (ids kept, with
    /// only the columns of migration 0001) into this database: the rows an
    /// older mailops wrote, into a schema of its version.
    pub fn load_rows_of(&self, from: &TestDb) {
        let quote = |v: &str| {
            if v == "NULL" {
                "NULL".to_string()
            } else {
                format!("'{}'", v.replace('\'', "''"))
            }
        };
        let mut load = String::new();
        for (table, columns) in [
            ("virtual_domains", "id, name"),
            (
                "virtual_users",
                "id, domain_id, email, password, quota_bytes, name",
            ),
            ("virtual_aliases", "id, domain_id, source, destination"),
        ] {
            for line in from
                .sql(&format!("SELECT {columns} FROM {table} ORDER BY id"))
                .lines()
            {
                let values: Vec<String> = line.split('\t').map(quote).collect();
                load.push_str(&format!(
                    "INSERT INTO {table} ({columns}) VALUES ({});\n",
                    values.join(", ")
                ));
            }
        }
        self.script(&load, "the rows of an older schema");
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
