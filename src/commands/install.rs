//! `mailops install --root DIR [--secrets FILE] [--identity FILE] [--host NAME]`: materialise configs and keys on the mail host.
//!
//! `generated/` holds the primary host's configs; `--host mx2` installs
//! them rendered for mx2 (its hostname, its certificate paths).
//!
//! With `[secrets]`, every DKIM key of `keys/` is decrypted with the age
//! identity and checked against its tenant's public key before anything is
//! installed (the check of `mailops check --identity`): one problem, and
//! nothing is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::keys;
use crate::commands::validate::report;
use crate::commands::{EXIT_OK, EXIT_USER, Error, Result};
use crate::emit;
use crate::generated_dir::{self, GENERATED_DIR};
use crate::install::{self, Secrets};
use crate::keystore::KeyStore;
use crate::pipeline;

pub(crate) fn run(
    dir: &Path,
    root: &Path,
    secrets_file: Option<PathBuf>,
    key_dir: Option<PathBuf>,
    identity: Option<PathBuf>,
    host: Option<String>,
) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    report(&compiled);
    if compiled.has_errors() {
        eprintln!("nothing was installed");
        return Ok(EXIT_USER);
    }
    // Install exactly what was reviewed: generated/ must be current.
    let artifacts = emit::emit(&compiled.model);
    let changes = generated_dir::compare(dir, &artifacts)?;
    if !changes.is_empty() {
        return Err(Error::user(format!(
            "{GENERATED_DIR}/ is not current ({} files differ); run `mailops build`, review and commit, then install",
            changes.added.len() + changes.changed.len() + changes.removed.len()
        )));
    }
    // The host's files, before any secret or key is read: an unknown host
    // name is found first.
    let generated = install::host_generated(&artifacts, &compiled.model.platform, host.as_deref())?;
    let secrets = Secrets::load(secrets_file.as_deref())?;
    let encrypted = compiled.model.platform.secrets.enabled;
    let decrypted;
    let store;
    let keys: &dyn install::PrivateKeys = if encrypted {
        if let Some(key_dir) = key_dir {
            return Err(Error::user(format!(
                "--key-dir {} names a plaintext key store, but mailops.toml has `[secrets]`: keys are decrypted from keys/ with --identity; leave --key-dir out",
                key_dir.display()
            )));
        }
        decrypted =
            keys::decrypt_checked(dir, &compiled.model, identity.as_deref(), "mailops install")
                .map_err(|error| error.followed_by("nothing was installed"))?;
        &decrypted
    } else {
        store = match key_dir {
            Some(path) => KeyStore::at(path),
            None => KeyStore::new(dir, &compiled.model.platform.paths.key_store),
        };
        &store
    };
    let files = install::plan(&generated, &compiled.model, keys, &secrets)
        .map_err(|error| error.followed_by("nothing was installed"))?;
    let outcome = install::apply(root, &files)?;
    for path in &outcome.written {
        eprintln!("  wrote {}", root.join(path).display());
    }
    for (key, to) in &outcome.archived {
        eprintln!(
            "  archived {} -> {} (no tenant declares it any more)",
            key.display(),
            to.display()
        );
    }
    eprintln!(
        "installed {} files under {} ({} written, {} unchanged, {} old files archived)",
        files.len(),
        root.display(),
        outcome.written.len(),
        outcome.unchanged,
        outcome.archived.len()
    );
    for path in &outcome.restart_by_hand {
        eprintln!(
            "  {} changed: MariaDB reads it when it starts, and mailops does not restart it \
             (restarting a node of the Galera cluster is yours to decide; see \"Several mail hosts\" in the README)",
            root.join(path).display()
        );
    }
    if outcome.reload.is_empty() {
        println!("reload: none");
    } else {
        let names: Vec<&str> = outcome.reload.iter().map(|s| s.name()).collect();
        println!("reload: {}", names.join(" "));
    }
    Ok(EXIT_OK)
}
