//! The reconcile agent (`mailops reconcile`): on the mail host, make the
//! host equal to the head of a git branch, and keep it so.
//!
//! One run ([`run_once`]): fetch the branch (`forge`); a new commit is
//! checked (signature, compile, `generated/` current, every key decrypted
//! and matched) and rendered whole in memory (configs with secrets filled,
//! keys) before anything is written; then its rows go into the database in
//! one transaction (`rows`, the delete guard asking for a trailer); then the
//! files are installed all at once (`install`), and only the services whose
//! files changed are reloaded. With no new commit, the last good commit is
//! converged again: rows edited by hand and files changed on the host are put
//! back (drift healed). What the run did goes to the status file (`status`).
//!
//! The order is what keeps a failing commit from leaving the host half on
//! it: every check that can refuse a commit runs before the first write; the
//! database transaction is the first write, the file install the second;
//! should the install fail after the rows were committed, the last good
//! commit's rows are written back before the run ends.

pub(crate) mod forge;
pub(crate) mod host_config;
pub(crate) mod rows;
pub(crate) mod status;

use std::path::{Path, PathBuf};

use crate::emit;
use crate::encrypted_keys::{self, Identity};
use crate::error::Error;
use crate::generated_dir::{self, GENERATED_DIR};
use crate::install;
use crate::pipeline::{self, Compiled};

use forge::Forge;
use host_config::HostConfig;
use rows::Destroy;
use status::{Outcome, State, Status};

/// The result of one run: the status written, and the error to end with.
pub(crate) struct Run {
    pub(crate) status: Status,
    pub(crate) error: Option<Error>,
}

/// A commit checked and rendered, ready to be written.
struct Ready {
    compiled: Compiled,
    files: Vec<install::InstallFile>,
}

/// What converging on a commit wrote.
#[derive(Default)]
struct Converged {
    written: rows::Written,
    files: Vec<PathBuf>,
    reloaded: Vec<String>,
    reload_error: Option<Error>,
}

/// One run; the status file is written whatever happens (but when the
/// host file's own paths fail).
pub(crate) fn run_once(config: &HostConfig) -> Run {
    let _lock = match lock_work_dir(&config.work_dir) {
        Ok(lock) => lock,
        Err(error) => {
            return Run {
                status: status_of(None, None, Outcome::Failed, Some(&error)),
                error: Some(error),
            };
        }
    };
    let mut state = State::load(&config.work_dir).unwrap_or_default();
    let (mut status, error) = match run_locked(config, &mut state) {
        Ok(status) => (status, None),
        Err(failed) => {
            let (status, error) = *failed;
            (status, Some(error))
        }
    };
    if let Err(e) = state.save(&config.work_dir) {
        status.error.get_or_insert_with(|| e.to_string());
    }
    let error = match status.write(&config.status) {
        Ok(()) => error,
        Err(e) => Some(error.unwrap_or(e)),
    };
    Run { status, error }
}

/// A run that ended in an error, with the status that says so.
type Failed = Box<(Status, Error)>;

fn run_locked(config: &HostConfig, state: &mut State) -> Result<Status, Failed> {
    let fail = |state: &State, tried: Option<&str>, outcome, error: Error| -> Failed {
        Box::new((
            status_of(
                state.last_good.clone(),
                tried.map(str::to_string),
                outcome,
                Some(&error),
            ),
            error,
        ))
    };
    let forge = Forge::open(&config.work_dir).map_err(|e| fail(state, None, Outcome::Failed, e))?;
    // The forge out of reach: the run fails, after healing drift all the same.
    let (head, fetch_error) = match forge.fetch(&config.repo, &config.branch) {
        Ok(head) => (head, None),
        Err(error) => match &state.last_good {
            Some(good) => {
                log(&format!("{error}; healing against the last good commit"));
                (good.clone(), Some(error))
            }
            None => return Err(fail(state, None, Outcome::Failed, error)),
        },
    };
    let new = state.last_good.as_deref() != Some(head.as_str())
        && state.refused.as_deref() != Some(head.as_str());
    if new {
        log(&format!("new commit {head}: {}", forge.subject(&head)));
        match converge(
            config,
            &forge,
            &head,
            Purpose::New,
            state.last_good.as_deref(),
        ) {
            Ok(done) => {
                forge.keep(&head);
                state.last_good = Some(head.clone());
                state.refused = None;
                state.refused_why = None;
                let mut status = status_of(Some(head), None, Outcome::Applied, None);
                status.rows_changed = done.written.counts;
                status.reloaded = done.reloaded;
                if let Some(error) = done.reload_error {
                    status.outcome = Outcome::Failed;
                    status.error = Some(error.to_string());
                    return Err(Box::new((status, error)));
                }
                return Ok(status);
            }
            Err(error) => {
                // Only a problem in the commit refuses it for good; one of
                // the host (its files, the database, the disk) is tried again.
                let outcome = if !matches!(error, Error::Refused(_)) {
                    Outcome::Failed
                } else {
                    state.refused = Some(head.clone());
                    state.refused_why = Some(error.to_string());
                    Outcome::Refused
                };
                log(&format!("commit {head} {}: {error}", outcome.word()));
                return Err(fail(state, Some(&head), outcome, error));
            }
        }
    }
    // No new commit: heal drift against the last good commit.
    let tried = state.refused.clone().filter(|r| *r == head);
    let refused_why = || {
        format!(
            "commit {head}, the head of `{}`, was refused: {}\nthe host stays on the last good commit until a new commit is pushed",
            config.branch,
            state.refused_why.as_deref().unwrap_or("(see the log)")
        )
    };
    let Some(good) = state.last_good.clone() else {
        let error = Error::refused(format!("{}\n(no commit was ever applied)", refused_why()));
        return Err(fail(state, Some(&head), Outcome::Refused, error));
    };
    match converge(config, &forge, &good, Purpose::Heal, None) {
        Ok(done) => {
            let mut healed = done.written.lines.clone();
            healed.extend(
                done.files
                    .iter()
                    .map(|f| format!("file {} installed again", f.display())),
            );
            for line in &healed {
                log(&format!("healed: {line}"));
            }
            let outcome = if healed.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Healed
            };
            let mut status = status_of(Some(good), tried.clone(), outcome, None);
            status.rows_changed = done.written.counts;
            status.drift_healed = healed;
            status.reloaded = done.reloaded;
            if tried.is_some() {
                status.error = Some(refused_why());
            }
            if let Some(error) = fetch_error.or(done.reload_error) {
                status.outcome = Outcome::Failed;
                status.error = Some(error.to_string());
                return Err(Box::new((status, error)));
            }
            Ok(status)
        }
        Err(error) => Err(fail(state, tried.as_deref(), Outcome::Failed, error)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A new commit: refused on any problem in it.
    New,
    /// The last good commit again.
    Heal,
}

/// Make the host equal to `commit`: check and render it, write its rows,
/// install its files, reload what changed. For a new commit, a failed
/// install puts `last_good`'s rows back.
fn converge(
    config: &HostConfig,
    forge: &Forge,
    commit: &str,
    purpose: Purpose,
    last_good: Option<&str>,
) -> Result<Converged, Error> {
    let staging = config.work_dir.join("staging");
    if purpose == Purpose::New {
        if let Some(signers) = &config.allowed_signers {
            forge.verify(commit, signers)?;
        }
    }
    forge.checkout(commit, &staging)?;
    let ready = prepare(config, &staging, commit)?;
    // Healing deletes what was added by hand; what it may delete of the
    // declared domains is what the commit's trailers allowed.
    let destroy = match purpose {
        Purpose::New => Destroy::Trailers(forge.allow_destroy(commit)?),
        Purpose::Heal => Destroy::Healing(forge.allow_destroy(commit)?),
    };
    let target = database(config)?;
    // From the first write until the reloads are done, a marker says a
    // converge is under way: a run that finds it (that one died) reloads
    // every service. Kept when found, until a run gets through.
    let marker = config.work_dir.join(INSTALLING);
    let interrupted = marker.exists();
    let clear_marker = || {
        if !interrupted {
            let _ = std::fs::remove_file(&marker);
        }
    };
    crate::fsutil::write_atomic(&marker, commit.as_bytes())
        .map_err(|e| Error::operational(format!("{}: {e}", marker.display())))?;
    let written = match rows::apply(&target, &ready.compiled, commit, &destroy) {
        Ok(written) => written,
        Err(error) => {
            clear_marker();
            return Err(error);
        }
    };
    if written.counts.total() > 0 {
        log(&format!(
            "rows: {} inserted, {} updated, {} deleted",
            written.counts.insert, written.counts.update, written.counts.delete
        ));
    }
    let installed = match install::apply(&config.install_root, &ready.files) {
        Ok(outcome) => outcome,
        Err(e) => {
            // All or nothing: no file changed, nothing to reload.
            clear_marker();
            let error = Error::operational(format!(
                "installing the files under {} failed: {e}; no file was changed",
                config.install_root.display()
            ));
            return Err(match (purpose, last_good) {
                (Purpose::New, Some(good)) if written.counts.total() > 0 => {
                    match put_back_rows(config, forge, good, &target) {
                        Ok(()) => error.followed_by(format!(
                            "the rows of the last good commit {good} were written back"
                        )),
                        Err(e) => error.followed_by(format!(
                            "writing back the rows of the last good commit {good} failed too: {e}"
                        )),
                    }
                }
                _ => error,
            });
        }
    };
    for path in &installed.written {
        log(&format!(
            "wrote {}",
            config.install_root.join(path).display()
        ));
    }
    for path in &installed.restart_by_hand {
        log(&format!(
            "{} changed: not restarting MariaDB (a Galera node restarts when the operator decides)",
            config.install_root.join(path).display()
        ));
    }
    let mut converged = Converged {
        written,
        files: installed.written.clone(),
        ..Converged::default()
    };
    let services: Vec<&str> = if interrupted {
        log("an earlier run stopped during its install: reloading every service");
        host_config::SERVICES.to_vec()
    } else {
        installed.reload.iter().map(|s| s.name()).collect()
    };
    for name in services {
        let Some(command) = config.reload.get(name) else {
            continue;
        };
        log(&format!("reload {name}: {command}"));
        match std::process::Command::new("/bin/sh")
            .args(["-c", command])
            .stdin(std::process::Stdio::null())
            .status()
        {
            Ok(s) if s.success() => converged.reloaded.push(name.to_string()),
            Ok(s) => {
                converged
                    .reload_error
                    .get_or_insert(Error::operational(format!(
                        "the reload command of {name} (`{command}`) failed ({s})"
                    )));
            }
            Err(e) => {
                converged
                    .reload_error
                    .get_or_insert(Error::operational(format!(
                        "cannot run the reload command of {name} (`{command}`): {e}"
                    )));
            }
        }
    }
    if converged.reload_error.is_none() {
        std::fs::remove_file(&marker)
            .map_err(|e| Error::operational(format!("{}: {e}", marker.display())))?;
    }
    Ok(converged)
}

/// The marker file of a converge under way, in the work dir.
const INSTALLING: &str = "installing";

/// Write the rows of `good` back (after a new commit's install failed).
fn put_back_rows(
    config: &HostConfig,
    forge: &Forge,
    good: &str,
    target: &crate::db::url::Target,
) -> Result<(), Error> {
    let staging = config.work_dir.join("staging");
    forge.checkout(good, &staging)?;
    let ready = prepare(config, &staging, good)?;
    rows::apply(target, &ready.compiled, good, &Destroy::Allowed).map(|_| ())
}

/// Compile the checkout, check it as `mailops check --identity` does, and
/// render every file to install. A problem in the commit is `Refused`.
fn prepare(config: &HostConfig, dir: &Path, commit: &str) -> Result<Ready, Error> {
    let short = &commit[..commit.len().min(12)];
    let compiled = pipeline::compile(dir)?;
    if compiled.has_errors() {
        let shown = compiled
            .diagnostics
            .render_human(&compiled.repo.sources, false);
        return Err(Error::refused(format!(
            "commit {short} does not compile: {}\n{}",
            compiled.diagnostics.summary(),
            shown.trim_end()
        )));
    }
    let artifacts = emit::emit(&compiled.model);
    let changes = generated_dir::compare(dir, &artifacts)?;
    if !changes.is_empty() {
        let mut names: Vec<String> = changes
            .added
            .iter()
            .chain(&changes.changed)
            .chain(&changes.removed)
            .map(|p| format!("{GENERATED_DIR}/{p}"))
            .collect();
        names.truncate(10);
        return Err(Error::refused(format!(
            "commit {short} fails `mailops check`: {GENERATED_DIR}/ is not current ({}); \
             run `mailops build` and commit the result",
            names.join(", ")
        )));
    }
    if !compiled.model.platform.secrets.enabled {
        return Err(Error::refused(format!(
            "commit {short}: mailops.toml has no `[secrets] recipients`; the agent installs \
             the age-encrypted keys of keys/ only"
        )));
    }
    let Some(identity_path) = &config.identity else {
        return Err(Error::user(format!(
            "{}: `identity` is needed to decrypt the DKIM keys of keys/",
            config.path.display()
        )));
    };
    let identity = Identity::load(identity_path)?;
    let recipients = compiled
        .model
        .platform
        .secrets
        .to_encrypt_to()
        .map_err(Error::refused)?
        .unwrap_or_default();
    identity
        .check_is_recipient(recipients)
        .map_err(|e| Error::refused(format!("commit {short}: {e}")))?;
    let (keys, problems) = encrypted_keys::decrypt_all(dir, &compiled.model, &identity)?;
    if !problems.is_empty() {
        return Err(Error::refused(format!(
            "commit {short}: {}",
            problems.join("\n")
        )));
    }
    let secrets = config.install_secrets()?;
    let generated = install::host_generated(
        &artifacts,
        &compiled.model.platform,
        config.host.as_ref().map(|h| h.name.as_str()),
    )
    .map_err(|_| {
        let host = config.host.as_ref().map_or("", |h| h.name.as_str());
        let at = config.host.as_ref().map_or("", |h| h.at.as_str());
        Error::refused(format!(
            "commit {short}: {at}: {}",
            install::unknown_host(&compiled.model.platform, host)
        ))
    })?;
    let files = install::plan(&generated, &compiled.model, &keys, &secrets)?;
    Ok(Ready { compiled, files })
}

/// The database of the host file.
fn database(config: &HostConfig) -> Result<crate::db::url::Target, Error> {
    let url = config.database_url()?;
    crate::db::url::resolve(Some(&url), None, None, &config.work_dir)
}

fn status_of(
    commit: Option<String>,
    tried: Option<String>,
    outcome: Outcome,
    error: Option<&Error>,
) -> Status {
    Status {
        version: 1,
        commit,
        tried,
        time: status::now(),
        outcome,
        rows_changed: Default::default(),
        drift_healed: Vec::new(),
        reloaded: Vec::new(),
        error: error.map(|e| e.to_string()),
    }
}

/// A line of the run's log (standard error: the journal under systemd).
fn log(line: &str) {
    eprintln!("reconcile: {line}");
}

/// Hold `work_dir/lock` for the run: two runs at once (the timer and an
/// operator) would race on the staging folder.
fn lock_work_dir(work_dir: &Path) -> Result<std::fs::File, Error> {
    std::fs::create_dir_all(work_dir).map_err(|e| {
        Error::operational(format!(
            "cannot make the work directory {}: {e}",
            work_dir.display()
        ))
    })?;
    let path = work_dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::operational(format!("{}: {e}", path.display())))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            Error::operational(format!(
                "another `mailops reconcile` is running (it holds {})",
                path.display()
            ))
        },
    )?;
    Ok(file)
}
