//! `mailops install`: put the generated configs and the DKIM private keys in
//! place on the mail host, filling the secrets the repo must never hold.
//!
//! The plan of what to write is computed first (`InstallPlan`), from the
//! reviewed `generated/` files, the key store and the secrets; only then is
//! anything written, so a missing secret leaves the host untouched. Every
//! file is written atomically with its owner and mode set before it appears.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::keystore::{KeyStore, key_file_name};
use crate::model::Model;

/// The placeholder emitters write where a config needs the database password.
pub(crate) const DB_PASSWORD_PLACEHOLDER: &str = "@@MAILOPS_DB_PASSWORD@@";

/// A service whose files mailops installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Service {
    Postfix,
    Dovecot,
    Rspamd,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Postfix => "postfix",
            Service::Dovecot => "dovecot",
            Service::Rspamd => "rspamd",
        }
    }

    /// The group that may read this service's secrets.
    fn group(self) -> &'static str {
        match self {
            Service::Postfix => "postfix",
            Service::Dovecot => "dovecot",
            Service::Rspamd => "_rspamd",
        }
    }

    /// Whether a change to these files needs a reload. Rspamd reads DKIM keys
    /// per message, so a new key file needs none; the per-domain signing
    /// entries of domains with several keys are config it reads at (re)load.
    fn reload_for(self, kind: FileKind) -> bool {
        matches!(kind, FileKind::Config | FileKind::DkimSigningDomains)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Config,
    DkimKey,
    /// Domain → DKIM selector, next to the keys; Rspamd re-reads it by itself.
    DkimSelectors,
    /// `domain { … }` entries of the domains with several DKIM keys, next to
    /// the keys; included by `dkim_signing.conf`, so a change needs a reload.
    DkimSigningDomains,
}

/// One file to put on the host.
#[derive(Debug, Clone)]
pub(crate) struct InstallFile {
    /// Path under the install root (`etc/postfix/main.cf`).
    pub(crate) target: PathBuf,
    pub(crate) contents: Vec<u8>,
    pub(crate) service: Service,
    pub(crate) kind: FileKind,
    /// Holds a secret: group-readable by the service only, never world-readable.
    pub(crate) secret: bool,
}

impl InstallFile {
    pub(crate) fn mode(&self) -> u32 {
        if self.secret { 0o640 } else { 0o644 }
    }

    pub(crate) fn group(&self) -> &'static str {
        if self.secret {
            self.service.group()
        } else {
            "root"
        }
    }
}

/// Secrets filled into placeholders.
#[derive(Debug, Default, Clone)]
pub(crate) struct Secrets {
    pub(crate) db_password: Option<String>,
}

impl Secrets {
    /// `MAILOPS_DB_PASSWORD`, else `db_password` in the secrets file.
    pub(crate) fn load(file: Option<&Path>) -> Result<Secrets, String> {
        let mut secrets = Secrets::default();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                format!(
                    "{}: not a TOML secrets file: {}",
                    path.display(),
                    e.message()
                )
            })?;
            for key in table.keys() {
                if key != "db_password" {
                    return Err(format!(
                        "{}: unknown key `{key}` (known: db_password)",
                        path.display()
                    ));
                }
            }
            if let Some(value) = table.get("db_password") {
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("{}: `db_password` must be a string", path.display()))?;
                secrets.db_password = Some(value.to_string());
            }
        }
        if let Some(value) = std::env::var_os("MAILOPS_DB_PASSWORD") {
            secrets.db_password = Some(value.to_string_lossy().into_owned());
        }
        if let Some(password) = &secrets.db_password {
            crate::validate::secret::check_db_password(password).map_err(|p| p.to_string())?;
        }
        Ok(secrets)
    }
}

/// Where each generated folder goes under the root, and whose it is.
fn target_of(generated_path: &str) -> Option<(PathBuf, Service)> {
    let (prefix, service) = [
        ("postfix/", Service::Postfix),
        ("dovecot/", Service::Dovecot),
        ("rspamd/", Service::Rspamd),
    ]
    .into_iter()
    .find(|(prefix, _)| generated_path.starts_with(prefix))?;
    let rest = &generated_path[prefix.len()..];
    Some((
        PathBuf::from("etc").join(service.name()).join(rest),
        service,
    ))
}

/// Whether a file under `generated/` is installed on the mail host.
pub(crate) fn is_host_file(generated_path: &str) -> bool {
    target_of(generated_path).is_some()
}

/// Every file to install: generated configs (placeholders filled) and DKIM keys.
pub(crate) fn plan(
    generated: &BTreeMap<String, String>,
    model: &Model,
    store: &KeyStore,
    secrets: &Secrets,
) -> Result<Vec<InstallFile>, String> {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for (path, contents) in generated {
        let Some((target, service)) = target_of(path) else {
            continue;
        };
        let secret = contents.contains(DB_PASSWORD_PLACEHOLDER);
        let contents = if secret {
            match &secrets.db_password {
                Some(password) => contents.replace(DB_PASSWORD_PLACEHOLDER, password),
                None => {
                    missing.push(path.clone());
                    continue;
                }
            }
        } else {
            contents.clone()
        };
        files.push(InstallFile {
            target,
            contents: contents.into_bytes(),
            service,
            kind: FileKind::Config,
            secret,
        });
    }
    if !missing.is_empty() {
        return Err(format!(
            "no database password for {}: set MAILOPS_DB_PASSWORD or pass --secrets FILE with `db_password = \"…\"`",
            missing.join(", ")
        ));
    }
    let key_dir = PathBuf::from(model.platform.paths.dkim_key_dir.trim_start_matches('/'));
    let mut missing_keys = Vec::new();
    for domain in model.domains.values() {
        for key in &domain.dkim {
            let selector = &key.selector;
            match store
                .read(&domain.name, selector)
                .map_err(|e| e.to_string())?
            {
                Some(pem) => files.push(InstallFile {
                    target: key_dir.join(key_file_name(&domain.name, selector)),
                    contents: crate::dkim_keys::rspamd_key_file(&pem).map_err(|e| {
                        format!("{}: {e}", store.path(&domain.name, selector).display())
                    })?,
                    service: Service::Rspamd,
                    kind: FileKind::DkimKey,
                    secret: true,
                }),
                None => {
                    missing_keys.push(store.path(&domain.name, selector).display().to_string());
                }
            }
        }
    }
    files.push(InstallFile {
        target: key_dir.join(crate::emit::mail_host::DKIM_SELECTOR_MAP),
        contents: crate::emit::rspamd::selector_map(model).into_bytes(),
        service: Service::Rspamd,
        kind: FileKind::DkimSelectors,
        secret: false,
    });
    files.push(InstallFile {
        target: key_dir.join(crate::emit::mail_host::DKIM_SIGNING_DOMAINS),
        contents: crate::emit::rspamd::signing_domains(model).into_bytes(),
        service: Service::Rspamd,
        kind: FileKind::DkimSigningDomains,
        secret: false,
    });
    if !missing_keys.is_empty() {
        return Err(format!(
            "the key store has no DKIM private key for: {}\n(run `mailops dkim keygen <domain>` where the key store lives, or copy the keys there)",
            missing_keys.join(", ")
        ));
    }
    Ok(files)
}

/// What installing changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) written: Vec<PathBuf>,
    pub(crate) unchanged: usize,
    /// Services whose configuration changed and so need a reload.
    pub(crate) reload: Vec<Service>,
}

/// Write every file under `root`. Ownership is set when running as root.
pub(crate) fn apply(root: &Path, files: &[InstallFile]) -> io::Result<Outcome> {
    let mut outcome = Outcome::default();
    for file in files {
        let path = root.join(&file.target);
        let current = std::fs::read(&path).ok();
        let mode_ok = current_mode(&path).is_some_and(|m| m & 0o777 == file.mode());
        if current.as_deref() == Some(file.contents.as_slice()) && mode_ok {
            outcome.unchanged += 1;
            continue;
        }
        write_owned(&path, &file.contents, file.mode(), file.group())?;
        if current.as_deref() != Some(file.contents.as_slice())
            && file.service.reload_for(file.kind)
        {
            outcome.reload.push(file.service);
        }
        outcome.written.push(file.target.clone());
    }
    outcome.reload.sort();
    outcome.reload.dedup();
    Ok(outcome)
}

#[cfg(unix)]
fn current_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn current_mode(_path: &Path) -> Option<u32> {
    None
}

/// Atomic write with mode and group set on the temporary file before the rename.
fn write_owned(path: &Path, contents: &[u8], mode: u32, group: &str) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| crate::load::with_path(e, dir))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| crate::load::with_path(e, dir))?;
    crate::fsutil::set_mode(tmp.path(), 0o600)?;
    tmp.write_all(contents)
        .map_err(|e| crate::load::with_path(e, path))?;
    tmp.as_file().sync_all()?;
    set_group(tmp.path(), group)?;
    crate::fsutil::set_mode(tmp.path(), mode)?;
    tmp.persist(path)
        .map_err(|e| crate::load::with_path(e.error, path))?;
    Ok(())
}

/// chown root:<group> when running as root; otherwise leave ownership alone.
#[cfg(unix)]
fn set_group(path: &Path, group: &str) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if me != 0 {
        return Ok(());
    }
    let gid = group_id(group).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "group `{group}` does not exist on this host; install the {group} package first"
            ),
        )
    })?;
    std::os::unix::fs::chown(path, Some(0), Some(gid)).map_err(|e| crate::load::with_path(e, path))
}

#[cfg(not(unix))]
fn set_group(_path: &Path, _group: &str) -> io::Result<()> {
    Ok(())
}

/// Look a group up in /etc/group.
fn group_id(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.split(':');
        (parts.next()? == name).then_some(())?;
        parts.next()?;
        parts.next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_folders_map_to_etc() {
        assert_eq!(
            target_of("postfix/main.cf"),
            Some((PathBuf::from("etc/postfix/main.cf"), Service::Postfix))
        );
        assert_eq!(
            target_of("rspamd/local.d/dkim_signing.conf"),
            Some((
                PathBuf::from("etc/rspamd/local.d/dkim_signing.conf"),
                Service::Rspamd
            ))
        );
        assert_eq!(target_of("sql/mysql.sql"), None);
        assert_eq!(target_of("terraform/main.tf"), None);
    }

    #[test]
    fn root_group_is_found() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-mailops"), None);
    }
}
