//! The front half of the compiler as one call: load → parse and validate
//! (fused per file) → key store → graph.

use std::io;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::graph::{self, Graph};
use crate::incremental::{self, Known};
use crate::keystore;
use crate::load::{self, LoadedRepo};
use crate::model::Model;
use crate::validate;

/// Everything the front half produced, including its diagnostics.
pub(crate) struct Compiled {
    pub(crate) repo: LoadedRepo,
    pub(crate) model: Model,
    pub(crate) graph: Graph,
    pub(crate) diagnostics: Diagnostics,
    /// An incremental compile: the model holds only the domains it parsed,
    /// this knows the rest (see `incremental`).
    pub(crate) known: Option<Known>,
}

impl Compiled {
    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }
}

/// Run every stage on the mail repo at `root`. Only I/O failures are errors;
/// problems in the files are diagnostics.
pub(crate) fn compile(root: &Path) -> io::Result<Compiled> {
    let mut timer = StageTimer::from_env();
    let mut diagnostics = Diagnostics::default();
    let repo = load::load(root, &mut diagnostics)?;
    timer.lap("load");
    let model = validate::validate(&repo, &mut diagnostics);
    timer.lap("parse+validate");
    keystore::check_model(&repo.root, &model, &mut diagnostics)?;
    timer.lap("keystore");
    let removed = removed_domains(root, |domain| model.domains.contains_key(domain));
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

/// The domains the previous compile produced (each has
/// `generated/terraform/dns_<domain>.tf`) that are not `declared` now. Only
/// file names are read, through `fsutil::Beneath`: a linked `generated/` or
/// `generated/terraform` is not followed (then nothing was compiled before).
pub(crate) fn removed_domains(
    root: &Path,
    declared: impl Fn(&str) -> bool,
) -> std::collections::BTreeSet<String> {
    let mut removed = std::collections::BTreeSet::new();
    let Ok(entries) = crate::fsutil::Beneath::open(root)
        .and_then(|repo| {
            repo.dir(&Path::new(crate::generated_dir::GENERATED_DIR).join("terraform"))
        })
        .and_then(|dir| dir.entries())
    else {
        return removed;
    };
    for entry in entries {
        let name = entry.name;
        let Some(domain) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dns_"))
            .and_then(|n| n.strip_suffix(".tf"))
        else {
            continue;
        };
        if !declared(domain) {
            removed.insert(domain.to_string());
        }
    }
    removed
}

/// Like [`compile`], from the compile cache when it can be used (see
/// `incremental`): the model then holds only the domains that had to be
/// parsed. With `MAILOPS_TIMINGS`, says which it was.
pub(crate) fn compile_cached(root: &Path) -> io::Result<Compiled> {
    let timings = std::env::var_os("MAILOPS_TIMINGS").is_some();
    let started = std::time::Instant::now();
    match incremental::try_compile(root)? {
        Ok(compiled) => {
            if timings {
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
            if timings {
                eprintln!("timing: compile: full ({reason})");
            }
            compile(root)
        }
    }
}

/// The compiled model and every artifact of it.
pub(crate) struct Emitted {
    pub(crate) compiled: Compiled,
    pub(crate) artifacts: crate::emit::Artifacts,
    /// Old contents of generated files the emit read (path under
    /// `generated/` → bytes), so that they are not read again.
    pub(crate) read: std::collections::BTreeMap<String, Vec<u8>>,
}

/// Emit every artifact of a compile without errors. After an incremental
/// compile whose SQL text cannot be spliced from the files on disk, compile
/// fully first (and report what that compile finds, which is nothing new).
pub(crate) fn emit(root: &Path, compiled: Compiled) -> io::Result<Emitted> {
    if let Some(known) = &compiled.known {
        if let Some(artifacts) = incremental::emit(root, &compiled.model, known)? {
            return Ok(Emitted {
                compiled,
                artifacts,
                read: Default::default(),
            });
        }
        if std::env::var_os("MAILOPS_TIMINGS").is_some() {
            eprintln!("timing: compile: full (generated/sql/ is not as recorded)");
        }
        let compiled = compile(root)?;
        crate::commands::report_compiled(&compiled);
        if compiled.has_errors() {
            return Err(io::Error::other(
                "the full compile found the problems above",
            ));
        }
        return Ok(Emitted {
            artifacts: crate::emit::emit(&compiled.model),
            compiled,
            read: Default::default(),
        });
    }
    Ok(Emitted {
        artifacts: crate::emit::emit(&compiled.model),
        compiled,
        read: Default::default(),
    })
}

/// Stage timings on stderr when `MAILOPS_TIMINGS` is set (for benchmarks).
pub(crate) struct StageTimer {
    last: Option<std::time::Instant>,
}

impl StageTimer {
    pub(crate) fn from_env() -> Self {
        StageTimer {
            last: std::env::var_os("MAILOPS_TIMINGS").map(|_| std::time::Instant::now()),
        }
    }

    pub(crate) fn lap(&mut self, stage: &str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            eprintln!("timing: {stage:<14} {:>8.3} s", (now - last).as_secs_f64());
            self.last = Some(now);
        }
    }
}
