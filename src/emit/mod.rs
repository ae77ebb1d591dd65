//! Emit stage: the checked model → every generated file, as a sorted map of
//! relative path (under `generated/`) → contents.
//!
//! One module per target. Each renders tera templates embedded in the binary
//! (`templates/`), with every value escaped by the Rust filters registered in
//! `filters`. Output is a pure function of the model: byte-for-byte stable,
//! `\n` line endings, sorted wherever order is not meaningful.

pub(crate) mod cloud_init;
pub(crate) mod conf;
pub(crate) mod dovecot;
pub(crate) mod filters;
pub(crate) mod hcl;
pub(crate) mod hcl_format;
pub(crate) mod header;
pub(crate) mod mail_host;
#[cfg(test)]
mod mail_host_properties;
pub(crate) mod mysql_quote;
pub(crate) mod postfix;
pub(crate) mod route53;
pub(crate) mod rspamd;
pub(crate) mod shell;
pub(crate) mod sql;
pub(crate) mod sql_literal;
pub(crate) mod terraform;
#[cfg(test)]
pub(crate) mod test_repo;
pub(crate) mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Model;

/// The generated files: path relative to `generated/` → contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Artifacts {
    files: BTreeMap<String, String>,
    /// Files produced but not written out here: an incremental compile
    /// knows they hold on disk exactly what a full compile would produce
    /// (see `incremental`), so they are neither compared nor written.
    unchanged: BTreeSet<String>,
    /// Files given as edits of the file on disk (which an incremental
    /// compile knows): the SQL files, where a one-tenant change touches a
    /// few hundred bytes of hundreds of megabytes.
    spliced: BTreeMap<String, sql::Splice>,
    /// Where each tenant's text lies in the SQL files (set by `sql::emit`
    /// and `sql::splice`), for the incremental compile's cache.
    pub(crate) sql_layout: Option<sql::Layout>,
}

impl Artifacts {
    /// Add a file; a path may be produced only once.
    pub(crate) fn add(&mut self, path: impl Into<String>, contents: String) {
        let path = path.into();
        debug_assert!(
            contents.is_empty() || contents.ends_with('\n'),
            "{path} ends without a newline"
        );
        let previous = self.files.insert(path.clone(), contents);
        assert!(previous.is_none(), "{path} emitted twice");
    }

    /// Produce a file that is already on disk as it should be.
    pub(crate) fn add_unchanged(&mut self, path: impl Into<String>) {
        let path = path.into();
        assert!(!self.files.contains_key(&path), "{path} emitted twice");
        assert!(self.unchanged.insert(path.clone()), "{path} emitted twice");
    }

    /// The contents of a file, `None` when it is not produced or is one of
    /// the files known unchanged on disk.
    pub(crate) fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Whether the file is one known unchanged on disk.
    pub(crate) fn is_unchanged(&self, path: &str) -> bool {
        self.unchanged.contains(path)
    }

    /// Produce a file as edits of the file on disk.
    pub(crate) fn add_spliced(&mut self, path: impl Into<String>, splice: sql::Splice) {
        let path = path.into();
        assert!(!self.files.contains_key(&path), "{path} emitted twice");
        assert!(
            self.spliced.insert(path.clone(), splice).is_none(),
            "{path} emitted twice"
        );
    }

    /// The files given as edits of the file on disk.
    pub(crate) fn spliced(&self) -> impl Iterator<Item = (&str, &sql::Splice)> {
        self.spliced.iter().map(|(p, s)| (p.as_str(), s))
    }

    /// Whether the file is produced (with contents, as edits, or known unchanged).
    pub(crate) fn produces(&self, path: &str) -> bool {
        self.files.contains_key(path)
            || self.unchanged.contains(path)
            || self.spliced.contains_key(path)
    }

    /// The files with contents (not those known unchanged).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    /// Every file produced.
    pub(crate) fn len(&self) -> usize {
        self.files.len() + self.unchanged.len() + self.spliced.len()
    }

    #[cfg(test)]
    pub(crate) fn into_map(self) -> BTreeMap<String, String> {
        self.files
    }
}

/// Every artifact of the platform.
pub(crate) fn emit(model: &Model) -> Artifacts {
    let mut out = emit_platform(model);
    terraform::emit_dns(model, &mut out);
    // Rows, not configs: no other file depends on them.
    sql::emit(model, &mut out);
    out
}

/// The artifacts that depend on the platform only (not on any tenant).
pub(crate) fn emit_platform(model: &Model) -> Artifacts {
    let mut out = Artifacts::default();
    out.add("README.md", header::readme());
    terraform::emit_main(&model.platform, &mut out);
    // Mail-server configs depend on the platform only (tenants are rows).
    postfix::emit(&model.platform, &mut out);
    dovecot::emit(&model.platform, &mut out);
    rspamd::emit(&model.platform, &mut out);
    // Last: it embeds the files above.
    cloud_init::emit(&model.platform, &mut out);
    out
}

/// A tera engine with the given templates and every filter registered.
pub(crate) fn engine(templates: &[(&str, &str)]) -> tera::Tera {
    let mut tera = tera::Tera::default();
    // Escaping is explicit, per format, through the filters.
    tera.autoescape_on(vec![]);
    tera.add_raw_templates(templates.to_vec())
        .unwrap_or_else(|e| panic!("embedded templates parse: {e:?}"));
    filters::register(&mut tera);
    tera
}

/// Render an embedded template; a failure is a bug in mailops, not user input.
pub(crate) fn render(tera: &tera::Tera, name: &str, context: &tera::Context) -> String {
    match tera.render(name, context) {
        Ok(text) => text,
        Err(error) => {
            let mut message = format!("{error}");
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                message.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            panic!("template {name} failed to render: {message}")
        }
    }
}
