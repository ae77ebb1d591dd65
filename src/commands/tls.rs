//! `mailops tls tlsa`: the DANE TLSA records of the mail host's key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::{EXIT_OK, Error, Result};
use crate::cli::RecordsFormat;
use crate::dns::tlsa::{self, Association};

/// A TLSA record's TTL: short, so a key rollover's records change quickly.
const TTL: u32 = 300;

pub(crate) fn tlsa(
    dir: &Path,
    certs: &[PathBuf],
    pubkeys: &[PathBuf],
    host: Option<&str>,
    port: u16,
    format: RecordsFormat,
) -> Result<ExitCode> {
    if certs.is_empty() && pubkeys.is_empty() {
        return Err(Error::user(
            "name the mail host's key: --cert FILE (its certificate) and/or --pubkey FILE (the next key)",
        ));
    }
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| Error::user(format!("{}: {e}", path.display())))
    };
    let mut associations: Vec<Association> = Vec::new();
    for path in certs {
        let shown = path.display().to_string();
        associations.push(tlsa::from_certificate_pem(&read(path)?, &shown).map_err(Error::user)?);
    }
    for path in pubkeys {
        let shown = path.display().to_string();
        associations.push(tlsa::from_public_key_pem(&read(path)?, &shown).map_err(Error::user)?);
    }
    let host = match host {
        Some(host) => crate::validate::domain::normalize_domain(host)
            .map(|name| name.ascii)
            .map_err(|why| Error::user(format!("--host `{host}`: {}", why.describe())))?,
        None => super::dns::compiled(dir, "no host name")?
            .platform
            .hostname
            .clone(),
    };
    let owner = tlsa::owner(&host, port);
    // The same key twice (a certificate and its own public key) is one record.
    let mut seen = std::collections::BTreeSet::new();
    associations.retain(|a| seen.insert(a.sha256_hex.clone()));
    match format {
        RecordsFormat::Zone => {
            for a in &associations {
                let from = crate::chars::printable(&a.source).replace('\n', " ");
                println!("{owner}. {TTL} IN TLSA {}    ; {from}", a.rdata());
            }
        }
        RecordsFormat::Json => {
            let records: Vec<_> = associations
                .iter()
                .map(|a| json!({"name": owner, "type": "TLSA", "ttl": TTL, "value": a.rdata(), "from": a.source}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&records).expect("records serialise")
            );
        }
    }
    Ok(EXIT_OK)
}
