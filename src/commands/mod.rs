//! One module per command. Each takes the parsed CLI record and returns an exit code;
//! operational failures (I/O, database) come back as errors and exit 2.

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

pub(crate) const EXIT_OK: ExitCode = ExitCode::SUCCESS;
/// User-input errors, or a failed check.
pub(crate) const EXIT_USER: ExitCode = ExitCode::FAILURE;

/// What `plan` and `apply` both start from (one skeleton, as dnscontrol's
/// preview and push share one run): a compile without problems, its
/// artifacts, and the database to derive the row plan against.
pub(crate) struct Prepared {
    pub(crate) compiled: crate::pipeline::Compiled,
    pub(crate) artifacts: crate::emit::Artifacts,
    pub(crate) target: crate::db::url::Target,
}

/// Compile (from the cache when it can be used), print the diagnostics,
/// emit, and pick the database. `None` after saying why not (`refusal`:
/// what did not happen, "no plan"), when the files have problems or no
/// database can be named.
pub(crate) fn prepare(
    dir: &std::path::Path,
    database: Option<&str>,
    refusal: &str,
) -> Result<Option<Prepared>> {
    let compiled = crate::pipeline::compile_cached(dir)?;
    validate::report(&compiled);
    if compiled.has_errors() {
        eprintln!("error: {refusal}: fix the problems above first");
        return Ok(None);
    }
    let mut timer = crate::timing::StageTimer::from_env();
    let artifacts = crate::pipeline::emit(&compiled);
    timer.lap("emit");
    let target = match crate::db::url::resolve_from_env(
        database,
        compiled.model.platform.database.url.as_deref(),
        dir,
    ) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(None);
        }
    };
    Ok(Some(Prepared {
        compiled,
        artifacts,
        target,
    }))
}

/// Print a warning a stage gave back, if any.
pub(crate) fn warn(warning: Option<String>) {
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
}

/// Operational failure: I/O, database, lock.
pub(crate) fn exit_operational() -> ExitCode {
    ExitCode::from(2)
}

/// An operational failure with a message for the user.
pub(crate) type Result<T> = std::result::Result<T, Error>;

#[derive(Debug)]
pub(crate) struct Error(pub(crate) String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error(err.to_string())
    }
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
        } => apply::run(
            &dir,
            database.as_deref(),
            yes,
            allow_destroy,
            full,
            plan.as_deref(),
        ),
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

/// A domain typed on the command line, normalised; the problem is printed when it is not valid.
pub(crate) fn domain_argument(domain: &str) -> Option<crate::validate::domain::DomainName> {
    match crate::validate::domain::normalize_domain(domain) {
        Ok(name) => Some(name),
        Err(problem) => {
            eprintln!(
                "error: `{domain}` is not a valid domain: {}",
                problem.describe()
            );
            None
        }
    }
}

/// Colour on a terminal, unless NO_COLOR is set.
pub(crate) fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) fn stderr_color() -> bool {
    use_color(std::io::stderr().is_terminal())
}
