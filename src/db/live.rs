//! The live side of a plan, read cheaply: every domain with what mailops
//! recorded about it and its row counts, and the rows of only those domains
//! that may differ from what the files ask for.
//!
//! Why this shape: reading every row of a million mailboxes takes seconds, and
//! a one-mailbox change should not. `mailops_domain_state` (migration 0002)
//! keeps, per domain, the digest of the rows apply last wrote and two
//! counters: `edits`, raised by triggers whenever anyone writes a row of the
//! domain, and `applied_edits`, what `edits` was when apply wrote the digest.
//! A domain is *clean* when its recorded digest is the digest of its desired
//! rows (`desired`), nobody wrote to it since (`edits == applied_edits`), and
//! its row counts are the desired counts (counts catch what fires no trigger:
//! TRUNCATE, triggers dropped). A clean domain's rows are the desired rows, so
//! they are not read. The rows of every other domain are read and diffed as
//! they always were; `--full` reads every row anyway.
//!
//! A plan reads in one read-only transaction, so that all of this is one
//! moment of the database. Apply reads in its own transaction under its lock,
//! and first locks every domain's state row (creating the missing ones): a
//! hand edit made while apply runs then waits for the commit and raises
//! `edits` after it, so it can never be taken for part of what apply wrote.
//! Only after that does apply read anything else (the snapshot of its reads
//! starts there).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::db::apply::CHUNK;
use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};
use crate::db::desired::{Desired, DesiredDomain, Pending};
use crate::db::plan::RowPlan;
use crate::db::rows::{AliasRow, Fields, Rows, UserRow};
use crate::pipeline::StageTimer;

/// What apply recorded about a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) digest: String,
    pub(crate) edits: i64,
    pub(crate) applied_edits: i64,
}

/// A row of virtual_domains, with its bookkeeping and its row counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveDomain {
    pub(crate) id: i64,
    pub(crate) recorded: Option<Recorded>,
    pub(crate) users: i64,
    pub(crate) aliases: i64,
}

impl LiveDomain {
    /// Its rows are exactly the desired rows, by the bookkeeping.
    pub(crate) fn is_clean(&self, desired: Option<&DesiredDomain>) -> bool {
        match (&self.recorded, desired) {
            (Some(recorded), Some(desired)) => {
                recorded.digest == desired.digest
                    && recorded.edits == recorded.applied_edits
                    && self.users == desired.users
                    && self.aliases == desired.aliases
            }
            _ => false,
        }
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
    /// Apply's read: inside its transaction, locking the state rows.
    pub(crate) for_apply: bool,
}

/// The live database as far as a plan needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    pub(crate) domains: BTreeMap<String, LiveDomain>,
    /// Row counts (users, aliases) under a `domain_id` that no domain has
    /// (possible only with foreign key checks off). Their rows are read, with
    /// an empty domain name, and corrected or deleted by the diff.
    orphans: BTreeMap<i64, (i64, i64)>,
    /// The domains diffed row by row: every live domain that is not clean,
    /// and every desired domain without a row yet.
    pub(crate) diffed: BTreeSet<String>,
    /// Every live domain name, and the rows read.
    pub(crate) rows: Rows,
    pub(crate) read: ReadStats,
}

type UserColumns = (i64, String, String, i64, Option<String>);
type DomainColumns = (i64, String, Option<String>, Option<i64>, Option<i64>);

impl Live {
    /// A plan's read: one read-only transaction, no lock.
    pub(crate) async fn read_for_plan<'m>(
        conn: &mut Conn,
        desired: Pending<'_, 'm>,
        full: bool,
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
        };
        let read = Live::read(conn, desired, mode, timer).await;
        let ended = conn.execute_raw("ROLLBACK").await;
        let read = read?;
        ended?;
        Ok(read)
    }

    /// Read the domains, their bookkeeping and counts; then, once the
    /// digests of the desired rows are ready, the rows of the domains that
    /// are not clean. With `for_apply`, the caller holds the apply lock and
    /// has begun the transaction.
    pub(crate) async fn read<'m>(
        conn: &mut Conn,
        desired: Pending<'_, 'm>,
        mode: ReadMode,
        timer: &mut StageTimer,
    ) -> Result<(Live, Desired<'m>), DbError> {
        let mut live = Live::default();
        live.read_domains(conn, mode).await?;
        live.read_counts(conn).await?;
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
        live.read_rows(conn, (!everything).then_some(&stale[..]))
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

    async fn read_domains(&mut self, conn: &mut Conn, mode: ReadMode) -> Result<(), DbError> {
        let lock = mode.for_apply && conn.dialect() == Dialect::Mysql;
        let sql = format!(
            "SELECT d.id, d.name, s.digest, s.edits, s.applied_edits \
             FROM virtual_domains d LEFT JOIN mailops_domain_state s ON s.domain_id = d.id{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let domains: Vec<DomainColumns> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *c)
            .await
            .map_err(failed("reading virtual_domains and mailops_domain_state")))?;
        let mut unrecorded = Vec::new();
        for (id, name, digest, edits, applied_edits) in domains {
            let recorded = digest.map(|digest| Recorded {
                digest,
                edits: edits.unwrap_or(0),
                applied_edits: applied_edits.unwrap_or(0),
            });
            if recorded.is_none() {
                unrecorded.push(id);
            }
            self.rows.domains.insert(name.clone());
            self.domains.insert(
                name,
                LiveDomain {
                    id,
                    recorded,
                    users: 0,
                    aliases: 0,
                },
            );
        }
        if mode.for_apply {
            // Give every domain a state row now, before anything else is
            // read: from here on a hand edit of any domain waits for this
            // transaction and counts after it. The empty digest matches no
            // desired digest, so these domains are diffed (and recorded).
            for chunk in unrecorded.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO mailops_domain_state (domain_id, digest, edits, applied_edits) VALUES {}",
                    vec!["(?, '', 0, 0)"; chunk.len()].join(", ")
                );
                on_conn!(&mut *conn, c => {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.execute(&mut *c).await.map_err(failed("creating rows of mailops_domain_state"))?.rows_affected()
                });
            }
        }
        Ok(())
    }

    async fn read_counts(&mut self, conn: &mut Conn) -> Result<(), DbError> {
        let by_id: HashMap<i64, String> = self
            .domains
            .iter()
            .map(|(name, d)| (d.id, name.clone()))
            .collect();
        let mut counts: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (table, users) in [("virtual_users", true), ("virtual_aliases", false)] {
            let sql = format!("SELECT domain_id, COUNT(*) FROM {table} GROUP BY domain_id");
            let what = format!("counting the rows of {table}");
            let rows: Vec<(i64, i64)> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *c)
                .await
                .map_err(failed(&what)))?;
            for (id, n) in rows {
                let entry = counts.entry(id).or_default();
                if users {
                    entry.0 = n;
                } else {
                    entry.1 = n;
                }
            }
        }
        let mut orphans = BTreeMap::new();
        for (id, (users, aliases)) in counts {
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

    /// Read the rows of the domains with these ids, or every row.
    async fn read_rows(&mut self, conn: &mut Conn, ids: Option<&[i64]>) -> Result<(), DbError> {
        let names: HashMap<i64, String> = self
            .domains
            .iter()
            .map(|(name, d)| (d.id, name.clone()))
            .collect();
        let name_of = |id: i64| names.get(&id).cloned().unwrap_or_default();
        let filters: Vec<(String, &[i64])> = match ids {
            None => vec![(String::new(), &[][..])],
            Some([]) => Vec::new(),
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
        };
        for (filter, chunk) in &filters {
            let sql = format!(
                "SELECT domain_id, email, password, quota_bytes, name FROM virtual_users{filter}"
            );
            let users: Vec<UserColumns> = on_conn!(&mut *conn, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in *chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map_err(failed("reading virtual_users"))?
            });
            for (id, email, password, quota_bytes, name) in users {
                let row = UserRow {
                    email: email.clone(),
                    domain: name_of(id),
                    password,
                    quota_bytes,
                    name,
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
        }
        Ok(())
    }

    /// `sha256:<hex>` of everything the plan was computed from: every
    /// domain's id, bookkeeping and row counts, and the rows of the diffed
    /// domains. Any write to the routing tables changes it: a trigger raises
    /// `edits`, TRUNCATE changes a count, another apply records a new state.
    /// It does not depend on `--full` (rows of clean domains are left out), so
    /// a plan made with it can be applied without it.
    pub(crate) fn fingerprint(&self) -> String {
        let mut fields = Fields::default();
        fields.field("mailops-live/2");
        for (name, domain) in &self.domains {
            let (digest, edits, applied_edits) = domain.recorded.as_ref().map_or(("", 0, 0), |r| {
                (r.digest.as_str(), r.edits, r.applied_edits)
            });
            fields.field("d");
            fields.field(name);
            fields.number(domain.id);
            fields.field(digest);
            fields.number(edits);
            fields.number(applied_edits);
            fields.number(domain.users);
            fields.number(domain.aliases);
        }
        for (id, (users, aliases)) in &self.orphans {
            fields.field("o");
            fields.number(*id);
            fields.number(*users);
            fields.number(*aliases);
        }
        let shown = |domain: &str| domain.is_empty() || self.diffed.contains(domain);
        for user in self.rows.users.values().filter(|u| shown(&u.domain)) {
            fields.user(user);
        }
        for alias in self.rows.aliases.values().filter(|a| shown(&a.domain)) {
            fields.alias(alias);
        }
        fields.finish()
    }

    /// Rows per table, counted rather than read.
    pub(crate) fn totals(&self) -> Totals {
        let orphan_users: i64 = self.orphans.values().map(|(u, _)| u).sum();
        let orphan_aliases: i64 = self.orphans.values().map(|(_, a)| a).sum();
        let users: i64 = self.domains.values().map(|d| d.users).sum::<i64>() + orphan_users;
        let aliases: i64 = self.domains.values().map(|d| d.aliases).sum::<i64>() + orphan_aliases;
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
        names.extend(plan.domains.insert.iter().map(String::as_str));
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
            digest: digest.into(),
            users,
            aliases,
        }
    }

    fn live(recorded: Option<(&str, i64, i64)>, users: i64, aliases: i64) -> LiveDomain {
        LiveDomain {
            id: 1,
            recorded: recorded.map(|(digest, edits, applied_edits)| Recorded {
                digest: digest.into(),
                edits,
                applied_edits,
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
        plan.domains.delete.push("gone.example".into());
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
            .edits = 2;
        assert_ne!(base, edited.fingerprint());
        let mut truncated = a.clone();
        truncated.domains.get_mut("a.example").unwrap().users = 0;
        assert_ne!(base, truncated.fingerprint());

        // A clean domain's rows read by --full leave it as it is.
        let user = UserRow {
            email: "x@a.example".into(),
            domain: "a.example".into(),
            password: "p".into(),
            quota_bytes: 1,
            name: None,
        };
        let mut full = a.clone();
        full.rows.users.insert(user.email.clone(), user.clone());
        assert_eq!(base, full.fingerprint());
        full.diffed.insert("a.example".into());
        assert_ne!(base, full.fingerprint());
    }
}
