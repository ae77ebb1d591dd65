//! One module per command. Each takes the parsed CLI record and returns an exit code,
//! or an [`Error`] that says what went wrong and how to exit (see `crate::error`).

mod apply;
mod build;
mod dkim;
mod dkim_rotation;
mod dns;
mod docs;
mod graph;
mod hash_password;
mod import;
mod init;
mod install;
mod keys;
mod move_mail;
mod new;
mod plan;
mod reconcile;
mod schema;
mod selector;
mod status;
mod tls;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{Cli, Command, DkimCommand, DnsCommand, KeysCommand, TlsCommand};

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
/// emit, and pick the database. Fails (`refusal`: what did not happen, "no
/// plan") when the files have problems or no database can be named.
pub(crate) fn prepare(
    dir: &std::path::Path,
    database: Option<&str>,
    refusal: &str,
) -> Result<Prepared> {
    let compiled = crate::pipeline::compile_cached(dir)?;
    validate::report(&compiled);
    if compiled.has_errors() {
        return Err(Error::user(format!(
            "{refusal}: fix the problems above first"
        )));
    }
    let mut timer = crate::timing::StageTimer::from_env();
    let artifacts = crate::pipeline::emit(&compiled);
    timer.lap("emit");
    let target = crate::db::url::resolve_from_env(
        database,
        compiled.model.platform.database.url.as_deref(),
        dir,
    )?;
    Ok(Prepared {
        compiled,
        artifacts,
        target,
    })
}

/// Print a warning a stage gave back, if any.
pub(crate) fn warn(warning: Option<String>) {
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
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
        Command::Check { identity } => build::check(&dir, identity.as_deref()),
        Command::Plan {
            database,
            base,
            format,
            out,
            detailed_exitcode,
            full,
        } => plan::run(
            &dir,
            database.as_deref(),
            base.as_deref(),
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
            move_mail,
            no_move_mail,
            doveadm_config,
        } => apply::run(
            &dir,
            database.as_deref(),
            yes,
            allow_destroy,
            full,
            plan.as_deref(),
            apply::MoveMail::from_flags(move_mail, no_move_mail, doveadm_config),
        ),
        Command::MoveMail {
            address,
            from,
            database,
            doveadm_config,
        } => move_mail::run(
            &dir,
            database.as_deref(),
            &address,
            &from,
            crate::mail_move::Doveadm {
                config: doveadm_config,
            },
        ),
        Command::Install {
            root,
            secrets,
            key_dir,
            identity,
            host,
        } => install::run(&dir, &root, secrets, key_dir, identity, host),
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
        Command::Dkim {
            command:
                DkimCommand::Rotate {
                    domain,
                    algorithm,
                    selector,
                    key_dir,
                },
        } => dkim_rotation::rotate(&dir, &domain, algorithm, selector, key_dir),
        Command::Dkim {
            command:
                DkimCommand::Promote {
                    domain,
                    selector,
                    force,
                },
        } => dkim_rotation::promote(&dir, &domain, &selector, force),
        Command::Dkim {
            command:
                DkimCommand::Retire {
                    domain,
                    selector,
                    force,
                },
        } => dkim_rotation::retire(&dir, &domain, &selector, force),
        Command::Dkim {
            command: DkimCommand::Status { domain, format },
        } => dkim_rotation::status(&dir, domain.as_deref(), format),
        Command::Dkim {
            command: DkimCommand::Purge { domain, key_dir },
        } => dkim_rotation::purge(&dir, domain.as_deref(), key_dir),
        Command::Dns {
            command:
                DnsCommand::Check {
                    nameserver,
                    format,
                    expect_ip,
                    concurrency,
                    timeout,
                    smtp,
                    smtp_port,
                    smtp_ca,
                    cert_days,
                    domains,
                },
        } => dns::check(
            &dir,
            dns::CheckArgs {
                nameserver,
                format,
                expect_ip,
                concurrency,
                timeout,
                smtp: smtp.then_some(dns::SmtpArgs {
                    port: smtp_port,
                    ca: smtp_ca,
                    cert_days,
                }),
                domains,
            },
        ),
        Command::Dns {
            command:
                DnsCommand::Records {
                    domains,
                    format,
                    nameserver,
                },
        } => dns::records(&dir, &domains, format, nameserver.as_deref()),
        Command::Dns {
            command: DnsCommand::Shards { moves, from_shards },
        } => dns::shards(&dir, moves, from_shards),
        Command::Tls {
            command:
                TlsCommand::Tlsa {
                    cert,
                    pubkey,
                    host,
                    port,
                    format,
                },
        } => tls::tlsa(&dir, &cert, &pubkey, host.as_deref(), port, format),
        Command::Keys {
            command: KeysCommand::Reencrypt { identity },
        } => keys::reencrypt(&dir, identity.as_deref()),
        Command::Keys {
            command: KeysCommand::Import { key_dir },
        } => keys::import(&dir, &key_dir),
        Command::HashPassword => hash_password::run(),
        Command::Graph {
            format,
            changed_from,
        } => graph::run(&dir, format, changed_from.as_deref()),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(&out),
        Command::Import {
            database,
            from,
            dkim_dir,
            out,
            force,
            default_scheme,
            allow_scheme,
        } => import::run(
            &dir,
            import::Args {
                database,
                from,
                dkim_dir,
                out,
                force,
                default_scheme,
                allow_scheme,
            },
        ),
        Command::Reconcile {
            config,
            once,
            interval,
        } => reconcile::run(&config, once, interval),
        Command::Status { config, format } => status::run(&config, format),
        Command::Init {
            path,
            domain,
            hostname,
        } => {
            let target = path.map_or_else(|| dir.clone(), |path| dir.join(path));
            init::run(&target, &domain, &hostname)
        }
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

/// The mail repo at git revision `name` (`plan --base`, `graph
/// --changed-from`), compiled; `refusal` starts the message when the
/// revision cannot be read (`no plan`, `no graph`).
pub(crate) fn read_base(
    dir: &std::path::Path,
    name: &str,
    refusal: &str,
) -> Result<crate::plan::base::Base> {
    use crate::gitrev::GitError;
    crate::plan::base::read(dir, name).map_err(|e| match e {
        GitError::Failed(why) => Error::operational(format!("reading {name} from git: {why}")),
        GitError::NotAWorkTree(why) | GitError::UnknownRevision(why) => {
            Error::user(format!("{refusal}: {why}"))
        }
    })
}
