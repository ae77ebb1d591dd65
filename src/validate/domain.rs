//! Domain names: IDNA normalisation and LDH syntax.

/// Why a domain name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DomainProblem {
    Empty,
    TrailingDot,
    Idna,
    TooLong(usize),
    LabelEmpty,
    LabelTooLong(String),
    LabelCharacters(String),
    LabelHyphen(String),
    SingleLabel,
    NumericTld,
    /// An invisible character (soft hyphen, ZWJ, a bidi control…), which IDNA
    /// mapping would delete or which would make the name read differently.
    Invisible(char),
}

impl DomainProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            DomainProblem::Empty => "the domain is empty".into(),
            DomainProblem::TrailingDot => "the domain ends with a dot".into(),
            DomainProblem::Idna => "not a valid internationalised domain name (IDNA)".into(),
            DomainProblem::TooLong(n) => {
                format!("the domain is {n} octets long; at most 253 are allowed")
            }
            DomainProblem::LabelEmpty => {
                "the domain has an empty label (two dots in a row, or a leading dot)".into()
            }
            DomainProblem::LabelTooLong(l) => format!("label `{l}` is longer than 63 octets"),
            DomainProblem::LabelCharacters(l) => {
                format!("label `{l}` may only hold letters, digits and hyphens")
            }
            DomainProblem::LabelHyphen(l) => format!("label `{l}` starts or ends with a hyphen"),
            DomainProblem::SingleLabel => {
                "a mail domain needs at least two labels (`example.com`)".into()
            }
            DomainProblem::NumericTld => "the top-level label is all digits".into(),
            DomainProblem::Invisible(c) => format!(
                "the domain holds the invisible character {}, which IDNA would silently delete",
                crate::chars::describe_char(*c)
            ),
        }
    }
}

/// A checked domain: the A-label form (lowercase ASCII) and the Unicode form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DomainName {
    pub(crate) ascii: String,
    pub(crate) unicode: String,
}

/// Normalise and check a domain name as written in a file (a mail domain:
/// letters, digits and hyphens only).
pub(crate) fn normalize_domain(input: &str) -> Result<DomainName, DomainProblem> {
    normalize(input, false)
}

/// Like [`normalize_domain`], but labels may also hold `_`: DNS names such as
/// `_spf.example.com` that are looked up, not mailed to.
pub(crate) fn normalize_dns_name(input: &str) -> Result<DomainName, DomainProblem> {
    normalize(input, true)
}

fn normalize(input: &str, underscore: bool) -> Result<DomainName, DomainProblem> {
    if input.is_empty() {
        return Err(DomainProblem::Empty);
    }
    // Before IDNA mapping, which deletes some of them (U+00AD, U+200B, …):
    // `a\u{AD}b.example` must not quietly become `ab.example`.
    if let Some((_, c)) = crate::validate::text::first_invisible(input) {
        return Err(DomainProblem::Invisible(c));
    }
    if input.ends_with('.') {
        return Err(DomainProblem::TrailingDot);
    }
    let ascii = if input.is_ascii() {
        input.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(input).map_err(|_| DomainProblem::Idna)?
    };
    check_ldh(&ascii, underscore)?;
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    if result.is_err() {
        return Err(DomainProblem::Idna);
    }
    if let Some((_, c)) = crate::validate::text::first_invisible(&unicode) {
        return Err(DomainProblem::Invisible(c));
    }
    Ok(DomainName { ascii, unicode })
}

/// Whether a label of the (Unicode form of the) domain mixes scripts, in the
/// sense of UTS #39 (`аpple.example` with a Cyrillic `а`). Each label is
/// judged on its own: `пример.example` is fine.
pub(crate) fn mixes_scripts(unicode: &str) -> bool {
    use unicode_security::MixedScript;
    !unicode.is_ascii() && unicode.split('.').any(|label| !label.is_single_script())
}

fn check_ldh(ascii: &str, underscore: bool) -> Result<(), DomainProblem> {
    if ascii.len() > 253 {
        return Err(DomainProblem::TooLong(ascii.len()));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(DomainProblem::LabelEmpty);
        }
        if label.len() > 63 {
            return Err(DomainProblem::LabelTooLong(label.to_string()));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || (underscore && b == b'_'))
        {
            return Err(DomainProblem::LabelCharacters(label.to_string()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainProblem::LabelHyphen(label.to_string()));
        }
    }
    if labels.len() < 2 {
        return Err(DomainProblem::SingleLabel);
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DomainProblem::NumericTld);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_domains_are_lowercased() {
        let d = normalize_domain("Acme.Example").unwrap();
        assert_eq!(d.ascii, "acme.example");
        assert_eq!(d.unicode, "acme.example");
    }

    #[test]
    fn unicode_domains_become_a_labels() {
        let d = normalize_domain("bücher.example").unwrap();
        assert_eq!(d.ascii, "xn--bcher-kva.example");
        assert_eq!(d.unicode, "bücher.example");
        assert_eq!(
            normalize_domain("xn--bcher-kva.example").unwrap().unicode,
            "bücher.example"
        );
    }

    #[test]
    fn bad_domains_say_why() {
        assert_eq!(
            normalize_domain("localhost"),
            Err(DomainProblem::SingleLabel)
        );
        assert_eq!(normalize_domain("a..b"), Err(DomainProblem::LabelEmpty));
        assert_eq!(
            normalize_domain("-a.example"),
            Err(DomainProblem::LabelHyphen("-a".into()))
        );
        assert_eq!(
            normalize_domain("a_b.example"),
            Err(DomainProblem::LabelCharacters("a_b".into()))
        );
        assert_eq!(
            normalize_domain("example.com."),
            Err(DomainProblem::TrailingDot)
        );
        assert_eq!(normalize_domain("1.2.3.4"), Err(DomainProblem::NumericTld));
        let long = format!("{}.example", "a".repeat(64));
        assert!(matches!(
            normalize_domain(&long),
            Err(DomainProblem::LabelTooLong(_))
        ));
        let too_long = vec!["abcdefghi"; 26].join(".");
        assert!(matches!(
            normalize_domain(&too_long),
            Err(DomainProblem::TooLong(_))
        ));
    }

    #[test]
    fn soft_hyphen_in_domain_is_refused_not_stripped() {
        // IDNA mapping deletes U+00AD and U+2060 (and maps ZWJ away): the
        // name must be refused, not quietly turned into another domain.
        for c in [
            '\u{AD}', '\u{2060}', '\u{200D}', '\u{200C}', '\u{200F}', '\u{202E}',
        ] {
            let name = format!("kaveri-foods.example{c}x");
            assert_eq!(normalize_domain(&name), Err(DomainProblem::Invisible(c)));
            assert_eq!(normalize_dns_name(&name), Err(DomainProblem::Invisible(c)));
        }
        assert!(normalize_domain("kaveri-foods.examplex").is_ok());
    }

    #[test]
    fn mixed_script_labels_are_flagged() {
        assert!(mixes_scripts("\u{430}pple.example")); // Cyrillic а + Latin
        assert!(!mixes_scripts("bücher.example"));
        assert!(!mixes_scripts("пример.example"));
        assert!(!mixes_scripts("acme.example"));
    }

    #[test]
    fn dns_names_may_hold_underscores() {
        assert_eq!(
            normalize_dns_name("_spf.Example.com").unwrap().ascii,
            "_spf.example.com"
        );
        assert!(normalize_domain("_spf.example.com").is_err());
    }
}
