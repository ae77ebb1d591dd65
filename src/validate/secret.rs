//! The database password `install` fills into the generated configs.
//!
//! It is never in a file mailops validates: `install` reads it from
//! `MAILOPS_DB_PASSWORD` or the secrets file and writes it in place of
//! `@@MAILOPS_DB_PASSWORD@@`, as is, into
//! - Postfix lookup-table files (`password = …`): one line, white space
//!   around the value stripped;
//! - Dovecot 2.3's SQL `connect = host=… password=…`: split on spaces, no
//!   quoting, and `#` starts a comment (the rest of the password is cut);
//!   `%` and `$` may expand variables;
//! - the MariaDB bootstrap script, inside a single-quoted SQL string.
//!
//! So the password is printable ASCII without white space, quotes,
//! backslash, `#`, `%`, `$` or `@@`: every target carries it byte for byte.

use std::fmt;

/// The longest database password accepted, in bytes.
pub(crate) const MAX_DB_PASSWORD: usize = 512;

/// Why a database password cannot be written into the configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretProblem {
    Empty,
    TooLong(usize),
    /// The character and its position (1-based, in characters): never the
    /// password itself.
    Character {
        c: char,
        position: usize,
    },
    /// `@@` (the placeholder mark) at this position.
    Placeholder(usize),
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretProblem::Empty => write!(f, "the database password is empty"),
            SecretProblem::TooLong(n) => write!(
                f,
                "the database password is {n} bytes long; at most {MAX_DB_PASSWORD} are allowed"
            ),
            SecretProblem::Character { c, position } => write!(
                f,
                "the database password holds {} (character {position}), which {}; use letters, digits and punctuation other than {}",
                describe(*c),
                why(*c),
                REFUSED_PUNCTUATION
            ),
            SecretProblem::Placeholder(position) => write!(
                f,
                "the database password holds `@@` (at character {position}), the placeholder mark install fills secrets into"
            ),
        }
    }
}

impl std::error::Error for SecretProblem {}

/// Printable ASCII that one of the targets reads as syntax.
const REFUSED_PUNCTUATION: &str = "# % $ \" ' ` \\";

fn describe(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("`{c}`")
    } else {
        format!("U+{:04X}", c as u32)
    }
}

fn why(c: char) -> &'static str {
    match c {
        '#' => "Dovecot reads as the start of a comment, cutting the password there",
        '%' => "Dovecot may expand as a variable",
        '$' => "Postfix and the shell expand as a variable",
        '"' | '\'' | '`' | '\\' => {
            "would end or escape the quoted string of the MariaDB bootstrap script or a Dovecot value"
        }
        ' ' | '\t' => "splits Dovecot's connect string, and Postfix strips it at the ends",
        c if c.is_control() => "no config line can hold",
        c if c.is_whitespace() => "splits Dovecot's connect string",
        _ => "is not ASCII: the configs and the database clients may not agree on its bytes",
    }
}

/// Whether `password` can be written into every config that takes it.
pub(crate) fn check_db_password(password: &str) -> Result<(), SecretProblem> {
    if password.is_empty() {
        return Err(SecretProblem::Empty);
    }
    if password.len() > MAX_DB_PASSWORD {
        return Err(SecretProblem::TooLong(password.len()));
    }
    for (i, c) in password.chars().enumerate() {
        let ok = c.is_ascii_graphic() && !matches!(c, '#' | '%' | '$' | '"' | '\'' | '`' | '\\');
        if !ok {
            return Err(SecretProblem::Character { c, position: i + 1 });
        }
    }
    if let Some(at) = password.find("@@") {
        return Err(SecretProblem::Placeholder(at + 1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_passwords_pass() {
        for p in [
            "s3cret",
            "Tr0ub4dor&3",
            "a-b_c.d:e/f+g=h!i?j*k@l,m;n(o)p[q]r{s}t|u~v^w<x>y",
            "correct-horse-battery-staple",
        ] {
            assert_eq!(check_db_password(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn hash_in_db_password_is_refused_as_a_dovecot_comment() {
        let problem = check_db_password("abc#def").unwrap_err();
        assert_eq!(
            problem,
            SecretProblem::Character {
                c: '#',
                position: 4
            }
        );
        let message = problem.to_string();
        assert!(
            message.contains("`#`") && message.contains("comment"),
            "{message}"
        );
        assert!(
            !message.contains("abc"),
            "the password is never shown: {message}"
        );
    }

    #[test]
    fn every_character_a_config_cannot_carry_is_named() {
        for c in [
            '#', '%', '$', '"', '\'', '`', '\\', ' ', '\t', '\n', '\r', '\0', '\u{7f}', 'é',
            '\u{A0}', '\u{200B}',
        ] {
            let password = format!("ab{c}cd");
            match check_db_password(&password) {
                Err(SecretProblem::Character { c: found, position }) => {
                    assert_eq!((found, position), (c, 3), "{c:?}");
                }
                other => panic!("{c:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn placeholder_mark_empty_and_overlong_passwords_are_refused() {
        assert_eq!(
            check_db_password("x@@MAILOPS_DB_PASSWORD@@"),
            Err(SecretProblem::Placeholder(2))
        );
        assert_eq!(check_db_password("a@b@c"), Ok(()));
        assert_eq!(check_db_password(""), Err(SecretProblem::Empty));
        assert_eq!(
            check_db_password(&"x".repeat(MAX_DB_PASSWORD + 1)),
            Err(SecretProblem::TooLong(MAX_DB_PASSWORD + 1))
        );
    }
}
