//! Characters that may not appear in values that end up in SQL, HCL or configs.
//!
//! Structured values (domains, local parts, selectors, hashes, paths, ids)
//! never need quotes, backslashes or control characters, so refusing them at
//! the door means no emitter can be tricked into breaking out of a string.
//! Free text (`description`, a mailbox's `name`) may hold quotes and
//! newlines: emitters escape it for each format.
//!
//! In every value, structured or free: no invisible character (Unicode's
//! Default_Ignorable_Code_Point, which covers every bidi control, soft
//! hyphen, zero-width joiners and word joiner; the line and paragraph
//! separators; interlinear annotation marks), no `@@` (the placeholder
//! syntax `install` fills secrets into), and a bounded length.

use crate::chars::is_invisible;

/// Longest free text, in characters: a mailbox `name` or a `description`.
/// At 4 UTF-8 bytes a character this stays far below MariaDB's TEXT (65,535
/// bytes), so both database engines store exactly the same values.
pub(crate) const MAX_FREE_TEXT_CHARS: usize = 1000;

/// Longest structured value, in bytes (the longest legitimate one is an
/// 8192-bit RSA public key in base64, about 1,400; paths stay below 4,096).
pub(crate) const MAX_STRUCTURED_BYTES: usize = 4096;

/// The placeholder syntax of the configs `install` fills in (`@@NAME@@`).
pub(crate) const PLACEHOLDER_MARK: &str = "@@";

/// Why a value is refused before any rule of its own is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextProblem {
    /// A character at this byte offset.
    Char(usize, char),
    /// `@@` at this byte offset.
    Placeholder(usize),
    /// The value's length and the limit (bytes for structured values,
    /// characters for free text).
    TooLong { length: usize, max: usize },
}

/// The first character of a structured value that is not safe, with its byte offset.
#[cfg(test)]
pub(crate) fn unsafe_char(value: &str) -> Option<(usize, char)> {
    // Almost every value is plain ASCII: check its bytes against a table, and
    // look at characters only from the first byte the table does not clear.
    let first_unusual = value.bytes().position(|b| !PLAIN_ASCII[usize::from(b)])?;
    unsafe_char_from(value, first_unusual)
}

/// The first unsafe character at or after `from` (a character boundary).
fn unsafe_char_from(value: &str, from: usize) -> Option<(usize, char)> {
    value[from..]
        .char_indices()
        .map(|(i, c)| (from + i, c))
        .find(|(_, c)| c.is_control() || matches!(c, '"' | '\'' | '`' | '\\') || is_invisible(*c))
}

/// Every check a structured value goes through first: characters, `@@`, length.
pub(crate) fn check_structured(value: &str) -> Result<(), TextProblem> {
    // A million passwords and addresses go through here. A plain ASCII value
    // is cleared in a pass the compiler turns into vector compares, and
    // characters are decoded only from the first byte it does not clear.
    if !all_plain_ascii(value.as_bytes()) {
        let first_unusual = value
            .bytes()
            .position(|b| !PLAIN_ASCII[usize::from(b)])
            .unwrap_or(0);
        if let Some((at, c)) = unsafe_char_from(value, first_unusual) {
            return Err(TextProblem::Char(at, c));
        }
    }
    if let Some(at) = find_placeholder(value) {
        return Err(TextProblem::Placeholder(at));
    }
    if value.len() > MAX_STRUCTURED_BYTES {
        return Err(TextProblem::TooLong {
            length: value.len(),
            max: MAX_STRUCTURED_BYTES,
        });
    }
    Ok(())
}

/// Every check free text goes through: characters, `@@`, length.
pub(crate) fn check_free_text(value: &str) -> Result<(), TextProblem> {
    // Plain ASCII text (a million mailbox names) needs no character decoded.
    let first_unusual = value.bytes().position(|b| !PLAIN_FREE_TEXT[usize::from(b)]);
    if let Some((at, c)) = first_unusual.and_then(|from| unsafe_free_text_char_from(value, from)) {
        return Err(TextProblem::Char(at, c));
    }
    if let Some(at) = value.find(PLACEHOLDER_MARK) {
        return Err(TextProblem::Placeholder(at));
    }
    // Bytes bound characters from above: count only when it may matter.
    if value.len() > MAX_FREE_TEXT_CHARS {
        let length = value.chars().count();
        if length > MAX_FREE_TEXT_CHARS {
            return Err(TextProblem::TooLong {
                length,
                max: MAX_FREE_TEXT_CHARS,
            });
        }
    }
    Ok(())
}

/// Whether every byte is one [`PLAIN_ASCII`] clears, without a branch per
/// byte (so that it vectorizes).
fn all_plain_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(32).all(|chunk| {
        chunk.iter().fold(true, |plain, &b| {
            plain
                & (b.wrapping_sub(0x20) < 0x5f)
                & (b != b'"')
                & (b != b'\'')
                & (b != b'`')
                & (b != b'\\')
        })
    })
}

/// Where `@@` first occurs, found by looking for `@` (memchr) rather than
/// building a substring searcher per value.
fn find_placeholder(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(i) = value[from..].find('@') {
        let at = from + i;
        if bytes.get(at + 1) == Some(&b'@') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Bytes that are printable ASCII and none of `"`, `'`, `` ` ``, `\`.
static PLAIN_ASCII: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = !matches!(b as u8, b'"' | b'\'' | b'`' | b'\\');
        b += 1;
    }
    table
};

/// Bytes that are printable ASCII, tab or newline: free text made of them
/// has no character [`unsafe_free_text_char`] refuses.
static PLAIN_FREE_TEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = true;
        b += 1;
    }
    table[b'\t' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

/// The first character of free text that is not allowed (controls other than
/// tab and newline).
#[cfg(test)]
pub(crate) fn unsafe_free_text_char(value: &str) -> Option<(usize, char)> {
    unsafe_free_text_char_from(value, 0)
}

/// [`unsafe_free_text_char`] from byte `from` (a character boundary) on.
fn unsafe_free_text_char_from(value: &str, from: usize) -> Option<(usize, char)> {
    value[from..]
        .char_indices()
        .map(|(i, c)| (from + i, c))
        .find(|(_, c)| (c.is_control() && !matches!(c, '\n' | '\t')) || is_invisible(*c))
}

/// The first invisible character (see [`is_invisible`]) of a value.
pub(crate) fn first_invisible(value: &str) -> Option<(usize, char)> {
    if value.is_ascii() {
        return None;
    }
    value.char_indices().find(|(_, c)| is_invisible(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_values_refuse_quotes_backslashes_and_controls() {
        assert_eq!(unsafe_char("alice"), None);
        assert_eq!(unsafe_char("o'brien"), Some((1, '\'')));
        assert_eq!(unsafe_char("a\\b"), Some((1, '\\')));
        assert_eq!(unsafe_char("a\"b"), Some((1, '"')));
        assert_eq!(unsafe_char("a\nb"), Some((1, '\n')));
        assert_eq!(unsafe_char("a\u{202E}b"), Some((1, '\u{202E}')));
        assert_eq!(unsafe_char("ünïcode"), None);
        assert_eq!(unsafe_char("ü'"), Some((2, '\'')));
        assert_eq!(unsafe_char("ab\u{7f}"), Some((2, '\u{7f}')));
    }

    #[test]
    fn the_vector_check_clears_exactly_the_plain_ascii_bytes() {
        for b in 0..=255u8 {
            assert_eq!(all_plain_ascii(&[b]), PLAIN_ASCII[usize::from(b)], "{b:#x}");
            let mut long = vec![b'a'; 70];
            long[65] = b;
            assert_eq!(
                all_plain_ascii(&long),
                PLAIN_ASCII[usize::from(b)],
                "{b:#x}"
            );
        }
        assert_eq!(find_placeholder("a@b@@c"), Some(3));
        assert_eq!(find_placeholder("a@b@"), None);
        assert_eq!(find_placeholder("ü@@"), Some(2));
    }

    /// The check gives what checking characters, then `@@`, gives.
    #[test]
    fn structured_check_reports_the_first_character_before_any_placeholder() {
        let reference = |value: &str| -> Result<(), TextProblem> {
            if let Some((at, c)) = unsafe_char(value) {
                return Err(TextProblem::Char(at, c));
            }
            if let Some(at) = value.find(PLACEHOLDER_MARK) {
                return Err(TextProblem::Placeholder(at));
            }
            Ok(())
        };
        for value in [
            "alice",
            "a@@b",
            "@@",
            "@",
            "a@b@c",
            "x@@y'z",
            "x'y@@z",
            "ü@@",
            "@ü@",
            "@@ü'",
            "é@@\u{202E}",
            "a@\u{7f}@",
            "ab@",
            "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert_eq!(check_structured(value), reference(value), "{value:?}");
        }
        assert_eq!(check_structured("a@@b"), Err(TextProblem::Placeholder(1)));
        assert_eq!(check_structured("ü-@@"), Err(TextProblem::Placeholder(3)));
        assert_eq!(check_structured("x@@y'z"), Err(TextProblem::Char(4, '\'')));
    }

    #[test]
    fn free_text_allows_quotes_and_newlines() {
        assert_eq!(unsafe_free_text_char("Acme \"Corp\"\nline 2\\ ${x}"), None);
        assert_eq!(unsafe_free_text_char("bell\u{7}"), Some((4, '\u{7}')));
        assert_eq!(check_free_text("Acme \"Corp\"\n\tline 2"), Ok(()));
        assert_eq!(
            check_free_text("bell\u{7}@@"),
            Err(TextProblem::Char(4, '\u{7}'))
        );
        assert_eq!(
            check_free_text("Zoë\u{200B}"),
            Err(TextProblem::Char(4, '\u{200B}'))
        );
        assert_eq!(check_free_text("Zoë @@"), Err(TextProblem::Placeholder(5)));
        assert_eq!(
            check_free_text("del\u{7f}"),
            Err(TextProblem::Char(3, '\u{7f}'))
        );
    }
}
