//! `mailops apply`: make the live database equal to the tenant files, and write generated/.
//!
//! Under the apply lock, in one transaction: read the live rows, compute the
//! plan (or check that a saved plan still matches them), show it, pass the
//! delete guard, ask for confirmation, write the rows and the log entry, and
//! commit. Anything short of that rolls back. The plan shown is the plan
//! executed: it is computed once, under the lock.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::commands::validate::report;
use crate::commands::{EXIT_OK, EXIT_USER, Result, exit_operational};
use crate::db::apply::LogEntry;
use crate::db::connection::{Conn, DbError};
use crate::db::plan::{Counts, RowPlan};
use crate::db::render::DbSection;
use crate::db::rows::Rows;
use crate::db::saved_plan::{self, SavedPlan};
use crate::db::{self, guard, lock, url};
use crate::emit;
use crate::generated_dir::{self, GENERATED_DIR};
use crate::graph::Graph;
use crate::pipeline;

/// How an apply ended, short of an error.
enum Outcome {
    NothingToDo,
    /// Rows written, and when writing them started.
    Applied(Counts, std::time::Instant),
    /// The user said no at the prompt.
    Declined,
}

struct Request<'a> {
    target: &'a url::Target,
    desired: &'a Rows,
    graph: &'a Graph,
    saved: Option<&'a SavedPlan>,
    yes: bool,
    allow_destroy: bool,
    interactive: bool,
    git_revision: Option<String>,
}

pub(crate) fn run(
    dir: &Path,
    database: Option<&str>,
    yes: bool,
    allow_destroy: bool,
    plan_file: Option<&Path>,
) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    report(&compiled);
    if compiled.has_errors() {
        eprintln!("error: nothing was applied: fix the problems above first");
        return Ok(EXIT_USER);
    }
    let artifacts = emit::emit(&compiled.model);

    let saved = match plan_file.map(SavedPlan::read).transpose() {
        Ok(saved) => saved,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(EXIT_USER);
        }
    };
    let target = match url::resolve_from_env(
        database,
        compiled.model.platform.database.url.as_deref(),
        dir,
    ) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(EXIT_USER);
        }
    };
    if let Some(saved) = &saved {
        if saved.compiled_fingerprint != saved_plan::compiled_fingerprint(&artifacts) {
            eprintln!(
                "error: the tenant or platform files changed since this plan was made; plan again"
            );
            return Ok(EXIT_USER);
        }
        if saved.database != target.identity() {
            eprintln!(
                "error: this plan was made for {}, not {}; plan again against the database to change",
                saved.database,
                target.identity()
            );
            return Ok(EXIT_USER);
        }
    }

    let desired = Rows::desired(&compiled.model);
    let request = Request {
        target: &target,
        desired: &desired,
        graph: &compiled.graph,
        saved: saved.as_ref(),
        yes,
        allow_destroy,
        interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        git_revision: db::git_revision(dir),
    };
    let outcome = db::connection::runtime().and_then(|rt| rt.block_on(apply_rows(&request)));
    match outcome {
        Ok(Outcome::Declined) => {
            eprintln!("apply cancelled; nothing was changed");
            return Ok(EXIT_USER);
        }
        Ok(Outcome::NothingToDo) => eprintln!("the database is current: no row changes"),
        Ok(Outcome::Applied(c, took)) => eprintln!(
            "applied to {}: {} inserted, {} updated, {} deleted (written and committed in {:.2} s)",
            target.shown(),
            c.insert,
            c.update,
            c.delete,
            took.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(match e {
                DbError::Refused(_) => EXIT_USER,
                DbError::Operational(_) | DbError::Locked(_) => {
                    eprintln!("nothing was changed: the transaction was rolled back");
                    exit_operational()
                }
            });
        }
    }

    let changes = generated_dir::write(dir, &artifacts)?;
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
    Ok(EXIT_OK)
}

async fn apply_rows(request: &Request<'_>) -> std::result::Result<Outcome, DbError> {
    let mut conn = db::open(request.target).await?;
    let held = match lock::acquire(&mut conn, lock::Purpose::Apply, db::lock_wait()).await {
        Ok(held) => held,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    db::apply::test_hold_lock().await;
    let outcome = apply_locked(&mut conn, request).await;
    let commit = matches!(outcome, Ok(Outcome::Applied(..)));
    let released = lock::release(&mut conn, held, commit).await;
    conn.close().await;
    let outcome = outcome?;
    released?;
    Ok(outcome)
}

async fn apply_locked(
    conn: &mut Conn,
    request: &Request<'_>,
) -> std::result::Result<Outcome, DbError> {
    let live = Rows::live(conn).await?;
    let fingerprint = live.fingerprint();
    let plan: RowPlan = match request.saved {
        Some(saved) if saved.live_fingerprint != fingerprint => {
            return Err(DbError::Refused(
                "the database changed since this plan was made; plan again".to_string(),
            ));
        }
        Some(saved) => saved.rows.clone(),
        None => {
            let mut plan = RowPlan::diff(request.desired, &live);
            plan.order_inserts(request.graph);
            plan
        }
    };
    if plan.is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let section = DbSection {
        database: request.target.shown(),
        live_fingerprint: &fingerprint,
        plan: &plan,
    };
    print!("{}", section.human());
    let _ = std::io::stdout().flush();

    if let Some(refusal) = guard::check(&plan, &live) {
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

    let plan_hash = plan.hash();
    let log = LogEntry {
        git_revision: request.git_revision.as_deref(),
        plan_hash: &plan_hash,
    };
    // Freeing a million live rows takes a while; not part of the write.
    drop(live);
    let started = std::time::Instant::now();
    let counts = db::apply::execute(conn, &plan, &log, std::io::stderr().is_terminal()).await?;
    Ok(Outcome::Applied(counts, started))
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
