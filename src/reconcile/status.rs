//! The status file a run leaves (`status` in the host file, JSON), read by
//! `mailops status` and by monitoring; and the agent's own memory in the
//! work directory (`state.json`): the last good commit, and the last commit
//! refused (not tried again until the branch moves).
//!
//! Both are written atomically (a temporary file renamed over the old one),
//! so a reader sees the old file or the new one, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::plan::Counts;
use crate::error::Error;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// A new commit was applied: the host is on it.
    Applied,
    /// No new commit; nothing had drifted.
    Unchanged,
    /// No new commit; rows or files had drifted and were put back.
    Healed,
    /// The new commit was refused (check, signature, delete guard): the host
    /// stays on the last good commit.
    Refused,
    /// An operational failure (git, database, disk, reload).
    Failed,
}

impl Outcome {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Healed => "healed",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// The status file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Status {
    /// The format of this file.
    pub(crate) version: u32,
    /// The commit the host is on (the last good commit), if any.
    pub(crate) commit: Option<String>,
    /// The commit this run tried, when it was not `commit` (a refused one).
    pub(crate) tried: Option<String>,
    /// When the run ended, RFC 3339 UTC.
    pub(crate) time: String,
    pub(crate) outcome: Outcome,
    /// Rows written by this run (a new commit's, or healing's).
    pub(crate) rows_changed: Counts,
    /// What was put back (rows, as a plan shows them; files installed again).
    pub(crate) drift_healed: Vec<String>,
    /// Services reloaded.
    pub(crate) reloaded: Vec<String>,
    /// Why the run was refused or failed.
    pub(crate) error: Option<String>,
}

impl Status {
    pub(crate) fn read(path: &Path) -> Result<Status, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::operational(format!(
                "cannot read the status file {}: {e} (has `mailops reconcile` run yet?)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::operational(format!("{}: not a status file: {e}", path.display())))
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::operational(format!("status: {e}")))?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }

    /// The human form of `mailops status`.
    pub(crate) fn human(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "outcome: {} at {}\n",
            self.outcome.word(),
            self.time
        ));
        out.push_str(&format!(
            "commit:  {}\n",
            self.commit.as_deref().unwrap_or("(none applied yet)")
        ));
        if let Some(tried) = &self.tried {
            out.push_str(&format!("tried:   {tried} (not applied)\n"));
        }
        let c = &self.rows_changed;
        out.push_str(&format!(
            "rows:    {} inserted, {} updated, {} deleted\n",
            c.insert, c.update, c.delete
        ));
        if !self.drift_healed.is_empty() {
            out.push_str("drift healed:\n");
            for line in &self.drift_healed {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str(&format!(
            "reloaded: {}\n",
            if self.reloaded.is_empty() {
                "none".to_string()
            } else {
                self.reloaded.join(" ")
            }
        ));
        if let Some(error) = &self.error {
            out.push_str("error:\n");
            for line in error.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out
    }
}

/// What the agent remembers between runs, in `work_dir/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// The last commit applied whole: the host is on it.
    pub(crate) last_good: Option<String>,
    /// The last commit refused, so that it is not tried on every run.
    pub(crate) refused: Option<String>,
    /// Why it was refused.
    #[serde(default)]
    pub(crate) refused_why: Option<String>,
}

impl State {
    pub(crate) fn path(work_dir: &Path) -> PathBuf {
        work_dir.join("state.json")
    }

    pub(crate) fn load(work_dir: &Path) -> Result<State, Error> {
        let path = Self::path(work_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::operational(format!("{}: not the agent's state: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::operational(format!("{}: {e}", path.display()))),
        }
    }

    pub(crate) fn save(&self, work_dir: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::operational(format!("state: {e}")))?;
        text.push('\n');
        write_atomic(&Self::path(work_dir), text.as_bytes())
    }
}

fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::operational(format!("{}: {e}", parent.display())))?;
    }
    crate::fsutil::write_atomic(path, contents)
        .map_err(|e| Error::operational(format!("{}: {e}", path.display())))
}

/// Now, as RFC 3339 UTC to the second.
pub(crate) fn now() -> String {
    crate::utc_time::format(crate::utc_time::now())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        let rfc3339 = crate::utc_time::format;
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
