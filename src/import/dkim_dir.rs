//! Rspamd's DKIM key folder: `<domain>.<selector>.key` files (the path
//! template of `dkim_signing.conf`), and `dkim_selectors.map` (`domain
//! selector` per line) where the selector is looked up by domain.
//!
//! Keys are PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what mailops writes) or
//! PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` and older
//! `rspamadm dkim_keygen` write), kept as PKCS#8. A key file that cannot be
//! read is an error: the import writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use crate::dkim_keys::{KeyPair, public_key_of_private_pem};

/// A key found for a domain.
pub(crate) struct FoundKey {
    pub(crate) selector: String,
    pub(crate) pair: KeyPair,
    pub(crate) file: String,
}

/// The private key of a PEM file as PKCS#8, with its public key.
pub(crate) fn key_pair(pem: &str) -> Result<KeyPair, String> {
    let pkcs8 = if pem.contains("BEGIN RSA PRIVATE KEY") {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| format!("not a PKCS#1 RSA private key: {e}"))?;
        key.to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?
            .to_string()
    } else {
        pem.to_string()
    };
    let public = public_key_of_private_pem(&pkcs8).map_err(|e| e.to_string())?;
    Ok(KeyPair {
        private_pem: pkcs8,
        public_base64: public,
    })
}

/// The keys of `dir` for `domains` (A-labels). Fails on a folder or a key
/// file that cannot be read; files for other domains are left alone.
pub(crate) fn read(
    dir: &Path,
    domains: &BTreeSet<&str>,
) -> Result<BTreeMap<String, FoundKey>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the DKIM key folder {}: {e}", dir.display()))?;
    let mut selectors: BTreeMap<String, String> = BTreeMap::new();
    let map = dir.join("dkim_selectors.map");
    if let Ok(text) = std::fs::read_to_string(&map) {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(domain), Some(selector), None) => {
                    selectors.insert(domain.to_ascii_lowercase(), selector.to_string());
                }
                _ => {
                    return Err(format!(
                        "{}:{}: expected `domain selector`",
                        map.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if let Some(name) = entry.file_name().to_str() {
            if name.ends_with(".key") {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    // Which file serves which domain: decided in name order, so that two
    // keys for one domain are found whichever is read first.
    let mut chosen: Vec<(String, String, String)> = Vec::new(); // (domain, selector, file)
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let stem = &name[..name.len() - ".key".len()];
        // `<domain>.<selector>`: the selector has no dot, the domain does.
        let Some((domain, selector)) = stem.rsplit_once('.') else {
            continue;
        };
        let domain = domain.to_ascii_lowercase();
        if !domains.contains(domain.as_str()) {
            continue;
        }
        if selectors
            .get(&domain)
            .is_some_and(|wanted| wanted != selector)
        {
            continue;
        }
        if !seen.insert(domain.clone()) {
            return Err(format!(
                "{} holds more than one key for {domain} and no dkim_selectors.map line says which is in use",
                dir.display()
            ));
        }
        chosen.push((domain, selector.to_string(), name));
    }
    // Parsing RSA keys is the slow part: on every core.
    let parsed = crate::parallel::map_chunks(&chosen, |chunk| {
        chunk
            .iter()
            .map(|(_, _, name)| {
                let path = dir.join(name);
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                key_pair(&pem).map_err(|why| format!("{}: {why}", path.display()))
            })
            .collect::<Vec<_>>()
    });
    let mut found = BTreeMap::new();
    for ((domain, selector, file), pair) in chosen.into_iter().zip(parsed.into_iter().flatten()) {
        found.insert(
            domain,
            FoundKey {
                selector,
                pair: pair?,
                file,
            },
        );
    }
    Ok(found)
}
