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
    version: Spanned<i64>,
    repo: Spanned<String>,
    #[serde(default)]
    branch: Option<Spanned<String>>,
    work_dir: Spanned<String>,
    #[serde(default)]
    identity: Option<Spanned<String>>,
    database: Spanned<RawDatabase>,
    #[serde(default)]
    secrets: Option<Spanned<String>>,
    install_root: Spanned<String>,
    reload: Spanned<RawReload>,
    #[serde(default)]
    status: Option<Spanned<String>>,
    #[serde(default)]
    allowed_signers: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default)]
    url: Option<Spanned<String>>,
    #[serde(default)]
    url_file: Option<Spanned<String>>,
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
    /// A private file (0600) whose only content is the URL.
    UrlFile(PathBuf),
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
    pub(crate) secrets: Option<PathBuf>,
    pub(crate) install_root: PathBuf,
    /// Service name (`postfix`, `dovecot`, `rspamd`) → shell command; empty: `none`.
    pub(crate) reload: BTreeMap<String, String>,
    pub(crate) status: PathBuf,
    pub(crate) allowed_signers: Option<PathBuf>,
}

pub(crate) const SERVICES: [&str; 3] = ["dovecot", "postfix", "rspamd"];

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
            let place = e
                .span()
                .map_or_else(|| path.display().to_string(), |span| at(span));
            Error::user(format!(
                "{place}: {} (the host file's format is in the README, \"The reconcile agent\")",
                e.message().trim_end()
            ))
        })?;
        let mut problems = Vec::new();
        let mut problem = |span: std::ops::Range<usize>, message: String| {
            problems.push(format!("{}: {message}", at(span)));
        };
        if *raw.version.get_ref() != VERSION {
            problem(
                raw.version.span(),
                format!(
                    "version {} is not known to this mailops (it reads version {VERSION})",
                    raw.version.get_ref()
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
        let database = match (
            &raw.database.get_ref().url,
            &raw.database.get_ref().url_file,
        ) {
            (Some(url), None) => {
                if crate::database_url::has_password(url.get_ref()) {
                    problem(
                        url.span(),
                        "the database URL carries a password: keep it out of the host file \
                         (name a private file with `url_file`, or use an account that \
                         needs none, like MariaDB's unix_socket)"
                            .to_string(),
                    );
                } else if let Err(why) = crate::database_url::DatabaseUrl::parse(url.get_ref()) {
                    problem(url.span(), format!("not a usable database URL: {why}"));
                }
                DatabaseSource::Url(url.get_ref().clone())
            }
            (None, Some(file)) => DatabaseSource::UrlFile(absolute("database.url_file", file)),
            _ => {
                problem(
                    raw.database.span(),
                    "`[database]` needs exactly one of `url` and `url_file`".to_string(),
                );
                DatabaseSource::Url(String::new())
            }
        };
        let reload = match raw.reload.get_ref() {
            RawReload::Word(word) if word == "none" => BTreeMap::new(),
            RawReload::Word(word) => {
                problem(
                    raw.reload.span(),
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
                            raw.reload.span(),
                            format!(
                                "`reload.{service}`: not a service mailops installs files for \
                                 (known: {})",
                                SERVICES.join(", ")
                            ),
                        );
                    } else if command.trim().is_empty() {
                        problem(raw.reload.span(), format!("`reload.{service}` is empty"));
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
        })
    }

    /// The database URL: as written, or read from its private file.
    pub(crate) fn database_url(&self) -> Result<String, Error> {
        match &self.database {
            DatabaseSource::Url(url) => Ok(url.clone()),
            DatabaseSource::UrlFile(path) => {
                use std::io::Read;
                use std::os::unix::fs::PermissionsExt;
                let mut file = crate::fsutil::open_named(path)
                    .map_err(|e| Error::user(format!("the database URL file: {e}")))?;
                let meta = file
                    .metadata()
                    .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
                crate::secret_file::check_private(path, meta.permissions().mode(), 0o600)
                    .map_err(|e| Error::user(e.to_string()))?;
                let mut text = String::new();
                file.read_to_string(&mut text)
                    .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
                let url = text.trim().to_string();
                if url.is_empty() {
                    return Err(Error::user(format!(
                        "{}: empty; it holds the database URL",
                        path.display()
                    )));
                }
                Ok(url)
            }
        }
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
[database]
url = "sqlite:///var/lib/mailops/state.db"
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
    fn unknown_keys_and_passwords_are_refused() {
        let text = format!("{GOOD}colour = 1\n");
        let error = HostConfig::parse(Path::new("h.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("h.toml:10:1: unknown field `colour`"),
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
        let text = GOOD.replace("{ postfix =", "{ nginx =");
        let error = HostConfig::parse(Path::new("h"), &text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("reload.nginx"), "{error}");
    }
}
