//! One module per command. Each takes the parsed CLI record and returns an exit code,
//! or an [`Error`] that says what went wrong and how to exit (see `crate::error`).

mod apply;
mod build;
mod dkim;
mod hash_password;
mod install;
mod new;
mod plan;
mod schema;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{Cli, Command, DkimCommand};
use crate::db::saved_plan::SavedPlan;
pub(crate) use validate::report as report_compiled;

pub(crate) const EXIT_OK: ExitCode = ExitCode::SUCCESS;
/// User-input errors, or a failed check.
pub(crate) const EXIT_USER: ExitCode = ExitCode::FAILURE;

/// Operational failure: I/O, database, lock.
pub(crate) fn exit_operational() -> ExitCode {
    ExitCode::from(2)
}

pub(crate) use crate::error::Error;

/// What a command returns: its exit code, or the error it ended with (printed
/// once by `main`, which exits with the error's exit code).
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Whether every failure of `command` exits 1: `plan --detailed-exitcode`,
/// where 2 means "changes pending" and nothing else (Terraform's convention).
pub(crate) fn failures_exit_1(command: &Command) -> bool {
    matches!(
        command,
        Command::Plan {
            detailed_exitcode: true,
            ..
        }
    )
}

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let dir = cli.dir;
    match cli.command {
        Command::Validate { format } => validate::run(&dir, format),
        Command::Build { verbose } => build::build(&dir, verbose),
        Command::Check => build::check(&dir),
        Command::Plan {
            database,
            format,
            out,
            detailed_exitcode,
            full,
        } => plan::run(
            &dir,
            database.as_deref(),
            format,
            out.as_deref(),
            detailed_exitcode,
            full,
        ),
        Command::Apply {
            database,
            yes,
            allow_destroy,
            full,
            plan,
        } => {
            // A plan file that cannot be read is an I/O failure: exit 2.
            // `apply::run` reports every error of `SavedPlan::read` as exit 1
            // for now, so the file is tried here first; once it passes that
            // error on, this goes.
            if let Some(path) = plan.as_deref() {
                if let Err(error @ Error::Operational(_)) = SavedPlan::read_text(path) {
                    return Err(error);
                }
            }
            apply::run(
                &dir,
                database.as_deref(),
                yes,
                allow_destroy,
                full,
                plan.as_deref(),
            )
        }
        Command::Install {
            root,
            secrets,
            key_dir,
        } => install::run(&dir, &root, secrets, key_dir),
        Command::Schema { check } => schema::run(&dir, check),
        Command::New {
            domain,
            selector,
            algorithm,
            admin,
        } => new::run(&dir, &domain, selector, algorithm, admin),
        Command::Dkim {
            command:
                DkimCommand::Keygen {
                    domain,
                    selector,
                    algorithm,
                    key_dir,
                    force,
                },
        } => dkim::keygen(&dir, &domain, selector, algorithm, key_dir, force),
        Command::HashPassword => hash_password::run(),
    }
}

/// A domain typed on the command line, normalised.
pub(crate) fn domain_argument(domain: &str) -> Result<crate::validate::domain::DomainName> {
    crate::validate::domain::normalize_domain(domain).map_err(|problem| {
        Error::user(format!(
            "`{domain}` is not a valid domain: {}",
            problem.describe()
        ))
    })
}

/// Colour on a terminal, unless NO_COLOR is set.
pub(crate) fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) fn stderr_color() -> bool {
    use_color(std::io::stderr().is_terminal())
}
