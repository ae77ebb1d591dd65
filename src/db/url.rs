//! Which database plan and apply talk to.
//!
//! In order: `--database`, else `MAILOPS_DATABASE_URL`, else `[database] url`
//! in mailops.toml, else the embedded default `sqlite://.mailops/state.db`.
//! A relative SQLite path is taken from the mail repo (like every other path
//! mailops reads), so `-C DIR` finds the same database from anywhere.

use std::path::{Path, PathBuf};

use crate::database_url::DatabaseUrl;
use crate::error::Error;

pub(crate) const ENV_VAR: &str = "MAILOPS_DATABASE_URL";
pub(crate) const DEFAULT_URL: &str = "sqlite://.mailops/state.db";

/// Where the URL came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlSource {
    Flag,
    Environment,
    PlatformFile,
    Default,
}

impl UrlSource {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            UrlSource::Flag => "--database",
            UrlSource::Environment => ENV_VAR,
            UrlSource::PlatformFile => "[database] url in mailops.toml",
            UrlSource::Default => "the embedded default",
        }
    }
}

/// A database to connect to: the parsed URL and, for SQLite, the file path
/// resolved against the mail repo.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) url: DatabaseUrl,
    pub(crate) source: UrlSource,
    /// SQLite only: the database file.
    pub(crate) sqlite_path: Option<PathBuf>,
}

impl Target {
    /// The URL as it may be printed (any password replaced by `***`).
    pub(crate) fn shown(&self) -> String {
        self.url.redacted()
    }

    /// The database, whatever the password: what a saved plan is tied to.
    pub(crate) fn identity(&self) -> String {
        self.url.identity()
    }
}

/// Pick the URL (first of flag, environment, platform file, default) and parse
/// it. A URL that is not usable is the user's to fix (exit 1).
pub(crate) fn resolve(
    flag: Option<&str>,
    environment: Option<&str>,
    platform_file: Option<&str>,
    repo_root: &Path,
) -> Result<Target, Error> {
    fn non_empty(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.trim().is_empty())
    }
    // An empty environment variable counts as unset, but `--database ""` was
    // asked for: most likely `--database "$DB_URL"` with the variable unset,
    // which must not quietly plan or apply against the default database.
    if flag.is_some_and(|f| f.trim().is_empty()) {
        return Err(Error::user(format!(
            "--database was given an empty URL (an unset variable?); give the URL \
             (`mysql://user@host:3306/database` or `sqlite://path`), or leave out --database \
             to use {ENV_VAR}, [database] url in mailops.toml or {DEFAULT_URL}"
        )));
    }
    let (text, source) = if let Some(url) = non_empty(flag) {
        (url, UrlSource::Flag)
    } else if let Some(url) = non_empty(environment) {
        (url, UrlSource::Environment)
    } else if let Some(url) = non_empty(platform_file) {
        (url, UrlSource::PlatformFile)
    } else {
        (DEFAULT_URL, UrlSource::Default)
    };
    let url = DatabaseUrl::parse(text.trim()).map_err(|why| {
        Error::user(format!(
            "the database URL `{}` from {} is not usable: {why}",
            crate::database_url::redact(text.trim()),
            source.describe()
        ))
    })?;
    let sqlite_path = match &url {
        DatabaseUrl::Sqlite { path } => Some(repo_root.join(path)),
        DatabaseUrl::Mysql { .. } => None,
    };
    Ok(Target {
        url,
        source,
        sqlite_path,
    })
}

/// `resolve` with the environment variable read from the process.
pub(crate) fn resolve_from_env(
    flag: Option<&str>,
    platform_file: Option<&str>,
    repo_root: &Path,
) -> Result<Target, Error> {
    let environment = std::env::var(ENV_VAR).ok();
    resolve(flag, environment.as_deref(), platform_file, repo_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_environment_beats_platform_file_beats_default() {
        let root = Path::new("/repo");
        let pick = |f, e, p| resolve(f, e, p, root).unwrap().source;
        let m = Some("mysql://u@h/d");
        assert_eq!(pick(m, m, m), UrlSource::Flag);
        assert_eq!(pick(None, m, m), UrlSource::Environment);
        assert_eq!(pick(None, Some(""), m), UrlSource::PlatformFile);
        assert_eq!(pick(None, None, None), UrlSource::Default);
    }

    #[test]
    fn an_empty_database_flag_is_refused_not_taken_for_the_default() {
        let root = Path::new("/repo");
        for empty in ["", "  "] {
            let err = resolve(Some(empty), Some("mysql://u@h/d"), None, root).unwrap_err();
            assert!(
                err.to_string()
                    .contains("--database was given an empty URL"),
                "{err}"
            );
            assert_eq!(err.exit_code(), std::process::ExitCode::FAILURE);
        }
    }

    #[test]
    fn the_default_is_sqlite_in_the_mail_repo() {
        let target = resolve(None, None, None, Path::new("/repo")).unwrap();
        assert_eq!(
            target.sqlite_path.as_deref(),
            Some(Path::new("/repo/.mailops/state.db"))
        );
        assert_eq!(target.shown(), "sqlite://.mailops/state.db");
    }

    #[test]
    fn errors_name_the_source_and_never_the_password() {
        let err = resolve(None, Some("mysql://u:hunter2@h:x/d"), None, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains(ENV_VAR), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let target = resolve(Some("mysql://u:hunter2@h/d"), None, None, Path::new(".")).unwrap();
        assert!(!target.shown().contains("hunter2"));
    }
}
