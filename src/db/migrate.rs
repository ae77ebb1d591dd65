//! The project's schema migrations (`migrations/<dialect>/NNNN_*.sql`),
//! embedded in the binary and run automatically before plan and apply.
//!
//! `mailops_schema_migrations` records every version applied; each migration
//! file ends by recording its own version, so a file applied by hand
//! (`sqlite3 db < migrations/sqlite/0001_….sql`) counts as applied too. A database that
//! records a version this binary does not know was migrated by a newer
//! mailops: it is refused rather than written with assumptions that may no
//! longer hold. Migrating runs under its own lock (a MySQL named lock, an
//! SQLite write transaction) so that two first runs on a fresh database do not
//! both create the tables.

use std::time::Duration;

use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};
use crate::db::{adopt, lock};

pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    mysql: &'static str,
    sqlite: &'static str,
}

impl Migration {
    pub(crate) fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Mysql => self.mysql,
            Dialect::Sqlite => self.sqlite,
        }
    }
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "routing_tables",
        mysql: include_str!("../../migrations/mysql/0001_routing_tables.sql"),
        sqlite: include_str!("../../migrations/sqlite/0001_routing_tables.sql"),
    },
    Migration {
        version: 2,
        name: "domain_state",
        mysql: include_str!("../../migrations/mysql/0002_domain_state.sql"),
        sqlite: include_str!("../../migrations/sqlite/0002_domain_state.sql"),
    },
    Migration {
        version: 3,
        name: "change_times",
        mysql: include_str!("../../migrations/mysql/0003_change_times.sql"),
        // A no-op that records itself: both dialects share one list of versions.
        sqlite: include_str!("../../migrations/sqlite/0003_change_times.sql"),
    },
    Migration {
        version: 4,
        name: "mailbox_state",
        mysql: include_str!("../../migrations/mysql/0004_mailbox_state.sql"),
        sqlite: include_str!("../../migrations/sqlite/0004_mailbox_state.sql"),
    },
    Migration {
        version: 5,
        name: "tenant_state",
        mysql: include_str!("../../migrations/mysql/0005_tenant_state.sql"),
        sqlite: include_str!("../../migrations/sqlite/0005_tenant_state.sql"),
    },
    Migration {
        version: 6,
        name: "relay_domains",
        mysql: include_str!("../../migrations/mysql/0006_relay_domains.sql"),
        sqlite: include_str!("../../migrations/sqlite/0006_relay_domains.sql"),
    },
    Migration {
        version: 7,
        name: "apply_lock",
        mysql: include_str!("../../migrations/mysql/0007_apply_lock.sql"),
        sqlite: include_str!("../../migrations/sqlite/0007_apply_lock.sql"),
    },
    Migration {
        version: 8,
        name: "mail_hosts",
        mysql: include_str!("../../migrations/mysql/0008_mail_hosts.sql"),
        sqlite: include_str!("../../migrations/sqlite/0008_mail_hosts.sql"),
    },
];

/// The newest schema version this binary knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Bring the schema up to date; returns the versions applied now.
pub(crate) async fn migrate(conn: &mut Conn, lock_wait: Duration) -> Result<Vec<i64>, DbError> {
    // Cheap path, no lock: already current.
    if let Some(applied) = applied_versions(conn).await? {
        check_not_newer(&applied)?;
        if applied.iter().max().copied() == Some(latest()) {
            return Ok(Vec::new());
        }
    }
    let guard = lock::acquire(conn, lock::Purpose::Migrate, lock_wait).await?;
    let result = migrate_locked(conn).await;
    let released = lock::release(conn, guard, result.is_ok()).await;
    let done = result?;
    released?;
    Ok(done)
}

async fn migrate_locked(conn: &mut Conn) -> Result<Vec<i64>, DbError> {
    let applied = applied_versions(conn).await?.unwrap_or_default();
    check_not_newer(&applied)?;
    let dialect = conn.dialect();
    let mut done = Vec::new();
    // Tables of an existing server, not made by mailops: adopted in place
    // of migration 0001 (`adopt`).
    let adopted = if applied.is_empty() {
        adopt::tutorial_columns(conn).await?
    } else {
        None
    };
    if let Some(columns) = adopted {
        conn.execute_raw(&adopt::script(dialect, columns))
            .await
            .map_err(|e| {
                DbError::Operational(format!(
                    "adopting the existing virtual_* tables (in place of migration 0001) failed: {e}"
                ))
            })?;
        done.push(1);
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version))
        // Adopted tables stand for migration 0001.
        .filter(|m| adopted.is_none() || m.version != 1)
    {
        conn.execute_raw(migration.sql(dialect)).await.map_err(|e| {
            DbError::Operational(format!(
                "migration {:04}_{} failed: {e}{}",
                migration.version,
                migration.name,
                if applied.is_empty() {
                    " (if the database already has tables named virtual_*, they were not made by mailops)"
                } else {
                    ""
                }
            ))
        })?;
        // The file's last statement records its version (see `records_itself`).
        done.push(migration.version);
    }
    Ok(done)
}

/// Where a database's schema stands, read without changing anything (a plan
/// never migrates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    /// No mailops tables yet: apply creates them.
    Missing,
    /// Migrated to this version, older than this mailops's: apply migrates it.
    /// Version 0: an existing server's tutorial tables, which apply adopts
    /// in place (`adopt`).
    Behind(i64),
    /// At this mailops's version.
    Current,
}

/// The schema's version, refused when newer than this mailops knows.
pub(crate) async fn schema(conn: &mut Conn) -> Result<Schema, DbError> {
    let Some(applied) = applied_versions(conn).await? else {
        return Ok(match adopt::tutorial_columns(conn).await? {
            Some(_) => Schema::Behind(0),
            None => Schema::Missing,
        });
    };
    check_not_newer(&applied)?;
    Ok(match applied.iter().max().copied() {
        None => Schema::Missing,
        Some(newest) if newest == latest() => Schema::Current,
        Some(newest) => Schema::Behind(newest),
    })
}

fn check_not_newer(applied: &[i64]) -> Result<(), DbError> {
    match applied.iter().max() {
        Some(&newest) if newest > latest() => Err(DbError::Refused(format!(
            "the database schema is at version {newest}, newer than this mailops knows (version {}); \
             it was migrated by a newer mailops: upgrade mailops before planning or applying",
            latest()
        ))),
        _ => Ok(()),
    }
}

/// The versions recorded, or `None` when the bookkeeping table does not exist yet.
async fn applied_versions(conn: &mut Conn) -> Result<Option<Vec<i64>>, DbError> {
    let exists_sql = match conn.dialect() {
        Dialect::Mysql => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'mailops_schema_migrations'"
        }
        Dialect::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'mailops_schema_migrations'"
        }
    };
    let reading = failed("reading the schema version");
    let exists: i64 = on_conn!(conn, c => sqlx::query_scalar(exists_sql).fetch_one(&mut *c).await.map_err(&reading))?;
    if exists == 0 {
        return Ok(None);
    }
    let versions: Vec<i64> = on_conn!(conn, c => sqlx::query_scalar("SELECT version FROM mailops_schema_migrations")
        .fetch_all(&mut *c)
        .await
        .map_err(&reading))?;
    Ok(Some(versions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_files_exist_for_both_dialects() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            let file = format!("{:04}_{}.sql", m.version, m.name);
            assert!(
                m.mysql
                    .starts_with(&format!("-- mailops migration {:04}:", m.version)),
                "mysql/{file}"
            );
            assert!(
                m.sqlite
                    .starts_with(&format!("-- mailops migration {:04}:", m.version)),
                "sqlite/{file}"
            );
            let record = format!(
                "INSERT INTO mailops_schema_migrations (version, name) VALUES ({}, '{}');",
                m.version, m.name
            );
            assert!(
                m.mysql.trim_end().ends_with(&record),
                "{} must record itself",
                m.name
            );
            assert!(
                m.sqlite.trim_end().ends_with(&record),
                "{} must record itself",
                m.name
            );
        }
        assert!(check_not_newer(&[1]).is_ok());
        assert!(matches!(
            check_not_newer(&[latest() + 1]),
            Err(DbError::Refused(_))
        ));
    }
}
