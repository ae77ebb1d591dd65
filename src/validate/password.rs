//! Dovecot password hashes: `{SCHEME}hash`, scheme allowed, hash well formed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordProblem {
    /// No `{SCHEME}` prefix: looks like a plaintext password.
    Plaintext,
    /// `{PLAIN}`, `{CLEAR}` and friends.
    PlainScheme(String),
    /// A scheme Dovecot knows but this platform does not allow.
    NotAllowed(String),
    /// A scheme nobody knows.
    UnknownScheme(String),
    /// The hash after the scheme is not of that scheme's form.
    Malformed {
        scheme: String,
        expected: &'static str,
    },
}

/// Schemes that store the password itself.
const PLAIN_SCHEMES: [&str; 5] = ["PLAIN", "CLEAR", "CLEARTEXT", "PLAIN-TRUNC", "PLAIN-MD5"];

/// Schemes this checker knows the structure of.
pub(crate) const KNOWN_SCHEMES: [&str; 7] = [
    "ARGON2ID",
    "ARGON2I",
    "BLF-CRYPT",
    "SHA512-CRYPT",
    "SHA256-CRYPT",
    "PBKDF2",
    // Weak (salted MD5), but what many older servers hold: a platform allows it only as
    // a legacy scheme, for mailboxes adopted from them (`defaults.legacy_password_schemes`).
    "MD5-CRYPT",
];

/// The width of `virtual_users.password` (VARCHAR(255) in migrations/mysql).
pub(crate) const MAX_PASSWORD: usize = 255;

/// Check a `{SCHEME}hash` string against the allowed schemes; the scheme it uses.
pub(crate) fn check_password(
    value: &str,
    allowed: &[String],
) -> Result<&'static str, PasswordProblem> {
    let Some(rest) = value.strip_prefix('{') else {
        return Err(PasswordProblem::Plaintext);
    };
    let Some(close) = rest.bytes().position(|b| b == b'}') else {
        return Err(PasswordProblem::Plaintext);
    };
    let (scheme, hash) = (&rest[..close], &rest[close + 1..]);
    // The scheme as the constant it matches (they are upper case), so that
    // a million well-formed hashes are checked without an allocation.
    let named = |schemes: &[&'static str]| {
        schemes
            .iter()
            .copied()
            .find(|known| known.eq_ignore_ascii_case(scheme))
    };
    if let Some(plain) = named(&PLAIN_SCHEMES) {
        return Err(PasswordProblem::PlainScheme(plain.to_string()));
    }
    let Some(scheme) = named(&KNOWN_SCHEMES) else {
        return Err(PasswordProblem::UnknownScheme(scheme.to_ascii_uppercase()));
    };
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(scheme)) {
        return Err(PasswordProblem::NotAllowed(scheme.to_string()));
    }
    if value.len() > MAX_PASSWORD {
        return Err(PasswordProblem::Malformed {
            scheme: scheme.to_string(),
            expected: "a hash of at most 255 characters with its `{SCHEME}` (the width of the `password` column on MariaDB and SQLite alike)",
        });
    }
    let expected = match scheme {
        "ARGON2ID" => check_argon2(hash, "argon2id")
            .then_some(())
            .ok_or("a PHC string `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`"),
        "ARGON2I" => check_argon2(hash, "argon2i")
            .then_some(())
            .ok_or("a PHC string `$argon2i$v=19$m=…,t=…,p=…$<salt>$<hash>`"),
        "BLF-CRYPT" => check_bcrypt(hash)
            .then_some(())
            .ok_or("a bcrypt hash `$2y$<cost>$<53 characters>` (or `$2b$`)"),
        "SHA512-CRYPT" => check_sha_crypt(hash, "6", 86)
            .then_some(())
            .ok_or("a SHA-512 crypt hash `$6$<salt>$<86 characters>`"),
        "SHA256-CRYPT" => check_sha_crypt(hash, "5", 43)
            .then_some(())
            .ok_or("a SHA-256 crypt hash `$5$<salt>$<43 characters>`"),
        "MD5-CRYPT" => check_md5_crypt(hash)
            .then_some(())
            .ok_or("an MD5 crypt hash `$1$<salt of up to 8 characters>$<22 characters>`"),
        _ => (!hash.is_empty())
            .then_some(())
            .ok_or("a hash after the scheme"),
    };
    expected
        .map(|()| scheme)
        .map_err(|expected| PasswordProblem::Malformed {
            scheme: scheme.to_string(),
            expected,
        })
}

/// A PHC string `$<algorithm>$v=<16|19>$m=<m>,t=<t>,p=<p>$<salt>$<hash>` whose
/// parameters Argon2 accepts, checked without allocating: a platform has a
/// million of them (the `argon2` crate's parser agrees; see the tests).
fn check_argon2(hash: &str, algorithm: &str) -> bool {
    let mut parts = split_short(hash, b'$');
    if parts.next() != Some("") || parts.next() != Some(algorithm) {
        return false;
    }
    let mut part = parts.next();
    if let Some(version) = part.and_then(|p| p.strip_prefix("v=")) {
        if !matches!(version, "16" | "19") {
            return false;
        }
        part = parts.next();
    }
    let Some((m, t, p)) = part.and_then(argon2_params) else {
        return false;
    };
    let (Some(salt), Some(output), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let output_bytes = b64_decoded_len(output);
    (8..=u32::MAX).contains(&m)
        && m / 8 >= p
        && t >= 1
        && (1..=0xFF_FFFF).contains(&p)
        && (4..=64).contains(&salt.len())
        && b64_decoded_len(salt).is_some()
        && output_bytes.is_some_and(|n| (10..=64).contains(&n))
}

/// `text` split at each `separator` (an ASCII byte), as `str::split` splits
/// it, by a plain loop over the bytes: the fields of a hash are short, and a
/// million hashes are split.
fn split_short(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|b| b == separator) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `m=…,t=…,p=…`, each exactly once, in any order, as decimal `u32`s.
fn argon2_params(text: &str) -> Option<(u32, u32, u32)> {
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in split_short(text, b',') {
        let equals = pair.bytes().position(|b| b == b'=')?;
        let (key, value) = (&pair[..equals], &pair[equals + 1..]);
        if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u32 = value.parse().ok()?;
        let slot = match key {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    Some((m?, t?, p?))
}

/// Bytes encoded by unpadded standard base64 (`A-Za-z0-9+/`), or `None` when
/// the text is not canonical unpadded base64.
fn b64_decoded_len(text: &str) -> Option<usize> {
    fn sextet(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    // Every character in the alphabet, checked without a branch per byte
    // (a million hashes have two base64 fields each).
    let in_alphabet = bytes.iter().fold(true, |ok, &c| {
        ok & (c.is_ascii_alphanumeric() | (c == b'+') | (c == b'/'))
    });
    if !in_alphabet {
        return None;
    }
    let last = bytes.last().map_or(Some(0), |&c| sextet(c))?;
    // The bits of the last character beyond the encoded bytes must be zero.
    let unused_bits_clear = match bytes.len() % 4 {
        0 => true,
        1 => return None,
        2 => last & 0x0F == 0,
        _ => last & 0x03 == 0,
    };
    unused_bits_clear.then_some(bytes.len() * 3 / 4)
}

fn is_crypt_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'/'
}

fn check_bcrypt(hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    matches!(parts.as_slice(), ["", variant, cost, body]
        if matches!(*variant, "2y" | "2b" | "2a")
            && cost.len() == 2
            && cost.parse::<u8>().is_ok_and(|c| (4..=31).contains(&c))
            && body.len() == 53
            && body.bytes().all(is_crypt_base64))
}

fn check_sha_crypt(hash: &str, id: &str, length: usize) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let (salt, body) = match parts.as_slice() {
        ["", i, salt, body] if *i == id => (*salt, *body),
        ["", i, rounds, salt, body] if *i == id && rounds.starts_with("rounds=") => {
            if rounds["rounds=".len()..].parse::<u32>().is_err() {
                return false;
            }
            (*salt, *body)
        }
        _ => return false,
    };
    !salt.is_empty()
        && salt.len() <= 16
        && salt.bytes().all(is_crypt_base64)
        && body.len() == length
        && body.bytes().all(is_crypt_base64)
}

/// `$1$<salt>$<22 characters>` (glibc's MD5 crypt: no rounds, a salt of at most 8).
fn check_md5_crypt(hash: &str) -> bool {
    let mut parts = hash.split('$');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(""), Some("1"), Some(salt), Some(body), None) => {
            !salt.is_empty()
                && salt.len() <= 8
                && salt.bytes().all(is_crypt_base64)
                && body.len() == 22
                && body.bytes().all(is_crypt_base64)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        crate::model::platform::DEFAULT_SCHEMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    pub(crate) const ARGON: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$Qmx1c2hCbHVzaEJsdXNoQmx1c2hCbHVzaEJsdXNoQmw";
    const BCRYPT: &str = "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuNs7rQ4o0Fz1y0WmB0Qv1v4XQXEJ2p8C";
    // A real hash (`doveadm pw -s SHA512-CRYPT`): the body is 86 characters.
    // Regression: this constant had a 98-character body, so the test failed.
    const SHA512: &str = "{SHA512-CRYPT}$6$foBBz6Ic9yoqF5iJ$ZW01YUodRzO/IwaxaIOkCi0rwMrC9QtDYoGbchwdg/tkHG3NkduK/F/gLtak3TOrLQeD7OhohETnFy9TVXnxX1";

    #[test]
    fn short_fields_split_as_str_split_does() {
        for text in [
            "",
            "$",
            "$$",
            "a$b",
            "$argon2id$v=19$m=1,t=2,p=3$salt$hash",
            "a$",
            "$a",
        ] {
            let short: Vec<&str> = split_short(text, b'$').collect();
            let std: Vec<&str> = text.split('$').collect();
            assert_eq!(short, std, "{text:?}");
        }
    }

    #[test]
    fn well_formed_hashes_pass() {
        assert_eq!(check_password(ARGON, &allowed()), Ok("ARGON2ID"));
        assert_eq!(check_password(BCRYPT, &allowed()), Ok("BLF-CRYPT"));
        assert_eq!(check_password(SHA512, &allowed()), Ok("SHA512-CRYPT"));
    }

    #[test]
    fn plaintext_and_plain_schemes_are_refused() {
        assert_eq!(
            check_password("hunter2", &allowed()),
            Err(PasswordProblem::Plaintext)
        );
        assert_eq!(
            check_password("{PLAIN}hunter2", &allowed()),
            Err(PasswordProblem::PlainScheme("PLAIN".into()))
        );
    }

    #[test]
    fn schemes_outside_the_list_are_refused() {
        assert_eq!(
            check_password("{MD5}abc", &allowed()),
            Err(PasswordProblem::UnknownScheme("MD5".into()))
        );
        assert_eq!(
            check_password(
                "{ARGON2I}$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                &allowed()
            ),
            Err(PasswordProblem::NotAllowed("ARGON2I".into()))
        );
    }

    /// The argon2 crate's verdict on a PHC string: the reference the fast check must match.
    fn argon2_crate_accepts(hash: &str, algorithm: &str) -> bool {
        match argon2::PasswordHash::new(hash) {
            Ok(parsed) => {
                parsed.algorithm.as_str() == algorithm
                    && parsed.salt.is_some()
                    && parsed.hash.is_some()
                    && argon2::Params::try_from(&parsed).is_ok()
            }
            Err(_) => false,
        }
    }

    #[test]
    fn argon2_check_agrees_with_the_argon2_crate() {
        let valid = &ARGON["{ARGON2ID}".len()..];
        let mut cases: Vec<String> = vec![
            valid.to_string(),
            valid.replace("v=19$", ""),
            valid.replace("v=19", "v=16"),
            valid.replace("v=19", "v=20"),
            valid.replace("m=65536,t=3,p=1", "t=3,p=1,m=65536"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3,p=1,p=1"),
            valid.replace("m=65536,t=3,p=1", "m=7,t=3,p=1"),
            valid.replace("m=65536,t=3,p=1", "m=15,t=1,p=2"),
            valid.replace("m=65536,t=3,p=1", "m=16,t=1,p=2"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=0,p=1"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3,p=0"),
            valid.replace("m=65536,t=3,p=1", "m=+65536,t=3,p=1"),
            valid.replace("m=65536,t=3,p=1", "m=99999999999,t=3,p=1"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3,p=1,x=2"),
            format!("{valid}$extra"),
            valid.replace("$argon2id$", "$argon2i$"),
        ];
        // Every truncation and every single-character substitution of the
        // salt and hash (base64 alphabet, padding bits, lengths).
        for end in 0..valid.len() {
            cases.push(valid[..end].to_string());
        }
        let salt_at = valid.rfind("c2Fs").expect("salt in the sample");
        for at in salt_at..valid.len() {
            for c in ['A', 'B', 'w', '+', '/', '-', '=', '.', '$'] {
                let mut case = valid.to_string();
                case.replace_range(at..at + 1, &c.to_string());
                cases.push(case);
            }
        }
        // Never accept what the crate refuses.
        let too_lax: Vec<&String> = cases
            .iter()
            .filter(|case| {
                check_argon2(case, "argon2id") && !argon2_crate_accepts(case, "argon2id")
            })
            .collect();
        assert!(too_lax.is_empty(), "{too_lax:#?}");
        // Accept the forms Dovecot writes and reads.
        for case in [
            valid.to_string(),
            valid.replace("v=19$", ""),
            valid.replace("v=19", "v=16"),
            valid.replace("m=65536,t=3,p=1", "t=3,p=1,m=65536"),
            valid.replace("m=65536,t=3,p=1", "m=16,t=1,p=2"),
            valid.replace("c2Fs", "c+F/"),
        ] {
            assert!(check_argon2(&case, "argon2id"), "{case}");
        }
        // Stricter than the crate where libargon2 (Dovecot's verifier) is:
        // a version it does not know, every parameter exactly once, and the
        // standard base64 alphabet in the salt.
        for case in [
            valid.replace("v=19", "v=20"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3"),
            valid.replace("m=65536,t=3,p=1", "m=65536,t=3,p=1,p=1"),
            valid.replace("c2Fs", "c-F."),
        ] {
            assert!(!check_argon2(&case, "argon2id"), "{case}");
            assert!(argon2_crate_accepts(&case, "argon2id"), "{case}");
        }
    }

    #[test]
    fn an_md5_crypt_hash_is_checked_and_allowed_only_when_listed() {
        // `openssl passwd -1 -salt Xy7.kQ2a secret`
        let md5 = "{MD5-CRYPT}$1$Xy7.kQ2a$025TEWdNATDvIVzhPPvcq.";
        assert_eq!(
            check_password(md5, &allowed()),
            Err(PasswordProblem::NotAllowed("MD5-CRYPT".into()))
        );
        let legacy = vec!["MD5-CRYPT".to_string()];
        assert_eq!(check_password(md5, &legacy), Ok("MD5-CRYPT"));
        for bad in [
            "{MD5-CRYPT}$1$Xy7.kQ2a$025TEWdNATDvIVzhPPvcq",
            "{MD5-CRYPT}$1$Xy7.kQ2aZ$025TEWdNATDvIVzhPPvcq.",
            "{MD5-CRYPT}$1$$025TEWdNATDvIVzhPPvcq.",
            "{MD5-CRYPT}$1$Xy7.kQ2a$025TEWdNATDvIVzhPPvcq.$",
            "{MD5-CRYPT}$6$Xy7.kQ2a$025TEWdNATDvIVzhPPvcq.",
        ] {
            assert!(
                matches!(
                    check_password(bad, &legacy),
                    Err(PasswordProblem::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_hash_wider_than_the_password_column_is_refused() {
        let all = vec!["PBKDF2".to_string()];
        let fits = format!("{{PBKDF2}}{}", "a".repeat(MAX_PASSWORD - "{PBKDF2}".len()));
        assert_eq!(check_password(&fits, &all), Ok("PBKDF2"));
        let wide = format!("{fits}a");
        assert!(matches!(
            check_password(&wide, &all),
            Err(PasswordProblem::Malformed { .. })
        ));
    }

    #[test]
    fn malformed_hashes_name_the_expected_form() {
        for bad in [
            "{ARGON2ID}$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
            "{ARGON2ID}nothash",
            "{BLF-CRYPT}$2y$05$short",
            "{SHA512-CRYPT}$5$salt$abc",
        ] {
            assert!(
                matches!(
                    check_password(bad, &allowed()),
                    Err(PasswordProblem::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }
}
