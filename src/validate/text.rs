//! Characters that may not appear in values that end up in SQL, HCL or configs.
//!
//! Structured values (domains, local parts, selectors, hashes, paths, ids)
//! never need quotes, backslashes or control characters, so refusing them at
//! the door means no emitter can be tricked into breaking out of a string.
//! Free text (`description`, a mailbox's `name`) may hold quotes and
//! newlines: emitters escape it for each format.

/// The first character of a structured value that is not safe, with its byte offset.
pub(crate) fn unsafe_char(value: &str) -> Option<(usize, char)> {
    // Almost every value is plain ASCII: check its bytes against a table, and
    // look at characters only from the first byte the table does not clear.
    let first_unusual = value.bytes().position(|b| !PLAIN_ASCII[usize::from(b)])?;
    value[first_unusual..]
        .char_indices()
        .map(|(i, c)| (first_unusual + i, c))
        .find(|(_, c)| c.is_control() || matches!(c, '"' | '\'' | '`' | '\\') || is_invisible(*c))
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

/// The first character of free text that is not allowed (controls other than
/// tab and newline).
pub(crate) fn unsafe_free_text_char(value: &str) -> Option<(usize, char)> {
    value
        .char_indices()
        .find(|(_, c)| (c.is_control() && !matches!(c, '\n' | '\t')) || is_invisible(*c))
}

/// Bidirectional overrides and similar characters that make text read
/// differently from what it is.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}')
}

/// How to show a character in a message: `'"'`, `U+0000`.
pub(crate) fn describe_char(c: char) -> String {
    if c.is_control() || is_invisible(c) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
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
    fn free_text_allows_quotes_and_newlines() {
        assert_eq!(unsafe_free_text_char("Acme \"Corp\"\nline 2\\ ${x}"), None);
        assert_eq!(unsafe_free_text_char("bell\u{7}"), Some((4, '\u{7}')));
    }
}
