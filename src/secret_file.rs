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
