//! Moving a mailbox's mail between hosts: the steps of `plan::moves`, run
//! with the `doveadm` CLI against the hosts' doveadm servers (several hosts
//! only; `dovecot.conf` has the server, `mailops install` its password).
//!
//! Every command goes to a server with `-S <private_ip>:<port>`, so it runs
//! wherever mailops runs, as long as that is inside the private network (a
//! mail host): the copy runs on the new home, which pulls from the old one
//! (`backup -R`, one-way: the new home becomes a copy of the old, which
//! keeps serving); the final sync runs there too, two-way and full (`-f`:
//! without it dsync trusts the mailboxes' index states, and a message each
//! side received at the same UID looks "equal" and is lost at the clean up,
//! as a test on Dovecot 2.3.19 showed). The clean up expunges every message
//! on the old home, and only after the final sync succeeded and the new home
//! holds at least as many messages as the old, after giving each of the old
//! home's folders a new GUID (so no later sync can carry the expunges over
//! to the new home). `-l` takes dsync's per-user
//! lock, so two runs for one mailbox (two hosts' agents) wait for each
//! other instead of syncing at once. The password doveadm sends is the one
//! in its config (`--doveadm-config`, else doveadm's default config); it
//! never appears in a command line or a message.

use std::path::PathBuf;
use std::process::Command;

use crate::emit::mail_host::DOVEADM_PORT;
use crate::plan::moves::{HostAt, Move, Step};

/// How long dsync waits for another sync of the same mailbox (`-l`).
const LOCK_SECS: &str = "120";

/// The `doveadm` CLI, with the config it reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doveadm {
    /// `-c PATH`; `None`: doveadm's own default.
    pub(crate) config: Option<PathBuf>,
}

/// A step that failed: which, the command (no secret in it), and doveadm's
/// own message.
#[derive(Debug, Clone)]
pub(crate) struct StepFailed {
    pub(crate) address: String,
    pub(crate) step: Step,
    pub(crate) command: String,
    pub(crate) message: String,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moving the mail of {}: the {} step failed: `{}`: {}",
            self.address,
            self.step.name(),
            self.command,
            self.message
        )
    }
}

/// What the final sync and the clean up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    /// Messages on the new home after the final sync.
    pub(crate) messages: u64,
    /// Messages expunged on the old home.
    pub(crate) expunged: u64,
}

impl Doveadm {
    fn server(host: &HostAt) -> Option<String> {
        host.private_ip
            .as_ref()
            .map(|ip| format!("{ip}:{DOVEADM_PORT}"))
    }

    /// Run `doveadm [-c CONFIG] ARGS…` for `step`: its stdout, or the failure
    /// with the command and doveadm's message.
    fn run(&self, m: &Move, step: Step, args: &[&str]) -> Result<String, StepFailed> {
        let mut all: Vec<String> = Vec::new();
        if let Some(config) = &self.config {
            all.push("-c".to_string());
            all.push(config.display().to_string());
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let shown = format!("doveadm {}", all.join(" "));
        let failed = |message: String| StepFailed {
            address: m.address.clone(),
            step,
            command: shown.clone(),
            message,
        };
        let output = Command::new("doveadm")
            .args(&all)
            .output()
            .map_err(|e| failed(format!("cannot run doveadm: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr.trim();
            return Err(failed(format!(
                "{} ({})",
                if message.is_empty() {
                    "no message"
                } else {
                    message
                },
                output.status
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn servers(m: &Move, step: Step) -> Result<(String, String), StepFailed> {
        match (Self::server(&m.from), Self::server(&m.to)) {
            (Some(from), Some(to)) => Ok((from, to)),
            _ => Err(StepFailed {
                address: m.address.clone(),
                step,
                command: String::new(),
                message: format!(
                    "no private address for {} or {} in the host rows",
                    m.from.name, m.to.name
                ),
            }),
        }
    }

    /// Step 1: the new home becomes a copy of the old one (which keeps
    /// serving), before the switch.
    pub(crate) fn copy(&self, m: &Move) -> Result<(), StepFailed> {
        let (from, to) = Self::servers(m, Step::Copy)?;
        let remote = format!("tcp:{from}");
        self.run(
            m,
            Step::Copy,
            &[
                "backup", "-R", "-l", LOCK_SECS, "-S", &to, "-u", &m.address, &remote,
            ],
        )?;
        Ok(())
    }

    /// Steps 3 and 4, after the switch: a full two-way sync, then, when the
    /// new home holds at least the old one's message count, every message
    /// on the old home expunged.
    pub(crate) fn finish(&self, m: &Move) -> Result<Finished, StepFailed> {
        let (from, to) = Self::servers(m, Step::FinalSync)?;
        let remote = format!("tcp:{from}");
        self.run(
            m,
            Step::FinalSync,
            &[
                "sync", "-f", "-l", LOCK_SECS, "-S", &to, "-u", &m.address, &remote,
            ],
        )?;
        let old = self.count(m, &from)?;
        let new = self.count(m, &to)?;
        if new < old {
            return Err(StepFailed {
                address: m.address.clone(),
                step: Step::CleanUp,
                command: String::new(),
                message: format!(
                    "not cleaned up: {} holds {new} messages after the final sync, fewer than the {old} on {}",
                    m.to.name, m.from.name
                ),
            });
        }
        // Every folder on the old home gets a new mailbox GUID first: a later
        // sync between the two (a rerun of `move-mail`) then finds two
        // different mailboxes and stops, instead of reading the expunges
        // below as the user's and expunging the new home's copies too (what
        // a full sync does after an expunge, seen on Dovecot 2.3.19).
        let folders = self.run(
            m,
            Step::CleanUp,
            &["mailbox", "list", "-S", &from, "-u", &m.address],
        )?;
        for folder in folders.lines().filter(|f| !f.is_empty()) {
            let guid = new_guid();
            self.run(
                m,
                Step::CleanUp,
                &[
                    "mailbox",
                    "update",
                    "-S",
                    &from,
                    "-u",
                    &m.address,
                    "--mailbox-guid",
                    &guid,
                    // A folder is the user's to name: `-h` is a folder
                    // here, not an option.
                    "--",
                    folder,
                ],
            )?;
        }
        self.run(
            m,
            Step::CleanUp,
            &[
                "expunge", "-S", &from, "-u", &m.address, "mailbox", "*", "all",
            ],
        )?;
        Ok(Finished {
            messages: new,
            expunged: old,
        })
    }

    /// The mailbox's message count on a server (every folder).
    fn count(&self, m: &Move, server: &str) -> Result<u64, StepFailed> {
        let out = self.run(
            m,
            Step::CleanUp,
            &[
                "-f", "flow", "mailbox", "status", "-S", server, "-u", &m.address, "-t",
                "messages", "*",
            ],
        )?;
        parse_messages(&out).ok_or_else(|| StepFailed {
            address: m.address.clone(),
            step: Step::CleanUp,
            command: format!(
                "doveadm mailbox status -S {server} -u {} -t messages *",
                m.address
            ),
            message: format!("unexpected output {:?}", out.trim()),
        })
    }
}

/// A random mailbox GUID: 32 hex digits.
fn new_guid() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `messages=12` (doveadm's flow format) → 12.
fn parse_messages(out: &str) -> Option<u64> {
    out.split_whitespace()
        .find_map(|field| field.strip_prefix("messages="))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_format_of_mailbox_status_gives_the_count() {
        assert_eq!(parse_messages("messages=12\n"), Some(12));
        assert_eq!(parse_messages("messages=0"), Some(0));
        assert_eq!(parse_messages(""), None);
        assert_eq!(parse_messages("messages=x"), None);
    }
}
