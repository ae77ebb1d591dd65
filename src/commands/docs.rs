//! `mailops completions SHELL` and `mailops man --out DIR`: shell completion
//! scripts and man pages, made from the clap definitions that --help shows,
//! so they never drift from the command line.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::commands::{EXIT_OK, Error, Result};
use crate::fsutil;

/// The completion script for `shell`, on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "mailops", &mut script);
    use std::io::Write as _;
    std::io::stdout().write_all(&script)?;
    Ok(EXIT_OK)
}

/// Every page: `mailops.1`, then `mailops-<sub>.1` for each subcommand, and
/// `mailops-<sub>-<subsub>.1` below it.
fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command();
    command.build();
    let mut pages = Vec::new();
    collect(&command, "mailops", &mut pages)?;
    Ok(pages)
}

fn collect(command: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let command = command.clone().name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_uppercase())
        .section("1")
        .manual("mailops manual")
        .source(format!("mailops {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)
        .map_err(|e| Error::operational(format!("rendering the man page {name}(1): {e}")))?;
    pages.push((format!("{name}.1"), page));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

/// The man pages, written into `out`.
pub(crate) fn man(out: &Path) -> Result<ExitCode> {
    let pages = pages()?;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::operational(format!("cannot create {}: {e}", out.display())))?;
    for (file, page) in &pages {
        fsutil::write_atomic(&out.join(file), page)?;
    }
    eprintln!("wrote {} man pages to {}", pages.len(), out.display());
    Ok(EXIT_OK)
}
