//! `mailops hash-password`: a Dovecot `{ARGON2ID}` hash of a password.
//!
//! On a terminal the password is read twice without echo; from a pipe, the
//! first line of stdin is the password. The password itself is never printed.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::commands::{EXIT_OK, Error, Result};

/// Dovecot's defaults for ARGON2ID: m=65536 KiB, t=3, p=1. Hashing fails
/// only when the system does (memory): an operational error.
pub(crate) fn hash(password: &str) -> Result<String> {
    let failed = |e: argon2::password_hash::Error| Error::operational(e.to_string());
    let params = Params::new(65536, 3, 1, Some(32)).map_err(|e| failed(e.into()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::thread_rng());
    let phc = argon
        .hash_password(password.as_bytes(), &salt)
        .map_err(failed)?;
    Ok(format!("{{ARGON2ID}}{phc}"))
}

pub(crate) fn run() -> Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            return Err(Error::user("the two passwords differ; nothing was hashed"));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        return Err(Error::user("the password is empty; nothing was hashed"));
    }
    let hashed = hash(&password)?;
    println!("{hashed}");
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHash, PasswordVerifier};

    #[test]
    fn hashes_verify_and_pass_validation() {
        let hashed = hash("correct horse").unwrap();
        assert!(hashed.starts_with("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"));
        let phc = hashed.trim_start_matches("{ARGON2ID}");
        let parsed = PasswordHash::new(phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        let allowed = vec!["ARGON2ID".to_string()];
        assert_eq!(
            crate::validate::password::check_password(&hashed, &allowed),
            Ok("ARGON2ID")
        );
    }
}
