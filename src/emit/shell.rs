//! Writing words into the POSIX shell script cloud-init runs on first boot.
//!
//! A word of plain characters is written bare; anything else is put in single
//! quotes, inside which the shell interprets nothing, with each `'` written as
//! `'\''`. A NUL byte cannot be passed to a command at all.

use crate::emit::conf::{Quoted, Unrepresentable};

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '-' | '+' | '@' | '/' | ':' | ',' | '=' | '%')
}

/// One shell word that expands to exactly `value`.
pub(crate) fn shell_word(value: &str) -> Quoted {
    if value.contains('\0') {
        return Err(Unrepresentable {
            format: "a shell word",
            value: value.to_string(),
            reason: "a NUL byte cannot be passed to a command",
        });
    }
    if !value.is_empty() && value.chars().all(is_plain) && !value.starts_with('=') {
        return Ok(value.to_string());
    }
    Ok(format!("'{}'", value.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(shell_word("mx.webhizzy.in").unwrap(), "mx.webhizzy.in");
        assert_eq!(shell_word("/var/vmail").unwrap(), "/var/vmail");
    }

    #[test]
    fn everything_else_is_single_quoted() {
        assert_eq!(shell_word("").unwrap(), "''");
        assert_eq!(shell_word("a b").unwrap(), "'a b'");
        assert_eq!(shell_word("it's").unwrap(), r"'it'\''s'");
        assert_eq!(shell_word("$(reboot)").unwrap(), "'$(reboot)'");
        assert!(shell_word("a\0b").is_err());
    }

    #[test]
    fn sh_reads_back_the_exact_value() {
        let samples = [
            "plain",
            "",
            "a b",
            "it's",
            "$(x) `y` ${z} \\ \" ' ; | & * ?",
            "line\nbreak",
            "~user",
            "-n",
        ];
        for sample in samples {
            let script = format!("printf '%s' {}", shell_word(sample).unwrap());
            let out = Command::new("sh")
                .args(["-c", &script])
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), sample, "{script}");
        }
    }
}
