//! The database half of plan and apply: the live rows of the routing tables
//! against the rows the model declares.
//!
//! One concern per module: `url` picks the database, `connection` opens it,
//! `migrate` brings its schema up to date, `rows` holds rows and hashes them,
//! `desired` digests the model's rows per domain, `live` reads the live side
//! (the rows of only those domains that may have changed), `plan` diffs them,
//! `render` shows the diff, `guard` stops destructive applies, `lock`
//! serialises applies, `apply` writes the changes and records what it wrote,
//! and `saved_plan` keeps a reviewed plan for later. The commands in
//! `commands::plan` and `commands::apply` put them together.

pub(crate) mod adopt;
pub(crate) mod apply;
pub(crate) mod connection;
pub(crate) mod desired;
pub(crate) mod guard;
pub(crate) mod live;
pub(crate) mod lock;
pub(crate) mod migrate;
pub(crate) mod plan;
pub(crate) mod rows;
pub(crate) mod saved_plan;
pub(crate) mod url;

use std::path::Path;
use std::time::Duration;

use crate::db::connection::{Conn, DbError};
use crate::db::url::Target;

/// How long to wait for another apply's lock: `MAILOPS_LOCK_TIMEOUT` seconds, default 60.
pub(crate) fn lock_wait() -> Duration {
    let seconds = std::env::var("MAILOPS_LOCK_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// Connect and migrate: a database ready to be read and written.
pub(crate) async fn open(target: &Target) -> Result<Conn, DbError> {
    let wait = lock_wait();
    let mut conn = connection::connect(target, wait).await?;
    match migrate::migrate(&mut conn, wait).await {
        Ok(_) => Ok(conn),
        Err(e) => {
            conn.close().await;
            Err(e)
        }
    }
}

/// The database as a plan finds it: opened read-only, never created or migrated.
pub(crate) enum PlanSource {
    /// Nothing to read: plan against empty tables. Why, for the plan's notes.
    Empty(String),
    /// Rows to read, from a schema at this version.
    Open(Conn, migrate::Schema),
}

/// Open the database for a plan: read-only (SQLite `mode=ro`, MySQL inside a
/// read-only transaction), creating and migrating nothing. A database that
/// does not exist, or has no mailops tables yet, is planned against as empty;
/// an older schema is read as it is.
pub(crate) async fn open_for_plan(target: &Target) -> Result<PlanSource, DbError> {
    let Some(mut conn) = connection::connect_read_only(target, lock_wait()).await? else {
        return Ok(PlanSource::Empty(match target.url {
            crate::database_url::DatabaseUrl::Sqlite { .. } => format!(
                "{} does not exist yet: planned against an empty database (apply creates it)",
                target.shown()
            ),
            crate::database_url::DatabaseUrl::Mysql { .. } => format!(
                "the database of {} does not exist on the server: planned against an empty \
                 database (create it before apply; apply creates the tables)",
                target.shown()
            ),
        }));
    };
    match migrate::schema(&mut conn).await {
        Ok(migrate::Schema::Missing) => {
            conn.close().await;
            Ok(PlanSource::Empty(format!(
                "{} has no mailops tables yet: planned against empty tables (apply creates them)",
                target.shown()
            )))
        }
        Ok(schema) => Ok(PlanSource::Open(conn, schema)),
        Err(e) => {
            conn.close().await;
            Err(e)
        }
    }
}

/// The note a plan carries when the schema is older than this mailops's.
pub(crate) fn schema_note(schema: migrate::Schema) -> Option<String> {
    match schema {
        migrate::Schema::Behind(0) => Some(format!(
            "the database has an existing server's virtual_* tables, not made by mailops: read as \
             they are, every row; apply will adopt them in place (adding columns, keeping every row \
             and id) and migrate to version {}",
            migrate::latest()
        )),
        migrate::Schema::Behind(version) => Some(format!(
            "the database schema is at version {version}: read as it is, every row; \
             apply will migrate from version {version} to {}",
            migrate::latest()
        )),
        _ => None,
    }
}

/// The mail repo's git commit, when it is a git checkout.
pub(crate) fn git_revision(repo_root: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo_root)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let revision = text.trim();
    (output.status.success() && !revision.is_empty()).then(|| revision.to_string())
}
