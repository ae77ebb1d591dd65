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

use crate::encrypted_keys::DecryptedKeys;
use crate::error::Error;
use crate::host_root::HostRoot;
use crate::keystore::{KeyStore, key_file_name};
use crate::model::Model;

use crate::emit::mail_host::{DB_PASSWORD_PLACEHOLDER, DOVEADM_PASSWORD_FILE};

/// A service whose files mailops installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Service {
    Postfix,
    Dovecot,
    Rspamd,
    /// postsrsd, the SRS daemon: its settings (`/etc/default/postsrsd`),
    /// read when it starts, so a change needs a restart.
    Postsrsd,
    /// nginx: its config (reloaded on a change), and the tenants' MTA-STS
    /// policies and autoconfig files, read per request (never a reload).
    Nginx,
    /// MariaDB: the host's Galera node settings (several hosts), read when it
    /// starts. Never reloaded or restarted by mailops: restarting a node of
    /// a cluster is the operator's decision (see [`Outcome::restart_by_hand`]).
    Mariadb,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Postfix => "postfix",
            Service::Dovecot => "dovecot",
            Service::Rspamd => "rspamd",
            Service::Postsrsd => "postsrsd",
            Service::Nginx => "nginx",
            Service::Mariadb => "mariadb",
        }
    }

    /// The group that may read this service's secrets.
    fn group(self) -> &'static str {
        match self {
            Service::Postfix => "postfix",
            Service::Dovecot => "dovecot",
            Service::Rspamd => "_rspamd",
            Service::Postsrsd => "postsrsd",
            Service::Nginx => "root",
            Service::Mariadb => "mysql",
        }
    }

    /// Whether a change to these files needs a reload. Rspamd reads DKIM keys
    /// per message, so a new key file needs none; the per-domain signing
    /// entries of domains with several keys are config it reads at (re)load.
    /// MariaDB's never: it reads its settings when the operator restarts it.
    fn reload_for(self, kind: FileKind) -> bool {
        self != Service::Mariadb
            && matches!(
                kind,
                FileKind::Config
                    | FileKind::DkimSigningDomains
                    | FileKind::DoveadmPassword
                    | FileKind::SrsSecrets
            )
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
    /// Domain → outbound send limits, next to the keys; read by the ratelimit
    /// module's custom keywords as an Rspamd map, so re-read by itself.
    RateLimits,
    /// The doveadm server's password (several hosts only), read by
    /// `dovecot.conf` at (re)load.
    DoveadmPassword,
    /// postsrsd's secrets (several hosts only): the one every host signs
    /// with, first, then the host's earlier ones, which still verify the SRS
    /// addresses they signed (see [`with_earlier_secrets`]).
    SrsSecrets,
    /// A tenant's MTA-STS policy or autoconfig file, or the list of names
    /// the certificate service follows: served or read as they are.
    Web,
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
    /// `MAILOPS_DB_PASSWORD`, else `db_password` in the secrets file. Every
    /// failure is the user's to resolve (exit 1), a secrets file that cannot
    /// be read included.
    pub(crate) fn load(file: Option<&Path>) -> Result<Secrets, Error> {
        let mut secrets = Secrets::default();
        if let Some(path) = file {
            let text = read_secrets_file(path)?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                Error::user(format!(
                    "{}: not a TOML secrets file: {}",
                    path.display(),
                    e.message()
                ))
            })?;
            // `database_url` (the writing account the host's first boot
            // makes, for the reconcile agent) is no concern of install.
            for key in table.keys() {
                if key != "db_password" && key != "database_url" {
                    return Err(Error::user(format!(
                        "{}: unknown key `{key}` (known: db_password, database_url)",
                        path.display()
                    )));
                }
            }
            if let Some(value) = table.get("db_password") {
                let value = value.as_str().ok_or_else(|| {
                    Error::user(format!(
                        "{}: `db_password` must be a string",
                        path.display()
                    ))
                })?;
                secrets.db_password = Some(value.to_string());
            }
        }
        if let Some(value) = std::env::var_os("MAILOPS_DB_PASSWORD") {
            secrets.db_password = Some(value.to_string_lossy().into_owned());
        }
        if let Some(password) = &secrets.db_password {
            crate::validate::secret::check_db_password(password)
                .map_err(|p| Error::user(p.to_string()))?;
        }
        Ok(secrets)
    }
}

/// The secrets file: a regular file (not a link: name the file itself), that
/// group and others may not read.
fn read_secrets_file(path: &Path) -> Result<zeroize::Zeroizing<String>, Error> {
    crate::secret_file::read_private(path, "secrets file")
}

/// Where each generated folder goes under the root, and whose it is.
fn target_of(generated_path: &str) -> Option<(PathBuf, Service)> {
    let (prefix, dir, service) = [
        ("postfix/", "etc/postfix", Service::Postfix),
        ("dovecot/", "etc/dovecot", Service::Dovecot),
        ("rspamd/", "etc/rspamd", Service::Rspamd),
        // `postsrsd/postsrsd`: the settings Debian's launcher reads.
        ("postsrsd/", "etc/default", Service::Postsrsd),
        ("nginx/", "etc/nginx/conf.d", Service::Nginx),
        // `mysql/mariadb.conf.d/…`: the Galera node's settings.
        ("mysql/", "etc/mysql", Service::Mariadb),
    ]
    .into_iter()
    .find(|(prefix, _, _)| generated_path.starts_with(prefix))?;
    let rest = &generated_path[prefix.len()..];
    Some((PathBuf::from(dir).join(rest), service))
}

/// Whether a file under `generated/` is installed on the mail host.
pub(crate) fn is_host_file(generated_path: &str) -> bool {
    target_of(generated_path).is_some()
}

/// The generated files installed on the host named `host` (default: the
/// primary, whose files `generated/` holds): the artifacts' host files, with
/// those that carry a host's identity rendered for that host. An unknown
/// name is the user's to fix (exit 1), with the declared hosts named.
pub(crate) fn host_generated(
    artifacts: &crate::emit::Artifacts,
    platform: &crate::model::Platform,
    host: Option<&str>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut generated: BTreeMap<String, String> = artifacts
        .iter()
        .filter(|(path, _)| is_host_file(path))
        .map(|(path, contents)| (path.to_string(), contents.to_string()))
        .collect();
    if let Some(name) = host {
        let identity = crate::model::HostIdentity::of(platform, name)
            .ok_or_else(|| Error::user(unknown_host(platform, name)))?;
        for (path, contents) in crate::emit::host_files(platform, &identity).iter() {
            generated.insert(path.to_string(), contents.to_string());
        }
    }
    Ok(generated)
}

/// `no mail host \`mx3\` …`: the message for a host name the platform lacks.
pub(crate) fn unknown_host(platform: &crate::model::Platform, name: &str) -> String {
    let names: Vec<&str> = platform.hosts.iter().map(|h| h.name.as_str()).collect();
    let declared = if platform.hosts_declared {
        "the hosts mailops.toml declares ([[hosts]])"
    } else {
        "the one host of mailops.toml (no [[hosts]]: the first label of [mail_host] hostname)"
    };
    format!("no mail host `{name}`; {declared}: {}", names.join(", "))
}

/// Where install takes the DKIM private keys from: the plaintext key store,
/// or the keys of `keys/` decrypted (and checked) beforehand.
pub(crate) trait PrivateKeys {
    /// The PEM private key of a tenant's selector, if there is one.
    fn private_pem(
        &self,
        domain: &str,
        selector: &str,
    ) -> io::Result<Option<zeroize::Zeroizing<String>>>;
    /// Where that key comes from, for messages.
    fn shown(&self, domain: &str, selector: &str) -> String;
}

impl PrivateKeys for KeyStore {
    fn private_pem(
        &self,
        domain: &str,
        selector: &str,
    ) -> io::Result<Option<zeroize::Zeroizing<String>>> {
        Ok(self.read(domain, selector)?.map(zeroize::Zeroizing::new))
    }

    fn shown(&self, domain: &str, selector: &str) -> String {
        self.path(domain, selector).display().to_string()
    }
}

impl PrivateKeys for DecryptedKeys {
    fn private_pem(
        &self,
        domain: &str,
        selector: &str,
    ) -> io::Result<Option<zeroize::Zeroizing<String>>> {
        Ok(self
            .get(&(domain.to_string(), selector.to_string()))
            .cloned())
    }

    fn shown(&self, domain: &str, selector: &str) -> String {
        crate::encrypted_keys::shown(domain, selector)
    }
}

/// Every file to install: generated configs (placeholders filled) and DKIM
/// keys. A missing secret or key, and a key that cannot be read, are the
/// user's to resolve (exit 1).
pub(crate) fn plan(
    generated: &BTreeMap<String, String>,
    model: &Model,
    store: &dyn PrivateKeys,
    secrets: &Secrets,
) -> Result<Vec<InstallFile>, Error> {
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
        return Err(Error::user(format!(
            "no database password for {}: set MAILOPS_DB_PASSWORD or pass --secrets FILE with `db_password = \"…\"`",
            missing.join(", ")
        )));
    }
    if model.platform.hosts_declared {
        let Some(password) = &secrets.db_password else {
            return Err(Error::user(
                "no database password to derive the doveadm password from (several hosts): set MAILOPS_DB_PASSWORD or pass --secrets FILE with `db_password = \"…\"`",
            ));
        };
        files.push(InstallFile {
            target: PathBuf::from(DOVEADM_PASSWORD_FILE.trim_start_matches('/')),
            contents: derived_secret(password, "mailops doveadm").into_bytes(),
            service: Service::Dovecot,
            kind: FileKind::DoveadmPassword,
            secret: true,
        });
    }
    if model.platform.hosts_declared && generated.contains_key("postsrsd/postsrsd") {
        // The database password is there: the doveadm password needed it.
        if let Some(password) = &secrets.db_password {
            files.push(InstallFile {
                target: PathBuf::from(
                    crate::emit::mail_host::SHARED_SRS_SECRETS_FILE.trim_start_matches('/'),
                ),
                contents: format!("{}\n", derived_secret(password, "mailops postsrsd"))
                    .into_bytes(),
                service: Service::Postsrsd,
                kind: FileKind::SrsSecrets,
                secret: true,
            });
        }
    }
    let key_dir = key_dir(model);
    let mut missing_keys = Vec::new();
    for domain in model.domains.values() {
        // Every key in DNS, published and retiring ones too (a published key
        // is there before it is promoted); a retired key is not installed,
        // and one an earlier install put there is archived.
        for key in domain.deployed_keys() {
            let selector = &key.selector;
            match store
                .private_pem(&domain.name, selector)
                .map_err(|e| Error::user(e.to_string()))?
            {
                Some(pem) => {
                    let contents = crate::dkim_keys::rspamd_key_file(&pem).map_err(|e| {
                        Error::user(format!("{}: {e}", store.shown(&domain.name, selector)))
                    })?;
                    // An alias domain signs with the tenant's keys: a copy
                    // under its own name, found by the path template.
                    for name in domain.signing_names() {
                        files.push(InstallFile {
                            target: key_dir.join(key_file_name(name, selector)),
                            contents: contents.clone(),
                            service: Service::Rspamd,
                            kind: FileKind::DkimKey,
                            secret: true,
                        });
                    }
                }
                None => {
                    missing_keys.push(store.shown(&domain.name, selector));
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
    for (target, contents) in crate::emit::nginx::web_files(model) {
        files.push(InstallFile {
            target: PathBuf::from(target),
            contents: contents.into_bytes(),
            service: Service::Nginx,
            kind: FileKind::Web,
            secret: false,
        });
    }
    files.push(InstallFile {
        target: key_dir.join(crate::emit::mail_host::RATE_LIMIT_MAP),
        contents: crate::emit::rspamd::rate_limit_map(model).into_bytes(),
        service: Service::Rspamd,
        kind: FileKind::RateLimits,
        secret: false,
    });
    if !missing_keys.is_empty() {
        return Err(Error::user(format!(
            "the key store has no DKIM private key for: {}\n(run `mailops dkim keygen <domain>` where the key store lives, or copy the keys there)",
            missing_keys.join(", ")
        )));
    }
    Ok(files)
}

/// A secret every host derives from the one it already has: HMAC-SHA256 of
/// `purpose` (`mailops doveadm`: the doveadm server's password; `mailops
/// postsrsd`: the SRS signing secret) keyed with the services' database
/// password, in hex. The database password cannot be recovered from it (a
/// host that leaks it leaks no database access), and each purpose gets its
/// own.
pub(crate) fn derived_secret(db_password: &str, purpose: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(db_password.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(purpose.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many of a host's earlier SRS secrets stay, after the shared one: an
/// SRS address is good for 21 days, so the secret the Debian package made
/// (and one or two from before a database password change) keep verifying
/// the bounces to what they signed, and older ones go.
const EARLIER_SRS_SECRETS: usize = 3;

/// postsrsd signs with the first line of its secrets file and verifies with
/// every line: `shared` first, then the lines `current` had besides it, the
/// first [`EARLIER_SRS_SECRETS`] of them. Installing again changes nothing.
fn with_earlier_secrets(shared: &[u8], current: Option<&[u8]>) -> Vec<u8> {
    let first = shared.trim_ascii();
    let mut out = first.to_vec();
    out.push(b'\n');
    let earlier = current
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty() && *line != first)
        .take(EARLIER_SRS_SECRETS);
    for line in earlier {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// What installing changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) written: Vec<PathBuf>,
    pub(crate) unchanged: usize,
    /// Services whose configuration changed and so need a reload.
    pub(crate) reload: Vec<Service>,
    /// Files written that take effect only when their service restarts,
    /// which mailops leaves to the operator: the Galera node's settings.
    pub(crate) restart_by_hand: Vec<PathBuf>,
    /// DKIM keys of tenants no longer declared: (key, where it was moved).
    pub(crate) archived: Vec<(PathBuf, PathBuf)>,
}

/// The folder of the host key directory that keys of tenants no longer
/// declared are moved to (mode 0700), out of Rspamd's reach.
pub(crate) const KEY_ARCHIVE: &str = "archived";

/// The host key directory under the root (`var/lib/rspamd/dkim`).
fn key_dir(model: &Model) -> PathBuf {
    PathBuf::from(model.platform.paths.dkim_key_dir.trim_start_matches('/'))
}

/// Write every file under `root`, all or nothing (see `host_root`): nothing
/// is replaced until every file is staged beside its target, and on any
/// error nothing under the root has changed. Keys in the host key directory
/// (the folder of the selector map) that the last install put there and no
/// file installs now (tenants no longer declared, old selectors) are moved
/// to its `archived/` folder. Ownership is set when running as root.
pub(crate) fn apply(root: &Path, files: &[InstallFile]) -> io::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut host = HostRoot::open(root)?;
    let as_root = running_as_root();
    let mut old_selector_map = None;
    for file in files {
        let gid = if as_root {
            Some(group_id(file.group()).ok_or_else(|| {
                let group = file.group();
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("group `{group}` does not exist on this host; install the {group} package first"),
                )
            })?)
        } else {
            None
        };
        let current = host.current(&file.target)?;
        if file.kind == FileKind::DkimSelectors {
            old_selector_map = current.as_ref().map(|c| c.contents.clone());
        }
        let merged;
        let contents = if file.kind == FileKind::SrsSecrets {
            // The first time, the host's earlier secret is the one Debian's
            // package made: it signed what this host sent until now.
            let earlier = match &current {
                Some(c) => Some(c.contents.clone()),
                None => host
                    .current(Path::new(
                        crate::emit::mail_host::SRS_SECRETS_FILE.trim_start_matches('/'),
                    ))?
                    .map(|c| c.contents),
            };
            merged = with_earlier_secrets(&file.contents, earlier.as_deref());
            &merged
        } else {
            &file.contents
        };
        let same_contents = current.as_ref().is_some_and(|c| &c.contents == contents);
        let same_access = current
            .as_ref()
            .is_some_and(|c| c.mode & 0o777 == file.mode() && gid.is_none_or(|g| c.gid == g));
        if same_contents && same_access {
            outcome.unchanged += 1;
            continue;
        }
        host.stage(&file.target, contents, file.mode(), gid)?;
        if !same_contents && file.service.reload_for(file.kind) {
            outcome.reload.push(file.service);
        }
        if !same_contents && file.service == Service::Mariadb {
            outcome.restart_by_hand.push(file.target.clone());
        }
        outcome.written.push(file.target.clone());
    }
    let key_dir = files
        .iter()
        .find(|f| f.kind == FileKind::DkimSelectors)
        .and_then(|f| f.target.parent());
    if let (Some(key_dir), Some(old_map)) = (key_dir, old_selector_map) {
        archive_undeclared_keys(&mut host, files, key_dir, &old_map, &mut outcome)?;
    }
    archive_stale_web_files(&mut host, files, &mut outcome)?;
    host.commit()?;
    outcome.reload.sort();
    outcome.reload.dedup();
    Ok(outcome)
}

/// Move the keys in `key_dir` that an earlier install put there (those of
/// the selector map it left, `old_map`) and that no file installs now to
/// `key_dir/archived/` (at the commit). Other files in the folder are not
/// mailops's and are left alone, whatever their names.
fn archive_undeclared_keys(
    host: &mut HostRoot,
    files: &[InstallFile],
    key_dir: &Path,
    old_map: &[u8],
    outcome: &mut Outcome,
) -> io::Result<()> {
    let installed: std::collections::BTreeSet<&std::ffi::OsStr> = files
        .iter()
        .filter(|f| f.kind == FileKind::DkimKey && f.target.parent() == Some(key_dir))
        .filter_map(|f| f.target.file_name())
        .collect();
    let installed_before: std::collections::BTreeSet<std::ffi::OsString> =
        String::from_utf8_lossy(old_map)
            .lines()
            .filter_map(
                |line| match line.strip_prefix(crate::emit::rspamd::INSTALLED_KEY) {
                    Some(key) => Some(key),
                    None => (!line.starts_with('#')).then_some(line),
                },
            )
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let (domain, selector) = (words.next()?, words.next()?);
                Some(key_file_name(domain, selector).into())
            })
            .collect();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for entry in host.entries(key_dir)? {
        if entry.kind == rustix::fs::FileType::Directory
            || !installed_before.contains(&entry.name)
            || installed.contains(entry.name.as_os_str())
        {
            continue;
        }
        let mut archived_name = entry.name.clone();
        archived_name.push(format!(".{stamp}"));
        let archive = key_dir.join(KEY_ARCHIVE);
        let to = host.archive(key_dir, &entry.name, &archive, &archived_name)?;
        outcome
            .archived
            .push((host.shown(&key_dir.join(&entry.name)), host.shown(&to)));
    }
    Ok(())
}

/// Move the MTA-STS policies and autoconfig files of domains no longer
/// declared (a tenant removed, an alias domain dropped, MTA-STS turned off)
/// out of the folders nginx serves, into `<web root>/archived/`: nginx must
/// not go on serving a policy for a domain whose mail is no longer here.
/// Only an install that writes the web files does this.
fn archive_stale_web_files(
    host: &mut HostRoot,
    files: &[InstallFile],
    outcome: &mut Outcome,
) -> io::Result<()> {
    if !files.iter().any(|f| f.kind == FileKind::Web) {
        return Ok(());
    }
    let web_root = Path::new(crate::emit::nginx::WEB_ROOT.trim_start_matches('/'));
    let installed: std::collections::BTreeSet<&Path> = files
        .iter()
        .filter(|f| f.kind == FileKind::Web)
        .map(|f| f.target.as_path())
        .collect();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let archive = web_root.join(KEY_ARCHIVE);
    for (folder, suffix) in [("mta-sts", ".txt"), ("autoconfig", ".xml")] {
        let dir = web_root.join(folder);
        for entry in host.entries(&dir)? {
            let name = entry.name.to_string_lossy();
            if entry.kind != rustix::fs::FileType::RegularFile
                || !name.ends_with(suffix)
                || installed.contains(dir.join(&entry.name).as_path())
            {
                continue;
            }
            let archived_name = format!("{folder}-{name}.{stamp}");
            let to = host.archive(&dir, &entry.name, &archive, archived_name.as_ref())?;
            outcome
                .archived
                .push((host.shown(&dir.join(&entry.name)), host.shown(&to)));
        }
    }
    Ok(())
}

/// Whether this process runs as root (and so sets owners).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
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
        assert_eq!(
            target_of("postsrsd/postsrsd"),
            Some((PathBuf::from("etc/default/postsrsd"), Service::Postsrsd))
        );
        assert_eq!(
            target_of("mysql/mariadb.conf.d/60-mailops-galera.cnf"),
            Some((
                PathBuf::from("etc/mysql/mariadb.conf.d/60-mailops-galera.cnf"),
                Service::Mariadb
            ))
        );
        assert!(!Service::Mariadb.reload_for(FileKind::Config));
        assert_eq!(target_of("sql/mysql/acme.example.sql"), None);
        assert_eq!(target_of("terraform/host/main.tf"), None);
    }

    #[test]
    fn doveadm_password_is_hmac_sha256_of_the_database_password() {
        // The same as Python's hmac.new(b"db-secret", b"mailops doveadm", sha256).
        assert_eq!(
            derived_secret("db-secret", "mailops doveadm"),
            "1d8407b0980d1859011dc5336c205db90865096fb372e5a9a4d0462f2128716b"
        );
        assert_ne!(
            derived_secret("db-secret", "mailops doveadm"),
            derived_secret("db-secret2", "mailops doveadm")
        );
        assert_ne!(
            derived_secret("db-secret", "mailops doveadm"),
            derived_secret("db-secret", "mailops postsrsd")
        );
    }

    #[test]
    fn the_shared_srs_secret_comes_first_and_earlier_ones_stay_after_it() {
        // Debian's own secret stays, to verify what it signed.
        assert_eq!(
            with_earlier_secrets(b"shared\n", Some(b"debian\n")),
            b"shared\ndebian\n"
        );
        // Installing again changes nothing.
        assert_eq!(
            with_earlier_secrets(b"shared\n", Some(b"shared\ndebian\n")),
            b"shared\ndebian\n"
        );
        // A new shared secret (the database password changed): the old
        // one verifies, after it.
        assert_eq!(
            with_earlier_secrets(b"new\n", Some(b"shared\ndebian\n")),
            b"new\nshared\ndebian\n"
        );
        // No file yet; blank lines and the oldest beyond three go.
        assert_eq!(with_earlier_secrets(b"shared\n", None), b"shared\n");
        assert_eq!(
            with_earlier_secrets(b"s\n", Some(b"a\n\n b \nc\nd\n")),
            b"s\na\nb\nc\n"
        );
    }

    #[test]
    fn root_group_is_found() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-mailops"), None);
    }
}
