//! `mailops apply`: make the live database equal to the tenant files, and write generated/.
//!
//! Under the apply lock, in one transaction: read the live state (the rows of
//! only the domains that may have changed, see `db::live`), compute the plan,
//! show it, pass the delete guard, ask for confirmation, write the rows and
//! the log entry, record the state of the domains now as the files ask, and
//! commit. A saved plan is never executed as it stands: the plan is derived
//! under the lock from the tenant files and the live rows as always, and a
//! saved plan is refused unless it equals that plan exactly (a plan file is a
//! promise of what will be written, checked, not an instruction; see
//! `db::saved_plan`).
//! Anything short of that rolls back. The plan shown is the plan executed: it
//! is computed once, under the lock. With no row to change, the state of
//! domains that were read (edited by hand and back, or never recorded) is
//! still recorded, so that the next plan need not read them again.
//!
//! A plan that moves a mailbox's home to another host (`plan::moves`) is
//! applied only with `--move-mail` (the mail's steps run with doveadm: the
//! copy under the lock before anything is written, the final sync and the
//! clean up after the commit) or `--no-move-mail` (the rows only; the mail
//! is moved by other means). Without either, apply refuses: switching the
//! row alone would leave the mailbox's mail behind on its old host.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::commands::{EXIT_OK, EXIT_USER, Error, Prepared, Result, warn};
use crate::db::apply::{LogEntry, StateRecord};
use crate::db::connection::{Conn, DbError};
use crate::db::desired::{self, Pending};
use crate::db::live::{Live, ReadMode};
use crate::db::plan::{Counts, RowPlan};
use crate::db::saved_plan::SavedPlan;
use crate::db::{self, guard, lock, url};
use crate::generated_dir::{self, GENERATED_DIR};
use crate::graph::Graph;
use crate::mail_move::Doveadm;
use crate::pipeline::{self, OnDisk};
use crate::plan::RowSection;
use crate::plan::human;
use crate::plan::moves::Move;
use crate::plan::rows::by_tenant;
use crate::timing::StageTimer;

/// What apply does about moves in its plan.
#[derive(Debug, Clone)]
pub(crate) enum MoveMail {
    /// Neither flag: a plan with a move is refused.
    Refuse,
    /// `--move-mail`: run the steps with doveadm.
    Run(Doveadm),
    /// `--no-move-mail`: switch the rows only.
    RowsOnly,
}

impl MoveMail {
    pub(crate) fn from_flags(
        move_mail: bool,
        no_move_mail: bool,
        doveadm_config: Option<std::path::PathBuf>,
    ) -> MoveMail {
        match (move_mail, no_move_mail) {
            (true, _) => MoveMail::Run(Doveadm {
                config: doveadm_config,
            }),
            (false, true) => MoveMail::RowsOnly,
            (false, false) => MoveMail::Refuse,
        }
    }
}

/// How an apply ended, short of an error.
enum Outcome {
    NothingToDo,
    /// No row to change; the state of this many domains was recorded.
    Recorded(usize),
    /// Rows written, when writing them started, and the moves whose mail
    /// is to be finished (`--move-mail`).
    Applied(Counts, std::time::Instant, Vec<Move>),
    /// The user said no at the prompt.
    Declined,
}

struct Request<'a> {
    target: &'a url::Target,
    graph: &'a Graph,
    saved: Option<&'a SavedPlan>,
    yes: bool,
    allow_destroy: bool,
    full: bool,
    interactive: bool,
    git_revision: Option<String>,
    move_mail: &'a MoveMail,
}

pub(crate) fn run(
    dir: &Path,
    database: Option<&str>,
    yes: bool,
    allow_destroy: bool,
    full: bool,
    plan_file: Option<&Path>,
    move_mail: MoveMail,
) -> Result<ExitCode> {
    // A plan file that cannot be read is an I/O failure (exit 2), found
    // before the tenant files are compiled.
    let saved = plan_file.map(SavedPlan::read).transpose()?;
    let Prepared {
        compiled,
        artifacts,
        target,
    } = super::prepare(dir, database, "nothing was applied")?;
    let mut timer = StageTimer::from_env();
    if let Some(saved) = &saved {
        if saved.compiled_fingerprint != pipeline::inputs_fingerprint(&compiled) {
            return Err(Error::refused(
                "the tenant or platform files changed since this plan was made; plan again",
            ));
        }
        if saved.database != target.identity() {
            return Err(Error::refused(format!(
                "this plan was made for {}, not {}; plan again against the database to change",
                saved.database,
                target.identity()
            )));
        }
    }

    let request = Request {
        target: &target,
        graph: &compiled.graph,
        saved: saved.as_ref(),
        yes,
        allow_destroy,
        full,
        interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        git_revision: db::git_revision(dir),
        move_mail: &move_mail,
    };
    let outcome = db::connection::runtime().and_then(|rt| {
        desired::in_background(&compiled.model, compiled.summarised(), |desired| {
            rt.block_on(apply_rows(&request, desired, &mut timer))
        })
    });
    let mut moved = Vec::new();
    match outcome {
        Ok(Outcome::Declined) => {
            eprintln!("apply cancelled; nothing was changed");
            return Ok(EXIT_USER);
        }
        Ok(Outcome::NothingToDo) => eprintln!("the database is current: no row changes"),
        Ok(Outcome::Recorded(domains)) => eprintln!(
            "the database is current: no row changes (recorded the state of {domains} domain{})",
            if domains == 1 { "" } else { "s" }
        ),
        Ok(Outcome::Applied(c, took, moves)) => {
            eprintln!(
                "applied to {}: {} inserted, {} updated, {} deleted (written and committed in {:.2} s)",
                target.shown(),
                c.insert,
                c.update,
                c.delete,
                took.elapsed().as_secs_f64()
            );
            moved = moves;
        }
        // Both say what was (not) written and what to do next.
        Err(e @ (DbError::Refused(_) | DbError::Conflict(_))) => return Err(e.into()),
        Err(e) => {
            return Err(
                Error::from(e).followed_by("nothing was changed: the transaction was rolled back")
            );
        }
    }

    timer.lap("db commit");
    let changes = generated_dir::write(dir, &artifacts)?;
    warn(pipeline::record(dir, &compiled, OnDisk::Written)?);
    let written = changes.added.len() + changes.changed.len() + changes.removed.len();
    if written == 0 {
        eprintln!("{GENERATED_DIR}/ is current");
    } else {
        eprintln!(
            "wrote {GENERATED_DIR}/: {} added, {} changed, {} removed",
            changes.added.len(),
            changes.changed.len(),
            changes.removed.len()
        );
    }
    timer.lap("generated/");
    if let MoveMail::Run(doveadm) = &move_mail {
        finish_moves(doveadm, &moved)?;
    }
    Ok(EXIT_OK)
}

/// After the switch: each move's final sync and clean up. Every move is
/// tried; the failures are reported together, each with the command that
/// finishes it.
fn finish_moves(doveadm: &Doveadm, moves: &[Move]) -> Result<()> {
    let mut failed = Vec::new();
    for m in moves {
        match doveadm.finish(m) {
            Ok(done) => eprintln!(
                "moved the mail of {} to {}: {} messages there; {} expunged on {}",
                m.address, m.to.name, done.messages, done.expunged, m.from.name
            ),
            Err(e) => failed.push(format!(
                "{e}\n  {} already has its new home {}; once the cause is fixed, finish with \
                 `mailops move-mail {} --from {}` (the final sync and the clean up), or move \
                 the rest by hand",
                m.address, m.to.name, m.address, m.from.name
            )),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::Operational(format!(
        "the rows were applied, but moving the mail did not finish:\n{}",
        failed.join("\n")
    )))
}

/// A plan with moves, and neither `--move-mail` nor `--no-move-mail`.
fn refuse_moves(moves: &[Move]) -> DbError {
    let list: Vec<String> = moves
        .iter()
        .map(|m| format!("  {}: home {} → {}", m.address, m.from.name, m.to.name))
        .collect();
    DbError::Refused(format!(
        "this plan moves {} mailbox{} to another host:\n{}\nnothing was changed: run again \
         with --move-mail to move the mail with doveadm (on a mail host, inside the hosts' \
         private network), or with --no-move-mail to switch the rows only and move the mail \
         by other means",
        moves.len(),
        if moves.len() == 1 { "" } else { "es" },
        list.join("\n")
    ))
}

async fn apply_rows(
    request: &Request<'_>,
    desired: Pending<'_, '_>,
    timer: &mut StageTimer,
) -> std::result::Result<Outcome, DbError> {
    let mut conn = db::open(request.target).await?;
    let held = match lock::acquire(&mut conn, lock::Purpose::Apply, db::lock_wait()).await {
        Ok(held) => held,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    timer.lap("db open+lock");
    db::apply::test_hold_lock().await;
    let cluster = held.on_cluster();
    let outcome = apply_locked(&mut conn, request, desired, timer)
        .await
        .map_err(|e| lock::explain(e, cluster));
    let commit = matches!(outcome, Ok(Outcome::Applied(..) | Outcome::Recorded(_)));
    let released = lock::release(&mut conn, held, commit).await;
    conn.close().await;
    let outcome = outcome?;
    released?;
    Ok(outcome)
}

async fn apply_locked(
    conn: &mut Conn,
    request: &Request<'_>,
    desired: Pending<'_, '_>,
    timer: &mut StageTimer,
) -> std::result::Result<Outcome, DbError> {
    let mode = ReadMode {
        // A saved plan is derived again from as much as it was derived from.
        full: request.full || request.saved.is_some_and(|saved| saved.full),
        for_apply: true,
        current_schema: true,
        version: crate::db::migrate::latest(),
    };
    let (live, desired) = Live::read(conn, desired, mode, timer).await?;
    db::apply::test_hold_after_read().await;
    let fingerprint = live.fingerprint();
    if let Some(saved) = request.saved {
        if saved
            .live_fingerprint
            .as_ref()
            .is_some_and(|saved| *saved != fingerprint)
        {
            return Err(DbError::Refused(
                "the database changed since this plan was made; plan again".to_string(),
            ));
        }
    }
    let section = RowSection::derive(request.target.shown(), &live, &desired, request.graph)?;
    let plan = &section.plan;
    if let Some(saved) = request.saved {
        if saved.rows != *plan {
            return Err(DbError::Refused(not_the_saved_plan(&saved.rows, plan)));
        }
    }
    let to_record = live.to_record(&desired, plan);
    let record = StateRecord::of(&to_record, &desired);
    timer.lap("db diff");
    let plan_hash = plan.hash();
    let log = LogEntry {
        git_revision: request.git_revision.as_deref(),
        plan_hash: &plan_hash,
    };
    if plan.is_empty() {
        if record.is_empty() {
            return Ok(Outcome::NothingToDo);
        }
        db::apply::execute(conn, plan, &log, &record, false).await?;
        timer.lap("db record");
        return Ok(Outcome::Recorded(record.len()));
    }
    print!("{}", human::rows(&section));
    let _ = std::io::stdout().flush();
    if !section.moves.is_empty() && matches!(request.move_mail, MoveMail::Refuse) {
        return Err(refuse_moves(&section.moves));
    }

    if let Some(refusal) = guard::check(plan, &live.totals(), &section.forwards) {
        if !request.allow_destroy {
            return Err(DbError::Refused(format!(
                "{}\nnothing was changed; if this is intended, run again with --allow-destroy",
                refusal.join("\n")
            )));
        }
        eprintln!("--allow-destroy: proceeding with the deletes listed above");
    }

    if !request.yes {
        if !request.interactive {
            return Err(DbError::Refused(
                "not on a terminal, so nobody can confirm: run `mailops apply --yes` to apply without asking"
                    .to_string(),
            ));
        }
        if !confirm()? {
            return Ok(Outcome::Declined);
        }
    }

    // Step 1 of every move, before anything is written: the new home gets a
    // copy of the mail while the old one still serves. A failure rolls back.
    let mut moves = Vec::new();
    if let MoveMail::Run(doveadm) = request.move_mail {
        for m in &section.moves {
            doveadm
                .copy(m)
                .map_err(|e| DbError::Operational(e.to_string()))?;
            eprintln!(
                "copied the mail of {} from {} to {}",
                m.address, m.from.name, m.to.name
            );
        }
        moves = section.moves.clone();
        timer.lap("mail copied");
    }

    // Freeing many live rows takes a while; not part of the write.
    drop(live);
    let started = std::time::Instant::now();
    let counts = db::apply::execute(conn, plan, &log, &record, true).await?;
    timer.lap("db write");
    Ok(Outcome::Applied(counts, started, moves))
}

/// Why a saved plan is refused: it is not the plan the files and the live
/// rows give now. The changes only one side has are listed (as the plan shows
/// them: no password), a few of each.
fn not_the_saved_plan(saved: &RowPlan, derived: &RowPlan) -> String {
    use std::collections::BTreeSet;
    let lines = |plan: &RowPlan| -> BTreeSet<String> {
        by_tenant(plan)
            .into_values()
            .flatten()
            .map(|change| change.line())
            .collect()
    };
    let (saved_lines, derived_lines) = (lines(saved), lines(derived));
    let mut message = String::from(
        "the saved plan is not the plan that the tenant files and the database give now \
         (it was edited, or made from other files); nothing was changed: plan again",
    );
    const SHOWN: usize = 10;
    for (heading, only) in [
        (
            "in the saved plan only",
            saved_lines.difference(&derived_lines),
        ),
        (
            "in the plan derived now only",
            derived_lines.difference(&saved_lines),
        ),
    ] {
        let only: Vec<&String> = only.collect();
        if only.is_empty() {
            continue;
        }
        message.push_str(&format!("\n{heading}:"));
        for line in only.iter().take(SHOWN) {
            message.push_str(&format!("\n  {line}"));
        }
        if only.len() > SHOWN {
            message.push_str(&format!("\n  … and {} more", only.len() - SHOWN));
        }
    }
    if saved_lines == derived_lines {
        let count = |plan: &RowPlan| by_tenant(plan).into_values().flatten().count();
        if count(saved) != count(derived) {
            message.push_str("\n(the saved plan lists a change more than once)");
        } else {
            message.push_str("\n(the changes differ in a password hash or in their order)");
        }
    }
    message
}

/// Ask on the terminal; only `yes` applies.
fn confirm() -> std::result::Result<bool, DbError> {
    eprint!("Apply these changes? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| DbError::Operational(format!("reading the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}
