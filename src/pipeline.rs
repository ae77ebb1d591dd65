//! The front half of the compiler as one call: load → parse → validate → key store → graph.

use std::io;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::graph::{self, Graph};
use crate::keystore;
use crate::load::{self, LoadedRepo};
use crate::model::Model;
use crate::parse;
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
    let mut diagnostics = Diagnostics::default();
    let repo = load::load(root, &mut diagnostics)?;
    let parsed = parse::parse(&repo, &mut diagnostics);
    let model = validate::validate(&repo, &parsed, &mut diagnostics);
    keystore::check_model(&repo.root, &model, &mut diagnostics)?;
    let graph = graph::build(&model, &mut diagnostics);
    Ok(Compiled {
        repo,
        model,
        graph,
        diagnostics,
    })
}
