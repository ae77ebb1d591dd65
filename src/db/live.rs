//! The live side of a plan, read cheaply: every domain with what mailops
//! recorded about it and a tally of its rows, and the rows of only those
//! domains that may differ from what the files ask for.
//!
//! Why this shape: reading every row of a million mailboxes takes seconds, and
//! a one-mailbox change should not. `mailops_domain_state` keeps, per domain,
//! the digest of the rows apply last wrote and a *mark* that tells whether
//! anyone wrote to the domain's rows since. A domain is *clean* when its
//! recorded digest is the digest of its desired rows (`desired`), its mark
//! says nobody wrote to it since, and its row counts are the desired counts.
//! A clean domain's rows are the desired rows, so they are not read. The rows
//! of every other domain are read and diffed as they always were; `--full`
//! reads every row anyway.
//!
//! The mark depends on the dialect:
//!
//! - MySQL/MariaDB (migration 0003): every row of virtual_users and
//!   virtual_aliases carries `mailops_changed_at`, set by the server on every
//!   insert and on every update that changes a value. A domain's *tally* in a
//!   table is its number of rows and the exact sum of their change times in
//!   microseconds (`SUM(TO_SECONDS(t) * 1000000 + MICROSECOND(t))`, a
//!   DECIMAL, read as digits: `SUM` of the temporal column itself converts
//!   inexactly). One `GROUP BY domain_id` per table over the index on
//!   `(domain_id, mailops_changed_at)` reads every domain's tally. Apply
//!   records the tallies its own transaction sees after its writes; the
//!   domain is clean only while the live tallies are those. An update
//!   changes a row's time, a delete the count, a delete and an insert a time
//!   (and TRUNCATE, a move to another domain, a restore of an older backup
//!   change a count or a sum). A sum, not a maximum: a change time is the
//!   start of its statement, not its commit, so a hand edit that commits
//!   while apply runs can carry a time older than apply's writes; it changes
//!   the sum all the same. What keeps a tally is a write that sets
//!   `mailops_changed_at` itself to compensate, or new times that add up to
//!   the old ones to the microsecond; `--full` is the deep check. A state row
//!   from before 0003 has no tallies: its domain is read until an apply
//!   records it again. Apply fixes its session's clock while it writes
//!   (`SET timestamp`), so that all its rows carry one known time, and
//!   tallies the domains it creates from its plan: reading them back inside
//!   the writing transaction would cost a row lookup per index entry.
//! - SQLite (migration 0002): triggers raise the domain's `edits` on every
//!   write of its rows; apply records `applied_edits = edits` after its own
//!   writes; the domain is clean while the two are equal. Its tallies are
//!   row counts only (counts catch what fires no trigger: triggers dropped).
//!
//! A plan reads in one read-only transaction, so that all of this is one
//! moment of the database. Apply reads in its own transaction under its lock
//! (`GET_LOCK` on MySQL, `BEGIN IMMEDIATE` on SQLite), and records the
//! tallies it sees after writing in that same transaction. On SQLite nobody
//! else can write until it commits. On MySQL/MariaDB (InnoDB, REPEATABLE
//! READ) a hand edit may commit at any moment while apply runs: if before
//! apply's first read, apply reads it and diffs the domain; if after, apply's
//! reads (the snapshot taken at its first read) do not see it, so the tallies
//! apply records do not contain it, and the next plan finds the live tallies
//! differ and reads that domain. An edit of a row apply itself updates waits
//! for apply's commit and then changes the row's time again. Nothing is
//! locked for this beyond the named lock, which keeps applies (the only
//! writers of the state rows) apart. Before 0003, apply locked every state
//! row (`FOR UPDATE`, creating the missing ones) so that a trigger raised by
//! a hand edit waited for its commit; with no trigger left there is nothing
//! to wait for, and SQLite never needed it (one writer at a time).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};
use crate::db::desired::{Desired, DesiredDomain, Pending};
use crate::db::plan::RowPlan;
use crate::db::rows::CHUNK;
use crate::db::rows::{
    AliasRow, AppPasswordRow, DomainRow, Fields, GrantRow, HostRow, RelayRecipientRow, RelayRow,
    Rows, UserRow,
};
use crate::timing::StageTimer;

/// A domain's rows in one table, as the drift check sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Rows of the domain in the table.
    pub(crate) rows: i64,
    /// MySQL/MariaDB: the exact sum of their `mailops_changed_at` in
    /// microseconds, as decimal digits ("0" without rows). SQLite: empty.
    pub(crate) changed: String,
}

/// What tells whether anyone wrote to a domain's rows since apply recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark {
    /// SQLite: `edits`, raised by triggers on every write of the domain's
    /// rows, and `applied_edits`, what it was when apply recorded the domain.
    Edits { edits: i64, applied_edits: i64 },
    /// MySQL/MariaDB: the tallies (users, aliases) apply saw after its
    /// writes; `None` for a state row from before migration 0003.
    Tallies(Option<(Tally, Tally)>),
}

/// What apply recorded about a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) digest: String,
    pub(crate) mark: Mark,
}

/// A row of virtual_domains, with its bookkeeping and the tallies of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveDomain {
    pub(crate) id: i64,
    pub(crate) recorded: Option<Recorded>,
    pub(crate) users: Tally,
    pub(crate) aliases: Tally,
}

impl LiveDomain {
    /// Its rows are exactly the desired rows, by the bookkeeping.
    pub(crate) fn is_clean(&self, desired: Option<&DesiredDomain>) -> bool {
        let (Some(recorded), Some(desired)) = (&self.recorded, desired) else {
            return false;
        };
        let untouched = match &recorded.mark {
            Mark::Edits {
                edits,
                applied_edits,
            } => edits == applied_edits,
            Mark::Tallies(Some((users, aliases))) => {
                *users == self.users && *aliases == self.aliases
            }
            Mark::Tallies(None) => false,
        };
        untouched
            && recorded.digest == desired.digest
            && self.users.rows == desired.users
            && self.aliases.rows == desired.aliases
    }
}

/// How much was read, for the JSON plan and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ReadStats {
    /// Every row was read (`--full`, or rows under no domain were found).
    pub(crate) full: bool,
    /// Live domains whose rows were read.
    pub(crate) domains: usize,
    /// Rows of virtual_users and virtual_aliases read.
    pub(crate) rows: usize,
}

/// Rows per table, for the delete guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) domains: usize,
    pub(crate) users: usize,
    pub(crate) aliases: usize,
}

/// What to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadMode {
    /// Read every row, whatever the bookkeeping says.
    pub(crate) full: bool,
    /// Apply's read, inside its transaction under its lock. It reads as a
    /// plan does: nothing is locked for it (see the module docs).
    pub(crate) for_apply: bool,
    /// The schema is at this mailops's version. A plan reads an older one as
    /// it is (it never migrates): the domains and every row, with no
    /// bookkeeping (none of it may exist yet).
    pub(crate) current_schema: bool,
    /// The schema's version (`migrate::latest()` when current; 0 for an
    /// existing server's tables): which columns an older schema has.
    pub(crate) version: i64,
}

/// The live database as far as a plan needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    pub(crate) domains: BTreeMap<String, LiveDomain>,
    /// Tallies (users, aliases) under a `domain_id` that no domain has
    /// (possible only with foreign key checks off). Their rows are read, with
    /// an empty domain name, and corrected or deleted by the diff.
    orphans: BTreeMap<i64, (Tally, Tally)>,
    /// The domains diffed row by row: every live domain that is not clean,
    /// and every desired domain without a row yet.
    pub(crate) diffed: BTreeSet<String>,
    /// Every live domain name, and the rows read.
    pub(crate) rows: Rows,
    pub(crate) read: ReadStats,
}

type UserColumns = (
    i64,
    String,
    String,
    i64,
    Option<String>,
    String,
    String,
    Option<String>,
);
/// id, name, state, digest, user_rows, user_changed, alias_rows, alias_changed.
type MysqlDomainColumns = (
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
);
/// id, name, state, digest, edits, applied_edits.
type SqliteDomainColumns = (
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The tallies of the rows of the domains with these ids (of every domain
/// when `None`), per domain id: (users, aliases), one `GROUP BY` per table
/// (and per `CHUNK` of ids). A domain without rows in a table has no entry
/// there; `Tally::empty` stands for it. Inside apply's transaction this sees
/// apply's own writes.
pub(crate) async fn read_tallies(
    conn: &mut Conn,
    ids: Option<&[i64]>,
) -> Result<BTreeMap<i64, (Tally, Tally)>, DbError> {
    tally_rows(conn, ids, true).await
}

/// `read_tallies`, or with `times` false the row counts only (a schema from
/// before this mailops's has no change times, or not on every table).
///
/// The users tally covers a domain's mailbox rows in all three tables that
/// hold them: virtual_users, virtual_app_passwords and virtual_sender_grants
/// (migration 0004), and its relay rows in relay_domains and relay_recipients
/// (0006): counts and sums of change times add up, so a write to any of them
/// moves it, and `mailops_domain_state` keeps its two tallies. A schema from
/// before this mailops's has no such tables: they are left out.
async fn tally_rows(
    conn: &mut Conn,
    ids: Option<&[i64]>,
    times: bool,
) -> Result<BTreeMap<i64, (Tally, Tally)>, DbError> {
    let dialect = conn.dialect();
    let filters = id_filters(ids);
    let mut tallies: BTreeMap<i64, (Tally, Tally)> = BTreeMap::new();
    let mut tables = vec![("virtual_users", true), ("virtual_aliases", false)];
    if times {
        tables.extend([
            ("virtual_app_passwords", true),
            ("virtual_sender_grants", true),
            ("relay_domains", true),
            ("relay_recipients", true),
        ]);
    }
    for (table, users) in tables {
        let changed = match dialect {
            Dialect::Mysql if times => {
                "CAST(SUM(TO_SECONDS(mailops_changed_at) * 1000000 \
                 + MICROSECOND(mailops_changed_at)) AS CHAR)"
            }
            Dialect::Mysql | Dialect::Sqlite => "''",
        };
        let what = format!("tallying the rows of {table}");
        for (filter, chunk) in &filters {
            let sql = format!(
                "SELECT domain_id, COUNT(*), {changed} FROM {table}{filter} GROUP BY domain_id"
            );
            let rows: Vec<(i64, i64, String)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed(&what))?
            });
            for (id, rows, changed) in rows {
                let entry = tallies
                    .entry(id)
                    .or_insert_with(|| (Tally::empty(dialect), Tally::empty(dialect)));
                let tally = if users { &mut entry.0 } else { &mut entry.1 };
                tally.add(rows, &changed);
            }
        }
    }
    Ok(tallies)
}

/// ` WHERE domain_id IN (?, …)` per `CHUNK` of `ids` with the ids to bind,
/// or one empty filter for every row (`None`), or none at all (no id).
fn id_filters(ids: Option<&[i64]>) -> Vec<(String, &[i64])> {
    match ids {
        None => vec![(String::new(), &[][..])],
        Some(ids) => ids
            .chunks(CHUNK)
            .map(|chunk| {
                (
                    format!(
                        " WHERE domain_id IN ({})",
                        vec!["?"; chunk.len()].join(", ")
                    ),
                    chunk,
                )
            })
            .collect(),
    }
}

impl Tally {
    /// Add the rows of another table: counts add, and so do the sums of
    /// change times (decimal digits, exact in 128 bits: a microsecond count
    /// since year 0 is below 10^17, times even a billion rows).
    fn add(&mut self, rows: i64, changed: &str) {
        self.rows += rows;
        if !self.changed.is_empty() || !changed.is_empty() {
            let sum =
                self.changed.parse::<i128>().unwrap_or(0) + changed.parse::<i128>().unwrap_or(0);
            self.changed = sum.to_string();
        }
    }

    /// The tally of no rows.
    pub(crate) fn empty(dialect: Dialect) -> Tally {
        Tally {
            rows: 0,
            changed: match dialect {
                Dialect::Mysql => "0".to_string(),
                Dialect::Sqlite => String::new(),
            },
        }
    }
}

impl Live {
    /// A plan's read: one read-only transaction, no lock.
    pub(crate) async fn read_for_plan<'m>(
        conn: &mut Conn,
        desired: Pending<'_, 'm>,
        full: bool,
        version: i64,
        timer: &mut StageTimer,
    ) -> Result<(Live, Desired<'m>), DbError> {
        conn.execute_raw(match conn.dialect() {
            Dialect::Mysql => "START TRANSACTION READ ONLY",
            Dialect::Sqlite => "BEGIN",
        })
        .await?;
        let mode = ReadMode {
            full,
            for_apply: false,
            current_schema: version == crate::db::migrate::latest(),
            version,
        };
        let read = Live::read(conn, desired, mode, timer).await;
        let ended = conn.execute_raw("ROLLBACK").await;
        let read = read?;
        ended?;
        Ok(read)
    }

    /// Read the domains, their bookkeeping and tallies; then, once the
    /// digests of the desired rows are ready, the rows of the domains that
    /// are not clean. With `for_apply`, the caller holds the apply lock and
    /// has begun the transaction.
    pub(crate) async fn read<'m>(
        conn: &mut Conn,
        desired: Pending<'_, 'm>,
        mode: ReadMode,
        timer: &mut StageTimer,
    ) -> Result<(Live, Desired<'m>), DbError> {
        crate::progress::stage("reading the live rows", None);
        let read = Live::read_everything(conn, desired, mode, timer).await;
        crate::progress::finish();
        read
    }

    async fn read_everything<'m>(
        conn: &mut Conn,
        desired: Pending<'_, 'm>,
        mode: ReadMode,
        timer: &mut StageTimer,
    ) -> Result<(Live, Desired<'m>), DbError> {
        let mut live = Live::default();
        live.read_domains(conn, mode).await?;
        live.read_hosts(conn, mode.version).await?;
        live.read_tallies(conn, mode.current_schema).await?;
        timer.lap("db state");
        let desired = desired.wait();
        timer.lap("db digests");

        for (name, domain) in &live.domains {
            if !domain.is_clean(desired.domains.get(name.as_str())) {
                live.diffed.insert(name.clone());
            }
        }
        live.diffed.extend(
            desired
                .domains
                .keys()
                .filter(|name| !live.domains.contains_key(**name))
                .map(|name| name.to_string()),
        );
        let stale: Vec<i64> = live
            .domains
            .iter()
            .filter(|(name, _)| live.diffed.contains(*name))
            .map(|(_, d)| d.id)
            .collect();
        let everything = mode.full || !live.orphans.is_empty() || stale.len() == live.domains.len();
        live.read_rows(conn, (!everything).then_some(&stale[..]), mode.version)
            .await?;
        live.read = ReadStats {
            full: everything,
            domains: if everything {
                live.domains.len()
            } else {
                stale.len()
            },
            rows: live.rows.users.len() + live.rows.aliases.len(),
        };
        timer.lap("db rows");
        Ok((live, desired))
    }

    /// A plan of a database that does not exist yet, or has no tables: no
    /// live row, every desired domain to insert.
    pub(crate) fn nothing<'m>(desired: Pending<'_, 'm>) -> (Live, Desired<'m>) {
        let desired = desired.wait();
        let live = Live {
            diffed: desired
                .domains
                .keys()
                .map(|name| name.to_string())
                .collect(),
            read: ReadStats {
                full: true,
                domains: 0,
                rows: 0,
            },
            ..Live::default()
        };
        (live, desired)
    }

    async fn read_domains(&mut self, conn: &mut Conn, mode: ReadMode) -> Result<(), DbError> {
        let reading = failed("reading virtual_domains and mailops_domain_state");
        let domains: Vec<(i64, String, String, Option<Recorded>)> = match conn {
            // An older schema: its bookkeeping (if any) is not this mailops's,
            // and before migration 0005 every domain is active.
            _ if !mode.current_schema => on_conn!(&mut *conn, c => {
                let sql = if mode.version >= 5 {
                    "SELECT id, name, state FROM virtual_domains"
                } else {
                    "SELECT id, name, 'active' FROM virtual_domains"
                };
                let rows: Vec<(i64, String, String)> = sqlx::query_as(sql)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(&reading)?;
                rows.into_iter().map(|(id, name, state)| (id, name, state, None)).collect()
            }),
            Conn::Mysql(c) => {
                let rows: Vec<MysqlDomainColumns> = sqlx::query_as(
                    "SELECT d.id, d.name, d.state, s.digest, s.user_rows, CAST(s.user_changed AS CHAR), \
                     s.alias_rows, CAST(s.alias_changed AS CHAR) \
                     FROM virtual_domains d LEFT JOIN mailops_domain_state s ON s.domain_id = d.id",
                )
                .fetch_all(&mut *c)
                .await
                .map_err(&reading)?;
                rows.into_iter()
                    .map(|(id, name, state, digest, ur, uc, ar, ac)| {
                        let tallies = match (ur, uc, ar, ac) {
                            (Some(ur), Some(uc), Some(ar), Some(ac)) => Some((
                                Tally {
                                    rows: ur,
                                    changed: uc,
                                },
                                Tally {
                                    rows: ar,
                                    changed: ac,
                                },
                            )),
                            _ => None,
                        };
                        let recorded = digest.map(|digest| Recorded {
                            digest,
                            mark: Mark::Tallies(tallies),
                        });
                        (id, name, state, recorded)
                    })
                    .collect()
            }
            Conn::Sqlite(c) => {
                let rows: Vec<SqliteDomainColumns> = sqlx::query_as(
                    "SELECT d.id, d.name, d.state, s.digest, s.edits, s.applied_edits \
                     FROM virtual_domains d LEFT JOIN mailops_domain_state s ON s.domain_id = d.id",
                )
                .fetch_all(&mut *c)
                .await
                .map_err(&reading)?;
                rows.into_iter()
                    .map(|(id, name, state, digest, edits, applied_edits)| {
                        let recorded = digest.map(|digest| Recorded {
                            digest,
                            mark: Mark::Edits {
                                edits: edits.unwrap_or(0),
                                applied_edits: applied_edits.unwrap_or(0),
                            },
                        });
                        (id, name, state, recorded)
                    })
                    .collect()
            }
        };
        let empty = Tally::empty(conn.dialect());
        for (id, name, state, recorded) in domains {
            self.rows.domains.insert(
                name.clone(),
                DomainRow {
                    name: name.clone(),
                    state,
                },
            );
            self.domains.insert(
                name,
                LiveDomain {
                    id,
                    recorded,
                    users: empty.clone(),
                    aliases: empty.clone(),
                },
            );
        }
        Ok(())
    }

    /// Every `mail_hosts` row (migration 0008; none before): a handful,
    /// read whole at every plan, so a hand edit of one always shows.
    async fn read_hosts(&mut self, conn: &mut Conn, version: i64) -> Result<(), DbError> {
        if version < 8 {
            return Ok(());
        }
        let hosts: Vec<(String, String, String)> = on_conn!(&mut *conn, c => sqlx::query_as(
            "SELECT name, hostname, private_ip FROM mail_hosts",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading mail_hosts"))?);
        for (name, hostname, private_ip) in hosts {
            self.rows.hosts.insert(
                name.clone(),
                HostRow {
                    name,
                    hostname,
                    private_ip,
                },
            );
        }
        Ok(())
    }

    async fn read_tallies(&mut self, conn: &mut Conn, times: bool) -> Result<(), DbError> {
        let by_id: HashMap<i64, String> = self
            .domains
            .iter()
            .map(|(name, d)| (d.id, name.clone()))
            .collect();
        let mut orphans = BTreeMap::new();
        for (id, (users, aliases)) in tally_rows(conn, None, times).await? {
            match by_id.get(&id).and_then(|name| self.domains.get_mut(name)) {
                Some(domain) => {
                    domain.users = users;
                    domain.aliases = aliases;
                }
                None => {
                    orphans.insert(id, (users, aliases));
                }
            }
        }
        self.orphans = orphans;
        Ok(())
    }

    /// Read the rows of the domains with these ids, or every row. A schema
    /// from before migration 0004 (`version`) has no `state` and `protocols`
    /// columns: its mailboxes read as the defaults the migration gives them;
    /// one from before 0008 has no `home`: NULL, as 0008 gives them.
    async fn read_rows(
        &mut self,
        conn: &mut Conn,
        ids: Option<&[i64]>,
        version: i64,
    ) -> Result<(), DbError> {
        let mailbox_state = version >= 4;
        let home = if version >= 8 { "home" } else { "NULL" };
        let mailbox_columns = if mailbox_state {
            format!("quota_bytes, name, state, protocols, {home}")
        } else {
            // An older schema, or an existing server's tables (version 0,
            // see `adopt`): what stands for the columns it may lack.
            format!(
                "{}, 'active', 'imap,pop3,smtp', NULL",
                crate::db::adopt::user_columns(conn).await?
            )
        };
        let names: HashMap<i64, String> = self
            .domains
            .iter()
            .map(|(name, d)| (d.id, name.clone()))
            .collect();
        let name_of = |id: i64| names.get(&id).cloned().unwrap_or_default();
        let filters = id_filters(ids);
        for (filter, chunk) in &filters {
            let sql = format!(
                "SELECT domain_id, email, password, {mailbox_columns} FROM virtual_users{filter}"
            );
            let users: Vec<UserColumns> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading virtual_users"))?
            });
            for (id, email, password, quota_bytes, name, state, protocols, home) in users {
                let row = UserRow {
                    email: email.clone(),
                    domain: name_of(id),
                    password,
                    quota_bytes,
                    name,
                    state,
                    protocols,
                    home,
                };
                self.rows.users.insert(email, row);
            }
            let sql = format!("SELECT domain_id, source, destination FROM virtual_aliases{filter}");
            let aliases: Vec<(i64, String, String)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading virtual_aliases"))?
            });
            for (id, source, destination) in aliases {
                let key = (source.clone(), destination.clone());
                let row = AliasRow {
                    source,
                    destination,
                    domain: name_of(id),
                };
                self.rows.aliases.insert(key, row);
            }
            if !mailbox_state {
                // No app passwords or grants before migration 0004.
                continue;
            }
            let sql = format!(
                "SELECT domain_id, email, name, password, protocols FROM virtual_app_passwords{filter}"
            );
            let apps: Vec<(i64, String, String, String, String)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading virtual_app_passwords"))?
            });
            for (id, email, name, password, protocols) in apps {
                let key = (email.clone(), name.clone());
                let row = AppPasswordRow {
                    email,
                    name,
                    domain: name_of(id),
                    password,
                    protocols,
                };
                self.rows.app_passwords.insert(key, row);
            }
            let sql = format!("SELECT domain_id, sender, login FROM virtual_sender_grants{filter}");
            let grants: Vec<(i64, String, String)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading virtual_sender_grants"))?
            });
            for (id, sender, login) in grants {
                let key = (sender.clone(), login.clone());
                let row = GrantRow {
                    sender,
                    login,
                    domain: name_of(id),
                };
                self.rows.grants.insert(key, row);
            }
            if version < 6 {
                // No relay domains before migration 0006.
                continue;
            }
            let sql = format!("SELECT domain_id, nexthop, backup_mx FROM relay_domains{filter}");
            let relays: Vec<(i64, String, i64)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading relay_domains"))?
            });
            for (id, nexthop, backup_mx) in relays {
                let row = RelayRow {
                    domain: name_of(id),
                    nexthop,
                    backup_mx: backup_mx != 0,
                };
                self.rows.relays.insert(row.domain.clone(), row);
            }
            let sql = format!("SELECT domain_id, address FROM relay_recipients{filter}");
            let recipients: Vec<(i64, String)> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading relay_recipients"))?
            });
            for (id, address) in recipients {
                let row = RelayRecipientRow {
                    address: address.clone(),
                    domain: name_of(id),
                };
                self.rows.relay_recipients.insert(address, row);
            }
        }
        Ok(())
    }

    /// `sha256:<hex>` of everything the plan was computed from: every
    /// domain's id, bookkeeping and tallies, and the rows of the diffed
    /// domains. Any write to the routing tables changes it: a change time or
    /// a count moves a tally (MySQL/MariaDB), a trigger raises `edits`
    /// (SQLite), TRUNCATE changes a count, another apply records a new state.
    /// It does not depend on `--full` (rows of clean domains are left out), so
    /// a plan made with it can be applied without it.
    pub(crate) fn fingerprint(&self) -> String {
        fn tally(fields: &mut Fields, tally: &Tally) {
            fields.number(tally.rows);
            fields.field(&tally.changed);
        }
        let mut fields = Fields::default();
        fields.field("mailops-live/4");
        for (name, domain) in &self.domains {
            fields.field("d");
            fields.field(name);
            fields.number(domain.id);
            // The domain rows are read whole at every plan: a state edited
            // by hand (no tally counts it) changes the fingerprint too.
            match self.rows.domains.get(name) {
                Some(row) => fields.field(&row.state),
                None => fields.field("-"),
            }
            match &domain.recorded {
                None => fields.field("-"),
                Some(recorded) => {
                    fields.field(&recorded.digest);
                    match &recorded.mark {
                        Mark::Edits {
                            edits,
                            applied_edits,
                        } => {
                            fields.field("e");
                            fields.number(*edits);
                            fields.number(*applied_edits);
                        }
                        Mark::Tallies(None) => fields.field("t-"),
                        Mark::Tallies(Some((users, aliases))) => {
                            fields.field("t");
                            tally(&mut fields, users);
                            tally(&mut fields, aliases);
                        }
                    }
                }
            }
            tally(&mut fields, &domain.users);
            tally(&mut fields, &domain.aliases);
        }
        for (id, (users, aliases)) in &self.orphans {
            fields.field("o");
            fields.number(*id);
            tally(&mut fields, users);
            tally(&mut fields, aliases);
        }
        // Every host row (none on a single-host platform: the fingerprint
        // is then as before migration 0008).
        for host in self.rows.hosts.values() {
            fields.host(host);
        }
        let shown = |domain: &str| domain.is_empty() || self.diffed.contains(domain);
        for user in self.rows.users.values().filter(|u| shown(&u.domain)) {
            fields.user(user);
        }
        for alias in self.rows.aliases.values().filter(|a| shown(&a.domain)) {
            fields.alias(alias);
        }
        for row in self
            .rows
            .app_passwords
            .values()
            .filter(|r| shown(&r.domain))
        {
            fields.app_password(row);
        }
        for row in self.rows.grants.values().filter(|r| shown(&r.domain)) {
            fields.grant(row);
        }
        for row in self.rows.relays.values().filter(|r| shown(&r.domain)) {
            fields.relay(row);
        }
        for row in self
            .rows
            .relay_recipients
            .values()
            .filter(|r| shown(&r.domain))
        {
            fields.relay_recipient(row);
        }
        fields.finish()
    }

    /// Rows per table, counted rather than read.
    pub(crate) fn totals(&self) -> Totals {
        let tallies = self
            .domains
            .values()
            .map(|d| (&d.users, &d.aliases))
            .chain(self.orphans.values().map(|(u, a)| (u, a)));
        let (mut users, mut aliases) = (0i64, 0i64);
        for (u, a) in tallies {
            users += u.rows;
            aliases += a.rows;
        }
        Totals {
            domains: self.domains.len(),
            users: usize::try_from(users).unwrap_or(0),
            aliases: usize::try_from(aliases).unwrap_or(0),
        }
    }

    /// The domains whose state apply records once `plan` is written: every
    /// desired domain that was diffed or that the plan writes to. Their rows
    /// are then the desired rows (the diff covered all of them).
    pub(crate) fn to_record(&self, desired: &Desired<'_>, plan: &RowPlan) -> BTreeSet<String> {
        let mut names: BTreeSet<&str> = self.diffed.iter().map(String::as_str).collect();
        names.extend(plan.domains.insert.iter().map(|d| d.name.as_str()));
        for user in plan.users.insert.iter().chain(&plan.users.delete) {
            names.insert(&user.domain);
        }
        for update in &plan.users.update {
            names.insert(&update.before.domain);
            names.insert(&update.after.domain);
        }
        for alias in plan.aliases.insert.iter().chain(&plan.aliases.delete) {
            names.insert(&alias.domain);
        }
        for update in &plan.aliases.update {
            names.insert(&update.before.domain);
            names.insert(&update.after.domain);
        }
        for row in plan
            .app_passwords
            .insert
            .iter()
            .chain(&plan.app_passwords.delete)
        {
            names.insert(&row.domain);
        }
        for update in &plan.app_passwords.update {
            names.insert(&update.before.domain);
            names.insert(&update.after.domain);
        }
        for row in plan.grants.insert.iter().chain(&plan.grants.delete) {
            names.insert(&row.domain);
        }
        for update in &plan.grants.update {
            names.insert(&update.before.domain);
            names.insert(&update.after.domain);
        }
        for row in plan.relays.insert.iter().chain(&plan.relays.delete) {
            names.insert(&row.domain);
        }
        for update in &plan.relays.update {
            names.insert(&update.after.domain);
        }
        for row in plan
            .relay_recipients
            .insert
            .iter()
            .chain(&plan.relay_recipients.delete)
        {
            names.insert(&row.domain);
        }
        for update in &plan.relay_recipients.update {
            names.insert(&update.before.domain);
            names.insert(&update.after.domain);
        }
        names
            .into_iter()
            .filter(|name| desired.domains.contains_key(name))
            .map(str::to_string)
            .collect()
    }

    /// The rows to diff on the desired side: the diffed domains' (or every
    /// domain's, when every row was read).
    pub(crate) fn desired_rows(&self, desired: &Desired<'_>) -> Result<Rows, DbError> {
        if self.read.full {
            desired.rows(None)
        } else {
            desired.rows(Some(&self.diffed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(digest: &str, users: i64, aliases: i64) -> DesiredDomain {
        DesiredDomain {
            state: crate::model::TenantState::Active,
            digest: digest.into(),
            users,
            aliases,
        }
    }

    fn tally(rows: i64, changed: &str) -> Tally {
        Tally {
            rows,
            changed: changed.into(),
        }
    }

    /// A SQLite domain: recorded (digest, edits, applied_edits), row counts.
    fn live(recorded: Option<(&str, i64, i64)>, users: i64, aliases: i64) -> LiveDomain {
        LiveDomain {
            id: 1,
            recorded: recorded.map(|(digest, edits, applied_edits)| Recorded {
                digest: digest.into(),
                mark: Mark::Edits {
                    edits,
                    applied_edits,
                },
            }),
            users: tally(users, ""),
            aliases: tally(aliases, ""),
        }
    }

    /// A MySQL domain: recorded digest and tallies, live tallies.
    fn live_mysql(
        recorded: Option<(&str, Option<(Tally, Tally)>)>,
        users: Tally,
        aliases: Tally,
    ) -> LiveDomain {
        LiveDomain {
            id: 1,
            recorded: recorded.map(|(digest, tallies)| Recorded {
                digest: digest.into(),
                mark: Mark::Tallies(tallies),
            }),
            users,
            aliases,
        }
    }

    #[test]
    fn apply_records_the_desired_domains_it_diffed_or_wrote() {
        use crate::db::plan::Update;
        use crate::emit::test_repo::{compile, platform, tenant};
        let tenants: Vec<(&str, String)> = ["a.example", "b.example", "c.example"]
            .into_iter()
            .map(|d| (d, tenant(d, "dkim", 1, "T", "N")))
            .collect();
        let model = compile(&platform(""), &tenants);
        let desired = Desired::new(&model);
        let mut live = Live::default();
        live.diffed.insert("a.example".into());
        live.diffed.insert("gone.example".into());
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
        let mut plan = RowPlan::default();
        // A mailbox of b.example found in c.example (moved by hand), and
        // everything of a domain no file declares.
        plan.users.update.push(Update {
            before: user("user0@b.example", "c.example"),
            after: user("user0@b.example", "b.example"),
        });
        plan.users
            .delete
            .push(user("x@gone.example", "gone.example"));
        plan.domains.delete.push(DomainRow::active("gone.example"));
        let names: Vec<String> = live.to_record(&desired, &plan).into_iter().collect();
        assert_eq!(names, ["a.example", "b.example", "c.example"]);
    }

    #[test]
    fn clean_needs_the_digest_no_edit_since_and_the_counts() {
        let want = desired("sha256:a", 2, 3);
        assert!(live(Some(("sha256:a", 7, 7)), 2, 3).is_clean(Some(&want)));
        // Edited since (a trigger raised `edits`).
        assert!(!live(Some(("sha256:a", 8, 7)), 2, 3).is_clean(Some(&want)));
        // The files changed.
        assert!(!live(Some(("sha256:b", 7, 7)), 2, 3).is_clean(Some(&want)));
        // Rows went without a trigger (TRUNCATE).
        assert!(!live(Some(("sha256:a", 7, 7)), 0, 3).is_clean(Some(&want)));
        assert!(!live(Some(("sha256:a", 7, 7)), 2, 4).is_clean(Some(&want)));
        // Never recorded, or no longer desired.
        assert!(!live(None, 2, 3).is_clean(Some(&want)));
        assert!(!live(Some(("sha256:a", 7, 7)), 2, 3).is_clean(None));
    }

    #[test]
    fn on_mysql_clean_needs_the_tallies_apply_recorded() {
        let want = desired("sha256:a", 2, 3);
        let users = tally(2, "127926220226159502");
        let aliases = tally(3, "191889330339239253");
        let recorded = Some((users.clone(), aliases.clone()));
        let clean = |recorded: Option<(&str, Option<(Tally, Tally)>)>, u: &Tally, a: &Tally| {
            live_mysql(recorded, u.clone(), a.clone()).is_clean(Some(&want))
        };
        assert!(clean(
            Some(("sha256:a", recorded.clone())),
            &users,
            &aliases
        ));
        // A row changed: its time moved the sum, not the count.
        let touched = tally(2, "127926220226159503");
        assert!(!clean(
            Some(("sha256:a", recorded.clone())),
            &touched,
            &aliases
        ));
        assert!(!clean(
            Some(("sha256:a", recorded.clone())),
            &users,
            &touched
        ));
        // The files changed.
        assert!(!clean(
            Some(("sha256:b", recorded.clone())),
            &users,
            &aliases
        ));
        // Recorded before migration 0003: unknown.
        assert!(!clean(Some(("sha256:a", None)), &users, &aliases));
        // Live and recorded agree, but not with the files (a state row
        // written by hand): the counts still have to be the desired ones.
        let three = tally(3, "1");
        let odd = Some((three.clone(), aliases.clone()));
        assert!(!clean(Some(("sha256:a", odd)), &three, &aliases));
        assert!(!live_mysql(Some(("sha256:a", recorded)), users, aliases).is_clean(None));
    }

    #[test]
    fn the_fingerprint_follows_the_bookkeeping_and_the_diffed_rows_only() {
        let mut a = Live::default();
        a.domains
            .insert("a.example".into(), live(Some(("sha256:a", 1, 1)), 1, 0));
        let base = a.fingerprint();
        let mut edited = a.clone();
        edited
            .domains
            .get_mut("a.example")
            .unwrap()
            .recorded
            .as_mut()
            .unwrap()
            .mark = Mark::Edits {
            edits: 2,
            applied_edits: 1,
        };
        assert_ne!(base, edited.fingerprint());
        let mut truncated = a.clone();
        truncated.domains.get_mut("a.example").unwrap().users = tally(0, "");
        assert_ne!(base, truncated.fingerprint());

        // A clean domain's rows read by --full leave it as it is.
        let user = UserRow {
            email: "x@a.example".into(),
            domain: "a.example".into(),
            password: "p".into(),
            quota_bytes: 1,
            name: None,
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        };
        let mut full = a.clone();
        full.rows.users.insert(user.email.clone(), user.clone());
        assert_eq!(base, full.fingerprint());
        full.diffed.insert("a.example".into());
        assert_ne!(base, full.fingerprint());

        // Host rows are read whole: any of them changes it.
        let host = HostRow {
            name: "mx2".into(),
            hostname: "mx2.webhizzy.in".into(),
            private_ip: "10.20.1.12".into(),
        };
        let mut hosted = a.clone();
        hosted.rows.hosts.insert(host.name.clone(), host.clone());
        let with_host = hosted.fingerprint();
        assert_ne!(base, with_host);
        hosted.rows.hosts.get_mut("mx2").unwrap().private_ip = "10.20.1.13".into();
        assert_ne!(with_host, hosted.fingerprint());
    }

    #[test]
    fn on_mysql_the_fingerprint_follows_the_change_times() {
        let users = tally(1, "63963110113079751");
        let recorded = Some(("sha256:a", Some((users.clone(), tally(0, "0")))));
        let mut a = Live::default();
        a.domains.insert(
            "a.example".into(),
            live_mysql(recorded.clone(), users, tally(0, "0")),
        );
        let base = a.fingerprint();
        // A hand edit that keeps the count.
        let mut edited = a.clone();
        edited.domains.get_mut("a.example").unwrap().users = tally(1, "63963110113079752");
        assert_ne!(base, edited.fingerprint());
        // Another apply recorded other tallies.
        let mut recorded_again = a.clone();
        recorded_again
            .domains
            .get_mut("a.example")
            .unwrap()
            .recorded
            .as_mut()
            .unwrap()
            .mark = Mark::Tallies(None);
        assert_ne!(base, recorded_again.fingerprint());
        // An orphan row.
        let mut orphaned = a.clone();
        orphaned.orphans.insert(9, (tally(1, "5"), tally(0, "0")));
        assert_ne!(base, orphaned.fingerprint());
    }
}
