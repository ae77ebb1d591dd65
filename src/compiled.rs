//! What the front half of the compiler gives: the loaded repo, the checked
//! model, the graph and every diagnostic — after a full compile, or after an
//! incremental one, whose model holds only the domains it parsed and whose
//! `known` summarises the rest (see `incremental`).

use crate::db::desired::Summarised;
use crate::diagnostic::Diagnostics;
use crate::graph::Graph;
use crate::incremental::Known;
use crate::load::LoadedRepo;
use crate::model::Model;

/// Everything the front half produced, including its diagnostics.
pub(crate) struct Compiled {
    pub(crate) repo: LoadedRepo,
    pub(crate) model: Model,
    pub(crate) graph: Graph,
    pub(crate) diagnostics: Diagnostics,
    /// An incremental compile: the model holds only the domains it parsed,
    /// this knows the rest.
    pub(crate) known: Option<Known>,
}

impl Compiled {
    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// The domains held only as summaries (none after a full compile).
    pub(crate) fn summarised(&self) -> Option<&dyn Summarised> {
        self.known.as_ref().map(|k| k as &dyn Summarised)
    }
}
