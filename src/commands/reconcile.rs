//! `mailops reconcile [--config FILE] [--once]`: the agent on the mail host
//! (see `crate::reconcile`). Exit 0 when the host is on the branch's head (or
//! healed back to the last good commit), 1 when a new commit was refused,
//! 2 on an operational failure.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::commands::{EXIT_OK, Result};
use crate::reconcile::{self, host_config::HostConfig};

pub(crate) fn run(config: &Path, once: bool, interval: u64) -> Result<ExitCode> {
    let config = HostConfig::load(config)?;
    loop {
        let run = reconcile::run_once(&config);
        let status = &run.status;
        eprintln!(
            "reconcile: {} (commit {}); status in {}",
            status.outcome.word(),
            status.commit.as_deref().unwrap_or("none"),
            config.status.display()
        );
        if once {
            return match run.error {
                Some(error) => Err(error),
                None => Ok(EXIT_OK),
            };
        }
        if let Some(error) = run.error {
            eprintln!("error: {error}");
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
}
