//! The compiler as the commands see it: load → parse and validate (fused per
//! file) → key store → graph, then emit. Commands ask for a compile and the
//! artifacts of it, and record what they wrote or compared; whether the
//! compile came from the compile cache (`incremental`) is this module's
//! business, not theirs. Nothing here prints but the timings of
//! `MAILOPS_TIMINGS`.

use std::io;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::emit::{self, Artifacts};
use crate::generated_dir;
use crate::graph;
use crate::incremental;
pub(crate) use crate::incremental::Compiled;
pub(crate) use crate::incremental::OnDisk;
use crate::keystore;
use crate::load;
use crate::timing::{self, StageTimer};
use crate::validate;

/// Run every stage on the mail repo at `root`, parsing every file. Only I/O
/// failures are errors; problems in the files are diagnostics.
pub(crate) fn compile(root: &Path) -> io::Result<Compiled> {
    let mut timer = StageTimer::from_env();
    let mut diagnostics = Diagnostics::default();
    let repo = load::load(root, &mut diagnostics)?;
    timer.lap("load");
    let model = validate::validate(&repo, &mut diagnostics);
    timer.lap("parse+validate");
    keystore::check_model(&repo.root, &model, &mut diagnostics)?;
    timer.lap("keystore");
    let removed = generated_dir::removed_domains(root, |domain| model.domains.contains_key(domain));
    let graph = graph::build(&model, &removed, &mut diagnostics);
    timer.lap("graph");
    Ok(Compiled {
        repo,
        model,
        graph,
        diagnostics,
        known: None,
    })
}

/// Like [`compile`], from the compile cache when it can be used (see
/// `incremental`): the model then holds only the domains that had to be
/// parsed, and the compile knows the others from the cache. With
/// `MAILOPS_TIMINGS`, says which it was.
pub(crate) fn compile_cached(root: &Path) -> io::Result<Compiled> {
    let started = std::time::Instant::now();
    match incremental::try_compile(root)? {
        Ok(compiled) => {
            if timing::enabled() {
                let known = compiled.known.as_ref().expect("an incremental compile");
                eprintln!(
                    "timing: compile: incremental, parsed {} of {} tenant files",
                    known.parsed.len(),
                    known.files.len()
                );
                eprintln!(
                    "timing: {:<14} {:>8.3} s",
                    "compile",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(compiled)
        }
        Err(reason) => {
            if timing::enabled() {
                eprintln!("timing: compile: full ({reason})");
            }
            compile(root)
        }
    }
}

/// Every artifact of a compile without errors: after an incremental
/// compile, the files of the tenants it did not parse are produced as
/// unchanged on disk.
pub(crate) fn emit(compiled: &Compiled) -> Artifacts {
    match &compiled.known {
        Some(known) => incremental::emit(&compiled.model, known),
        None => emit::emit(&compiled.model),
    }
}

/// How many tenants' files a full build emits, writes and lets go at a
/// time: the whole `generated/` of 10,000 tenants is about 600 MB of text,
/// which is never held at once.
const TENANTS_PER_PART: usize = 256;

/// What `build` did to `generated/`.
pub(crate) struct Built {
    pub(crate) changes: generated_dir::FileChanges,
    /// Every file produced (written, unchanged, or known unchanged).
    pub(crate) files: usize,
}

/// Make `generated/` equal to what a compile without errors produces, and
/// record the compile cache. After a full compile the tenants' files are
/// emitted, compared, written and dropped in parts of `TENANTS_PER_PART`
/// tenants (an incremental compile emits few files: all at once).
pub(crate) fn build(root: &Path, compiled: &Compiled) -> io::Result<(Built, Option<String>)> {
    if let Some(known) = &compiled.known {
        let mut timer = StageTimer::from_env();
        let artifacts = emit(compiled);
        timer.lap("emit");
        let mut changes = generated_dir::write_changed(root, &artifacts)?;
        timer.lap("write");
        let listed = known.listed(&compiled.model);
        if timing::enabled() {
            eprintln!(
                "timing: generated: {} of {} tenant folders known from the cache",
                listed.folders.len(),
                generated_dir::TenantFolders::names().len()
            );
        }
        let stale = generated_dir::remove_stale(root, |path| artifacts.produces(path), &listed)?;
        changes.removed.clone_from(&stale.removed);
        timer.lap("remove stale");
        let warning = record(root, compiled, OnDisk::Built(&stale))?;
        timer.lap("record");
        let files = artifacts.len();
        return Ok((Built { changes, files }, warning));
    }
    let model = &compiled.model;
    let platform = emit::emit_platform(model);
    let mut changes = generated_dir::write_changed(root, &platform)?;
    let mut produced: rustc_hash::FxHashSet<String> =
        platform.paths().map(str::to_string).collect();
    drop(platform);
    let domains: Vec<&crate::model::Domain> = model.domains.values().collect();
    for part in domains.chunks(TENANTS_PER_PART) {
        let mut artifacts = Artifacts::default();
        emit::emit_tenants(model, part.iter().copied(), &mut artifacts);
        let written = generated_dir::write_changed(root, &artifacts)?;
        changes.added.extend(written.added);
        changes.changed.extend(written.changed);
        produced.extend(artifacts.paths().map(str::to_string));
    }
    changes.added.sort();
    changes.changed.sort();
    let stale = generated_dir::remove_stale(
        root,
        |path| produced.contains(path),
        &generated_dir::Listed::default(),
    )?;
    changes.removed.clone_from(&stale.removed);
    // Every file was written or found equal: none is "known unchanged".
    let warning = record(root, compiled, OnDisk::Built(&stale))?;
    let files = produced.len();
    Ok((Built { changes, files }, warning))
}

/// Record the compile cache after `generated/` was written or compared (a
/// compile with any diagnostic is not recorded). A cache that cannot be
/// written only makes the next run slower: that comes back as a warning.
pub(crate) fn record(
    root: &Path,
    compiled: &Compiled,
    on_disk: OnDisk<'_>,
) -> io::Result<Option<String>> {
    incremental::record(root, compiled, on_disk)
}

/// The fingerprint of the input files a compile read (a saved plan carries
/// it; apply refuses the plan when the files changed since).
pub(crate) fn inputs_fingerprint(compiled: &Compiled) -> String {
    incremental::inputs_fingerprint(compiled)
}
