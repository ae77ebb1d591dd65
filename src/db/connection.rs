//! One live connection to MySQL/MariaDB or SQLite, and the error type of the
//! database layer.
//!
//! mailops holds a single connection for a plan or an apply (the lock and the
//! transaction belong to it), so there is no pool. The two drivers share every
//! statement mailops runs except a few dialect words; `on_conn!` expands the
//! same code for each, and `Dialect` names the differences.

use std::time::Duration;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection, SqliteConnection};

use crate::database_url::DatabaseUrl;
use crate::db::url::Target;

/// An error from the database layer, with a message for the user that never
/// holds a password.
#[derive(Debug)]
pub(crate) enum DbError {
    /// Connection, statement or I/O failure: exit 2.
    Operational(String),
    /// The lock was not had in time: exit 2, with its own message.
    Locked(String),
    /// Something the user must resolve (stale plan, newer schema): exit 1.
    Refused(String),
    /// The server aborted the transaction for a conflicting write
    /// (ER_LOCK_DEADLOCK): on a Galera cluster, another apply committed
    /// first on another node. Nothing of the transaction was written; the
    /// plan it executed is stale. The message is the driver's until
    /// `lock::Held::explain` words it for the user: exit 3.
    Conflict(String),
}

impl DbError {
    pub(crate) fn message(&self) -> &str {
        match self {
            DbError::Operational(m)
            | DbError::Locked(m)
            | DbError::Refused(m)
            | DbError::Conflict(m) => m,
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Wrap a driver error with what was being done. A transaction the server
/// aborted for a conflicting write is a `Conflict`.
pub(crate) fn failed(doing: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |error| {
        let message = format!(
            "{doing}: {}",
            crate::database_url::redact_in(&error.to_string())
        );
        if mysql_error_number(&error) == Some(MYSQL_LOCK_DEADLOCK) {
            DbError::Conflict(message)
        } else {
            DbError::Operational(message)
        }
    }
}

/// MySQL's ER_LOCK_DEADLOCK: InnoDB chose this transaction as a deadlock's
/// victim, or (Galera) the cluster aborted it because a conflicting write
/// set committed first: certification failed at commit, or a replicated
/// write set aborted it on this node ("brute force abort"). Either way the
/// whole transaction was rolled back.
pub(crate) const MYSQL_LOCK_DEADLOCK: u16 = 1213;

fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|e| e.number())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Mysql,
    Sqlite,
}

pub(crate) enum Conn {
    Mysql(MySqlConnection),
    Sqlite(SqliteConnection),
}

/// Run the same code on whichever driver the connection has.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::connection::Conn::Mysql($c) => $body,
            $crate::db::connection::Conn::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_conn;

impl Conn {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Mysql(_) => Dialect::Mysql,
            Conn::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Run statements without parameters (migrations, transaction control).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<(), DbError> {
        let what = format!("running `{}`", first_line(sql));
        on_conn!(self, c => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut *c)
            .await
            .map(|_| ())
            .map_err(failed(&what)))
    }

    pub(crate) async fn close(self) {
        let _ = on_conn!(self, c => c.close().await);
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("")
}

/// Open the connection. A SQLite file (and its folder) is created on first use.
/// `busy_timeout` is how long SQLite waits for another writer.
pub(crate) async fn connect(target: &Target, busy_timeout: Duration) -> Result<Conn, DbError> {
    connect_as(target, busy_timeout, Access::ReadWrite)
        .await
        .map(|conn| conn.expect("a read-write connection creates what is missing"))
}

/// Open the connection for reading only, creating nothing: `None` when the
/// database does not exist (no SQLite file; a MySQL server without the
/// database). A SQLite file is opened `mode=ro`.
pub(crate) async fn connect_read_only(
    target: &Target,
    busy_timeout: Duration,
) -> Result<Option<Conn>, DbError> {
    connect_as(target, busy_timeout, Access::ReadOnly).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// MySQL's ER_BAD_DB_ERROR: "Unknown database".
const MYSQL_UNKNOWN_DATABASE: u16 = 1049;

fn is_unknown_database(error: &sqlx::Error) -> bool {
    mysql_error_number(error) == Some(MYSQL_UNKNOWN_DATABASE)
}

/// Whether the server is a node of a Galera cluster (`wsrep_on` is `ON`; a
/// MariaDB without Galera says `OFF`, MySQL has no such variable). SQLite:
/// never.
pub(crate) async fn is_galera_node(conn: &mut Conn) -> Result<bool, DbError> {
    let Conn::Mysql(c) = conn else {
        return Ok(false);
    };
    let row: Option<(String, String)> = sqlx::query_as("SHOW VARIABLES LIKE 'wsrep_on'")
        .fetch_optional(&mut *c)
        .await
        .map_err(failed("reading wsrep_on"))?;
    Ok(row.is_some_and(|(_, value)| value.eq_ignore_ascii_case("ON")))
}

/// On a Galera node, make this session's reads causal: before a `SELECT`
/// or a `START TRANSACTION` (bit 1 of `wsrep_sync_wait`, "READ"), the node
/// first applies every write set the cluster committed up to that moment.
/// A plan on node 2 then sees an apply committed on node 1 a moment ago,
/// and an apply's transaction starts from the cluster's latest commit.
/// Elsewhere nothing changes. Returns whether the server is a Galera node.
pub(crate) async fn read_latest_commits(conn: &mut Conn) -> Result<bool, DbError> {
    if !is_galera_node(conn).await? {
        return Ok(false);
    }
    conn.execute_raw("SET SESSION wsrep_sync_wait = 1").await?;
    Ok(true)
}

async fn connect_as(
    target: &Target,
    busy_timeout: Duration,
    access: Access,
) -> Result<Option<Conn>, DbError> {
    let shown = target.shown();
    match &target.url {
        DatabaseUrl::Mysql {
            user,
            password,
            host,
            port,
            database,
            socket,
        } => {
            let mut options = MySqlConnectOptions::new()
                .host(host)
                .port(*port)
                .username(user)
                .database(database)
                .charset("utf8mb4");
            if let Some(socket) = socket {
                // sqlx dials the socket instead of host:port.
                options = options.socket(socket);
            }
            if let Some(password) = password {
                options = options.password(password);
            }
            // The server stamps `mailops_changed_at` (migration 0003) in the
            // session time zone. Only the sums of those stamps are compared,
            // so any zone would do; UTC (sqlx's default, made explicit) at
            // least never repeats an hour.
            let options = options
                .timezone(Some("+00:00".to_string()))
                .disable_statement_logging();
            let conn = match options.connect().await {
                Ok(conn) => conn,
                Err(e) if access == Access::ReadOnly && is_unknown_database(&e) => {
                    return Ok(None);
                }
                Err(e) => {
                    return Err(DbError::Operational(format!(
                        "cannot connect to {shown}: {}",
                        crate::database_url::redact_in(&e.to_string())
                    )));
                }
            };
            let mut conn = Conn::Mysql(conn);
            if let Err(e) = read_latest_commits(&mut conn).await {
                conn.close().await;
                return Err(e);
            }
            Ok(Some(conn))
        }
        DatabaseUrl::Sqlite { .. } => {
            let path = target
                .sqlite_path
                .clone()
                .expect("a SQLite target has a path");
            let read_only = access == Access::ReadOnly;
            if read_only {
                match std::fs::symlink_metadata(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(DbError::Operational(format!(
                            "cannot open {shown} ({}): {e}",
                            path.display()
                        )));
                    }
                    Ok(_) => {}
                }
            } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbError::Operational(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .read_only(read_only)
                .create_if_missing(!read_only)
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
                .disable_statement_logging();
            let conn = options.connect().await.map_err(|e| {
                DbError::Operational(format!("cannot open {shown} ({}): {e}", path.display()))
            })?;
            Ok(Some(Conn::Sqlite(conn)))
        }
    }
}

/// A single-threaded runtime for one command's database work.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, DbError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DbError::Operational(format!("cannot start the async runtime: {e}")))
}
/// A database failure as a command ends with it: a refusal exits 1, the lock
/// and the database exit 2, a conflict with a concurrent apply exits 3.
impl From<DbError> for crate::error::Error {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Refused(m) => crate::error::Error::Refused(m),
            DbError::Locked(m) => crate::error::Error::Operational(m),
            DbError::Operational(m) => crate::error::Error::Database(m),
            DbError::Conflict(m) => crate::error::Error::Conflict(m),
        }
    }
}
