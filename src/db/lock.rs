//! The lock that keeps two applies (or two first migrations) from interleaving.
//!
//! MySQL/MariaDB: a named lock (`GET_LOCK`) per database, held by this
//! connection, then a transaction inside it. SQLite: `BEGIN IMMEDIATE`, which
//! takes the database's write lock at once, with the busy timeout as the
//! bounded wait; the transaction is the lock. Either way the second comer
//! waits up to the given time, then fails with a message saying why.
//!
//! On a Galera cluster `GET_LOCK` is node-local: it still serialises the
//! applies of one node (and gives them the friendly wait), but two applies
//! on two nodes both get it. So an apply's transaction begins by updating
//! the one row of `mailops_apply_lock` (migration 0007), on every engine. Two
//! applies that run at once on different nodes have both written that row,
//! and Galera lets only the first commit through: the other is aborted
//! (ER_LOCK_DEADLOCK, at its commit or at its next statement) and rolled
//! back whole. `Held::explain` words that for the user: plan again. It is
//! never retried here: the plan that was shown (and reviewed) was derived
//! from rows that have changed since. The row conflict is also what keeps
//! the apply's reads honest on a cluster: an apply whose reads missed a
//! commit of another node cannot commit, because that commit wrote the row.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::db::connection::{Conn, DbError, Dialect, failed, is_galera_node, on_conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Schema migrations: MySQL DDL commits by itself, so no transaction there.
    Migrate,
    /// An apply: one transaction for every row change.
    Apply,
}

impl Purpose {
    fn word(self) -> &'static str {
        match self {
            Purpose::Migrate => "migrate",
            Purpose::Apply => "apply",
        }
    }
}

/// A held lock; give it back with `release`.
#[must_use]
pub(crate) struct Held {
    purpose: Purpose,
    /// MySQL only: the lock's name.
    mysql_name: Option<String>,
    /// The server is a node of a Galera cluster.
    cluster: bool,
}

/// What a lost race says: the words of the error an apply ends with when
/// another apply committed first on another node of the cluster.
pub(crate) const CLUSTER_CONFLICT: &str = "another apply committed first on another node of the \
     cluster; nothing of this apply was written. Run `mailops plan` again";

/// The same on a single server, where the named lock keeps applies apart:
/// the server aborted the apply for a conflicting write (a hand edit of the
/// same rows, say).
pub(crate) const SERVER_CONFLICT: &str = "the database aborted this apply for a conflicting \
     write by another session (a deadlock); nothing of this apply was written. Run `mailops plan` \
     again";

impl Held {
    /// Whether the lock was taken on a node of a Galera cluster.
    pub(crate) fn on_cluster(&self) -> bool {
        self.cluster
    }
}

/// An apply's error as the user reads it: a conflict (`DbError::Conflict`,
/// the transaction aborted for a concurrent write) says what happened and
/// what to do, with the server's words on a line after; every other error
/// is left as it is.
pub(crate) fn explain(error: DbError, on_cluster: bool) -> DbError {
    match error {
        DbError::Conflict(detail) => DbError::Conflict(format!(
            "{}\n({detail})",
            if on_cluster {
                CLUSTER_CONFLICT
            } else {
                SERVER_CONFLICT
            }
        )),
        other => other,
    }
}

/// Who holds the apply lock, for `mailops_apply_lock.holder`.
fn holder() -> String {
    format!(
        "mailops {} pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )
}

/// Update the apply lock row, first thing in the apply's transaction.
async fn take_lock_row(conn: &mut Conn) -> Result<(), DbError> {
    let updated = on_conn!(conn, c => sqlx::query(
        "UPDATE mailops_apply_lock SET generation = generation + 1, holder = ? WHERE id = 1",
    )
    .bind(holder())
    .execute(&mut *c)
    .await
    .map_err(failed("taking the apply lock row (mailops_apply_lock)"))?
    .rows_affected());
    if updated != 1 {
        return Err(DbError::Operational(
            "mailops_apply_lock has no row (id 1): it was deleted by hand; restore it with \
             `INSERT INTO mailops_apply_lock (id, generation) VALUES (1, 0)`"
                .into(),
        ));
    }
    Ok(())
}

/// Take the lock (and begin the transaction), waiting at most `wait`.
pub(crate) async fn acquire(
    conn: &mut Conn,
    purpose: Purpose,
    wait: Duration,
) -> Result<Held, DbError> {
    let busy = format!(
        "another mailops {} is running on this database; waited {} s for it to finish. \
         Try again once it is done (MAILOPS_LOCK_TIMEOUT sets the wait, in seconds)",
        purpose.word(),
        wait.as_secs()
    );
    match conn {
        Conn::Mysql(c) => {
            let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
                .fetch_one(&mut *c)
                .await
                .map_err(failed("reading the database name"))?;
            let name = lock_name(purpose, database.as_deref().unwrap_or(""));
            let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                .bind(&name)
                .bind(wait.as_secs() as i64)
                .fetch_one(&mut *c)
                .await
                .map_err(failed("taking the apply lock"))?;
            match got {
                Some(1) => {}
                Some(_) => return Err(DbError::Locked(busy)),
                None => return Err(DbError::Operational("GET_LOCK failed on the server".into())),
            }
            let mut held = Held {
                purpose,
                mysql_name: Some(name),
                cluster: false,
            };
            if purpose == Purpose::Apply {
                let begun = async {
                    held.cluster = is_galera_node(conn).await?;
                    conn.execute_raw("START TRANSACTION").await?;
                    take_lock_row(conn).await
                }
                .await;
                if let Err(e) = begun {
                    let cluster = held.cluster;
                    let _ = release(conn, held, false).await;
                    return Err(explain(e, cluster));
                }
            }
            Ok(held)
        }
        Conn::Sqlite(c) => {
            let pragma = format!("PRAGMA busy_timeout = {}", wait.as_millis());
            sqlx::raw_sql(sqlx::AssertSqlSafe(pragma))
                .execute(&mut *c)
                .await
                .map_err(failed("setting the busy timeout"))?;
            match sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *c).await {
                Ok(_) => {}
                Err(e) if is_busy(&e) => return Err(DbError::Locked(busy)),
                Err(e) => return Err(failed("beginning the transaction")(e)),
            }
            let held = Held {
                purpose,
                mysql_name: None,
                cluster: false,
            };
            if purpose == Purpose::Apply {
                if let Err(e) = take_lock_row(conn).await {
                    let _ = release(conn, held, false).await;
                    return Err(e);
                }
            }
            Ok(held)
        }
    }
}

/// End the transaction (commit or roll back) and let the lock go. A commit
/// the cluster refuses (another apply committed first) is explained
/// (`explain`).
pub(crate) async fn release(conn: &mut Conn, held: Held, commit: bool) -> Result<(), DbError> {
    let ends_transaction = conn.dialect() == Dialect::Sqlite || held.purpose == Purpose::Apply;
    if commit && held.purpose == Purpose::Apply {
        test_pause_before_commit().await;
    }
    let ended = if ends_transaction {
        conn.execute_raw(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
    } else {
        Ok(())
    };
    if let Some(name) = held.mysql_name {
        let released = on_conn!(conn, c => sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&name)
            .execute(&mut *c)
            .await
            .map(|_| ())
            .map_err(failed("releasing the apply lock")));
        ended.map_err(|e| explain(e, held.cluster))?;
        return released;
    }
    ended
}

/// Test-only: pause this long just before an apply's `COMMIT` (debug builds
/// only, and only with `MAILOPS_TEST_PAUSE_BEFORE_COMMIT_MS` set), saying so
/// on stderr, so that the Galera proof (`scripts/e2e_galera.py`) can start a
/// second apply on another node, or kill the node, while this one has
/// written everything and not yet committed.
async fn test_pause_before_commit() {
    if !cfg!(debug_assertions) {
        return;
    }
    let variable = "MAILOPS_TEST_PAUSE_BEFORE_COMMIT_MS";
    if let Some(ms) = std::env::var(variable)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("test hook {variable}: pausing {ms} ms before COMMIT");
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A lock name per database and purpose, within MySQL's 64 characters.
fn lock_name(purpose: Purpose, database: &str) -> String {
    let name = format!("mailops:{}:{database}", purpose.word());
    if name.len() <= 64 {
        return name;
    }
    let digest = Sha256::digest(database.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("mailops:{}:{hex}", purpose.word())
}

fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c == "5" || c == "6")
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_says_plan_again_and_keeps_the_servers_words() {
        let detail = "running `COMMIT`: error returned from database: 1213 (40001): Deadlock found";
        let on_cluster = explain(DbError::Conflict(detail.into()), true);
        assert!(matches!(on_cluster, DbError::Conflict(_)));
        assert_eq!(
            on_cluster.message(),
            format!("{CLUSTER_CONFLICT}\n({detail})")
        );
        assert!(CLUSTER_CONFLICT.starts_with(
            "another apply committed first on another node of the cluster; \
             nothing of this apply was written. Run `mailops plan` again"
        ));
        let on_server = explain(DbError::Conflict(detail.into()), false);
        assert!(on_server.message().starts_with(SERVER_CONFLICT));
        // Exit 3, and no hint: the message names the command to run.
        let error = crate::error::Error::from(on_cluster);
        assert_eq!(error.exit_code(), std::process::ExitCode::from(3));
        assert_eq!(crate::hints::next_command("apply", &error), None);
        // Every other error is left as it is.
        for other in [
            DbError::Operational("gone".into()),
            DbError::Locked("busy".into()),
            DbError::Refused("stale".into()),
        ] {
            let before = format!("{other:?}");
            assert_eq!(format!("{:?}", explain(other, true)), before);
        }
    }

    #[test]
    fn lock_names_fit_mysql() {
        assert_eq!(lock_name(Purpose::Apply, "mail"), "mailops:apply:mail");
        let long = "x".repeat(80);
        assert!(lock_name(Purpose::Apply, &long).len() <= 64);
        assert_ne!(
            lock_name(Purpose::Apply, &long),
            lock_name(Purpose::Migrate, &long)
        );
    }
}
