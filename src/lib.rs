//! mailops: multi-tenant business email hosting as code.
//!
//! The pipeline of DESIGN.md is visible in the module list: `load` → `parse`
//! → `validate` → `model` → `graph` (front half, run by `pipeline`), then the
//! emitters. `cli` holds what the user typed, `commands` does the work.
//! `main.rs` is a thin shell around [`main`].

mod bimi_logos;
mod chars;
mod cli;
mod commands;
mod database_url;
mod db;
mod diagnostic;
mod diagnostic_catalogue;
mod diagnostic_code;
mod dkim_keys;
mod dns;
mod emit;
mod encrypted_keys;
mod error;
mod fsutil;
mod generated_dir;
mod gitrev;
mod graph;
mod hints;
mod host_root;
mod import;
mod incremental;
mod init;
mod install;
mod keystore;
mod load;
mod load_diags;
mod mail_move;
mod model;
mod parallel;
mod parse;
mod pipeline;
mod plan;
mod progress;
mod reconcile;
mod secret_file;
mod source;
mod span;
mod timing;
mod utc_time;
mod validate;

pub mod fuzzing;
#[doc(hidden)]
pub mod testkit;

/// Every diagnostic code mailops can report (`mailops::<area>::<name>`), for
/// the test that every code has a fixture.
#[doc(hidden)]
pub fn diagnostic_codes() -> Vec<&'static str> {
    diagnostic_catalogue::Code::iter()
        .map(diagnostic_catalogue::Code::code)
        .collect()
}

use std::process::ExitCode;

/// The whole command line: parse the arguments, run the command, map the outcome
/// to an exit code. A command that fails returns an `error::Error`, printed here
/// once as `error: {message}`.
///
/// Exit codes: 0 ok; 1 a problem in the files, a failed check, or a usage
/// error (an unknown flag, a missing argument: clap's own convention is 2,
/// which `plan --detailed-exitcode` reserves for "changes pending", so that a
/// typo in CI can never read as "changes"); 2 an operational failure (I/O,
/// database, lock), except under `plan --detailed-exitcode`, where every
/// failure is 1 and 2 means only "changes". `--help` and `--version` exit 0.
pub fn main() -> ExitCode {
    let matches = match <cli::Cli as clap::CommandFactory>::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return usage(&error),
    };
    let cli = match <cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return usage(&error),
    };
    let command = subcommand_path(&matches);
    let failures_exit_1 = commands::failures_exit_1(&cli.command);
    if !cli.quiet
        && std::env::var_os("MAILOPS_NO_PROGRESS").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
    {
        progress::enable();
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Arguments and file names are echoed in messages: never a raw
            // escape sequence to the terminal.
            eprintln!("error: {}", chars::printable(&error.to_string()));
            if let Some(hint) = hints::next_command(&command, &error) {
                eprintln!("hint: {}", chars::printable(&hint));
            }
            if failures_exit_1 {
                commands::EXIT_USER
            } else {
                error.exit_code()
            }
        }
    }
}

/// The subcommands the user named (`plan`, `dns check`), for the hint.
fn subcommand_path(matches: &clap::ArgMatches) -> String {
    let mut words = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        words.push(name);
        current = sub;
    }
    words.join(" ")
}

/// Print clap's message; help and version are not errors.
fn usage(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => commands::EXIT_OK,
        _ => commands::EXIT_USER,
    }
}
