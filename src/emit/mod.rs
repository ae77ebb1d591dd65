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
pub(crate) mod galera;
pub(crate) mod hcl;
pub(crate) mod hcl_format;
pub(crate) mod header;
pub(crate) mod mail_host;
#[cfg(test)]
mod mail_host_properties;
pub(crate) mod mysql_quote;
pub(crate) mod nginx;
pub(crate) mod postfix;
pub(crate) mod route53;
pub(crate) mod rspamd;
pub(crate) mod shell;
pub(crate) mod sql;
pub(crate) mod sql_literal;
pub(crate) mod systemd;
pub(crate) mod terraform;
pub(crate) mod terraform_moves;
#[cfg(test)]
pub(crate) mod test_repo;
pub(crate) mod yaml;

use std::collections::BTreeMap;

use crate::model::{Domain, HostIdentity, Model, Platform};

/// The generated files: every path produced (relative to `generated/`),
/// each with its contents, or known unchanged on disk as a full compile
/// would write it. An incremental compile knows the latter of the files of
/// the tenants it did not parse (see `incremental`): those are neither
/// compared nor written, and are held by the tenant's domain (its
/// `tenant_paths`), not as 30,000 paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Artifacts {
    files: BTreeMap<String, String>,
    /// The domains whose `tenant_paths` are all known unchanged.
    unchanged: rustc_hash::FxHashSet<String>,
}

impl Artifacts {
    /// Add a file; a path may be produced only once.
    pub(crate) fn add(&mut self, path: impl Into<String>, contents: String) {
        let path = path.into();
        debug_assert!(
            contents.is_empty() || contents.ends_with('\n'),
            "{path} ends without a newline"
        );
        debug_assert!(
            tenant_of(&path).is_none_or(|d| !self.unchanged.contains(d)),
            "{path} emitted twice"
        );
        match self.files.entry(path) {
            std::collections::btree_map::Entry::Occupied(entry) => {
                panic!("{} emitted twice", entry.key())
            }
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(contents);
            }
        }
    }

    /// Produce a tenant's files (`tenant_paths`) as already on disk as they
    /// should be.
    pub(crate) fn add_unchanged_tenant(&mut self, domain: &str) {
        debug_assert!(
            sql::tenant_paths(domain)
                .iter()
                .all(|p| !self.files.contains_key(p)),
            "{domain}'s files emitted twice"
        );
        assert!(
            self.unchanged.insert(domain.to_string()),
            "{domain}'s files emitted twice"
        );
    }

    /// The contents of a file, `None` when it is not produced or is one of
    /// the files known unchanged on disk.
    pub(crate) fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Whether the file is one known unchanged on disk.
    pub(crate) fn is_unchanged(&self, path: &str) -> bool {
        tenant_of(path).is_some_and(|domain| self.unchanged.contains(domain))
    }

    /// Whether the file is produced (with contents or known unchanged).
    pub(crate) fn produces(&self, path: &str) -> bool {
        self.files.contains_key(path) || self.is_unchanged(path)
    }

    /// The files with contents (not those known unchanged).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    /// Every file produced.
    pub(crate) fn len(&self) -> usize {
        self.files.len() + self.unchanged.len() * TENANT_PATHS
    }

    /// The paths of the files with contents.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    #[cfg(test)]
    pub(crate) fn into_map(self) -> BTreeMap<String, String> {
        self.files
    }
}

/// How many files under `generated/` a tenant has (`tenant_paths`).
pub(crate) const TENANT_PATHS: usize = 3;

/// The files under `generated/` of one tenant, from its domain and the
/// number of DNS roots (`[aws] dns_shards`) alone.
pub(crate) fn tenant_paths(domain: &str, shards: u16) -> [String; TENANT_PATHS] {
    let [mysql, sqlite] = sql::tenant_paths(domain);
    [terraform::dns_path(domain, shards), mysql, sqlite]
}

/// The tenant a file under `generated/` belongs to, if it is one of the
/// files of `tenant_paths`.
pub(crate) fn tenant_of(path: &str) -> Option<&str> {
    let tenant = terraform::dns_file_domain(path).or_else(|| {
        sql::DIALECT_DIRS.iter().find_map(|dir| {
            path.strip_prefix(dir)?
                .strip_prefix('/')?
                .strip_suffix(".sql")
        })
    })?;
    (!tenant.is_empty() && !tenant.contains('/')).then_some(tenant)
}

/// Every artifact of the platform.
pub(crate) fn emit(model: &Model) -> Artifacts {
    let mut out = emit_platform(model);
    emit_tenants(model, model.domains.values(), &mut out);
    out
}

/// The files of these tenants (`tenant_paths`).
pub(crate) fn emit_tenants<'m>(
    model: &Model,
    domains: impl IntoIterator<Item = &'m Domain> + Clone,
    out: &mut Artifacts,
) {
    terraform::emit_dns(&model.platform, domains.clone(), out);
    // Rows, not configs: no other file depends on them.
    sql::emit_tenants(domains, out);
}

/// The artifacts that depend on the platform only (not on any tenant).
pub(crate) fn emit_platform(model: &Model) -> Artifacts {
    let mut out = Artifacts::default();
    out.add("README.md", header::readme());
    terraform::emit_main(&model.platform, &mut out);
    sql::emit_frame(&model.platform, &mut out);
    // Mail-server configs depend on the platform only (tenants are rows);
    // generated/ holds the primary host's.
    let primary = HostIdentity::primary(&model.platform);
    postfix::emit(&model.platform, &primary, &mut out);
    dovecot::emit(&model.platform, &primary, &mut out);
    galera::emit(&model.platform, &primary, &mut out);
    rspamd::emit(&model.platform, &mut out);
    systemd::emit(&model.platform, &mut out);
    nginx::emit(&model.platform, &mut out);
    // Last: it embeds the files above.
    cloud_init::emit(&model.platform, &mut out);
    out
}

/// The files that carry a host's identity (its hostname, its certificate,
/// its Galera node), rendered for `host`: Postfix's (and postsrsd's),
/// Dovecot's and, with Galera nodes, MariaDB's. For the
/// primary host they are exactly those of `emit`; `mailops install --host`
/// puts them in place of the primary's.
pub(crate) fn host_files(platform: &Platform, host: &HostIdentity) -> Artifacts {
    let mut out = Artifacts::default();
    postfix::emit(platform, host, &mut out);
    dovecot::emit(platform, host, &mut out);
    galera::emit(platform, host, &mut out);
    out
}

/// A tera engine with the given templates and every filter registered,
/// made once per process for each set of templates: a full build emits the
/// tenants' files in parts (see `pipeline::build`), and parsing the DNS
/// and SQL templates again for each of its 40 parts at 10,000 tenants cost
/// about 300 million instructions (callgrind: 7.5 million a part).
pub(crate) fn engine(templates: &[(&'static str, &'static str)]) -> std::sync::Arc<tera::Tera> {
    type Engines = Vec<(
        Vec<(&'static str, &'static str)>,
        std::sync::Arc<tera::Tera>,
    )>;
    static ENGINES: std::sync::Mutex<Engines> = std::sync::Mutex::new(Vec::new());
    let mut engines = ENGINES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, tera)) = engines
        .iter()
        .find(|(made, _)| made.as_slice() == templates)
    {
        return tera.clone();
    }
    let tera = std::sync::Arc::new(new_engine(templates));
    engines.push((templates.to_vec(), tera.clone()));
    tera
}

fn new_engine(templates: &[(&str, &str)]) -> tera::Tera {
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

#[cfg(test)]
mod engine_tests {
    #[test]
    fn each_set_of_templates_is_parsed_once_and_renders_as_made() {
        const ONE: [(&str, &str); 1] = [("one", "one {{ x }}")];
        const TWO: [(&str, &str); 1] = [("two", "two {{ x }}")];
        let first = super::engine(&ONE);
        let again = super::engine(&ONE);
        let other = super::engine(&TWO);
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        assert!(!std::sync::Arc::ptr_eq(&first, &other));
        let mut context = tera::Context::new();
        context.insert("x", "1");
        assert_eq!(super::render(&again, "one", &context), "one 1");
        assert_eq!(super::render(&other, "two", &context), "two 1");
    }
}
