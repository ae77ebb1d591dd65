//! `mailops keys reencrypt` and `mailops keys import`: the age-encrypted DKIM
//! keys of `keys/` (see `encrypted_keys`), and [`KeyWriter`], the one place
//! `mailops new` and `mailops dkim keygen` decide where a new private key goes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::{EXIT_OK, Error, Result};
use crate::dkim_keys::KeyPair;
use crate::encrypted_keys::{self, DecryptProblem, DecryptedKeys, Identity};
use crate::fsutil;
use crate::keystore::{KeyStore, key_file_name};
use crate::model::platform::ENCRYPTED_KEY_DIR;
use crate::model::{Model, Platform};
use crate::pipeline;

/// Where a new private key is written: the plaintext key store (no
/// `[secrets]`), or `keys/` encrypted to the recipients (encrypted in
/// memory: the plaintext never touches the disk).
pub(crate) enum KeyWriter {
    Plain {
        key_dir: PathBuf,
    },
    Encrypted {
        repo: PathBuf,
        recipients: Vec<String>,
    },
}

impl KeyWriter {
    /// The writer the platform asks for. `key_dir` (`--key-dir`) names a
    /// plaintext key store, refused with `[secrets]`.
    pub(crate) fn for_platform(
        repo: &Path,
        platform: &Platform,
        key_dir: Option<PathBuf>,
    ) -> Result<KeyWriter> {
        match platform.secrets.to_encrypt_to().map_err(Error::user)? {
            None => Ok(KeyWriter::Plain {
                key_dir: key_dir.unwrap_or_else(|| repo.join(&platform.paths.key_store)),
            }),
            Some(recipients) => {
                if let Some(key_dir) = key_dir {
                    return Err(Error::user(format!(
                        "--key-dir {} names a plaintext key store, but mailops.toml has `[secrets]`: private keys are written encrypted to {ENCRYPTED_KEY_DIR}/; leave --key-dir out",
                        key_dir.display()
                    )));
                }
                Ok(KeyWriter::Encrypted {
                    repo: repo.to_path_buf(),
                    recipients: recipients.to_vec(),
                })
            }
        }
    }

    /// The file a key goes to.
    pub(crate) fn path(&self, domain: &str, selector: &str) -> PathBuf {
        match self {
            KeyWriter::Plain { key_dir } => key_dir.join(key_file_name(domain, selector)),
            KeyWriter::Encrypted { repo, .. } => encrypted_keys::path(repo, domain, selector),
        }
    }

    /// The bytes to write for a key pair: the PEM, or its age encryption.
    pub(crate) fn contents(&self, pair: &KeyPair) -> Result<Vec<u8>> {
        match self {
            KeyWriter::Plain { .. } => Ok(pair.private_pem.as_bytes().to_vec()),
            KeyWriter::Encrypted { recipients, .. } => {
                encrypted_keys::encrypt(pair.private_pem.as_bytes(), recipients)
            }
        }
    }

    /// Make the folders on the way to `path` (refusing a link in the repo).
    pub(crate) fn prepare(&self, repo: &Path, path: &Path) -> Result<()> {
        let mode = match self {
            KeyWriter::Plain { .. } => Some(0o700),
            KeyWriter::Encrypted { .. } => None,
        };
        fsutil::dirs_in_repo(repo, path, mode)?;
        Ok(())
    }

    /// Write one key file whole (a temporary file renamed over it).
    pub(crate) fn write(&self, path: &Path, contents: &[u8]) -> std::io::Result<()> {
        match self {
            KeyWriter::Plain { .. } => fsutil::write_private(path, contents),
            KeyWriter::Encrypted { .. } => fsutil::write_atomic(path, contents),
        }
    }

    /// The line that reports a written key.
    pub(crate) fn wrote(&self, path: &Path) -> String {
        match self {
            KeyWriter::Plain { .. } => format!(
                "wrote private key {} (mode 0600; never commit it)",
                path.display()
            ),
            KeyWriter::Encrypted { recipients, .. } => format!(
                "wrote private key {} encrypted to {} recipient{} (commit it)",
                path.display(),
                recipients.len(),
                if recipients.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The identity named by `--identity` or `MAILOPS_AGE_IDENTITY` (clap reads
/// both into `identity`), required here.
pub(crate) fn required_identity(identity: Option<&Path>, command: &str) -> Result<Identity> {
    match identity {
        Some(path) => Identity::load(path),
        None => Err(Error::user(format!(
            "`{command}` needs an age identity that can decrypt the keys in {ENCRYPTED_KEY_DIR}/: pass --identity FILE or set MAILOPS_AGE_IDENTITY"
        ))),
    }
}

/// With `[secrets]`: the identity (required), which must be a current
/// recipient, then every tenant key decrypted and matched against its public
/// key. Every problem is listed, each naming its file.
pub(crate) fn decrypt_checked(
    dir: &Path,
    model: &Model,
    identity: Option<&Path>,
    command: &str,
) -> Result<DecryptedKeys> {
    let identity = required_identity(identity, command)?;
    let recipients = model
        .platform
        .secrets
        .to_encrypt_to()
        .map_err(Error::user)?
        .unwrap_or_default();
    identity.check_is_recipient(recipients)?;
    let (keys, problems) = encrypted_keys::decrypt_all(dir, model, &identity)?;
    if !problems.is_empty() {
        return Err(Error::user(problems.join("\n")));
    }
    Ok(keys)
}

/// The recipients of a platform with `[secrets]`; a user error without.
fn recipients_of(platform: &Platform) -> Result<Vec<String>> {
    match platform.secrets.to_encrypt_to().map_err(Error::user)? {
        Some(recipients) => Ok(recipients.to_vec()),
        None => Err(Error::user(
            "mailops.toml has no `[secrets] recipients`: add the mail host's and the operators' age recipients (`age1…`) first",
        )),
    }
}

/// `mailops keys reencrypt`: every `*.key.age` file of `keys/` decrypted
/// with the identity and encrypted again to the current recipients. All are
/// decrypted before any is written; each file is replaced whole.
pub(crate) fn reencrypt(dir: &Path, identity: Option<&Path>) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    let recipients = recipients_of(&compiled.model.platform)?;
    let identity = required_identity(identity, "mailops keys reencrypt")?;
    let Some(keys) = encrypted_keys::open_dir(dir)? else {
        return Err(Error::user(format!(
            "there is no {ENCRYPTED_KEY_DIR}/ folder: nothing to re-encrypt"
        )));
    };
    let mut sealed = Vec::new();
    let mut problems = Vec::new();
    for entry in keys.entries()? {
        let name = entry.name.to_string_lossy().into_owned();
        if !name.ends_with(".key.age") {
            continue;
        }
        let shown = format!("{ENCRYPTED_KEY_DIR}/{name}");
        let bytes = match keys.read(Path::new(&entry.name)) {
            Ok(bytes) => bytes,
            Err(e) => match fsutil::refused(&e) {
                Some(refused) => {
                    problems.push(format!(
                        "{shown}: it is {}, not a regular file",
                        refused.what
                    ));
                    continue;
                }
                None => return Err(e.into()),
            },
        };
        match identity.decrypt(&bytes) {
            Ok(plaintext) => {
                sealed.push((name, encrypted_keys::encrypt(&plaintext, &recipients)?));
            }
            Err(DecryptProblem::NotForThisIdentity) => problems.push(format!(
                "{shown}: not encrypted to the identity {}; re-encrypt with an identity that can decrypt it",
                identity.path.display()
            )),
            Err(DecryptProblem::Damaged(why)) => {
                problems.push(format!("{shown}: a damaged age file: {why}"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::user(format!(
            "{}\nnothing was re-encrypted",
            problems.join("\n")
        )));
    }
    for (name, bytes) in &sealed {
        fsutil::write_atomic(&dir.join(ENCRYPTED_KEY_DIR).join(name), bytes)?;
    }
    eprintln!(
        "re-encrypted {} key{} in {ENCRYPTED_KEY_DIR}/ to {} recipient{}; commit {ENCRYPTED_KEY_DIR}/",
        sealed.len(),
        if sealed.len() == 1 { "" } else { "s" },
        recipients.len(),
        if recipients.len() == 1 { "" } else { "s" }
    );
    Ok(EXIT_OK)
}

/// `mailops keys import --key-dir DIR`: every tenant key of a plaintext key
/// store encrypted into `keys/`. A key already in `keys/` is left as it is;
/// a key that does not belong to its tenant's public key stops the import
/// before anything is written.
pub(crate) fn import(dir: &Path, key_dir: &Path) -> Result<ExitCode> {
    let compiled = pipeline::compile(dir)?;
    let model = &compiled.model;
    let recipients = recipients_of(&model.platform)?;
    let store = KeyStore::at(key_dir.to_path_buf());
    let mut sealed = Vec::new();
    let mut kept = 0;
    let mut missing = Vec::new();
    let mut problems = Vec::new();
    for domain in model.domains.values() {
        for key in domain.deployed_keys() {
            let target = encrypted_keys::path(dir, &domain.name, &key.selector);
            if std::fs::symlink_metadata(&target).is_ok() {
                kept += 1;
                continue;
            }
            let plain = store.path(&domain.name, &key.selector);
            let pem = match store
                .read(&domain.name, &key.selector)
                .map_err(|e| Error::user(e.to_string()))?
            {
                Some(pem) => zeroize::Zeroizing::new(pem),
                None => {
                    missing.push(plain.display().to_string());
                    continue;
                }
            };
            match crate::dkim_keys::public_key_of_private_pem(&pem) {
                Ok(public) if public == key.public_key => {
                    sealed.push((target, encrypted_keys::encrypt(pem.as_bytes(), &recipients)?));
                }
                Ok(_) => problems.push(format!(
                    "{}: not the private key of the public key of selector `{}` in the tenant file of {}",
                    plain.display(),
                    key.selector,
                    domain.name
                )),
                Err(problem) => problems.push(format!("{}: {problem}", plain.display())),
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::user(format!(
            "{}\nnothing was imported",
            problems.join("\n")
        )));
    }
    for (target, bytes) in &sealed {
        fsutil::dirs_in_repo(dir, target, None)?;
        fsutil::write_atomic(target, bytes)?;
        eprintln!(
            "  encrypted {}",
            target.strip_prefix(dir).unwrap_or(target).display()
        );
    }
    eprintln!(
        "imported {} key{} into {ENCRYPTED_KEY_DIR}/ ({kept} already there); commit {ENCRYPTED_KEY_DIR}/",
        sealed.len(),
        if sealed.len() == 1 { "" } else { "s" }
    );
    if !missing.is_empty() {
        eprintln!(
            "warning: the key store has no private key for: {}\n(make them with `mailops dkim keygen <domain> --selector <selector>`)",
            missing.join(", ")
        );
    }
    eprintln!(
        "now delete the plaintext keys: `rm -r {}` (after `mailops check --identity FILE` passes)",
        key_dir.display()
    );
    Ok(EXIT_OK)
}
