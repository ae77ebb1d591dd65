//! `mailops status [--config FILE] [--format human|json]`: what the last
//! `mailops reconcile` run did, from its status file.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::DiagnosticFormat;
use crate::commands::{EXIT_OK, Error, Result};
use crate::reconcile::host_config::HostConfig;
use crate::reconcile::status::Status;

pub(crate) fn run(config: &Path, format: DiagnosticFormat) -> Result<ExitCode> {
    let config = HostConfig::load(config)?;
    let status = Status::read(&config.status)?;
    match format {
        DiagnosticFormat::Human => print!("{}", status.human()),
        DiagnosticFormat::Json => {
            let text = serde_json::to_string_pretty(&status)
                .map_err(|e| Error::operational(format!("status: {e}")))?;
            println!("{text}");
        }
    }
    Ok(EXIT_OK)
}
