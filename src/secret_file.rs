//! Files and folders that hold secrets (DKIM private keys, the secrets file,
//! age identities) must be private: one check, one wording, with the `chmod`
//! that fixes it.

use std::io;
use std::path::Path;

/// Refuse a secret (file or folder) that group or others may read, write or
/// enter, naming the `chmod` that fixes it.
pub(crate) fn check_private(path: &Path, mode: u32, private_mode: u32) -> io::Result<()> {
    if mode & 0o077 == 0 {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} holds secrets but has mode {:04o}: group or others may read it; run `chmod {:o} {}` and try again",
            path.display(),
            mode & 0o7777,
            private_mode,
            shell_quoted(path)
        ),
    ))
}

/// The text of a file that must be private to its owner (`what`: "age
/// identity file", "secrets file"): opened as named, never through a link in its
/// place, and refused when group or others may read it (with the `chmod`
/// to run). Held in memory that is wiped when dropped.
pub(crate) fn read_private(
    path: &Path,
    what: &str,
) -> Result<zeroize::Zeroizing<String>, crate::error::Error> {
    use crate::error::Error;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut file =
        crate::fsutil::open_named(path).map_err(|e| match crate::fsutil::refused(&e) {
            Some(_) => Error::user(format!("{e}; name the {what} itself")),
            None => Error::user(format!("cannot read the {what}: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
    check_private(path, meta.permissions().mode(), 0o600)
        .map_err(|e| Error::user(e.to_string()))?;
    let mut text = zeroize::Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
    Ok(text)
}

/// A path as typed into a shell (single-quoted unless it needs no quoting).
fn shell_quoted(path: &Path) -> String {
    let text = path.display().to_string();
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%:,".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
