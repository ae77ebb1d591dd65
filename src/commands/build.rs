//! `mailops build` writes `generated/`; `mailops check` fails when it is not current.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::validate::report;
use crate::commands::warn;
use crate::commands::{EXIT_OK, EXIT_USER, Error, Result};
use crate::generated_dir::{self, GENERATED_DIR};
use crate::pipeline;
use crate::timing::StageTimer;

/// A build that touches at most this many files lists them all ...
const LIST_ALL_UP_TO: usize = 50;
/// ... a larger one lists this many, then counts the rest (`--verbose`: all).
const LIST_FIRST: usize = 20;

pub(crate) fn build(dir: &Path, verbose: bool) -> Result<ExitCode> {
    let mut timer = StageTimer::from_env();
    let compiled = pipeline::compile_cached(dir)?;
    report(&compiled);
    if compiled.has_errors() {
        eprintln!("nothing was written to {GENERATED_DIR}/");
        return Ok(EXIT_USER);
    }
    timer.lap("compile");
    let (built, warning) = pipeline::build(dir, &compiled)?;
    warn(warning);
    timer.lap("emit+write+cache");
    let changes = built.changes;
    // The model is no longer needed: its million strings go with the process.
    std::mem::forget(compiled);
    let lines: Vec<(&str, &String)> = [
        ("added", &changes.added),
        ("changed", &changes.changed),
        ("removed", &changes.removed),
    ]
    .into_iter()
    .flat_map(|(what, paths)| paths.iter().map(move |path| (what, path)))
    .collect();
    let shown = if verbose || lines.len() <= LIST_ALL_UP_TO {
        lines.len()
    } else {
        LIST_FIRST
    };
    for (what, path) in &lines[..shown] {
        eprintln!("  {what:<8} {GENERATED_DIR}/{path}");
    }
    if shown < lines.len() {
        eprintln!(
            "  … and {} more (`mailops build --verbose` lists every path)",
            lines.len() - shown
        );
    }
    eprintln!(
        "built {} files in {GENERATED_DIR}/: {} added, {} changed, {} removed",
        built.files,
        changes.added.len(),
        changes.changed.len(),
        changes.removed.len()
    );
    Ok(EXIT_OK)
}

pub(crate) fn check(dir: &Path, identity: Option<&Path>) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    report(&compiled);
    if compiled.has_errors() {
        return Ok(EXIT_USER);
    }
    // With an age identity: every encrypted DKIM key decrypts and matches.
    if let Some(identity) = identity {
        if !compiled.model.platform.secrets.enabled {
            return Err(Error::user(
                "--identity checks the encrypted keys of keys/, but mailops.toml has no `[secrets]`",
            ));
        }
        let keys = crate::commands::keys::decrypt_checked(
            dir,
            &compiled.model,
            Some(identity),
            "mailops check",
        )?;
        eprintln!(
            "ok: {} DKIM private key{} in keys/ decrypt and match their public keys",
            keys.len(),
            if keys.len() == 1 { "" } else { "s" }
        );
    }
    let artifacts = pipeline::emit(&compiled);
    let changes = generated_dir::compare(dir, &artifacts)?;
    if changes.is_empty() {
        eprintln!(
            "ok: {GENERATED_DIR}/ is current ({} files)",
            artifacts.len()
        );
        return Ok(EXIT_OK);
    }
    for path in &changes.added {
        eprintln!("missing   {GENERATED_DIR}/{path}");
    }
    for path in &changes.changed {
        eprintln!("differs   {GENERATED_DIR}/{path}");
    }
    for path in &changes.removed {
        eprintln!("stale     {GENERATED_DIR}/{path} (no longer produced)");
    }
    Err(Error::user(format!(
        "{GENERATED_DIR}/ is not current; run `mailops build` and commit the result"
    )))
}
