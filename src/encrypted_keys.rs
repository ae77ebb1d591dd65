//! DKIM private keys kept in the mail repo, encrypted with age:
//! `keys/<domain>.<selector>.key.age`, each encrypted to every recipient of
//! `[secrets] recipients` (the mail host's and the operators').
//!
//! Everything cryptographic is the `age` crate's (rage): encryption,
//! decryption, parsing recipients and identities, and reading a file's
//! header. A private key is encrypted in memory and only the age file is
//! written; a decrypted key lives in memory ([`Zeroizing`]) until install
//! writes it to the mail host.
//!
//! What can be known without an identity: that a file exists, is a regular
//! file, is an age file, and to how many X25519 recipients it was encrypted
//! (age hides who they are, not how many). A count other than the platform
//! file's means the recipients changed since: `mailops keys reencrypt`. A
//! changed recipient with an unchanged count shows only when decrypting
//! (`mailops check --identity`, `mailops install`).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::Error;
use crate::fsutil::Beneath;
use crate::model::Model;
use crate::model::platform::ENCRYPTED_KEY_DIR;

/// `<domain>.<selector>.key.age`: the key store's name of the key, `.age` added.
pub(crate) fn file_name(domain: &str, selector: &str) -> String {
    format!("{domain}.{selector}.key.age")
}

/// `keys/<domain>.<selector>.key.age`, as shown to the user.
pub(crate) fn shown(domain: &str, selector: &str) -> String {
    format!("{ENCRYPTED_KEY_DIR}/{}", file_name(domain, selector))
}

/// The path of a key's file in the repo at `root`.
pub(crate) fn path(root: &Path, domain: &str, selector: &str) -> PathBuf {
    root.join(ENCRYPTED_KEY_DIR)
        .join(file_name(domain, selector))
}

/// Encrypt `plaintext` to every recipient (already validated `age1…`
/// strings), in memory.
pub(crate) fn encrypt(plaintext: &[u8], recipients: &[String]) -> Result<Vec<u8>, Error> {
    let parsed: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e| Error::user(format!("`{r}` is not an age recipient: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::operational(format!("age: {e}")))?;
    let mut out = Vec::with_capacity(plaintext.len() + 512);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::operational(format!("age: {e}")))?;
    writer
        .write_all(plaintext)
        .and_then(|()| writer.finish().map(drop))
        .map_err(|e| Error::operational(format!("age: {e}")))?;
    Ok(out)
}

/// The number of X25519 recipients an age file was encrypted to, read from
/// its header (the payload is not touched). An error says why the bytes are
/// not a usable age file.
pub(crate) fn header_recipients(bytes: &[u8]) -> Result<usize, String> {
    const V1: &[u8] = b"age-encryption.org/v1\n";
    if bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
        return Err("it is ASCII-armored; mailops writes binary age files".to_string());
    }
    let Some(mut rest) = bytes.strip_prefix(V1) else {
        return Err("not an age file (it does not start with `age-encryption.org/v1`)".to_string());
    };
    // The whole header, as the crate's decryptor reads it.
    if let Err(e) = age::Decryptor::new_buffered(bytes) {
        return Err(format!("a damaged age file: {e}"));
    }
    let mut count = 0;
    while !rest.starts_with(b"---") {
        match age_core::format::read::age_stanza(rest) {
            Ok((after, stanza)) => {
                if stanza.tag == "X25519" {
                    count += 1;
                }
                rest = after;
            }
            Err(_) => return Err("a damaged age file: its header cannot be read".to_string()),
        }
    }
    Ok(count)
}

/// An age identity file (`--identity FILE`, `MAILOPS_AGE_IDENTITY`): one or
/// more `AGE-SECRET-KEY-1…` lines, `#` comments, as `age-keygen` writes it.
pub(crate) struct Identity {
    pub(crate) path: PathBuf,
    keys: Vec<age::x25519::Identity>,
    /// The recipient of each key (`age1…`).
    pub(crate) recipients: Vec<String>,
}

impl Identity {
    /// Read an identity file: a regular file, not a link, that group and
    /// others may not read (refused with the `chmod` to run).
    pub(crate) fn load(path: &Path) -> Result<Identity, Error> {
        let text = crate::secret_file::read_private(path, "age identity file")?;
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The line is a secret: never shown, even in the error.
            let key: age::x25519::Identity = line.parse().map_err(|_| {
                Error::user(format!(
                    "{}:{}: not an age X25519 identity (`AGE-SECRET-KEY-1…`, as `age-keygen` writes it)",
                    path.display(),
                    number + 1
                ))
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(Error::user(format!(
                "{}: no age identity in the file (`AGE-SECRET-KEY-1…`, as `age-keygen` writes it)",
                path.display()
            )));
        }
        let recipients = keys.iter().map(|k| k.to_public().to_string()).collect();
        Ok(Identity {
            path: path.to_path_buf(),
            keys,
            recipients,
        })
    }

    /// Whether one of this file's keys is among `recipients`.
    pub(crate) fn is_one_of(&self, recipients: &[String]) -> bool {
        self.recipients.iter().any(|r| recipients.contains(r))
    }

    /// Refuse an identity none of whose keys is a current recipient: it is
    /// the wrong identity (or was removed from `[secrets] recipients`).
    pub(crate) fn check_is_recipient(&self, recipients: &[String]) -> Result<(), Error> {
        if self.is_one_of(recipients) {
            return Ok(());
        }
        Err(Error::user(format!(
            "the age identity {} ({}) is not one of the `[secrets] recipients` of mailops.toml: wrong identity?\nhelp: use the identity of the mail host or of an operator listed there",
            self.path.display(),
            self.recipients.join(", ")
        )))
    }

    /// Decrypt an age file in memory.
    pub(crate) fn decrypt(&self, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptProblem> {
        let decryptor = age::Decryptor::new_buffered(bytes)
            .map_err(|e| DecryptProblem::Damaged(e.to_string()))?;
        let mut reader = decryptor
            .decrypt(self.keys.iter().map(|k| k as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => DecryptProblem::NotForThisIdentity,
                other => DecryptProblem::Damaged(other.to_string()),
            })?;
        let mut plaintext = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut plaintext)
            .map_err(|e| DecryptProblem::Damaged(e.to_string()))?;
        Ok(plaintext)
    }
}

/// Why an age file did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecryptProblem {
    /// Encrypted to none of the identity's keys.
    NotForThisIdentity,
    /// Not a readable age file, or its contents were altered.
    Damaged(String),
}

/// The folder `keys/` of the repo, opened without following a link;
/// `None` when there is none.
pub(crate) fn open_dir(root: &Path) -> io::Result<Option<Beneath>> {
    match Beneath::open(root).and_then(|repo| repo.dir(Path::new(ENCRYPTED_KEY_DIR))) {
        Ok(dir) => Ok(Some(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The bytes of a key's age file: `Ok(None)` when it does not exist,
/// `Err(problem)` when it is a link or not a regular file (never opened).
pub(crate) fn read(
    dir: Option<&Beneath>,
    domain: &str,
    selector: &str,
) -> io::Result<Result<Option<Vec<u8>>, String>> {
    let Some(dir) = dir else {
        return Ok(Ok(None));
    };
    match dir.read(Path::new(&file_name(domain, selector))) {
        Ok(bytes) => Ok(Ok(Some(bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ok(None)),
        Err(e) => match crate::fsutil::refused(&e) {
            Some(refused) => Ok(Err(format!(
                "it is {}, not a regular file; mailops never follows links in the mail repo",
                refused.what
            ))),
            None => Err(e),
        },
    }
}

/// The decrypted PEM private keys of every tenant key, by (domain, selector).
pub(crate) type DecryptedKeys = BTreeMap<(String, String), Zeroizing<String>>;

/// Decrypt every tenant's key with `identity` and check that it is the
/// private key of the tenant's public key. Every problem is collected, each
/// naming its file: a missing file, a link, a damaged file, a key not
/// encrypted to the identity (`keys reencrypt` needed), a key that does not
/// match. The caller fails when the list is not empty.
pub(crate) fn decrypt_all(
    root: &Path,
    model: &Model,
    identity: &Identity,
) -> io::Result<(DecryptedKeys, Vec<String>)> {
    let dir = open_dir(root)?;
    let mut keys = DecryptedKeys::new();
    let mut problems = Vec::new();
    for domain in model.domains.values() {
        // A retired key is not installed (its file may be purged).
        for key in domain.deployed_keys() {
            let shown = shown(&domain.name, &key.selector);
            let bytes = match read(dir.as_ref(), &domain.name, &key.selector)? {
                Ok(Some(bytes)) => bytes,
                Ok(None) => {
                    problems.push(format!(
                        "{shown}: missing (run `mailops dkim keygen {} --selector {}`, or `mailops keys import --key-dir DIR`)",
                        domain.name, key.selector
                    ));
                    continue;
                }
                Err(problem) => {
                    problems.push(format!("{shown}: {problem}"));
                    continue;
                }
            };
            let plaintext = match identity.decrypt(&bytes) {
                Ok(plaintext) => plaintext,
                Err(DecryptProblem::NotForThisIdentity) => {
                    problems.push(format!(
                        "{shown}: not encrypted to the identity {}, which is one of the current recipients: it was encrypted to old recipients; run `mailops keys reencrypt --identity FILE` with an identity that can decrypt it",
                        identity.path.display()
                    ));
                    continue;
                }
                Err(DecryptProblem::Damaged(why)) => {
                    problems.push(format!("{shown}: a damaged age file: {why}"));
                    continue;
                }
            };
            let Ok(pem) = String::from_utf8(plaintext.to_vec()).map(Zeroizing::new) else {
                problems.push(format!(
                    "{shown}: decrypts to something other than a PEM private key"
                ));
                continue;
            };
            match crate::dkim_keys::public_key_of_private_pem(&pem) {
                Ok(public) if public == key.public_key => {
                    keys.insert((domain.name.clone(), key.selector.clone()), pem);
                }
                Ok(_) => problems.push(format!(
                    "{shown}: its private key does not belong to the public key of selector `{}` in the tenant file of {} (run `mailops dkim keygen {} --selector {} --force` to make a new pair)",
                    key.selector, domain.name, domain.name, key.selector
                )),
                Err(problem) => problems.push(format!("{shown}: decrypts to {problem}")),
            }
        }
    }
    Ok((keys, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> (age::x25519::Identity, String) {
        let key = age::x25519::Identity::generate();
        let recipient = key.to_public().to_string();
        (key, recipient)
    }

    fn wrap(key: age::x25519::Identity) -> Identity {
        let recipients = vec![key.to_public().to_string()];
        Identity {
            path: PathBuf::from("id.txt"),
            keys: vec![key],
            recipients,
        }
    }

    #[test]
    fn a_key_encrypted_to_two_recipients_decrypts_with_each_and_counts_two() {
        let (a, ra) = identity();
        let (b, rb) = identity();
        let sealed = encrypt(b"-----BEGIN PRIVATE KEY-----\n", &[ra, rb]).unwrap();
        assert_eq!(header_recipients(&sealed), Ok(2));
        assert!(!sealed.windows(11).any(|w| w == b"PRIVATE KEY"));
        for key in [a, b] {
            assert_eq!(
                wrap(key).decrypt(&sealed).unwrap().as_slice(),
                b"-----BEGIN PRIVATE KEY-----\n"
            );
        }
    }

    #[test]
    fn another_identity_cannot_decrypt() {
        let (_, ra) = identity();
        let (other, _) = identity();
        let sealed = encrypt(b"secret", &[ra]).unwrap();
        assert_eq!(
            wrap(other).decrypt(&sealed).unwrap_err(),
            DecryptProblem::NotForThisIdentity
        );
    }

    #[test]
    fn damaged_files_are_named_as_such() {
        let (a, ra) = identity();
        let mut sealed = encrypt(b"secret", &[ra]).unwrap();
        assert!(
            header_recipients(b"hello")
                .unwrap_err()
                .contains("not an age file")
        );
        assert!(header_recipients(&sealed[..30]).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            wrap(a).decrypt(&sealed).unwrap_err(),
            DecryptProblem::Damaged(_)
        ));
    }
}
