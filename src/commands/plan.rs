//! `mailops plan`: what `build` would change in generated/ (the file section)
//! and what `apply` would change in the database (the row section), in one
//! report: human, markdown (a pull-request comment) or JSON.
//!
//! The file section is `file_plan`'s; the row section is `db`'s. The two
//! sections are computed independently and printed side by side; the
//! plan has changes when either has. `--out` saves the row section with the
//! fingerprints `apply` checks before applying it.
//!
//! The JSON form (stable; fields are only ever added):
//!
//! ```text
//! { "changes": bool,                       // either section has a change
//!   "files": { … },                        // file_plan::to_json
//!   "database": {
//!     "url": "mysql://user:***@host:3306/db",   // never a password
//!     "live_fingerprint": "sha256:…",      // of the live state the plan was computed from
//!     "plan_hash": "sha256:…",             // recorded in mailops_apply_log
//!     "summary": { "insert": n, "update": n, "delete": n },
//!     "tenants": [ { "domain": "acme.example", "changes": [
//!         { "op": "insert" | "update" | "delete",
//!           "kind": "domain" | "mailbox" | "alias",
//!           "table": "virtual_users",
//!           "key": "alice@acme.example",   // alias: "source → destination"
//!           "columns": [ { "column": "quota_bytes", "old": 1, "new": 2 },
//!                        { "column": "password", "hidden": true } ] } ] } ],
//!     "notes": [ "Removing a mailbox never deletes mail on disk: …" ],
//!     // alias rows the files keep that forward into a domain this plan deletes
//!     "forwards_into_deleted_domains": [ { "source": "…", "destination": "…" } ],
//!     // how much was read: rows only of the domains that may have changed
//!     // since the last apply (every row with --full)
//!     "read": { "full": bool, "domains": n, "rows": n } } }
//! ```
//!
//! A plan writes nothing to the database: it opens it read-only, never
//! creates or migrates it (`db::open_for_plan`). A database that does not
//! exist yet is planned against as empty, an older schema is read as it is;
//! the plan's notes say so.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::cli::PlanFormat;
use crate::commands::validate::report;
use crate::commands::{EXIT_OK, EXIT_USER, Result, exit_operational, use_color};
use crate::db::connection::DbError;
use crate::db::desired;
use crate::db::live::{Live, ReadStats};
use crate::db::migrate::Schema;
use crate::db::plan::RowPlan;
use crate::db::render::DbSection;
use crate::db::saved_plan::SavedPlan;
use crate::db::{self, PlanSource, url};
use crate::file_plan::{self, FilePlan};
use crate::generated_dir::GENERATED_DIR;
use crate::incremental::{self, OnDisk};
use crate::pipeline::{self, Compiled, StageTimer};

/// What `plan` found in the database.
struct RowSection {
    database: String,
    live_fingerprint: String,
    /// The live state was this mailops's schema: apply can check the fingerprint.
    current_schema: bool,
    plan: RowPlan,
    read: ReadStats,
    /// The database does not exist yet, or its schema is older.
    notes: Vec<String>,
    /// Alias rows the files keep that forward into a domain the plan deletes.
    forwards: Vec<(String, String)>,
}

pub(crate) fn run(
    dir: &Path,
    database: Option<&str>,
    format: PlanFormat,
    out: Option<&Path>,
    detailed_exitcode: bool,
    full: bool,
) -> Result<ExitCode> {
    // With --detailed-exitcode every failure is 1, and 2 means "changes".
    let operational = if detailed_exitcode {
        EXIT_USER
    } else {
        exit_operational()
    };
    match plan(
        dir,
        database,
        format,
        out,
        detailed_exitcode,
        full,
        operational,
    ) {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("error: {error}");
            Ok(operational)
        }
    }
}

fn plan(
    dir: &Path,
    database: Option<&str>,
    format: PlanFormat,
    out: Option<&Path>,
    detailed_exitcode: bool,
    full: bool,
    operational: ExitCode,
) -> Result<ExitCode> {
    let user_error = EXIT_USER;
    if let Some(why) = out.and_then(unusable_out) {
        eprintln!("error: {why}");
        return Ok(user_error);
    }

    let compiled = pipeline::compile_cached(dir)?;
    let mut timer = StageTimer::from_env();
    report(&compiled);
    if compiled.has_errors() {
        eprintln!("error: no plan: fix the problems above first");
        return Ok(user_error);
    }
    let pipeline::Emitted {
        compiled,
        artifacts,
        read,
    } = pipeline::emit(dir, compiled)?;
    timer.lap("emit");
    let (files, changes) = match FilePlan::compute_with(dir, &artifacts, read) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: reading {GENERATED_DIR}/: {e}");
            return Ok(operational);
        }
    };
    incremental::record(dir, &compiled, &artifacts, OnDisk::Compared(&changes))?;
    timer.lap("file plan");

    let target = match url::resolve_from_env(
        database,
        compiled.model.platform.database.url.as_deref(),
        dir,
    ) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(user_error);
        }
    };
    eprintln!(
        "planning against {} (from {})",
        target.shown(),
        target.source.describe()
    );
    let rows = match plan_rows(&target, &compiled, full, &mut timer) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(match e {
                DbError::Refused(_) => user_error,
                _ => operational,
            });
        }
    };

    let db_section = DbSection {
        database: rows.database.clone(),
        live_fingerprint: &rows.live_fingerprint,
        plan: &rows.plan,
        read: rows.read,
        notes: &rows.notes,
        forwards: &rows.forwards,
    };
    match format {
        PlanFormat::Human => {
            let color = use_color(std::io::stdout().is_terminal());
            print!(
                "{}\n{}",
                file_plan::render_human(&files, color),
                db_section.human()
            );
        }
        PlanFormat::Markdown => print!(
            "## mailops plan\n\n{}\n{}",
            file_plan::render_markdown(&files),
            db_section.markdown()
        ),
        PlanFormat::Json => {
            let value = json!({
                "changes": !files.is_empty() || !rows.plan.is_empty(),
                "files": file_plan::to_json(&files),
                "database": db_section.json(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON serialises")
            );
        }
    }

    if let Some(path) = out {
        let saved = SavedPlan::new(
            target.identity(),
            rows.current_schema.then(|| rows.live_fingerprint.clone()),
            rows.read.full,
            incremental::inputs_fingerprint(&compiled),
            rows.plan.clone(),
        );
        if let Err(e) = saved.write(path) {
            eprintln!("error: saving the plan to {}: {e}", path.display());
            return Ok(operational);
        }
        eprintln!(
            "saved the plan to {}; apply it with `mailops apply {}`",
            path.display(),
            path.display()
        );
    }

    timer.lap("print");

    let changes = !files.is_empty() || !rows.plan.is_empty();
    Ok(if detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        EXIT_OK
    })
}

/// Why `--out PATH` cannot take the saved plan, found before any work: `-`
/// (which would make a file named `-`, not write to standard output) and
/// an existing directory.
fn unusable_out(path: &Path) -> Option<String> {
    if path.as_os_str() == "-" {
        return Some(
            "`--out -`: a saved plan holds password hashes, so it is written to a file \
             (mode 0600), never to standard output; name a file, like `--out plan.json` \
             (`--format json` prints the plan)"
                .to_string(),
        );
    }
    if path.is_dir() {
        return Some(format!(
            "`--out {}` is a directory; name a file in it, like `--out {}`",
            path.display(),
            path.join("plan.json").display()
        ));
    }
    None
}

fn plan_rows(
    target: &url::Target,
    compiled: &Compiled,
    full: bool,
    timer: &mut StageTimer,
) -> std::result::Result<RowSection, DbError> {
    let runtime = db::connection::runtime()?;
    let graph = &compiled.graph;
    desired::in_background(&compiled.model, compiled.known.as_ref(), |desired| {
        runtime.block_on(async {
            let source = db::open_for_plan(target).await?;
            timer.lap("db open");
            let mut notes = Vec::new();
            let mut current_schema = false;
            let (live, desired) = match source {
                PlanSource::Empty(why) => {
                    notes.push(why);
                    Live::nothing(desired)
                }
                PlanSource::Open(mut conn, schema) => {
                    current_schema = schema == Schema::Current;
                    notes.extend(db::schema_note(schema));
                    let read =
                        Live::read_for_plan(&mut conn, desired, full, current_schema, timer).await;
                    conn.close().await;
                    read?
                }
            };
            let mut plan = RowPlan::diff(&live.desired_rows(&desired)?, &live.rows);
            plan.order_inserts(graph);
            let forwards = desired.forwards_into(&plan.domains.delete);
            timer.lap("db diff");
            if std::env::var_os("MAILOPS_TIMINGS").is_some() {
                eprintln!(
                    "timing: read {} rows of {} domains{}",
                    live.read.rows,
                    live.read.domains,
                    if live.read.full { " (every row)" } else { "" }
                );
            }
            Ok(RowSection {
                database: target.shown(),
                live_fingerprint: live.fingerprint(),
                current_schema,
                plan,
                read: live.read,
                notes,
                forwards,
            })
        })
    })
}
