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

use std::collections::BTreeMap;

use crate::model::Model;

/// The generated files: path relative to `generated/` → contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Artifacts {
    files: BTreeMap<String, String>,
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

    pub(crate) fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    #[cfg(test)]
    pub(crate) fn into_map(self) -> BTreeMap<String, String> {
        self.files
    }
}

/// Every artifact of the platform.
pub(crate) fn emit(model: &Model) -> Artifacts {
    let mut out = Artifacts::default();
    out.add("README.md", header::readme());
    terraform::emit(model, &mut out);
    // Mail-server configs depend on the platform only (tenants are rows).
    postfix::emit(&model.platform, &mut out);
    dovecot::emit(&model.platform, &mut out);
    rspamd::emit(&model.platform, &mut out);
    // Last: it embeds the files above.
    cloud_init::emit(&model.platform, &mut out);
    // Rows, not configs: no other file depends on them.
    sql::emit(model, &mut out);
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
