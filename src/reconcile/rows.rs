//! The rows of one converge: plan against the local database and apply in
//! one transaction under the apply lock, as `mailops apply` does, with no
//! one to ask. The delete guard holds: a plan that deletes a domain or more
//! than a quarter of a table's rows is applied only when every domain it
//! deletes from is named by a `Mailops-Allow-Destroy:` trailer of the
//! commit (or when `Destroy::Allowed`: putting back the last good commit).

use std::collections::BTreeSet;

use crate::db::apply::{LogEntry, StateRecord};
use crate::db::connection::{Conn, DbError};
use crate::db::desired::{self, Pending};
use crate::db::live::{Live, ReadMode};
use crate::db::plan::{Counts, RowPlan};
use crate::db::{self, guard, lock, url};
use crate::error::Error;
use crate::mail_move::Doveadm;
use crate::pipeline::Compiled;
use crate::plan::RowSection;
use crate::plan::moves::Move;
use crate::plan::rows::by_tenant;
use crate::timing::StageTimer;

/// What a converge may delete.
#[derive(Debug, Clone)]
pub(crate) enum Destroy {
    /// The domains named by the new commit's trailers.
    Trailers(Vec<String>),
    /// Healing drift: the domains named by the last good commit's trailers.
    /// Deleting more is rows added by hand en masse (or another database
    /// behind the URL): an operator looks first.
    Healing(Vec<String>),
    /// Anything: the rows are being put back as they were.
    Allowed,
}

/// The rows written.
#[derive(Debug, Default, Clone)]
pub(crate) struct Written {
    pub(crate) counts: Counts,
    /// One line per change, as a plan shows it (no password).
    pub(crate) lines: Vec<String>,
    /// The mailboxes whose home moved to another host.
    pub(crate) moves: Vec<Move>,
}

/// How many times a converge plans and applies again after another apply
/// committed first (`DbError::Conflict`): on a Galera cluster every mail
/// host's agent applies the same commit at about the same time, and all
/// but the first lose the race.
pub(crate) const CONFLICT_ATTEMPTS: usize = 3;

/// Make the database's rows those of `compiled`, in one transaction.
///
/// Unlike `mailops apply`, which stops at a conflict because the plan a
/// person reviewed is stale, the agent plans again: its plan is derived
/// from the live rows at every attempt, and the winner most often wrote
/// exactly these rows, so the next attempt finds nothing left to do.
pub(crate) fn apply(
    target: &url::Target,
    compiled: &Compiled,
    revision: &str,
    destroy: &Destroy,
) -> Result<Written, Error> {
    let rt = db::connection::runtime().map_err(Error::from)?;
    let mut attempt = 1;
    let outcome = loop {
        let outcome = desired::in_background(&compiled.model, compiled.summarised(), |desired| {
            rt.block_on(apply_rows(target, compiled, revision, destroy, desired))
        });
        match outcome {
            Err(DbError::Conflict(why)) if attempt < CONFLICT_ATTEMPTS => {
                let first = why.lines().next().unwrap_or_default();
                super::log(&format!(
                    "{first} (attempt {attempt} of {CONFLICT_ATTEMPTS}); planning the rows again"
                ));
                attempt += 1;
            }
            outcome => break outcome,
        }
    };
    match outcome {
        Ok(written) => {
            finish_moves(&written.moves);
            Ok(written)
        }
        Err(e @ (DbError::Refused(_) | DbError::Conflict(_))) => Err(e.into()),
        Err(e) => {
            Err(Error::from(e).followed_by("no row was changed: the transaction was rolled back"))
        }
    }
}

/// After a switch of homes: each moved mailbox's final sync and clean up
/// (`mail_move`), with doveadm's default config, the host's. The agent runs
/// no copy before the switch: every host's agent applies the same commit at
/// about the same time, and a copy (`doveadm backup`, which makes the new
/// home equal to the old one) by an agent that loses the race could run
/// after the winner's clean up and empty the new home. After the commit only
/// the agent whose apply committed has the move, and its full two-way sync
/// brings all of the old home's mail over. A failure is logged with the
/// command that finishes the move; the converge goes on (the rows are right).
fn finish_moves(moves: &[Move]) {
    let doveadm = Doveadm::default();
    for m in moves {
        match doveadm.finish(m) {
            Ok(done) => super::log(&format!(
                "moved the mail of {} to {}: {} messages there; {} expunged on {}",
                m.address, m.to.name, done.messages, done.expunged, m.from.name
            )),
            Err(e) => super::log(&format!(
                "{e}; finish with `mailops move-mail {} --from {}`",
                m.address, m.from.name
            )),
        }
    }
}

async fn apply_rows(
    target: &url::Target,
    compiled: &Compiled,
    revision: &str,
    destroy: &Destroy,
    desired: Pending<'_, '_>,
) -> Result<Written, DbError> {
    let mut conn = db::open(target).await?;
    let held = match lock::acquire(&mut conn, lock::Purpose::Apply, db::lock_wait()).await {
        Ok(held) => held,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    let cluster = held.on_cluster();
    let outcome = apply_locked(&mut conn, target, compiled, revision, destroy, desired)
        .await
        .map_err(|e| lock::explain(e, cluster));
    let released = lock::release(&mut conn, held, outcome.is_ok()).await;
    conn.close().await;
    let outcome = outcome?;
    released?;
    Ok(outcome)
}

async fn apply_locked(
    conn: &mut Conn,
    target: &url::Target,
    compiled: &Compiled,
    revision: &str,
    destroy: &Destroy,
    desired: Pending<'_, '_>,
) -> Result<Written, DbError> {
    let mut timer = StageTimer::from_env();
    let mode = ReadMode {
        full: false,
        for_apply: true,
        current_schema: true,
        version: crate::db::migrate::latest(),
    };
    let (live, desired) = Live::read(conn, desired, mode, &mut timer).await?;
    crate::db::apply::test_hold_after_read().await;
    let section = RowSection::derive(target.shown(), &live, &desired, &compiled.graph)?;
    let plan = &section.plan;
    let to_record = live.to_record(&desired, plan);
    let record = StateRecord::of(&to_record, &desired);
    if plan.is_empty() && record.is_empty() {
        return Ok(Written::default());
    }
    if let Some(refusal) = guard::check(plan, &live.totals(), &section.forwards) {
        let healing = matches!(destroy, Destroy::Healing(_));
        if let Destroy::Trailers(allowed) | Destroy::Healing(allowed) = destroy {
            let missing: Vec<String> = deleted_from(plan)
                .into_iter()
                .filter(|domain| !allowed.contains(domain))
                .collect();
            if !missing.is_empty() && healing {
                let refusal = refusal.join("\n").replace(
                    "this apply needs --allow-destroy",
                    "healing drift was stopped",
                );
                return Err(DbError::Refused(format!(
                    "{refusal}\nnothing was changed: these rows are not in the last good commit \
                     (added by hand, or the database is not the one mailops wrote); declare them \
                     in a tenant file, or delete them by hand"
                )));
            }
            if !missing.is_empty() {
                let refusal = refusal.join("\n").replace(
                    "this apply needs --allow-destroy",
                    "this commit needs a trailer",
                );
                return Err(DbError::Refused(format!(
                    "{refusal}\nnothing was changed; if this is intended, the commit must carry \
                     the trailer{} {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|d| format!("`{}: {d}`", super::forge::ALLOW_DESTROY))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    let lines: Vec<String> = by_tenant(plan)
        .into_values()
        .flatten()
        .map(|change| change.line())
        .collect();
    let plan_hash = plan.hash();
    let log = LogEntry {
        git_revision: Some(revision),
        plan_hash: &plan_hash,
    };
    drop(live);
    let moves = section.moves.clone();
    let counts = db::apply::execute(conn, plan, &log, &record, false).await?;
    Ok(Written {
        counts,
        lines,
        moves,
    })
}

/// The domains a plan deletes rows of (whole domains, mailboxes, aliases).
fn deleted_from(plan: &RowPlan) -> BTreeSet<String> {
    let mut domains: BTreeSet<String> =
        plan.domains.delete.iter().map(|d| d.name.clone()).collect();
    domains.extend(plan.users.delete.iter().map(|u| u.domain.clone()));
    domains.extend(plan.aliases.delete.iter().map(|a| a.domain.clone()));
    domains
}
