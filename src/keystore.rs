//! The local DKIM key store: `<key_store>/<domain>.<selector>.key`, PKCS#8 PEM, mode 0600.
//!
//! Private keys never enter git or `generated/`; `mailops dkim keygen` writes
//! them here and `mailops install` copies them to the mail host's key
//! directory. When a tenant's private key is present, its public key must
//! match the one in the tenant file.

use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::model::Model;

/// The key store of a mail repo.
pub(crate) struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub(crate) fn new(repo_root: &Path, key_store: &str) -> Self {
        KeyStore {
            dir: repo_root.join(key_store),
        }
    }

    /// A key store at an explicit directory.
    pub(crate) fn at(dir: PathBuf) -> Self {
        KeyStore { dir }
    }

    /// `<dir>/<domain>.<selector>.key`: the name Rspamd's path template uses.
    pub(crate) fn path(&self, domain: &str, selector: &str) -> PathBuf {
        self.dir.join(key_file_name(domain, selector))
    }

    /// The PEM text of a private key, if the store has it.
    pub(crate) fn read(&self, domain: &str, selector: &str) -> io::Result<Option<String>> {
        let path = self.path(domain, selector);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(crate::load::with_path(err, &path)),
        }
    }
}

pub(crate) fn key_file_name(domain: &str, selector: &str) -> String {
    format!("{domain}.{selector}.key")
}

/// Check every tenant's public keys (each selector's) against their private keys, where the store has them.
pub(crate) fn check_model(
    repo_root: &Path,
    model: &Model,
    diagnostics: &mut Diagnostics,
) -> io::Result<()> {
    let store = KeyStore::new(repo_root, &model.platform.paths.key_store);
    for domain in model.domains.values() {
        for key in &domain.dkim {
            if key.public_key.is_empty() {
                continue; // the public key itself was already reported
            }
            let Some(pem) = store.read(&domain.name, &key.selector)? else {
                continue;
            };
            let shown = format!(
                "{}/{}",
                model.platform.paths.key_store,
                key_file_name(&domain.name, &key.selector)
            );
            let loc = key.origin.clone();
            match crate::dkim_keys::public_key_of_private_pem(&pem) {
                Ok(spki_base64) if spki_base64 == key.public_key => {}
                Ok(_) => diagnostics.push(crate::validate::diags::key_mismatch(loc, &shown)),
                Err(problem) => diagnostics.push(crate::validate::diags::unreadable_private_key(
                    loc, &shown, &problem,
                )),
            }
        }
    }
    Ok(())
}
