//! The lock that keeps two applies (or two first migrations) from interleaving.
//!
//! MySQL/MariaDB: a named lock (`GET_LOCK`) per database, held by this
//! connection, then a transaction inside it. SQLite: `BEGIN IMMEDIATE`, which
//! takes the database's write lock at once, with the busy timeout as the
//! bounded wait; the transaction is the lock. Either way the second comer
//! waits up to the given time, then fails with a message saying why.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};

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
            let held = Held {
                purpose,
                mysql_name: Some(name),
            };
            if purpose == Purpose::Apply {
                if let Err(e) = conn.execute_raw("START TRANSACTION").await {
                    let _ = release(conn, held, false).await;
                    return Err(e);
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
                Ok(_) => Ok(Held {
                    purpose,
                    mysql_name: None,
                }),
                Err(e) if is_busy(&e) => Err(DbError::Locked(busy)),
                Err(e) => Err(failed("beginning the transaction")(e)),
            }
        }
    }
}

/// End the transaction (commit or roll back) and let the lock go.
pub(crate) async fn release(conn: &mut Conn, held: Held, commit: bool) -> Result<(), DbError> {
    let ends_transaction = conn.dialect() == Dialect::Sqlite || held.purpose == Purpose::Apply;
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
        ended?;
        return released;
    }
    ended
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
