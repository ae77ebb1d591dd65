//! Adopting a tutorial-layout database in place: the `virtual_domains`,
//! `virtual_users` and `virtual_aliases` tables of an existing mail server
//! (see `mailops import`), which mailops did not create.
//!
//! Such a database has no `mailops_schema_migrations`. A plan reads it as
//! schema version 0 (as it is, every row: `user_columns` names what stands
//! for the columns it lacks); the first apply runs the adoption below in
//! place of migration 0001, then 0002 onwards as usual. The adoption only
//! adds: mailops's bookkeeping tables, the columns `quota_bytes` (filled from
//! the tutorial's `quota` where there is one; the `quota` column stays for
//! the server's old queries) and `name`, and the indexes later migrations
//! expect. Every row keeps its id and its values. No unique key is added:
//! a tutorial database may hold duplicate rows (`mailops import` reports
//! them), and mailops's writes go by natural key without needing one.

use crate::db::connection::{Conn, DbError, Dialect, failed};

/// What the tutorial's `virtual_users` has of mailops's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) quota_bytes: bool,
    /// The tutorial's quota in bytes.
    pub(crate) quota: bool,
    pub(crate) name: bool,
}

/// The columns each table must have to be adopted.
const REQUIRED: [(&str, &[&str]); 3] = [
    ("virtual_domains", &["id", "name"]),
    ("virtual_users", &["id", "domain_id", "email", "password"]),
    (
        "virtual_aliases",
        &["id", "domain_id", "source", "destination"],
    ),
];

async fn columns_of(conn: &mut Conn, table: &str) -> Result<Vec<String>, DbError> {
    let reading = failed("reading the columns of the routing tables");
    let columns: Vec<String> = match conn {
        Conn::Mysql(c) => sqlx::query_scalar(
            "SELECT CAST(LOWER(column_name) AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(&reading)?,
        Conn::Sqlite(c) => sqlx::query_scalar("SELECT LOWER(name) FROM pragma_table_info(?)")
            .bind(table)
            .fetch_all(&mut *c)
            .await
            .map_err(&reading)?,
    };
    Ok(columns)
}

/// A database without mailops's bookkeeping: `None` when it has no
/// `virtual_domains` (nothing to adopt), the columns of `virtual_users` when
/// it has the tutorial's tables, refused when they lack a column mailops
/// needs (named, with what the table has).
pub(crate) async fn tutorial_columns(conn: &mut Conn) -> Result<Option<Columns>, DbError> {
    if columns_of(conn, "virtual_domains").await?.is_empty() {
        return Ok(None);
    }
    let mut users = Vec::new();
    for (table, required) in REQUIRED {
        let have = columns_of(conn, table).await?;
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !have.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            return Err(DbError::Refused(format!(
                "the database has tables named virtual_* that mailops did not create, and {table} lacks \
                 the column(s) {} (it has {}): mailops adopts the tutorial layout in place only with \
                 these names; rename the columns, or import it with `mailops import` and apply to a new database",
                missing.join(", "),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            )));
        }
        if table == "virtual_users" {
            users = have;
        }
    }
    let has = |c: &str| users.iter().any(|h| h == c);
    Ok(Some(Columns {
        quota_bytes: has("quota_bytes"),
        quota: has("quota"),
        name: has("name"),
    }))
}

/// What a plan selects for `quota_bytes, name` of a schema read as it is.
pub(crate) async fn user_columns(conn: &mut Conn) -> Result<String, DbError> {
    let have = columns_of(conn, "virtual_users").await?;
    let has = |c: &str| have.iter().any(|h| h == c);
    let int = match conn.dialect() {
        Dialect::Mysql => "SIGNED",
        Dialect::Sqlite => "INTEGER",
    };
    let quota = if has("quota_bytes") {
        "quota_bytes".to_string()
    } else if has("quota") {
        format!("CAST(COALESCE(quota, 0) AS {int})")
    } else {
        "0".to_string()
    };
    let name = if has("name") { "name" } else { "NULL" };
    Ok(format!("{quota}, {name}"))
}

/// The statements of `migration` that start with `start`, each up to its
/// `;` (the comments around them hold `;`s, the statements do not).
fn statements<'a>(migration: &'a str, start: &str) -> Vec<&'a str> {
    migration
        .match_indices(start)
        .map(|(at, _)| {
            let rest = &migration[at..];
            &rest[..rest.find(';').map_or(rest.len(), |end| end + 1)]
        })
        .collect()
}

/// The statements that stand for migration 0001 on a tutorial database.
pub(crate) fn script(dialect: Dialect, columns: Columns) -> String {
    let migration_0001 = match dialect {
        Dialect::Mysql => include_str!("../../migrations/mysql/0001_routing_tables.sql"),
        Dialect::Sqlite => include_str!("../../migrations/sqlite/0001_routing_tables.sql"),
    };
    let mut sql = String::new();
    // The bookkeeping tables exactly as 0001 makes them.
    for statement in statements(migration_0001, "CREATE TABLE mailops_") {
        sql.push_str(statement);
        sql.push('\n');
    }
    let mut users = Vec::new();
    if !columns.quota_bytes {
        users.push(match dialect {
            Dialect::Mysql => "ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0",
            Dialect::Sqlite => "ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0",
        });
    }
    if !columns.name {
        users.push("ADD COLUMN name TEXT NULL");
    }
    match dialect {
        Dialect::Mysql => {
            users.push("ADD KEY virtual_users_domain (domain_id)");
            sql.push_str(&format!(
                "ALTER TABLE virtual_users {};\n",
                users.join(", ")
            ));
            sql.push_str(
                "ALTER TABLE virtual_aliases ADD KEY virtual_aliases_domain (domain_id), \
                 ADD KEY virtual_aliases_destination (destination);\n",
            );
        }
        Dialect::Sqlite => {
            for change in users {
                sql.push_str(&format!("ALTER TABLE virtual_users {change};\n"));
            }
            sql.push_str(
                "CREATE INDEX IF NOT EXISTS virtual_users_domain ON virtual_users (domain_id);\n\
                 CREATE INDEX IF NOT EXISTS virtual_aliases_domain ON virtual_aliases (domain_id);\n\
                 CREATE INDEX IF NOT EXISTS virtual_aliases_destination ON virtual_aliases (destination);\n",
            );
        }
    }
    if !columns.quota_bytes && columns.quota {
        sql.push_str("UPDATE virtual_users SET quota_bytes = COALESCE(quota, 0);\n");
    }
    for statement in statements(migration_0001, "INSERT INTO mailops_schema_migrations") {
        sql.push_str(statement);
        sql.push('\n');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adoption_adds_columns_and_records_version_1() {
        let columns = Columns {
            quota_bytes: false,
            quota: true,
            name: false,
        };
        let sqlite = script(Dialect::Sqlite, columns);
        assert!(
            sqlite.starts_with("CREATE TABLE mailops_schema_migrations ("),
            "{sqlite}"
        );
        assert!(
            sqlite.contains("CREATE TABLE mailops_apply_log ("),
            "{sqlite}"
        );
        assert!(
            sqlite.contains(
                "ALTER TABLE virtual_users ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0;"
            ),
            "{sqlite}"
        );
        assert!(
            sqlite.contains("UPDATE virtual_users SET quota_bytes = COALESCE(quota, 0);"),
            "{sqlite}"
        );
        assert!(!sqlite.contains("CREATE TABLE virtual_"), "{sqlite}");
        assert!(!sqlite.contains("--"), "{sqlite}");
        assert!(
            sqlite.trim_end().ends_with("VALUES (1, 'routing_tables');"),
            "{sqlite}"
        );
        let mysql = script(
            Dialect::Mysql,
            Columns {
                quota_bytes: true,
                quota: false,
                name: true,
            },
        );
        assert!(
            mysql.contains("ALTER TABLE virtual_users ADD KEY virtual_users_domain (domain_id);"),
            "{mysql}"
        );
        assert!(!mysql.contains("UPDATE"), "{mysql}");
    }
}
