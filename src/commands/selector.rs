//! The DKIM selector and key file name typed on the command line (`new`,
//! `dkim keygen`), checked before anything is written.

use crate::commands::{Error, Result};
use crate::keystore::key_file_name;
use crate::validate::records::is_selector;

/// The key file `<domain>.<selector>.key` can exist: a file name holds at
/// most 255 bytes (checked before anything is written; it was exit 2, "File
/// name too long", after the compile).
pub(crate) fn key_file_name_fits(domain: &str, selector: &str) -> Result<()> {
    let file = key_file_name(domain, selector);
    if file.len() > 255 {
        return Err(Error::user(format!(
            "the key file `{file}` would be {} bytes long, and a file name holds at most 255; choose a shorter --selector",
            file.len()
        )));
    }
    Ok(())
}

/// A DKIM selector typed on the command line (`--selector`, or the default).
pub(crate) fn check_selector(selector: &str) -> Result<()> {
    if !is_selector(selector) {
        return Err(Error::user(format!(
            "`{selector}` is not a valid DKIM selector (lowercase letters, digits, hyphens)"
        )));
    }
    Ok(())
}

/// The selector `<selector>-rsa` of the RSA key made beside an Ed25519 key.
pub(crate) fn check_companion_selector(rsa: &str) -> Result<()> {
    if !is_selector(rsa) {
        return Err(Error::user(format!(
            "`{rsa}` (for the RSA key an Ed25519 key needs beside it) is not a valid DKIM selector; choose a shorter --selector"
        )));
    }
    Ok(())
}
