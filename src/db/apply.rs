//! Executing a row plan inside the transaction the lock opened.
//!
//! The platform's hosts go first (see `write_hosts`). Then inserts go in
//! dependency order (domains, then mailboxes and aliases, which
//! refer to their domain by id), then updates, then deletes in the reverse
//! order (aliases and mailboxes before the domain they belong to). Rows are
//! written with multi-row statements of bound parameters, in chunks that stay
//! far below both drivers' limits on parameters per statement. Last, the
//! state of every domain whose rows are now the desired rows is recorded in
//! `mailops_domain_state`: its digest, and the mark a later plan checks for
//! writes made since (see `live`). The caller commits on success and
//! rolls back on any error, so a failure anywhere leaves the database as it
//! was.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};
use crate::db::live::{Tally, read_tallies};
use crate::db::plan::{Counts, RowPlan};

pub(crate) use crate::db::rows::CHUNK;

/// What to record in `mailops_apply_log`.
pub(crate) struct LogEntry<'a> {
    pub(crate) git_revision: Option<&'a str>,
    pub(crate) plan_hash: &'a str,
}

/// Progress of the row writes (a bar on a terminal, see `crate::progress`),
/// for applies of at least two chunks of rows.
pub(crate) struct Progress {
    shown: bool,
}

impl Progress {
    pub(crate) fn new(wanted: bool, total: usize) -> Self {
        let shown = wanted && total >= 2 * CHUNK;
        if shown {
            crate::progress::stage(&format!("writing {total} row changes"), Some(total));
        }
        Progress { shown }
    }

    fn advance(&mut self, rows: usize) {
        if self.shown {
            crate::progress::advance(rows);
        }
    }

    fn finish(&self) {
        if self.shown {
            crate::progress::finish();
        }
    }
}

/// A failure injected after this many statements (debug builds only), so that
/// tests can prove a failed apply leaves nothing behind.
fn fail_after() -> Option<usize> {
    if cfg!(debug_assertions) {
        std::env::var("MAILOPS_TEST_FAIL_AFTER").ok()?.parse().ok()
    } else {
        None
    }
}

/// Hold the apply lock this long before reading (debug builds only), so that
/// tests can start a second apply while the first one holds the lock.
pub(crate) async fn test_hold_lock() {
    test_hold("MAILOPS_TEST_HOLD_LOCK_MS").await;
}

/// Hold this long after reading the live state, before writing (debug builds
/// only), so that tests can edit rows by hand while apply holds its locks.
pub(crate) async fn test_hold_after_read() {
    test_hold("MAILOPS_TEST_HOLD_AFTER_READ_MS").await;
}

async fn test_hold(variable: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if let Some(ms) = std::env::var(variable).ok().and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

struct Writer<'c> {
    conn: &'c mut Conn,
    statements: usize,
    fail_after: Option<usize>,
    progress: Progress,
}

impl Writer<'_> {
    fn count_statement(&mut self, rows: usize) -> Result<(), DbError> {
        self.statements += 1;
        self.progress.advance(rows);
        match self.fail_after {
            Some(n) if self.statements >= n => Err(DbError::Operational(format!(
                "injected failure after {n} statement{} (MAILOPS_TEST_FAIL_AFTER)",
                if n == 1 { "" } else { "s" }
            ))),
            _ => Ok(()),
        }
    }
}

/// `(?, ?), (?, ?)` for `rows` rows of `columns` columns.
fn placeholders(rows: usize, columns: usize) -> String {
    let one = format!("({})", vec!["?"; columns].join(", "));
    vec![one; rows].join(", ")
}

/// A domain's state to record: its name and the digest of its desired rows.
pub(crate) struct StateRecord<'a> {
    pub(crate) domain: &'a str,
    pub(crate) digest: &'a str,
}

impl<'a> StateRecord<'a> {
    /// The state to record of these domains (`Live::to_record`): each with
    /// the digest of its desired rows.
    pub(crate) fn of(
        domains: &'a std::collections::BTreeSet<String>,
        desired: &'a crate::db::desired::Desired<'_>,
    ) -> Vec<StateRecord<'a>> {
        domains
            .iter()
            .filter_map(|name| {
                let desired = desired.domains.get(name.as_str())?;
                Some(StateRecord {
                    domain: name,
                    digest: &desired.digest,
                })
            })
            .collect()
    }
}

/// Write every change of the plan and, when it has any, the log row; then
/// record the state of `record`'s domains. Runs inside a transaction.
pub(crate) async fn execute(
    conn: &mut Conn,
    plan: &RowPlan,
    log: &LogEntry<'_>,
    record: &[StateRecord<'_>],
    show_progress: bool,
) -> Result<Counts, DbError> {
    let counts = plan.counts();
    let mut w = Writer {
        conn,
        statements: 0,
        fail_after: fail_after(),
        progress: Progress::new(show_progress, counts.total()),
    };
    let mut result = Ok(());
    let mut change_time = None;
    if w.conn.dialect() == Dialect::Mysql {
        match fix_change_time(w.conn).await {
            Ok(t) => change_time = Some(t),
            Err(e) => result = Err(e),
        }
    }
    if result.is_ok() && !plan.is_empty() {
        result = write_all(&mut w, plan, log).await;
    }
    w.progress.finish();
    if result.is_ok() {
        result = record_state(&mut w, record, plan, change_time).await;
    }
    if change_time.is_some() && result.is_ok() {
        result = w.conn.execute_raw("SET timestamp = DEFAULT").await;
    }
    result.map(|()| counts)
}

/// MySQL/MariaDB: fix the session's clock for the rest of the apply, so that
/// every row it writes gets one known change time; returns it as the tallies
/// count it (microseconds, `TO_SECONDS * 1000000 + MICROSECOND`, in the
/// session's time zone, as the server converts it for the column).
async fn fix_change_time(conn: &mut Conn) -> Result<i64, DbError> {
    conn.execute_raw("SET timestamp = UNIX_TIMESTAMP(NOW(6))")
        .await?;
    on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(TO_SECONDS(NOW(6)) * 1000000 + MICROSECOND(NOW(6)) AS SIGNED)",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(failed("reading the time of the apply")))
}

/// The tallies (users, aliases) of every domain the plan creates, after the
/// plan: such a domain's rows are exactly the rows the plan writes into it
/// (inserts, and updates that move a row there), all stamped `change_time`.
/// Counted here, because reading them back in the writing transaction costs
/// a lookup of every row (the index pages carry this transaction's changes,
/// so InnoDB checks each entry against its row).
fn tallies_of_created_domains(plan: &RowPlan, change_time: i64) -> HashMap<&str, (Tally, Tally)> {
    let mut rows: HashMap<&str, (i64, i64)> = plan
        .domains
        .insert
        .iter()
        .map(|d| (d.name.as_str(), (0, 0)))
        .collect();
    let users = plan
        .users
        .insert
        .iter()
        .chain(plan.users.update.iter().map(|u| &u.after));
    // The users tally covers the mailbox rows of three tables (see `live`).
    let mailbox_rows = users
        .map(|u| u.domain.as_str())
        .chain(
            plan.app_passwords
                .insert
                .iter()
                .chain(plan.app_passwords.update.iter().map(|u| &u.after))
                .map(|r| r.domain.as_str()),
        )
        .chain(
            plan.grants
                .insert
                .iter()
                .chain(plan.grants.update.iter().map(|u| &u.after))
                .map(|r| r.domain.as_str()),
        )
        .chain(
            plan.relays
                .insert
                .iter()
                .chain(plan.relays.update.iter().map(|u| &u.after))
                .map(|r| r.domain.as_str()),
        )
        .chain(
            plan.relay_recipients
                .insert
                .iter()
                .chain(plan.relay_recipients.update.iter().map(|u| &u.after))
                .map(|r| r.domain.as_str()),
        );
    for domain in mailbox_rows {
        if let Some(n) = rows.get_mut(domain) {
            n.0 += 1;
        }
    }
    let aliases = plan
        .aliases
        .insert
        .iter()
        .chain(plan.aliases.update.iter().map(|a| &a.after));
    for alias in aliases {
        if let Some(n) = rows.get_mut(alias.domain.as_str()) {
            n.1 += 1;
        }
    }
    let tally = |rows: i64| Tally {
        rows,
        changed: (i128::from(rows) * i128::from(change_time)).to_string(),
    };
    rows.into_iter()
        .map(|(name, (users, aliases))| (name, (tally(users), tally(aliases))))
        .collect()
}

/// Record that these domains' rows are their desired rows, with the mark
/// that tells a later plan whether anyone wrote to them since (see `live`).
///
/// MySQL/MariaDB: the tallies of the domains' rows as this transaction sees
/// them now, after its writes: its own writes and what it read, not what
/// others committed since its first read. A domain the plan creates is
/// tallied from the plan (`tallies_of_created_domains`), every other one is
/// read. SQLite: `edits` now, which counts this apply's own writes; nobody
/// else can raise it before the commit, as SQLite lets one writer at a time.
async fn record_state(
    w: &mut Writer<'_>,
    record: &[StateRecord<'_>],
    plan: &RowPlan,
    change_time: Option<i64>,
) -> Result<(), DbError> {
    if record.is_empty() {
        return Ok(());
    }
    let dialect = w.conn.dialect();
    let now: Vec<(i64, String, Option<i64>)> = match dialect {
        Dialect::Mysql => domain_ids(w.conn)
            .await?
            .into_iter()
            .map(|(name, id)| (id, name, None))
            .collect(),
        Dialect::Sqlite => on_conn!(&mut *w.conn, c => sqlx::query_as(
            "SELECT d.id, d.name, s.edits FROM virtual_domains d \
             LEFT JOIN mailops_domain_state s ON s.domain_id = d.id",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading mailops_domain_state")))?,
    };
    let now: HashMap<String, (i64, i64)> = now
        .into_iter()
        .map(|(id, name, edits)| (name, (id, edits.unwrap_or(0))))
        .collect();
    let rows: Vec<(i64, &str, &str, i64)> = record
        .iter()
        .filter_map(|r| {
            let (id, edits) = now.get(r.domain)?;
            Some((*id, r.domain, r.digest, *edits))
        })
        .collect();
    let created = change_time
        .map(|t| tallies_of_created_domains(plan, t))
        .unwrap_or_default();
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _, _, _)| *id).collect();
        let mut tallies = BTreeMap::new();
        if dialect == Dialect::Mysql {
            let read: Vec<i64> = chunk
                .iter()
                .filter(|(_, name, _, _)| !created.contains_key(name))
                .map(|(id, _, _, _)| *id)
                .collect();
            if !read.is_empty() {
                tallies = read_tallies(w.conn, Some(&read)).await?;
            }
            for (id, name, _, _) in chunk {
                if let Some(tally) = created.get(name) {
                    tallies.insert(*id, tally.clone());
                }
            }
        }
        let sql = format!(
            "DELETE FROM mailops_domain_state WHERE domain_id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.execute(&mut *c).await.map_err(failed("recording mailops_domain_state"))?.rows_affected()
        });
        w.count_statement(0)?;
        match &mut *w.conn {
            Conn::Mysql(c) => {
                let sql = format!(
                    "INSERT INTO mailops_domain_state \
                     (domain_id, digest, user_rows, user_changed, alias_rows, alias_changed) VALUES {}",
                    placeholders(chunk.len(), 6)
                );
                let empty = (Tally::empty(dialect), Tally::empty(dialect));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, _, digest, _) in chunk {
                    let (users, aliases) = tallies.get(id).unwrap_or(&empty);
                    q = q
                        .bind(*id)
                        .bind(*digest)
                        .bind(users.rows)
                        .bind(users.changed.as_str())
                        .bind(aliases.rows)
                        .bind(aliases.changed.as_str());
                }
                q.execute(&mut *c)
                    .await
                    .map_err(failed("recording mailops_domain_state"))?;
            }
            Conn::Sqlite(c) => {
                let sql = format!(
                    "INSERT INTO mailops_domain_state (domain_id, digest, edits, applied_edits) VALUES {}",
                    placeholders(chunk.len(), 4)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, _, digest, edits) in chunk {
                    q = q.bind(*id).bind(*digest).bind(*edits).bind(*edits);
                }
                q.execute(&mut *c)
                    .await
                    .map_err(failed("recording mailops_domain_state"))?;
            }
        }
        w.count_statement(0)?;
    }
    Ok(())
}

async fn write_all(w: &mut Writer<'_>, plan: &RowPlan, log: &LogEntry<'_>) -> Result<(), DbError> {
    let dialect = w.conn.dialect();
    write_hosts(w, plan).await?;

    // Inserts: domains, then what refers to them.
    for chunk in plan.domains.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO virtual_domains (name, state) VALUES {}",
            placeholders(chunk.len(), 2)
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for domain in chunk {
                q = q.bind(&domain.name).bind(&domain.state);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into virtual_domains"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    let ids = domain_ids(w.conn).await?;
    let id_of = |domain: &str| -> Result<i64, DbError> {
        ids.get(domain).copied().ok_or_else(|| {
            DbError::Operational(format!(
                "domain {domain} has no row in virtual_domains; plan again"
            ))
        })
    };
    for chunk in plan.users.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name, state, protocols, home) VALUES {}",
            placeholders(chunk.len(), 8)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|u| id_of(&u.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (user, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&user.email).bind(&user.password).bind(user.quota_bytes).bind(&user.name).bind(&user.state).bind(&user.protocols).bind(&user.home);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into virtual_users"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.aliases.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|a| id_of(&a.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (alias, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&alias.source).bind(&alias.destination);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into virtual_aliases"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }

    for chunk in plan.app_passwords.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO virtual_app_passwords (domain_id, email, name, password, protocols) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|r| id_of(&r.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&row.email).bind(&row.name).bind(&row.password).bind(&row.protocols);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into virtual_app_passwords"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.grants.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO virtual_sender_grants (domain_id, sender, login) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|r| id_of(&r.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&row.sender).bind(&row.login);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into virtual_sender_grants"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }

    for chunk in plan.relays.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO relay_domains (domain_id, nexthop, backup_mx) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|r| id_of(&r.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&row.nexthop).bind(i64::from(row.backup_mx));
            }
            q.execute(&mut *c).await.map_err(failed("inserting into relay_domains"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.relay_recipients.insert.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO relay_recipients (domain_id, address) VALUES {}",
            placeholders(chunk.len(), 2)
        );
        let domain_ids: Vec<i64> = chunk
            .iter()
            .map(|r| id_of(&r.domain))
            .collect::<Result<_, _>>()?;
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&domain_ids) {
                q = q.bind(*id).bind(&row.address);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into relay_recipients"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }

    // Updates, one row each (a changed row is rare; the statement is prepared once).
    for update in &plan.domains.update {
        let domain = &update.after;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE virtual_domains SET state = ? WHERE name = ?",
        )
        .bind(&domain.state)
        .bind(&domain.name)
        .execute(&mut *c)
        .await
        .map_err(failed("updating virtual_domains"))?.rows_affected());
        w.count_statement(1)?;
    }
    for update in &plan.users.update {
        let user = &update.after;
        let id = id_of(&user.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE virtual_users SET domain_id = ?, password = ?, quota_bytes = ?, name = ?, state = ?, protocols = ?, home = ? WHERE email = ?",
        )
        .bind(id)
        .bind(&user.password)
        .bind(user.quota_bytes)
        .bind(&user.name)
        .bind(&user.state)
        .bind(&user.protocols)
        .bind(&user.home)
        .bind(&user.email)
        .execute(&mut *c)
        .await
        .map_err(failed("updating virtual_users"))?.rows_affected());
        w.count_statement(1)?;
    }
    for update in &plan.aliases.update {
        let alias = &update.after;
        let id = id_of(&alias.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE virtual_aliases SET domain_id = ? WHERE source = ? AND destination = ?",
        )
        .bind(id)
        .bind(&alias.source)
        .bind(&alias.destination)
        .execute(&mut *c)
        .await
        .map_err(failed("updating virtual_aliases"))?.rows_affected());
        w.count_statement(1)?;
    }

    for update in &plan.app_passwords.update {
        let row = &update.after;
        let id = id_of(&row.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE virtual_app_passwords SET domain_id = ?, password = ?, protocols = ? WHERE email = ? AND name = ?",
        )
        .bind(id)
        .bind(&row.password)
        .bind(&row.protocols)
        .bind(&row.email)
        .bind(&row.name)
        .execute(&mut *c)
        .await
        .map_err(failed("updating virtual_app_passwords"))?.rows_affected());
        w.count_statement(1)?;
    }
    for update in &plan.grants.update {
        let row = &update.after;
        let id = id_of(&row.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE virtual_sender_grants SET domain_id = ? WHERE sender = ? AND login = ?",
        )
        .bind(id)
        .bind(&row.sender)
        .bind(&row.login)
        .execute(&mut *c)
        .await
        .map_err(failed("updating virtual_sender_grants"))?.rows_affected());
        w.count_statement(1)?;
    }

    for update in &plan.relays.update {
        let row = &update.after;
        let id = id_of(&row.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE relay_domains SET nexthop = ?, backup_mx = ? WHERE domain_id = ?",
        )
        .bind(&row.nexthop)
        .bind(i64::from(row.backup_mx))
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(failed("updating relay_domains"))?.rows_affected());
        w.count_statement(1)?;
    }
    for update in &plan.relay_recipients.update {
        let row = &update.after;
        let id = id_of(&row.domain)?;
        on_conn!(&mut *w.conn, c => sqlx::query(
            "UPDATE relay_recipients SET domain_id = ? WHERE address = ?",
        )
        .bind(id)
        .bind(&row.address)
        .execute(&mut *c)
        .await
        .map_err(failed("updating relay_recipients"))?.rows_affected());
        w.count_statement(1)?;
    }

    // Deletes, dependants first.
    let pair_filter = |table: &str, a: &str, b: &str, rows: usize| {
        let pairs = placeholders(rows, 2);
        match dialect {
            Dialect::Mysql => format!("DELETE FROM {table} WHERE ({a}, {b}) IN ({pairs})"),
            // SQLite takes a row value IN only against a subquery.
            Dialect::Sqlite => format!("DELETE FROM {table} WHERE ({a}, {b}) IN (VALUES {pairs})"),
        }
    };
    for chunk in plan.relay_recipients.delete.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM relay_recipients WHERE address IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                q = q.bind(&row.address);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from relay_recipients"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.relays.delete.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM relay_domains WHERE domain_id IN \
             (SELECT id FROM virtual_domains WHERE name IN ({}))",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                q = q.bind(&row.domain);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from relay_domains"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.app_passwords.delete.chunks(CHUNK) {
        let sql = pair_filter("virtual_app_passwords", "email", "name", chunk.len());
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                q = q.bind(&row.email).bind(&row.name);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from virtual_app_passwords"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.grants.delete.chunks(CHUNK) {
        let sql = pair_filter("virtual_sender_grants", "sender", "login", chunk.len());
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                q = q.bind(&row.sender).bind(&row.login);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from virtual_sender_grants"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.aliases.delete.chunks(CHUNK) {
        let pairs = placeholders(chunk.len(), 2);
        let sql = match dialect {
            Dialect::Mysql => {
                format!("DELETE FROM virtual_aliases WHERE (source, destination) IN ({pairs})")
            }
            // SQLite takes a row value IN only against a subquery.
            Dialect::Sqlite => format!(
                "DELETE FROM virtual_aliases WHERE (source, destination) IN (VALUES {pairs})"
            ),
        };
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for alias in chunk {
                q = q.bind(&alias.source).bind(&alias.destination);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from virtual_aliases"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.users.delete.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM virtual_users WHERE email IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for user in chunk {
                q = q.bind(&user.email);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from virtual_users"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    for chunk in plan.domains.delete.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM virtual_domains WHERE name IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for domain in chunk {
                q = q.bind(&domain.name);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from virtual_domains"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }

    let counts = plan.counts();
    on_conn!(&mut *w.conn, c => sqlx::query(
        "INSERT INTO mailops_apply_log \
         (mailops_version, git_revision, plan_hash, rows_inserted, rows_updated, rows_deleted) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(log.git_revision)
    .bind(log.plan_hash)
    .bind(counts.insert as i64)
    .bind(counts.update as i64)
    .bind(counts.delete as i64)
    .execute(&mut *c)
    .await
    .map_err(failed("recording the apply in mailops_apply_log"))?.rows_affected());
    Ok(())
}

/// The `mail_hosts` changes, first (nothing refers to a host by key: a
/// mailbox's `home` is checked by validation, not a foreign key). A host
/// updated is deleted and inserted again: every row deleted or updated
/// goes first, then every row inserted or updated is written. So two hosts
/// may swap a hostname or a private address (both unique) in one apply,
/// which updates in place could not do in any order.
async fn write_hosts(w: &mut Writer<'_>, plan: &RowPlan) -> Result<(), DbError> {
    let hosts = &plan.hosts;
    let gone: Vec<&str> = hosts
        .delete
        .iter()
        .chain(hosts.update.iter().map(|u| &u.before))
        .map(|h| h.name.as_str())
        .collect();
    for chunk in gone.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM mail_hosts WHERE name IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for name in chunk {
                q = q.bind(*name);
            }
            q.execute(&mut *c).await.map_err(failed("deleting from mail_hosts"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    let written: Vec<&crate::db::rows::HostRow> = hosts
        .insert
        .iter()
        .chain(hosts.update.iter().map(|u| &u.after))
        .collect();
    for chunk in written.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO mail_hosts (name, hostname, private_ip) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        on_conn!(&mut *w.conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for host in chunk {
                q = q.bind(&host.name).bind(&host.hostname).bind(&host.private_ip);
            }
            q.execute(&mut *c).await.map_err(failed("inserting into mail_hosts"))?.rows_affected()
        });
        w.count_statement(chunk.len())?;
    }
    Ok(())
}

async fn domain_ids(conn: &mut Conn) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<(i64, String)> = on_conn!(conn, c => sqlx::query_as("SELECT id, name FROM virtual_domains")
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading domain ids")))?;
    Ok(rows.into_iter().map(|(id, name)| (name, id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_domains_are_tallied_from_the_plan() {
        use crate::db::plan::Update;
        use crate::db::rows::{AliasRow, UserRow};
        let user = |email: &str, domain: &str| UserRow {
            email: email.into(),
            domain: domain.into(),
            password: "p".into(),
            quota_bytes: 1,
            name: None,
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        };
        let alias = |source: &str, domain: &str| AliasRow {
            source: source.into(),
            destination: "x@y.example".into(),
            domain: domain.into(),
        };
        let mut plan = RowPlan::default();
        plan.domains.insert = vec![
            crate::db::rows::DomainRow::active("new.example"),
            crate::db::rows::DomainRow::active("empty.example"),
        ];
        plan.users.insert = vec![
            user("a@new.example", "new.example"),
            user("b@new.example", "new.example"),
            user("c@old.example", "old.example"),
        ];
        // A mailbox moved into the new domain counts; the old one is read.
        plan.users.update.push(Update {
            before: user("d@new.example", "old.example"),
            after: user("d@new.example", "new.example"),
        });
        plan.aliases.insert = vec![alias("info@new.example", "new.example")];
        let t = 63_963_113_994_680_605_i64;
        let tallies = tallies_of_created_domains(&plan, t);
        assert_eq!(tallies.len(), 2);
        let (users, aliases) = &tallies["new.example"];
        assert_eq!(users.rows, 3);
        // Beyond i64: 3 × t = 191889341984041815.
        assert_eq!(users.changed, "191889341984041815");
        assert_eq!(
            (aliases.rows, aliases.changed.as_str()),
            (1, "63963113994680605")
        );
        let (users, aliases) = &tallies["empty.example"];
        assert_eq!(*users, Tally::empty(Dialect::Mysql));
        assert_eq!(*aliases, Tally::empty(Dialect::Mysql));
        let big = tallies_of_created_domains(&plan, i64::MAX);
        assert_eq!(
            big["new.example"].0.changed,
            (3 * i128::from(i64::MAX)).to_string()
        );
    }

    #[test]
    fn placeholders_make_row_lists() {
        assert_eq!(placeholders(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(placeholders(1, 1), "(?)");
    }
}
