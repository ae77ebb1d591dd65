//! Characters as messages show them: the invisible ones (which make text
//! read differently from what it is) are named, never printed raw.

/// Characters that do not show, or make text read differently from what it
/// is: Unicode's Default_Ignorable_Code_Point (every bidi control, soft
/// hyphen, ZWSP, ZWNJ, ZWJ, LRM/RLM, word joiner, variation selectors, tags,
/// BOM…; IDNA mapping deletes several of them silently), the line and
/// paragraph separators, and the interlinear annotation marks.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The name of the invisible characters people meet most.
fn invisible_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00AD}' => "soft hyphen",
        '\u{061C}' => "Arabic letter mark",
        '\u{200B}' => "zero width space",
        '\u{200C}' => "zero width non-joiner",
        '\u{200D}' => "zero width joiner",
        '\u{200E}' => "left-to-right mark",
        '\u{200F}' => "right-to-left mark",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "bidi control",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "zero width no-break space",
        _ => return None,
    })
}

/// Text safe to print on a terminal: every control or invisible character
/// but a newline shown escaped (`\u{1b}`), so that an argument or a file
/// name echoed in a message can neither move the cursor, clear the screen
/// nor hide part of the message.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c != '\n' && (c.is_control() || is_invisible(c));
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            shown.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// How to show a character in a message: `'"'`, `U+0000`.
pub(crate) fn describe_char(c: char) -> String {
    if let Some(name) = invisible_name(c) {
        format!("U+{:04X} ({name})", c as u32)
    } else if c.is_control() || is_invisible(c) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_control_and_invisible_characters_but_newlines() {
        assert_eq!(printable("plain\ntext"), "plain\ntext");
        assert_eq!(
            printable("ev\u{1b}[2Jil\r\u{200b}.example\u{7}"),
            "ev\\u{1b}[2Jil\\u{d}\\u{200b}.example\\u{7}"
        );
    }
}

/// A domain as people read it: the A-label, and the Unicode form beside it
/// when they differ (`xn--11bg9a6av5ff.example (किताबघर.example)`). A name
/// whose Unicode form would hide a character (see [`is_invisible`]) or does
/// not decode is shown as the A-label alone.
pub(crate) fn shown_domain(ascii: &str) -> String {
    match unicode_form(ascii) {
        Some(unicode) => format!("{ascii} ({unicode})"),
        None => ascii.to_string(),
    }
}

/// The Unicode form of a domain for people, when it differs from the A-label
/// and shows every character (see [`shown_domain`]).
pub(crate) fn unicode_form(ascii: &str) -> Option<String> {
    if !ascii.split('.').any(|label| label.starts_with("xn--")) {
        return None;
    }
    match idna::domain_to_unicode(ascii) {
        (unicode, Ok(())) if unicode != ascii && !unicode.chars().any(is_invisible) => {
            Some(unicode)
        }
        _ => None,
    }
}

/// A domain or an address in backticks, as diagnostics quote it, with the
/// Unicode form beside it when the domain is an IDN:
/// `` `alice@xn--11bg9a6av5ff.example` (alice@किताबघर.example) ``.
pub(crate) fn quoted_idn(name: &str) -> String {
    let (local, domain) = match name.rsplit_once('@') {
        Some((local, domain)) => (Some(local), domain),
        None => (None, name),
    };
    match (unicode_form(domain), local) {
        (Some(unicode), Some(local)) => format!("`{name}` ({local}@{unicode})"),
        (Some(unicode), None) => format!("`{name}` ({unicode})"),
        (None, _) => format!("`{name}`"),
    }
}

#[cfg(test)]
mod shown_domain_tests {
    use super::shown_domain;

    #[test]
    fn an_idn_shows_its_unicode_form_beside_the_a_label() {
        assert_eq!(
            shown_domain("xn--11bg9a6av5ff.example"),
            "xn--11bg9a6av5ff.example (किताबघर.example)"
        );
        assert_eq!(shown_domain("acme.example"), "acme.example");
        assert_eq!(shown_domain("xn--.example"), "xn--.example");
    }

    #[test]
    fn diagnostics_quote_an_idn_address_with_its_unicode_form() {
        use super::quoted_idn;
        assert_eq!(
            quoted_idn("alice@xn--11bg9a6av5ff.example"),
            "`alice@xn--11bg9a6av5ff.example` (alice@किताबघर.example)"
        );
        assert_eq!(
            quoted_idn("xn--11bg9a6av5ff.example"),
            "`xn--11bg9a6av5ff.example` (किताबघर.example)"
        );
        assert_eq!(quoted_idn("@acme.example"), "`@acme.example`");
        assert_eq!(quoted_idn("acme.example"), "`acme.example`");
    }
}
