//! The local DKIM key store: `<key_store>/<domain>.<selector>.key`, PKCS#8 PEM, mode 0600.
//!
//! Private keys never enter git or `generated/` in plaintext. Without
//! `[secrets]` in the platform file, `mailops dkim keygen` writes them here
//! and `mailops install` copies them to the mail host's key directory; when
//! a tenant's private key is present, its public key must match the one in
//! the tenant file. With `[secrets]`, the keys live encrypted in the repo's
//! `keys/` (see `encrypted_keys`), and `paths.key_store` is that folder: the
//! compile cache, which lists the key store's files ([`KeyStore::open_dir`]),
//! sees a key added, replaced or re-encrypted there as it does here.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::secret_file::check_private;

use crate::diagnostic::Diagnostics;
use crate::fsutil::Beneath;
use crate::model::Model;

/// The key store of a mail repo.
///
/// A key store inside the repo (`key_store` relative, without `..`) is
/// opened beneath the repo without following a link; one named outside it
/// (`--key-dir`, an absolute `key_store`) is the operator's own folder and is
/// opened as named. Either way a key file is a regular file opened without
/// following a link, and the store and its keys must be private: a folder or
/// key file that group or others may read is refused with the `chmod` to run.
pub(crate) struct KeyStore {
    dir: PathBuf,
    /// The repo and the store's path in it, for a store inside the repo.
    in_repo: Option<(PathBuf, PathBuf)>,
}

impl KeyStore {
    pub(crate) fn new(repo_root: &Path, key_store: &str) -> Self {
        let relative = Path::new(key_store);
        let inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        KeyStore {
            dir: repo_root.join(key_store),
            in_repo: inside.then(|| (repo_root.to_path_buf(), relative.to_path_buf())),
        }
    }

    /// A key store at an explicit directory.
    pub(crate) fn at(dir: PathBuf) -> Self {
        KeyStore { dir, in_repo: None }
    }

    /// `<dir>/<domain>.<selector>.key`: the name Rspamd's path template uses.
    pub(crate) fn path(&self, domain: &str, selector: &str) -> PathBuf {
        self.dir.join(key_file_name(domain, selector))
    }

    /// The store's folder, opened without following a link below the repo
    /// (`NotFound` when there is none).
    pub(crate) fn open_dir(&self) -> io::Result<Beneath> {
        match &self.in_repo {
            Some((root, relative)) => Beneath::open(root)?.dir(relative),
            None => Beneath::open(&self.dir),
        }
    }

    /// The PEM text of a private key, if the store has it. Refused when the
    /// store or the key may be read by group or others.
    pub(crate) fn read(&self, domain: &str, selector: &str) -> io::Result<Option<String>> {
        match self.open_existing()? {
            Some(dir) => self.read_in(&dir, domain, selector),
            None => Ok(None),
        }
    }

    /// [`KeyStore::open_dir`], `None` when there is no store.
    fn open_existing(&self) -> io::Result<Option<Beneath>> {
        match self.open_dir() {
            Ok(dir) => Ok(Some(dir)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// [`KeyStore::read`] in the store's folder, opened once for many keys.
    fn read_in(&self, dir: &Beneath, domain: &str, selector: &str) -> io::Result<Option<String>> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(domain, selector);
        let name = key_file_name(domain, selector);
        let mut file = match dir.file(Path::new(&name)) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let dir_mode = rustix::fs::fstat(dir.fd())
            .map_err(|e| crate::fsutil::with_path(e.into(), &self.dir))?
            .st_mode;
        check_private(&self.dir, dir_mode, 0o700)?;
        let meta = file
            .metadata()
            .map_err(|e| crate::fsutil::with_path(e, &path))?;
        check_private(&path, meta.permissions().mode(), 0o600)?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| crate::fsutil::with_path(e, &path))?;
        Ok(Some(text))
    }
}

pub(crate) fn key_file_name(domain: &str, selector: &str) -> String {
    format!("{domain}.{selector}.key")
}

/// Check every tenant's public keys (each selector's) against their private keys, where the store has them.
/// With `[secrets]`: every key must have its age file in `keys/`, encrypted
/// to as many recipients as the platform file lists (nothing is decrypted).
pub(crate) fn check_model(
    repo_root: &Path,
    model: &Model,
    diagnostics: &mut Diagnostics,
) -> io::Result<()> {
    if model.platform.secrets.enabled {
        return check_encrypted(repo_root, model, diagnostics);
    }
    let store = KeyStore::new(repo_root, &model.platform.paths.key_store);
    each_key(
        model,
        || store.open_existing(),
        |dir, domain, key| {
            let Some(dir) = dir else {
                return Ok(()); // no key store
            };
            let Some(pem) = store.read_in(dir, &domain.name, &key.selector)? else {
                return Ok(());
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
                    loc,
                    &shown,
                    &problem.to_string(),
                )),
            }
            Ok(())
        },
    )
}

/// Call `f` with each tenant key that has a public key (one without was
/// reported already) and the folder `open` gives, opened once, at the first
/// such key (not once a key: 10,000 tenants; not at all when there is none).
fn each_key<D>(
    model: &Model,
    open: impl FnOnce() -> io::Result<D>,
    mut f: impl FnMut(&D, &crate::model::Domain, &crate::model::Dkim) -> io::Result<()>,
) -> io::Result<()> {
    let mut open = Some(open);
    let mut opened: Option<D> = None;
    for domain in model.domains.values() {
        // A retired key's private key may be purged already.
        for key in domain.deployed_keys().filter(|k| !k.public_key.is_empty()) {
            let dir = match opened {
                Some(ref dir) => dir,
                None => opened.insert((open.take().expect("opened once"))()?),
            };
            f(dir, domain, key)?;
        }
    }
    Ok(())
}

/// [`check_model`] with `[secrets]`: file presence and the age header.
fn check_encrypted(
    repo_root: &Path,
    model: &Model,
    diagnostics: &mut Diagnostics,
) -> io::Result<()> {
    use crate::encrypted_keys;
    use crate::validate::diags;
    let recipients = match model.platform.secrets.to_encrypt_to() {
        Ok(Some(recipients)) => Some(recipients.len()),
        _ => None, // the recipients were reported
    };
    each_key(
        model,
        || encrypted_keys::open_dir(repo_root),
        |dir, domain, key| {
            let shown = encrypted_keys::shown(&domain.name, &key.selector);
            let loc = key.origin.clone();
            match encrypted_keys::read(dir.as_ref(), &domain.name, &key.selector)? {
                Ok(None) => diagnostics.push(diags::missing_encrypted_key(
                    loc,
                    &shown,
                    &domain.name,
                    &key.selector,
                )),
                Err(problem) => diagnostics.push(diags::bad_encrypted_key(loc, &shown, &problem)),
                Ok(Some(bytes)) => match encrypted_keys::header_recipients(&bytes) {
                    Err(problem) => {
                        diagnostics.push(diags::bad_encrypted_key(loc, &shown, &problem));
                    }
                    Ok(count) => {
                        if let Some(listed) = recipients.filter(|&listed| listed != count) {
                            diagnostics.push(diags::stale_recipients(loc, &shown, count, listed));
                        }
                    }
                },
            }
            Ok(())
        },
    )
}
