//! Values written into Terraform's native syntax (HCL): quoted strings,
//! comments and resource names.
//!
//! Every value the Terraform templates print goes through one of these
//! functions (registered as tera filters in `filters`). Structured values were
//! validated before they get here, but free text (a tenant's description) may
//! hold quotes, backslashes, newlines, `${` and `%{`; these functions make sure
//! nothing can end a string or a comment early, or start a template
//! interpolation or directive.
//!
//! This file depends on nothing else in the crate, so the integration test
//! `tests/terraform_fmt.rs` can include it and feed its output to real
//! Terraform.

/// The text between the quotes of an HCL quoted string that Terraform reads
/// back as exactly `value`.
///
/// `\` and `"` are backslash-escaped, newlines and tabs become `\n`, `\r`,
/// `\t`, any other control character `\uXXXX`; `${` becomes `$${` and `%{`
/// becomes `%%{` so that no interpolation or directive starts.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                // `$${` reads back as `${`, `%%{` as `%{`.
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A complete HCL quoted string: `"` + [`escape`]d value + `"`.
pub(crate) fn string(value: &str) -> String {
    format!("\"{}\"", escape(value))
}

/// Free text as `#` comment lines, one per line of the text, ending in a
/// newline. Every kind of line break starts a new `# ` line, so the text can
/// never end the comment and become configuration; other control characters
/// are shown as `\u{…}`; trailing whitespace is dropped (`terraform fmt`
/// canonical form). An empty line of text becomes a bare `#`.
pub(crate) fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let normalised = text.replace("\r\n", "\n");
    for line in normalised.split([
        '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
    ]) {
        let mut shown = String::with_capacity(line.len());
        for c in line.chars() {
            if c.is_control() && c != '\t' {
                shown.push_str(&format!("\\u{{{:04X}}}", c as u32));
            } else {
                shown.push(c);
            }
        }
        let shown = shown.trim_end();
        if shown.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(shown);
            out.push('\n');
        }
    }
    out
}

/// A Terraform resource name for a domain: `acme.example` → `acme_example`.
///
/// Terraform names may hold letters, digits, `_` and `-`, and must start with
/// a letter or `_`. Mail domains (validated A-labels) hold only lowercase
/// letters, digits, `-` and `.`, so keeping `-` and turning each `.` into `_`
/// is one-to-one: `a-b.example` → `a-b_example` and `a.b.example` →
/// `a_b_example` can never collide, and a name never changes when another
/// tenant is added (which a suffix chosen over the whole set would do,
/// renaming — and so destroying and re-creating — existing records). A
/// domain starting with a digit gets a leading `_` (`1und1.example` →
/// `_1und1_example`), which no other domain can produce. Any other character
/// (which validation never lets through) becomes `_`.
pub(crate) fn identifier(domain: &str) -> String {
    let mut out = String::with_capacity(domain.len() + 1);
    if !domain.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push('_');
    }
    for c in domain.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' => out.push(c),
            _ => out.push('_'),
        }
    }
    out
}

/// Whether `name` is a valid Terraform block label name: a letter or `_`,
/// then letters, digits, `_` and `-`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(escape(r#"say "hi" \o/"#), r#"say \"hi\" \\o/"#);
        assert_eq!(string(r#"a"b"#), r#""a\"b""#);
        assert_eq!(string(r"\"), r#""\\""#);
    }

    #[test]
    fn interpolation_and_directive_openers_are_doubled() {
        assert_eq!(escape("${var.x}"), "$${var.x}");
        assert_eq!(escape("%{ if true }"), "%%{ if true }");
        // A `$` or `%` not followed by `{` is literal already.
        assert_eq!(escape("$5 and 100% {x}"), "$5 and 100% {x}");
        // `$${` in the value must read back as `$${`: `$` + escaped `${`.
        assert_eq!(escape("$${x}"), "$$${x}");
        assert_eq!(escape("%%{x}"), "%%%{x}");
        assert_eq!(escape("${${"), "$${$${");
    }

    #[test]
    fn line_breaks_and_controls_cannot_end_the_string() {
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape("bell\u{7}"), "bell\\u0007");
        assert_eq!(escape("Bücher 📬"), "Bücher 📬");
        assert!(!escape("x\n\"\r\u{0}").contains(['\n', '\r', '\u{0}']));
    }

    #[test]
    fn comment_lines_cannot_end_the_comment() {
        let hostile = "Acme \"Corp\"\n}\nresource \"x\" \"y\" {\r\n  ${evil}  \rlast\u{2028}sep";
        let text = comment(hostile);
        assert_eq!(
            text,
            "# Acme \"Corp\"\n# }\n# resource \"x\" \"y\" {\n#   ${evil}\n# last\n# sep\n"
        );
        assert!(text.lines().all(|line| line.starts_with('#')));
    }

    #[test]
    fn comment_keeps_blank_lines_without_trailing_space() {
        assert_eq!(comment("a\n\nb  \t"), "# a\n#\n# b\n");
        assert_eq!(comment("bell\u{7}"), "# bell\\u{0007}\n");
    }

    #[test]
    fn identifier_turns_dots_into_underscores() {
        assert_eq!(identifier("acme.example"), "acme_example");
        assert_eq!(identifier("xn--bcher-kva.example"), "xn--bcher-kva_example");
    }

    #[test]
    fn regression_identifier_hyphen_and_dot_domains_do_not_collide() {
        assert_eq!(identifier("a-b.example"), "a-b_example");
        assert_eq!(identifier("a.b.example"), "a_b_example");
        assert_ne!(identifier("a-b.example"), identifier("a.b.example"));
    }

    #[test]
    fn identifier_of_a_digit_domain_is_valid() {
        assert_eq!(identifier("1und1.example"), "_1und1_example");
        assert!(is_identifier(&identifier("1und1.example")));
        assert!(!is_identifier("1und1_example"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a.b"));
    }

    #[test]
    fn identifier_is_one_to_one_over_mail_domains() {
        // Every domain over a small LDH alphabet up to 6 characters: no two
        // share an identifier, and every identifier is valid.
        let alphabet = ['a', '1', '-', '.'];
        let mut domains = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..6 {
            let mut next = Vec::new();
            for d in &domains {
                for c in alphabet {
                    next.push(format!("{d}{c}"));
                }
            }
            all.extend(next.iter().cloned());
            domains = next;
        }
        let valid: Vec<&String> = all
            .iter()
            .filter(|d| {
                d.contains('.')
                    && d.split('.')
                        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            })
            .collect();
        assert_eq!(valid.len(), 380);
        let mut seen = std::collections::BTreeMap::new();
        for d in valid {
            let id = identifier(d);
            assert!(is_identifier(&id), "{d} → {id}");
            if let Some(other) = seen.insert(id.clone(), d) {
                panic!("{d} and {other} both map to {id}");
            }
        }
    }
}
