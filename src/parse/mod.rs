//! Parse stage: TOML text → typed raw structs, every value with its span.
//!
//! Per file: TOML syntax (all recoverable errors), then serde into the raw
//! types; when serde refuses the document (it stops at its first problem),
//! the shape check finds all of them (unknown keys, types, missing keys). The
//! shape check is derived from the very types serde fills, so a document
//! serde accepts has no shape problem: a million valid mailboxes are not
//! walked twice (debug builds check that the two agree). A file with
//! problems yields no raw struct, but every other file is still parsed so
//! that one run reports everything.

pub(crate) mod diags;
mod fast;
pub(crate) mod platform;
pub(crate) mod raw_str;
pub(crate) mod shape;
pub(crate) mod tenant;

use std::sync::OnceLock;

use serde::Deserialize;
use toml::de::DeTable;

use crate::diagnostic::Diagnostics;
use crate::load::LoadedRepo;
use crate::source::{FileId, Location};
use platform::RawPlatform;
use shape::Shape;
use tenant::RawTenant;

pub(crate) fn tenant_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawTenant<'static>)).expect("schema serializes")
}

pub(crate) fn platform_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawPlatform)).expect("schema serializes")
}

fn tenant_shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| Shape::new(tenant_schema()))
}

fn platform_shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| Shape::new(platform_schema()))
}

/// The platform file, when the repo has one and it parses.
pub(crate) fn parse_platform(
    repo: &LoadedRepo,
    diagnostics: &mut Diagnostics,
) -> Option<(FileId, RawPlatform)> {
    let id = repo.platform?;
    parse_text(
        repo.sources.file(id).text(),
        id,
        platform_shape(),
        diagnostics,
    )
    .map(|raw| (id, raw))
}

/// One tenant file, `text` being that of file `id`. The validate stage
/// calls this per file on its worker threads (with the text it read, see
/// `load::LoadedRepo::with_tenant_text`), so that each raw struct is dropped
/// as soon as its domain is built. Its mailbox and alias strings are
/// borrowed from the text.
pub(crate) fn parse_tenant<'s>(
    text: &'s str,
    id: FileId,
    diagnostics: &mut Diagnostics,
) -> Option<RawTenant<'s>> {
    // Most tenant files: serde straight from the fast path's tree (see
    // `fast::deserialize`); the others as any file.
    if let Some(raw) = fast::deserialize::<RawTenant<'s>>(text) {
        debug_assert_same_tenant(text, &raw);
        debug_assert_shape_accepts(text, id, tenant_shape());
        return Some(raw);
    }
    parse_text(text, id, tenant_shape(), diagnostics)
}

/// In debug builds: a tenant file the fast path deserialized is, span for
/// span, the raw tenant the `toml` crate's parser and deserializer make.
fn debug_assert_same_tenant(text: &str, raw: &RawTenant<'_>) {
    if cfg!(debug_assertions) {
        let doc = DeTable::parse(text).expect("the toml crate reads what the fast path read");
        let expected = RawTenant::deserialize(toml::de::Deserializer::from(doc))
            .expect("the toml crate deserializes what the fast path deserialized");
        assert_eq!(format!("{raw:?}"), format!("{expected:?}"), "{text}");
    }
}

/// Parse the text of file `id` into `T`; `None` (with diagnostics) when it has problems.
pub(crate) fn parse_text<'s, T: Deserialize<'s>>(
    text: &'s str,
    id: FileId,
    shape: &Shape,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    // Most files are in the subset the fast path reads (`fast`); a file
    // that is not, or that serde refuses, is parsed again below by the
    // `toml` crate, whose errors are the diagnostics.
    if let Some(doc) = fast::parse(text)
        && let Ok(value) = T::deserialize(toml::de::Deserializer::from(doc))
    {
        debug_assert_shape_accepts(text, id, shape);
        return Some(value);
    }
    let (doc, errors) = DeTable::parse_recoverable(text);
    // After a syntax error the parser's recovery mostly finds errors that
    // follow from it (one unclosed array gives a dozen), so only the first
    // in the file is reported.
    let later = errors.len().saturating_sub(1);
    if let Some(first) = errors
        .into_iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start))
    {
        let span = first.span().unwrap_or(0..0);
        diagnostics.push(diags::syntax(
            Location::new(id, span),
            first.message(),
            later,
        ));
        return None;
    }
    let deserializer = toml::de::Deserializer::from(doc);
    match T::deserialize(deserializer) {
        Ok(value) => {
            debug_assert_shape_accepts(text, id, shape);
            Some(value)
        }
        Err(error) => {
            // Every problem of the document, not serde's first: the shape
            // check walks it (parsed again: serde took it, and refusals are
            // rare). serde's own words only for what the shape check cannot
            // see (a value out of its type's range, say).
            let (doc, _) = DeTable::parse_recoverable(text);
            let before = diagnostics.count(crate::diagnostic::Severity::Error);
            shape.check_document(&doc, id, diagnostics);
            if diagnostics.count(crate::diagnostic::Severity::Error) == before {
                let span = error.span().unwrap_or(0..0);
                diagnostics.push(diags::invalid_value(
                    Location::new(id, span),
                    error.message(),
                ));
            }
            None
        }
    }
}

/// In debug builds (the tests, the fuzz corpora they replay): a document
/// serde accepted has no shape problem, as the parse stage relies on.
fn debug_assert_shape_accepts(text: &str, id: FileId, shape: &Shape) {
    if cfg!(debug_assertions) {
        let (doc, _) = DeTable::parse_recoverable(text);
        let mut found = Diagnostics::default();
        shape.check_document(&doc, id, &mut found);
        assert!(
            found.is_empty(),
            "serde accepted a document the shape check refuses: {found:?}"
        );
    }
}
