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
///
/// Each tenant file's text is held only while it is parsed, and to the end
/// only when a diagnostic points into it (`load::Hold::Diagnosed`): when a
/// later stage's diagnostic points into a file let go, that file is read
/// again, and if it is no longer the text compiled, the whole compile runs
/// again holding every text, so that no report shows a line of another text.
pub(crate) fn compile(root: &Path) -> io::Result<Compiled> {
    let compiled = compile_holding(root, load::Hold::Diagnosed)?;
    if compiled.repo.restore_texts(&compiled.diagnostics) {
        return Ok(compiled);
    }
    compile_holding(root, load::Hold::All)
}

fn compile_holding(root: &Path, hold: load::Hold) -> io::Result<Compiled> {
    let mut timer = StageTimer::from_env();
    let mut diagnostics = Diagnostics::default();
    let repo = load::load(root, hold, &mut diagnostics)?;
    timer.lap("load");
    let model = validate::validate(&repo, &mut diagnostics);
    repo.read_failure()?;
    timer.lap("parse+validate");
    keystore::check_model(&repo.root, &model, &mut diagnostics)?;
    crate::bimi_logos::check_model(&repo.root, &model, &mut diagnostics)?;
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

/// What the compile cache knows of the folders under `generated/` (see
/// `generated_dir::Listed`; nothing after a full compile): a build or a plan
/// after an incremental compile does not list the tenants' folders whose
/// stat is the recorded one.
/// With `MAILOPS_TIMINGS`, says how many of those folders it knows.
pub(crate) fn listed(compiled: &Compiled) -> generated_dir::Listed {
    let Some(known) = &compiled.known else {
        return generated_dir::Listed::default();
    };
    let listed = known.listed(&compiled.model);
    if timing::enabled() {
        eprintln!(
            "timing: generated: {} of {} tenant folders known from the cache",
            listed.folders.len(),
            generated_dir::TenantFolders::names(compiled.model.platform.aws.dns_shards).len()
        );
    }
    listed
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
/// tenants, a part per core at a time (an incremental compile emits few
/// files: all at once).
pub(crate) fn build(root: &Path, compiled: &Compiled) -> io::Result<(Built, Option<String>)> {
    if compiled.known.is_some() {
        let mut timer = StageTimer::from_env();
        let artifacts = emit(compiled);
        timer.lap("emit");
        let mut changes = generated_dir::write_changed(root, &artifacts)?;
        timer.lap("write");
        let listed = listed(compiled);
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
    let parts: Vec<&[&crate::model::Domain]> = domains.chunks(TENANTS_PER_PART).collect();
    // One part per core at a time: each worker emits a part, writes what
    // changed and lets it go before it takes the next.
    for written in emit_parts(root, model, &parts) {
        let (written, paths) = written?;
        changes.added.extend(written.added);
        changes.changed.extend(written.changed);
        produced.extend(paths);
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

/// Emit the tenants' files of each part (a slice of domains), write those
/// that changed, and let them go, on every core, a part per core at a time:
/// per part, in part order, what was written and every path produced.
fn emit_parts(
    root: &Path,
    model: &crate::model::Model,
    parts: &[&[&crate::model::Domain]],
) -> Vec<io::Result<(generated_dir::FileChanges, Vec<String>)>> {
    let one = |part: &[&crate::model::Domain]| {
        let mut artifacts = Artifacts::default();
        emit::emit_tenants(model, part.iter().copied(), &mut artifacts);
        let written = generated_dir::write_changed(root, &artifacts)?;
        let paths: Vec<String> = artifacts.paths().map(str::to_string).collect();
        Ok((written, paths))
    };
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .min(parts.len());
    if threads <= 1 {
        return parts.iter().map(|part| one(part)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((0..parts.len()).map(|_| None).collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(part) = parts.get(i) else { break };
                    let result = one(part);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every part was emitted"))
        .collect()
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

#[cfg(test)]
mod tests {
    use crate::emit::test_repo::{platform, tenant};

    const A: &str = "tenants/a.example.toml";

    /// a.example and b.example, valid each on its own; a.example's alias
    /// `x` forwards to `nobody@b.example`, which does not exist: the graph
    /// stage reports it at a line of a.example's file, whose own
    /// validation found nothing (so its text was let go after it was parsed).
    fn dangling_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mailops.toml"), platform("")).unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        let a = format!(
            "{}\n[[alias]]\naddress = \"x\"\nto = [\"nobody@b.example\"]\n",
            tenant("a.example", "dkim", 1, "A", "Ann")
        );
        std::fs::write(dir.path().join(A), a).unwrap();
        let b = tenant("b.example", "dkim", 1, "B", "Bo");
        std::fs::write(dir.path().join("tenants/b.example.toml"), b).unwrap();
        dir
    }

    /// The line (1-based) of `needle` in a file.
    fn line_of(path: &std::path::Path, needle: &str) -> usize {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    /// The JSON report's (file, line) of every diagnostic.
    fn places(compiled: &super::Compiled) -> Vec<(String, u64)> {
        let json = compiled.diagnostics.render_json(&compiled.repo.sources);
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let file = d["file"].as_str().unwrap_or_default().to_string();
                (file, d["line"].as_u64().unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn a_later_diagnostic_in_a_file_let_go_shows_its_line_read_again() {
        let dir = dangling_repo();
        let compiled = super::compile(dir.path()).unwrap();
        let line = line_of(&dir.path().join(A), "nobody@b.example") as u64;
        assert_eq!(places(&compiled), vec![(A.to_string(), line)]);
        let shown = compiled
            .diagnostics
            .render_human(&compiled.repo.sources, false);
        assert!(shown.contains("to = [\"nobody@b.example\"]"), "{shown}");
        // Held: the file a diagnostic points into; not held: the other.
        let held: Vec<(&str, bool)> = compiled
            .repo
            .tenants
            .iter()
            .map(|&id| {
                let file = compiled.repo.sources.file(id);
                (file.name.as_str(), file.is_held())
            })
            .collect();
        assert_eq!(held, vec![(A, true), ("tenants/b.example.toml", false)]);
    }

    #[test]
    fn a_file_changed_after_it_was_parsed_is_not_shown_as_the_text_compiled() {
        let dir = dangling_repo();
        let compiled = super::compile_holding(dir.path(), crate::load::Hold::Diagnosed).unwrap();
        assert!(!compiled.diagnostics.is_empty());
        // Lines put before the alias after the compile read the file: its
        // offsets would point at other lines of the text on disk now.
        let path = dir.path().join(A);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("# a comment\n# another\n{text}")).unwrap();
        assert!(!compiled.repo.restore_texts(&compiled.diagnostics));
        // The whole compile then runs again, on the text on disk now.
        let again = super::compile(dir.path()).unwrap();
        let line = line_of(&path, "nobody@b.example") as u64;
        assert_eq!(places(&again), vec![(A.to_string(), line)]);
    }

    #[test]
    fn parts_emitted_on_every_core_write_what_one_part_writes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mailops.toml"), platform("")).unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        let names = [
            "a.example",
            "b.example",
            "c.example",
            "d.example",
            "e.example",
        ];
        for (i, name) in names.iter().enumerate() {
            let text = tenant(name, "dkim", i + 1, "T", "Tess");
            std::fs::write(dir.path().join(format!("tenants/{name}.toml")), text).unwrap();
        }
        let compiled = super::compile(dir.path()).unwrap();
        assert!(
            compiled.diagnostics.is_empty(),
            "{:?}",
            compiled.diagnostics
        );
        let domains: Vec<&crate::model::Domain> = compiled.model.domains.values().collect();
        // One tenant a part, so that the parts go to more than one core.
        let parts: Vec<&[&crate::model::Domain]> = domains.chunks(1).collect();
        let results = super::emit_parts(dir.path(), &compiled.model, &parts);
        assert_eq!(results.len(), names.len());
        let mut whole = crate::emit::Artifacts::default();
        crate::emit::emit_tenants(&compiled.model, domains.iter().copied(), &mut whole);
        let mut produced = Vec::new();
        for (result, name) in results.into_iter().zip(names) {
            let (written, paths) = result.unwrap();
            // Results in part order: each part's paths name its tenant.
            assert!(paths.iter().all(|p| p.contains(name)), "{name}: {paths:?}");
            assert_eq!(written.added.len(), paths.len());
            produced.extend(paths);
        }
        let mut expected: Vec<&str> = whole.paths().collect();
        expected.sort_unstable();
        produced.sort_unstable();
        assert_eq!(produced, expected);
        for (path, contents) in whole.iter() {
            let on_disk = std::fs::read_to_string(dir.path().join("generated").join(path)).unwrap();
            assert_eq!(on_disk, contents, "{path}");
        }
    }

    #[test]
    fn holding_every_text_holds_every_text() {
        let dir = dangling_repo();
        let compiled = super::compile_holding(dir.path(), crate::load::Hold::All).unwrap();
        for &id in &compiled.repo.tenants {
            assert!(compiled.repo.sources.file(id).is_held());
        }
        // A file read when parsed records the hash of what it read.
        let id = compiled.repo.tenants[1];
        let file = compiled.repo.sources.file(id);
        let on_disk = std::fs::read(dir.path().join("tenants/b.example.toml")).unwrap();
        assert_eq!(
            file.read_as().map(|(hash, _)| *hash),
            Some(crate::source::hash(&on_disk))
        );
        assert_eq!(file.text().as_bytes(), on_disk);
    }
}
