//! `mailops validate`: print every diagnostic; exit 1 on any error.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::DiagnosticFormat;
use crate::commands::{EXIT_OK, EXIT_USER, Result, stderr_color};
use crate::pipeline::{self, Compiled};

pub(crate) fn run(dir: &Path, format: DiagnosticFormat) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    match format {
        DiagnosticFormat::Json => {
            print!(
                "{}",
                compiled.diagnostics.render_json(&compiled.repo.sources)
            );
        }
        DiagnosticFormat::Human => {
            report(&compiled);
            if !compiled.has_errors() {
                let domains = &compiled.model.domains;
                let mailboxes: usize = domains.values().map(|d| d.mailboxes.len()).sum();
                let aliases: usize = domains.values().map(|d| d.alias_count()).sum();
                eprintln!(
                    "ok: {}, {}, {}",
                    count(domains.len(), "tenant", "tenants"),
                    count(mailboxes, "mailbox", "mailboxes"),
                    count(aliases, "alias", "aliases"),
                );
            }
        }
    }
    Ok(if compiled.has_errors() {
        EXIT_USER
    } else {
        EXIT_OK
    })
}

/// "1 mailbox", "2 mailboxes".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Print the diagnostics of a compile (human form) and a summary line when there are any.
pub(crate) fn report(compiled: &Compiled) {
    if compiled.diagnostics.is_empty() {
        return;
    }
    eprint!(
        "{}",
        compiled
            .diagnostics
            .render_human(&compiled.repo.sources, stderr_color())
    );
    let verdict = if compiled.has_errors() {
        "error"
    } else {
        "warning"
    };
    eprintln!("{verdict}: {}", compiled.diagnostics.summary());
}
