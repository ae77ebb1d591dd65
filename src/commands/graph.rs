//! `mailops graph [--format mermaid|dot|json] [--changed-from REF]`: a picture
//! of the tenants and the forwarding between them (see `graph::picture`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::GraphFormat;
use crate::commands::{EXIT_OK, Result, validate};
use crate::error::Error;
use crate::graph::picture::Picture;
use crate::model::{Domain, Model};
use crate::pipeline;

pub(crate) fn run(dir: &Path, format: GraphFormat, changed_from: Option<&str>) -> Result<ExitCode> {
    // Every tenant parsed: a cached compile leaves unchanged tenants out of the model.
    let compiled = pipeline::compile(dir)?;
    validate::report(&compiled);
    if compiled.has_errors() {
        return Err(Error::user("no graph: fix the problems above first"));
    }
    let model = compiled.model;
    let focus = match changed_from {
        Some(name) => Some(changed_since(dir, name, &model)?),
        None => None,
    };
    let picture = Picture::of(&model, focus.as_ref());
    match format {
        GraphFormat::Mermaid => print!("{}", picture.mermaid()),
        GraphFormat::Dot => print!("{}", picture.dot()),
        GraphFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&picture.json()).expect("a picture serialises")
        ),
    }
    Ok(EXIT_OK)
}

/// The tenants added, or whose mailboxes or aliases differ, since revision `name`.
fn changed_since(dir: &Path, name: &str, model: &Model) -> Result<BTreeSet<String>> {
    let base = super::read_base(dir, name, "no graph")?;
    let before = match &base.compiled {
        Some(compiled) if compiled.has_errors() => {
            return Err(Error::user(format!(
                "no graph: {} does not compile (run `mailops validate` on a checkout of it)",
                base.shown()
            )));
        }
        Some(compiled) => Some(&compiled.model),
        None => None,
    };
    Ok(model
        .domains
        .values()
        .filter(|domain| {
            before
                .and_then(|b| b.domains.get(&domain.name))
                .is_none_or(|old| flow(old) != flow(domain))
        })
        .map(|domain| domain.name.clone())
        .collect())
}

/// What of a tenant the picture shows: its mailboxes and where its aliases lead.
fn flow(domain: &Domain) -> (Vec<&str>, Vec<(&str, Vec<&str>)>) {
    (
        domain.mailboxes.values().map(|m| &*m.address).collect(),
        domain
            .aliases
            .values()
            .map(|a| {
                (
                    a.source.as_str(),
                    a.destinations.iter().map(|d| d.address.as_str()).collect(),
                )
            })
            .collect(),
    )
}
