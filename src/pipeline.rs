//! The front half of the compiler as one call: load → parse and validate
//! (fused per file) → key store → graph.

use std::io;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::graph::{self, Graph};
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
    let graph = graph::build(&model, &mut diagnostics);
    timer.lap("graph");
    Ok(Compiled {
        repo,
        model,
        graph,
        diagnostics,
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
