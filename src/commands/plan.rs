//! `mailops plan`: what `build` would change in generated/ (the file section)
//! and what `apply` would change in the database (the row section), in one
//! report: human, markdown (a pull-request comment) or JSON.
//!
//! The plan is `plan::Plan`: its file half compared with `generated/`, its
//! row half derived from the live rows exactly as `apply` derives it
//! (`plan::RowSection::derive`); it has changes when either half has.
//! `--out` saves the row half with the fingerprints `apply` checks before
//! applying it.
//!
//! With `--base REF` (a pull request's plan, `run_base`), both halves are
//! the change from git revision REF to the working tree: the base's
//! generated files against the head's, the rows the base's files declare
//! against the rows the head's declare, both compiled in memory
//! (`plan::base`). The same `Plan`, printed by the same renderers, so it
//! reads exactly as a database plan does; no database is named or opened.
//!
//! The JSON form (stable; fields are only ever added):
//!
//! ```text
//! { "changes": bool,                       // either section has a change
//!   "files": {
//!     "files": [ { "path": "generated/…", "status": "added" | "changed" | "removed",
//!                  "insertions": n, "deletions": n, "diff": "…",   // hashes hidden
//!                  "tenant": "acme.example" } ],                  // a tenant's file
//!     "tenants": { "acme.example": {                // per tenant with a change
//!         "dns": { "insertions": n, "deletions": n },   // lines of its DNS file
//!         "sql": { "insertions": n, "deletions": n },   // lines of its SQL file
//!         "mailboxes": { "insert": n, "update": n, "delete": n,    // its rows, and the
//!                        "added": n, "changed": n, "removed": n },  // same by the first names
//!         "aliases": { … as mailboxes … } } },
//!     "summary": { "added": n, "changed": n, "removed": n } },
//!   "database": {
//!     "url": "mysql://user:***@host:3306/db",   // never a password; null with --base
//!     "base": { "ref": "origin/main", "commit": "<40 hex>" },   // only with --base
//!     "live_fingerprint": "sha256:…",      // of the live state the plan was computed from
//!                                          // (with --base: of the base's rows)
//!     "plan_hash": "sha256:…",             // recorded in mailops_apply_log
//!     "summary": { "insert": n, "update": n, "delete": n },
//!     "tenants": [ { "domain": "acme.example", "changes": [
//!         { "op": "insert" | "update" | "delete",
//!           "kind": "domain" | "mailbox" | "alias",
//!           "table": "virtual_users",
//!           "key": "alice@acme.example",   // alias: "source → destination"
//!           "columns": [ { "column": "quota_bytes", "old": 1, "new": 2 },
//!                        { "column": "password", "hidden": true } ],
//!           "move": true } ] } ],      // only on a home changed from host to host
//!     // the platform's mail_hosts changes (same shape, kind "host", key its
//!     // name); only when a host row changes
//!     "hosts": [ { "op": "insert", "kind": "host", "table": "mail_hosts", "key": "mx2",
//!                  "columns": [ { "column": "hostname", "new": "mx2.webhizzy.in" },
//!                               { "column": "private_ip", "new": "10.20.1.12" } ] } ],
//!     "notes": [ "Removing a mailbox never deletes mail on disk: …" ],
//!     // alias rows the files keep that forward into a domain this plan deletes
//!     "forwards_into_deleted_domains": [ { "source": "…", "destination": "…" } ],
//!     // alias rows this plan inserts whose destination is off the platform
//!     "external_forwards": [ { "source": "…", "destination": "…" } ],
//!     // how much was read: rows only of the domains that may have changed
//!     // since the last apply (every row with --full)
//!     "read": { "full": bool, "domains": n, "rows": n } } }
//! ```
//!
//! A plan writes nothing to the database: it opens it read-only, never
//! creates or migrates it (`db::open_for_plan`). A database that does not
//! exist yet is planned against as empty, an older schema is read as it is;
//! the plan's notes say so.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::PlanFormat;
use crate::commands::{EXIT_OK, Error, Prepared, Result, use_color, warn};
use crate::db::connection::DbError;
use crate::db::desired;
use crate::db::live::Live;
use crate::db::migrate::Schema;
use crate::db::saved_plan::SavedPlan;
use crate::db::{self, PlanSource, url};
use crate::generated_dir::GENERATED_DIR;
use crate::pipeline::{self, Compiled, OnDisk};
use crate::plan::{self, FilePlan, Plan, RowSection};
use crate::timing::StageTimer;

/// Print the plan. With `--detailed-exitcode`, 2 when it has changes (and
/// every failure exits 1: `main` maps them, see `commands::failures_exit_1`).
pub(crate) fn run(
    dir: &Path,
    database: Option<&str>,
    base: Option<&str>,
    format: PlanFormat,
    out: Option<&Path>,
    detailed_exitcode: bool,
    full: bool,
) -> Result<ExitCode> {
    if let Some(base) = base {
        if out.is_some() {
            return Err(Error::user(
                "`--out` saves a plan for `mailops apply` to apply to the database it was \
                 computed against; a plan from `--base` compares two revisions' files and \
                 reads no database, so there is nothing it could be applied to: drop `--out` \
                 (`--format json` prints the plan)",
            ));
        }
        return run_base(dir, base, format, detailed_exitcode);
    }
    if let Some(why) = out.and_then(unusable_out) {
        return Err(Error::user(why));
    }
    let Prepared {
        compiled,
        artifacts,
        target,
    } = super::prepare(dir, database, "no plan")?;
    let mut timer = StageTimer::from_env();
    let (files, changes) = FilePlan::compute(dir, &artifacts, &pipeline::listed(&compiled))
        .map_err(|e| Error::operational(format!("reading {GENERATED_DIR}/: {e}")))?;
    warn(pipeline::record(
        dir,
        &compiled,
        OnDisk::Compared(&changes),
    )?);
    timer.lap("file plan");

    eprintln!(
        "planning against {} (from {})",
        target.shown(),
        target.source.describe()
    );
    let rows = plan_rows(&target, &compiled, full, &mut timer)?;
    let plan = Plan { files, rows };
    print(&plan, format);

    if let Some(path) = out {
        let rows = &plan.rows;
        let saved = SavedPlan::new(
            target.identity(),
            rows.current_schema.then(|| rows.live_fingerprint.clone()),
            rows.read.full,
            pipeline::inputs_fingerprint(&compiled),
            rows.plan.clone(),
        );
        saved.write(path).map_err(|e| {
            Error::operational(format!("saving the plan to {}: {e}", path.display()))
        })?;
        eprintln!(
            "saved the plan to {}; apply it with `mailops apply {}`",
            path.display(),
            path.display()
        );
    }

    timer.lap("print");

    Ok(if detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        EXIT_OK
    })
}

/// `plan --base REF`: the change from revision REF to the working tree, both
/// compiled in memory, shown as a database plan is (see `plan::base`). No
/// database is opened, named or created, and nothing is written: not
/// `generated/`, not the compile cache.
///
/// The working tree is compiled in full (`pipeline::compile`), not from the
/// compile cache: an incremental compile knows the generated files of the
/// tenants it did not parse only as "unchanged on disk", and this plan
/// compares with the base's files, not with the disk.
fn run_base(
    dir: &Path,
    name: &str,
    format: PlanFormat,
    detailed_exitcode: bool,
) -> Result<ExitCode> {
    let mut timer = StageTimer::from_env();
    let head = pipeline::compile(dir)?;
    super::validate::report(&head);
    if head.has_errors() {
        return Err(Error::user("no plan: fix the problems above first"));
    }
    timer.lap("compile head");
    let base = super::read_base(dir, name, "no plan")?;
    timer.lap("compile base");
    let base_model = match &base.compiled {
        Some(compiled) if compiled.has_errors() => {
            eprintln!(
                "the base, {}, has problems (the files as that revision holds them):",
                base.shown()
            );
            eprint!(
                "{}",
                compiled
                    .diagnostics
                    .render_human(&compiled.repo.sources, super::stderr_color())
            );
            eprintln!("error (in the base): {}", compiled.diagnostics.summary());
            return Err(Error::user(format!(
                "no plan: the base, {}, has problems (above, in its files as that \
                 revision holds them; the working tree's files have none)",
                base.shown()
            )));
        }
        Some(compiled) => Some(&compiled.model),
        None => None,
    };
    eprintln!("planning against {}, no database", base.shown());

    let files = FilePlan::between(base_model, &head.model);
    timer.lap("file plan");
    let base_rows = match base_model {
        Some(model) => desired::Desired::with_known(model, None).rows(None)?,
        None => Default::default(),
    };
    let desired = desired::Desired::with_known(&head.model, None);
    let mut rows = RowSection::between(base.revision.clone(), &base_rows, &desired, &head.graph)?;
    rows.notes.push(match base_model {
        Some(_) => format!(
            "compared with the rows the files of {} declare, not with a database",
            base.shown()
        ),
        None => format!(
            "{} has no mail repo at {}: everything is planned as added",
            base.shown(),
            base.folder()
        ),
    });
    timer.lap("row plan");
    let plan = Plan { files, rows };
    print(&plan, format);
    if format == PlanFormat::Markdown {
        // A pull request's comment: a picture of what the change touches.
        let changed: BTreeSet<String> = plan
            .tenants()
            .into_keys()
            .filter(|d| head.model.domains.contains_key(d))
            .collect();
        if !changed.is_empty() {
            print!("{}", picture_section(&head.model, &changed));
        }
    }
    timer.lap("print");
    Ok(if detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        EXIT_OK
    })
}

/// Print the plan on standard output.
fn print(plan: &Plan, format: PlanFormat) {
    match format {
        PlanFormat::Human => {
            let color = use_color(std::io::stdout().is_terminal());
            print!("{}", plan::human::render(plan, color));
        }
        PlanFormat::Markdown => print!("{}", plan::markdown::render(plan)),
        PlanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan::json::render(plan)).expect("JSON serialises")
        ),
    }
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
    desired::in_background(&compiled.model, compiled.summarised(), |desired| {
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
                    let version = match schema {
                        Schema::Behind(version) => version,
                        _ => db::migrate::latest(),
                    };
                    let read = Live::read_for_plan(&mut conn, desired, full, version, timer).await;
                    conn.close().await;
                    read?
                }
            };
            let mut section = RowSection::derive(target.shown(), &live, &desired, &compiled.graph)?;
            section.current_schema = current_schema;
            section.notes = notes;
            timer.lap("db diff");
            if crate::timing::enabled() {
                eprintln!(
                    "timing: read {} rows of {} domains{}",
                    live.read.rows,
                    live.read.domains,
                    if live.read.full { " (every row)" } else { "" }
                );
            }
            Ok(section)
        })
    })
}

/// The Mermaid picture of the changed tenants and their neighbours, folded.
fn picture_section(model: &crate::model::Model, changed: &BTreeSet<String>) -> String {
    let picture = crate::graph::picture::Picture::of(model, Some(changed));
    let neighbours = picture.tenants.len() - changed.len();
    format!(
        "\n<details><summary>Tenants this change touches: {} changed (bold), {} neighbour{} they forward with</summary>\n\n```mermaid\n{}```\n\n</details>\n",
        changed.len(),
        neighbours,
        if neighbours == 1 { "" } else { "s" },
        picture.mermaid()
    )
}
