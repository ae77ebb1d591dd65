//! Validate stage: raw structs → the normalised `Model`, with every rule checked.
//!
//! Each rule lives in a small module of pure functions (`domain`, `address`,
//! `password`, `quota`, `dkim`, `dmarc`, `spf`, `text`); `tenant` and
//! `platform` apply them to a file and turn problems into diagnostics from
//! the `diags` catalogue. Cross-file rules (duplicate domains) are here.

pub(crate) mod address;
pub(crate) mod bimi;
pub(crate) mod diags;
pub(crate) mod dkim;
pub(crate) mod dmarc;
pub(crate) mod domain;
pub(crate) mod mta_sts;
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
    check_alias_domains(&mut domains, diagnostics);
    let alias_domains = domains
        .values()
        .flat_map(|d| {
            d.alias_domains
                .iter()
                .map(|a| (a.name.clone(), d.name.clone()))
        })
        .collect();
    Model {
        platform,
        domains,
        alias_domains,
    }
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

/// Alias domains across files: none is a tenant's domain, none is listed by
/// two tenants (the first in domain order keeps it). An entry refused here
/// is dropped from its tenant, so later stages never see two owners.
fn check_alias_domains(
    domains: &mut BTreeMap<String, crate::model::Domain>,
    diagnostics: &mut Diagnostics,
) {
    let mut owner: BTreeMap<String, (String, Location)> = BTreeMap::new();
    let mut refused: Vec<(String, String)> = Vec::new();
    for domain in domains.values() {
        for alias in &domain.alias_domains {
            if let Some(tenant) = domains.get(&alias.name) {
                diagnostics.push(diags::alias_domain_is_tenant(
                    alias.origin.clone(),
                    tenant.origin.clone(),
                    &alias.name,
                    &alias.unicode,
                ));
                refused.push((domain.name.clone(), alias.name.clone()));
                continue;
            }
            match owner.get(&alias.name) {
                Some((first_tenant, first)) => {
                    diagnostics.push(diags::duplicate_alias_domain(
                        alias.origin.clone(),
                        first.clone(),
                        &alias.name,
                        &alias.unicode,
                        Some(first_tenant),
                    ));
                    refused.push((domain.name.clone(), alias.name.clone()));
                }
                None => {
                    owner.insert(
                        alias.name.clone(),
                        (domain.name.clone(), alias.origin.clone()),
                    );
                }
            }
        }
    }
    for (tenant, alias) in refused {
        if let Some(domain) = domains.get_mut(&tenant) {
            domain.alias_domains.retain(|a| a.name != alias);
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
