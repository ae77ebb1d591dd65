//! Rspamd's DKIM key folder: `<domain>.<selector>.key` files (the path
//! template of `dkim_signing.conf`), and `dkim_selectors.map` (`domain
//! selector` per line) where the selector is looked up by domain.
//!
//! Keys are PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what mailops writes) or
//! PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` and older
//! `rspamadm dkim_keygen` write), kept as PKCS#8; or Rspamd's raw Ed25519
//! form (`rspamadm dkim_keygen -t ed25519`): one line of base64, the 32-byte
//! seed or libsodium's 64-byte secret key (seed, then public key), where
//! lines after the first (the DNS record `dkim_keygen` prints) are ignored. A key file that cannot be
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
    let pkcs8 = if !pem.contains("-----BEGIN") {
        raw_ed25519(pem)?
    } else if pem.contains("BEGIN RSA PRIVATE KEY") {
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

/// Rspamd's raw Ed25519 key as PKCS#8 PEM.
fn raw_ed25519(text: &str) -> Result<String, String> {
    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|_| "neither PEM nor a base64 Ed25519 key (Rspamd's raw form)".to_string())?;
    let seed: [u8; 32] = match bytes.len() {
        32 | 64 => bytes[..32].try_into().map_err(|_| "a short key")?,
        n => {
            return Err(format!(
                "a base64 key of {n} bytes: Rspamd's raw Ed25519 key is 32 bytes (the seed) or 64 (seed and public key)"
            ));
        }
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    if bytes.len() == 64 && bytes[32..] != key.verifying_key().to_bytes() {
        return Err(
            "a 64-byte Ed25519 key whose second half is not the public key of its seed".into(),
        );
    }
    Ok(key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn seed() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn rspamd_raw_ed25519_keys_are_read_as_their_seed() {
        let key = seed();
        let mut full = key.to_bytes().to_vec();
        full.extend(key.verifying_key().to_bytes());
        let expected = crate::dkim_keys::rspamd_key_file(
            &raw_ed25519(&STANDARD.encode(key.to_bytes())).unwrap(),
        )
        .unwrap();
        for text in [
            STANDARD.encode(key.to_bytes()) + "\n",
            STANDARD.encode(&full) + "\n",
            // As `rspamadm dkim_keygen` prints it, the DNS record after the key.
            STANDARD.encode(&full)
                + "\nsel._domainkey IN TXT ( \"v=DKIM1; k=ed25519; \"\n\t\"p=abc\" ) ;\n",
        ] {
            let pair = key_pair(&text).unwrap();
            assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            // Written back to Rspamd, it is the same seed.
            assert_eq!(
                crate::dkim_keys::rspamd_key_file(&pair.private_pem).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn a_raw_key_of_the_wrong_size_or_half_is_refused() {
        let key = seed();
        let mut wrong = key.to_bytes().to_vec();
        wrong.extend([0u8; 32]);
        for (text, why) in [
            (STANDARD.encode([1u8; 31]), "31 bytes"),
            (STANDARD.encode(&wrong), "not the public key"),
            ("not base64!".to_string(), "neither PEM nor"),
        ] {
            let err = key_pair(&text).err().unwrap();
            assert!(err.contains(why), "{err}");
        }
    }
}
