//! The host file, `/etc/mailops/host.toml`: what `mailops reconcile` pulls,
//! where it works, what it decrypts with, which database it writes, where it
//! installs and how it reloads. Format version 1 (see the README).
//!
//! Every problem is reported as `path:line:col: problem`, all of them at
//! once. Paths must be absolute: the agent runs from systemd, whose working
//! directory is `/`. No secret belongs here: the database URL may name a
//! separate private file (`[database] url_file`) instead of carrying a
//! password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;

/// The format version this mailops reads.
pub(crate) const VERSION: i64 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    version: Option<Spanned<i64>>,
    repo: Spanned<String>,
    #[serde(default)]
    branch: Option<Spanned<String>>,
    work_dir: Spanned<String>,
    #[serde(default)]
    identity: Option<Spanned<String>>,
    database: Spanned<String>,
    #[serde(default)]
    secrets: Option<Spanned<String>>,
    install_root: Spanned<String>,
    #[serde(default)]
    reload: Option<Spanned<RawReload>>,
    #[serde(default)]
    status: Option<Spanned<String>>,
    #[serde(default)]
    allowed_signers: Option<Spanned<String>>,
    #[serde(default)]
    host: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawReload {
    /// `"none"`.
    Word(String),
    /// `{ postfix = "…", dovecot = "…", rspamd = "…" }`.
    Commands(BTreeMap<String, String>),
}

/// Where the database URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DatabaseSource {
    Url(String),
    /// The host's secrets file (0600): `database_url = "mysql://…"`.
    SecretsFile(PathBuf),
}

/// The host file, checked.
#[derive(Debug, Clone)]
pub(crate) struct HostConfig {
    pub(crate) path: PathBuf,
    pub(crate) repo: String,
    pub(crate) branch: String,
    pub(crate) work_dir: PathBuf,
    pub(crate) identity: Option<PathBuf>,
    pub(crate) database: DatabaseSource,
    /// The secrets file of the services' database password (`db_password`):
    /// `secrets`, else the file `database` names.
    pub(crate) secrets: Option<PathBuf>,
    pub(crate) install_root: PathBuf,
    /// Service name (`postfix`, `dovecot`, `rspamd`, `postsrsd`) → shell command; empty: `none`.
    pub(crate) reload: BTreeMap<String, String>,
    pub(crate) status: PathBuf,
    pub(crate) allowed_signers: Option<PathBuf>,
    /// `host = "mx2"`: which of the platform's `[[hosts]]` this is (its
    /// configs are rendered for it); default the primary. Checked against
    /// the repo's hosts when a commit is compiled.
    pub(crate) host: Option<ConfiguredHost>,
}

/// The `host` of the host file, with its place for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfiguredHost {
    pub(crate) name: String,
    /// `path:line:col` of the value.
    pub(crate) at: String,
}

pub(crate) const SERVICES: [&str; 5] = ["dovecot", "nginx", "postfix", "postsrsd", "rspamd"];

impl HostConfig {
    /// Read and check the host file at `path`.
    pub(crate) fn load(path: &Path) -> Result<HostConfig, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::user(format!("cannot read the host file {}: {e}", path.display()))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::user(format!("{}: not UTF-8 text", path.display())))?;
        Self::parse(path, &text)
    }

    /// Check the text of a host file; `path` names it in messages.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<HostConfig, Error> {
        let at = |span: std::ops::Range<usize>| {
            let (line, col) = line_col(text, span.start);
            format!("{}:{line}:{col}", path.display())
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let place = e.span().map_or_else(|| path.display().to_string(), &at);
            Error::user(format!(
                "{place}: {} (the host file's format is in the README, \"The reconcile agent\")",
                e.message().trim_end()
            ))
        })?;
        let mut problems = Vec::new();
        let mut problem = |span: std::ops::Range<usize>, message: String| {
            problems.push(format!("{}: {message}", at(span)));
        };
        if let Some(version) = raw.version.as_ref().filter(|v| *v.get_ref() != VERSION) {
            problem(
                version.span(),
                format!(
                    "version {} is not known to this mailops (it reads version {VERSION})",
                    version.get_ref()
                ),
            );
        }
        let mut absolute = |field: &str, value: &Spanned<String>| -> PathBuf {
            let p = PathBuf::from(value.get_ref());
            if !p.is_absolute() {
                problem(
                    value.span(),
                    format!(
                        "`{field}` must be an absolute path, not `{}`",
                        value.get_ref()
                    ),
                );
            }
            p
        };
        let work_dir = absolute("work_dir", &raw.work_dir);
        let install_root = absolute("install_root", &raw.install_root);
        let identity = raw.identity.as_ref().map(|v| absolute("identity", v));
        let secrets = raw.secrets.as_ref().map(|v| absolute("secrets", v));
        let allowed_signers = raw
            .allowed_signers
            .as_ref()
            .map(|v| absolute("allowed_signers", v));
        let status = raw
            .status
            .as_ref()
            .map_or_else(|| work_dir.join("status.json"), |v| absolute("status", v));
        let database = {
            let text = raw.database.get_ref();
            if text.starts_with('/') {
                DatabaseSource::SecretsFile(PathBuf::from(text))
            } else if crate::database_url::has_password(text) {
                problem(
                    raw.database.span(),
                    "the database URL carries a password: keep it out of the host file (name \
                     the host's secrets file instead, whose `database_url` holds it, or use an \
                     account that needs none, like MariaDB's unix_socket)"
                        .to_string(),
                );
                DatabaseSource::Url(String::new())
            } else if let Err(why) = crate::database_url::DatabaseUrl::parse(text) {
                problem(
                    raw.database.span(),
                    format!(
                        "`database` is a URL (`sqlite:///path`, `mysql://user@host/db`) or the \
                         absolute path of the secrets file: {why}"
                    ),
                );
                DatabaseSource::Url(String::new())
            } else {
                DatabaseSource::Url(text.clone())
            }
        };
        let secrets = secrets.or_else(|| match &database {
            DatabaseSource::SecretsFile(path) => Some(path.clone()),
            DatabaseSource::Url(_) => None,
        });
        let default_reload = RawReload::Commands(
            SERVICES
                .iter()
                // postsrsd reads its settings only when it starts.
                .map(|s| match *s {
                    "postsrsd" => (s.to_string(), format!("systemctl restart {s}")),
                    _ => (s.to_string(), format!("systemctl reload {s}")),
                })
                .collect(),
        );
        let reload_span = raw.reload.as_ref().map_or(0..0, |r| r.span());
        let reload = match raw.reload.as_ref().map_or(&default_reload, |r| r.get_ref()) {
            RawReload::Word(word) if word == "none" => BTreeMap::new(),
            RawReload::Word(word) => {
                problem(
                    reload_span.clone(),
                    format!(
                        "`reload` is `\"none\"` or a table of commands per service \
                         (`{{ postfix = \"systemctl reload postfix\", … }}`), not `{word}`"
                    ),
                );
                BTreeMap::new()
            }
            RawReload::Commands(commands) => {
                for (service, command) in commands {
                    if !SERVICES.contains(&service.as_str()) {
                        problem(
                            reload_span.clone(),
                            format!(
                                "`reload.{service}`: not a service mailops installs files for \
                                 (known: {})",
                                SERVICES.join(", ")
                            ),
                        );
                    } else if command.trim().is_empty() {
                        problem(reload_span.clone(), format!("`reload.{service}` is empty"));
                    }
                }
                commands.clone()
            }
        };
        let branch = raw
            .branch
            .as_ref()
            .map_or_else(|| "main".to_string(), |b| b.get_ref().clone());
        if let Some(b) = &raw.branch {
            if !valid_branch(b.get_ref()) {
                problem(b.span(), format!("`{}` is not a branch name", b.get_ref()));
            }
        }
        if raw.repo.get_ref().trim().is_empty() || raw.repo.get_ref().starts_with('-') {
            problem(
                raw.repo.span(),
                "`repo` must be a git URL or path".to_string(),
            );
        }
        let host = raw.host.as_ref().map(|h| ConfiguredHost {
            name: h.get_ref().clone(),
            at: at(h.span()),
        });
        if let Some(h) = &raw.host {
            if !crate::model::host::is_host_name(h.get_ref()) {
                problem(
                    h.span(),
                    format!(
                        "`host = \"{}\"` is not a host name: a `[[hosts]] name` of the repo's \
                         mailops.toml, [a-z][a-z0-9-]{{0,31}}",
                        h.get_ref().escape_debug()
                    ),
                );
            }
        }
        if !problems.is_empty() {
            return Err(Error::user(problems.join("\n")));
        }
        Ok(HostConfig {
            path: path.to_path_buf(),
            repo: raw.repo.into_inner(),
            branch,
            work_dir,
            identity,
            database,
            secrets,
            install_root,
            reload,
            status,
            allowed_signers,
            host,
        })
    }

    /// The database URL: as written, or `database_url` of the secrets file.
    pub(crate) fn database_url(&self) -> Result<String, Error> {
        match &self.database {
            DatabaseSource::Url(url) => Ok(url.clone()),
            DatabaseSource::SecretsFile(path) => {
                let secrets = HostSecrets::read(path)?;
                secrets.database_url.ok_or_else(|| {
                    Error::user(format!(
                        "{}: no `database_url` (the host file's `database` names this file for it)",
                        path.display()
                    ))
                })
            }
        }
    }

    /// The secrets `install` fills into the services' configs.
    pub(crate) fn install_secrets(&self) -> Result<crate::install::Secrets, Error> {
        let mut secrets = crate::install::Secrets::default();
        if let Some(path) = &self.secrets {
            secrets.db_password = HostSecrets::read(path)?.db_password;
        }
        if let Some(password) = &secrets.db_password {
            crate::validate::secret::check_db_password(password)
                .map_err(|p| Error::user(p.to_string()))?;
        }
        Ok(secrets)
    }
}

/// The host's secrets file (`/etc/mailops/secrets.toml`, 0600, made at first
/// boot): the services' read-only password and the URL mailops writes with.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSecrets {
    #[serde(default)]
    db_password: Option<String>,
    #[serde(default)]
    database_url: Option<String>,
}

impl HostSecrets {
    /// A regular file (not a link) that group and others may not read.
    fn read(path: &Path) -> Result<HostSecrets, Error> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let mut file = crate::fsutil::open_named(path)
            .map_err(|e| Error::user(format!("the secrets file: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        crate::secret_file::check_private(path, meta.permissions().mode(), 0o600)
            .map_err(|e| Error::user(e.to_string()))?;
        let mut text = zeroize::Zeroizing::new(String::new());
        file.read_to_string(&mut text)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        // A TOML error's message may quote the text: only its place is shown.
        toml::from_str(&text).map_err(|e| {
            let place = e.span().map_or(String::new(), |span| {
                let (line, col) = line_col(&text, span.start);
                format!(":{line}:{col}")
            });
            Error::user(format!(
                "{}{place}: not a secrets file (`db_password = \"…\"`, `database_url = \"…\"`)",
                path.display()
            ))
        })
    }
}

/// A branch name git accepts and that cannot be read as an option.
fn valid_branch(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.contains("..")
        && !name.contains("//")
        && !name.ends_with(".lock")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"version = 1
repo = "/srv/forge/mail.git"
branch = "main"
work_dir = "/var/lib/mailops"
identity = "/etc/mailops/age-identity.txt"
install_root = "/"
reload = { postfix = "systemctl reload postfix" }
database = "sqlite:///var/lib/mailops/state.db"
"#;

    #[test]
    fn a_good_host_file_is_read() {
        let config = HostConfig::parse(Path::new("host.toml"), GOOD).unwrap();
        assert_eq!(config.branch, "main");
        assert_eq!(config.status, PathBuf::from("/var/lib/mailops/status.json"));
        assert_eq!(config.reload.len(), 1);
    }

    #[test]
    fn problems_name_the_file_and_line() {
        let text = GOOD
            .replace("work_dir = \"/var/lib/mailops\"", "work_dir = \"relative\"")
            .replace("version = 1", "version = 7");
        let error = HostConfig::parse(Path::new("host.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("host.toml:1:11: version 7"), "{error}");
        assert!(
            error.contains("host.toml:4:12: `work_dir` must be an absolute path"),
            "{error}"
        );
    }

    #[test]
    fn the_host_names_which_of_the_platforms_hosts_this_is() {
        let config = HostConfig::parse(Path::new("h.toml"), GOOD).unwrap();
        assert_eq!(config.host, None);
        let text = format!("{GOOD}host = \"mx2\"\n");
        let config = HostConfig::parse(Path::new("h.toml"), &text).unwrap();
        assert_eq!(
            config.host,
            Some(ConfiguredHost {
                name: "mx2".to_string(),
                at: "h.toml:9:8".to_string()
            })
        );
        let text = format!("{GOOD}host = \"MX 2\"\n");
        let error = HostConfig::parse(Path::new("h.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("h.toml:9:8: `host = \"MX 2\"` is not a host name"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_and_passwords_are_refused() {
        let text = format!("{GOOD}colour = 1\n");
        let error = HostConfig::parse(Path::new("h.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("h.toml:9:1: unknown field `colour`"),
            "{error}"
        );
        let text = GOOD.replace(
            "sqlite:///var/lib/mailops/state.db",
            "mysql://mailops:hunter2@localhost/mail",
        );
        let error = HostConfig::parse(Path::new("h.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("carries a password"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn the_first_boot_file_is_read_with_its_defaults() {
        // What cloud-init's mailops-firstboot writes.
        let text = r#"repo = "git@github.com:acme/mail.git"
branch = "main"
work_dir = "/var/lib/mailops"
identity = "/etc/mailops/age-identity.txt"
database = "/etc/mailops/secrets.toml"
install_root = "/"
"#;
        let config = HostConfig::parse(Path::new("h"), text).unwrap();
        assert_eq!(
            config.database,
            DatabaseSource::SecretsFile("/etc/mailops/secrets.toml".into())
        );
        assert_eq!(config.secrets, Some("/etc/mailops/secrets.toml".into()));
        assert_eq!(config.reload["rspamd"], "systemctl reload rspamd");
        assert_eq!(config.reload["postsrsd"], "systemctl restart postsrsd");
        assert_eq!(config.reload["nginx"], "systemctl reload nginx");
        assert_eq!(config.reload.len(), 5);
    }

    #[test]
    fn reload_is_none_or_commands_of_known_services() {
        let text = GOOD.replace(
            "reload = { postfix = \"systemctl reload postfix\" }",
            "reload = \"none\"",
        );
        assert!(
            HostConfig::parse(Path::new("h"), &text)
                .unwrap()
                .reload
                .is_empty()
        );
        let text = GOOD.replace("{ postfix =", "{ exim4 =");
        let error = HostConfig::parse(Path::new("h"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("reload.exim4"), "{error}");
    }
}
