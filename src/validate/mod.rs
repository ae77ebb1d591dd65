//! Validate stage: raw structs → the normalised `Model`, with every rule checked.
//!
//! Each rule lives in a small module of pure functions (`domain`, `address`,
//! `password`, `quota`, `dkim`, `dmarc`, `spf`, `text`); `tenant` and
//! `platform` apply them to a file and turn problems into diagnostics from
//! the `diags` catalogue. Cross-file rules (duplicate domains) are here.

pub(crate) mod address;
pub(crate) mod diags;
pub(crate) mod dkim;
pub(crate) mod dmarc;
pub(crate) mod domain;
pub(crate) mod password;
pub(crate) mod platform;
pub(crate) mod quota;
pub(crate) mod records;
pub(crate) mod relay;
pub(crate) mod secret;
pub(crate) mod spf;
pub(crate) mod tenant;
pub(crate) mod text;

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::load::LoadedRepo;
use crate::model::Model;
use crate::source::{FileId, Location};
use crate::span::Sp;

/// Parse and validate every file; the model holds what could be built.
///
/// Tenant files are parsed and turned into domains file by file on every
/// core; a million raw values never exist at once.
pub(crate) fn validate(repo: &LoadedRepo, diagnostics: &mut Diagnostics) -> Model {
    let raw_platform = crate::parse::parse_platform(repo, diagnostics);
    let platform = platform::build_platform(raw_platform.as_ref(), diagnostics);
    crate::progress::stage(
        &format!("parsing and checking {} tenant files", repo.tenants.len()),
        Some(repo.tenants.len()),
    );
    let built = crate::parallel::map_chunks(&repo.tenants, |ids| {
        let mut local = Diagnostics::default();
        let mut reader = crate::load::Reader::default();
        let domains: Vec<crate::model::Domain> = ids
            .iter()
            .filter_map(|&file| {
                repo.with_tenant_text(file, &mut reader, &mut local, |text, local| {
                    let raw = crate::parse::parse_tenant(text, file, local)?;
                    let input = tenant::TenantInput {
                        file,
                        file_name: &repo.sources.file(file).name,
                        stem: &repo.tenant_stem(file),
                        raw: &raw,
                    };
                    let domain = tenant::build_domain(&input, &platform, local);
                    crate::progress::step();
                    Some(domain)
                })
            })
            .collect();
        (domains, local)
    });
    crate::progress::finish();
    let mut domains = BTreeMap::new();
    for (chunk, local) in built {
        diagnostics.extend(local);
        for domain in chunk {
            add_domain(&mut domains, domain, diagnostics);
        }
    }
    Model { platform, domains }
}

/// Add a domain unless another file declared it already (in file order).
fn add_domain(
    domains: &mut BTreeMap<String, crate::model::Domain>,
    domain: crate::model::Domain,
    diagnostics: &mut Diagnostics,
) {
    {
        match domains.get(&domain.name) {
            Some(first) => {
                let first: &crate::model::Domain = first;
                diagnostics.push(diags::duplicate_domain(
                    domain.origin.clone(),
                    first.origin.clone(),
                    &domain.name,
                    &domain.unicode,
                ));
            }
            None => {
                domains.insert(domain.name.clone(), domain);
            }
        }
    }
}

/// Per-file helper: locations and the character checks every value goes through.
pub(crate) struct Checker<'d> {
    file: FileId,
    diagnostics: &'d mut Diagnostics,
}

impl<'d> Checker<'d> {
    pub(crate) fn new(file: FileId, diagnostics: &'d mut Diagnostics) -> Self {
        Checker { file, diagnostics }
    }

    pub(crate) fn file(&self) -> FileId {
        self.file
    }

    pub(crate) fn loc<T>(&self, value: &Sp<T>) -> Location {
        Location::new(self.file, value.span())
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Keep this value's text out of every rendered snippet.
    pub(crate) fn mark_secret(&mut self, loc: Location) {
        self.diagnostics.mark_secret(loc);
    }

    /// Keep exactly these bytes out of every rendered snippet.
    pub(crate) fn mark_secret_exact(&mut self, loc: Location) {
        self.diagnostics.mark_secret_exact(loc);
    }

    /// A warning when a (valid) domain mixes scripts in a label (UTS #39).
    pub(crate) fn check_script<S>(&mut self, value: &Sp<S>, what: &str, name: &domain::DomainName) {
        if domain::mixes_scripts(&name.unicode) {
            self.push(diags::mixed_script(
                self.loc(value),
                what,
                &name.unicode,
                &name.ascii,
            ));
        }
    }

    /// A structured value: refused (with a diagnostic) if it holds a quote,
    /// backslash, control or invisible character, `@@`, or is too long.
    pub(crate) fn structured<'v, S: AsRef<str>>(
        &mut self,
        value: &'v Sp<S>,
        what: &str,
    ) -> Option<&'v str> {
        let text = value.value.as_ref();
        match text::check_structured(text) {
            Err(problem) => {
                self.push(diags::text_problem(self.loc(value), what, &problem, false));
                None
            }
            Ok(()) => Some(text),
        }
    }

    /// Like [`Checker::structured`], but the caller reports the problem (for
    /// values such as passwords whose text must not be echoed).
    pub(crate) fn structured_quiet<'v, S: AsRef<str>>(&self, value: &'v Sp<S>) -> Option<&'v str> {
        let text = value.value.as_ref();
        text::check_structured(text).is_ok().then_some(text)
    }

    /// Free text: quotes and newlines allowed; other controls, invisible
    /// characters and `@@` refused; at most `text::MAX_FREE_TEXT_CHARS`.
    pub(crate) fn free_text<S: AsRef<str>>(&mut self, value: &Sp<S>, what: &str) -> Option<String> {
        let text = value.value.as_ref();
        match text::check_free_text(text) {
            Err(problem) => {
                self.push(diags::text_problem(self.loc(value), what, &problem, true));
                None
            }
            Ok(()) => Some(text.to_string()),
        }
    }
}
