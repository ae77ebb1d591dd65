//! The agent's clone of the forge, with the `git` CLI: a bare repository in
//! the work directory, fetched from the host file's `repo` URL on every run
//! (so that a changed URL takes effect), commits checked out into a fresh
//! staging folder, signatures verified and trailers read.
//!
//! Nothing from the forge is trusted as a command: every revision passed to
//! git is a full object name that git gave back, and every argument that
//! could be read as an option comes after `--` or as `--opt=value`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::Error;

/// The trailer a commit carries to allow deleting a domain (or many rows of it).
pub(crate) const ALLOW_DESTROY: &str = "Mailops-Allow-Destroy";

/// The bare clone under the work directory.
pub(crate) struct Forge {
    git_dir: PathBuf,
}

/// The ref the fetched branch is kept under.
const FETCHED: &str = "refs/mailops/fetched";

impl Forge {
    /// The clone at `work_dir/repo.git`, made when missing.
    pub(crate) fn open(work_dir: &Path) -> Result<Forge, Error> {
        let git_dir = work_dir.join("repo.git");
        if !git_dir.join("HEAD").exists() {
            std::fs::create_dir_all(work_dir).map_err(|e| {
                Error::operational(format!(
                    "cannot make the work directory {}: {e}",
                    work_dir.display()
                ))
            })?;
            let out = git(None)
                .args(["init", "--quiet", "--bare", "--"])
                .arg(&git_dir)
                .output();
            checked(out, "git init --bare")?;
        }
        Ok(Forge { git_dir })
    }

    fn git(&self) -> Command {
        git(Some(&self.git_dir))
    }

    /// Fetch `branch` from `url`; the commit it points at.
    pub(crate) fn fetch(&self, url: &str, branch: &str) -> Result<String, Error> {
        let out = self
            .git()
            .args(["fetch", "--quiet", "--no-tags", "--force", "--"])
            .arg(url)
            .arg(format!("+refs/heads/{branch}:{FETCHED}"))
            .output();
        checked(out, &format!("git fetch of branch `{branch}` from {url}"))?;
        self.commit_of(FETCHED)
    }

    /// The full commit id of a revision.
    pub(crate) fn commit_of(&self, revision: &str) -> Result<String, Error> {
        let out = self
            .git()
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{revision}^{{commit}}"))
            .output();
        let text = checked(out, &format!("git rev-parse {revision}"))?;
        Ok(text.trim().to_string())
    }

    /// Check the commit's signature against an allowed-signers file (SSH
    /// signatures, `gpg.ssh.allowedSignersFile`). A commit with no good
    /// signature is refused (`Error::Refused`) with git's words.
    pub(crate) fn verify(&self, commit: &str, allowed_signers: &Path) -> Result<(), Error> {
        let out = self
            .git()
            .arg("-c")
            .arg(format!(
                "gpg.ssh.allowedSignersFile={}",
                allowed_signers.display()
            ))
            .arg("verify-commit")
            .arg(commit)
            .output()
            .map_err(|e| Error::operational(format!("cannot run git: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        Err(Error::refused(format!(
            "commit {commit} has no good signature by a key of {}: {}",
            allowed_signers.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }

    /// Keep the last good commit reachable (`refs/mailops/good`), so that
    /// healing can check it out after the branch was rewritten and the clone
    /// collected its garbage. Best effort: the next good commit tries again.
    pub(crate) fn keep(&self, commit: &str) {
        let _ = self
            .git()
            .args(["update-ref", "refs/mailops/good"])
            .arg(commit)
            .output();
    }

    /// The values of the commit's `Mailops-Allow-Destroy` trailers, lowercased.
    pub(crate) fn allow_destroy(&self, commit: &str) -> Result<Vec<String>, Error> {
        let out = self
            .git()
            .args(["log", "-1"])
            .arg(format!(
                "--format=%(trailers:key={ALLOW_DESTROY},valueonly,separator=%x0A)"
            ))
            .arg(commit)
            .arg("--")
            .output();
        let text = checked(out, "git log (trailers)")?;
        Ok(text
            .lines()
            .flat_map(|line| line.split([',', ' ']))
            .map(|v| v.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .collect())
    }

    /// The commit's first line, for messages.
    pub(crate) fn subject(&self, commit: &str) -> String {
        self.git()
            .args(["log", "-1", "--format=%s"])
            .arg(commit)
            .arg("--")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Check the commit out into `dest`, emptied first.
    pub(crate) fn checkout(&self, commit: &str, dest: &Path) -> Result<(), Error> {
        if dest.exists() {
            std::fs::remove_dir_all(dest)
                .map_err(|e| Error::operational(format!("cannot empty {}: {e}", dest.display())))?;
        }
        std::fs::create_dir_all(dest)
            .map_err(|e| Error::operational(format!("cannot make {}: {e}", dest.display())))?;
        let index = self.git_dir.join("mailops-staging.index");
        let out = self
            .git()
            .env("GIT_INDEX_FILE", &index)
            .arg("--work-tree")
            .arg(dest)
            .args(["checkout", "--force", "--quiet"])
            .arg(commit)
            .args(["--", "."])
            .output();
        checked(out, &format!("git checkout of {commit}"))?;
        Ok(())
    }
}

/// `git`, with no prompt for credentials, on `git_dir` when given.
fn git(git_dir: Option<&Path>) -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null());
    if let Some(dir) = git_dir {
        command.arg("--git-dir").arg(dir);
    }
    command
}

/// The standard output of a git command that succeeded; else an
/// operational error with its standard error.
fn checked(out: std::io::Result<Output>, what: &str) -> Result<String, Error> {
    let out = out.map_err(|e| Error::operational(format!("{what}: cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Error::operational(format!(
            "{what} failed: {}",
            crate::database_url::redact_in(String::from_utf8_lossy(&out.stderr).trim())
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
