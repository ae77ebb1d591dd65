//! Route53's text form of a TXT record value.
//!
//! A DNS TXT record is a sequence of character-strings of at most 255 octets
//! each (RFC 1035 §3.3.14); SPF, DMARC and DKIM readers concatenate them. A
//! 2048-bit RSA DKIM key is already ~400 octets, so long values are split.
//! In the Terraform AWS provider one record value holding several strings is
//! written `first255octets""rest`: the provider wraps the value in quotes, and
//! Route53 reads `"first…""rest"` as two character-strings. Inside a string,
//! Route53 wants `"` and `\` backslash-escaped. The result of [`txt_value`] is
//! that provider-level value; it still goes through [`super::hcl::string`] to
//! become an HCL string (where `""` becomes `\"\"`).

/// The most octets one DNS character-string holds.
pub(crate) const MAX_STRING_OCTETS: usize = 255;

/// Split `value` into character-strings of at most 255 octets. Cuts fall on
/// exactly 255 octets for ASCII (every record mailops publishes is ASCII);
/// for other text a cut moves back to the previous character boundary, so no
/// UTF-8 sequence is ever split.
pub(crate) fn split_strings(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = value;
    while rest.len() > MAX_STRING_OCTETS {
        let mut cut = MAX_STRING_OCTETS;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    parts
}

/// The record value as the AWS provider takes it: each character-string
/// escaped for Route53, joined with `""`.
pub(crate) fn txt_value(value: &str) -> String {
    split_strings(value)
        .into_iter()
        .map(|part| part.replace('\\', "\\\\").replace('"', "\\\""))
        .collect::<Vec<_>>()
        .join("\"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::hcl;

    #[test]
    fn short_values_stay_one_string() {
        assert_eq!(txt_value("v=spf1 mx -all"), "v=spf1 mx -all");
        assert_eq!(split_strings(""), vec![""]);
    }

    #[test]
    fn exactly_255_octets_is_not_split() {
        let value = "a".repeat(255);
        assert_eq!(split_strings(&value), vec![value.as_str()]);
        assert_eq!(txt_value(&value), value);
    }

    #[test]
    fn octet_256_starts_a_second_string() {
        let value = format!("{}{}", "a".repeat(255), "b");
        assert_eq!(split_strings(&value), vec!["a".repeat(255).as_str(), "b"]);
        assert_eq!(txt_value(&value), format!("{}\"\"b", "a".repeat(255)));
    }

    #[test]
    fn long_values_split_every_255_octets() {
        let value: String = (0..700)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let parts = split_strings(&value);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![255, 255, 190]
        );
        assert_eq!(parts.concat(), value);
    }

    #[test]
    fn multi_byte_characters_are_never_cut() {
        // 254 ASCII octets then a 2-octet character: the cut moves before it.
        let value = format!("{}é{}", "a".repeat(254), "z");
        assert!(!value.is_ascii());
        let parts = split_strings(&value);
        assert_eq!(parts, vec!["a".repeat(254).as_str(), "éz"]);
        assert!(parts.iter().all(|p| p.len() <= MAX_STRING_OCTETS));
        let emoji = "📬".repeat(100);
        let parts = split_strings(&emoji);
        assert_eq!(parts.concat(), emoji);
        assert!(
            parts
                .iter()
                .all(|p| p.len() <= MAX_STRING_OCTETS && p.len() % 4 == 0)
        );
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_per_string_after_splitting() {
        // The 255-octet limit applies to the text, not to its escaped form.
        let value = format!("{}\"{}", "a".repeat(254), "\\");
        assert_eq!(
            txt_value(&value),
            format!("{}\\\"\"\"\\\\", "a".repeat(254))
        );
    }

    #[test]
    fn hcl_form_of_a_split_value_is_the_route53_form() {
        let value = format!("v=DKIM1; k=rsa; p={}", "A".repeat(300));
        let hcl = hcl::string(&txt_value(&value));
        let first = &value[..255];
        let second = &value[255..];
        assert_eq!(hcl, format!("\"{first}\\\"\\\"{second}\""));
    }

    #[test]
    fn dkim_records_of_real_keys_are_ascii_and_split() {
        use crate::model::{Dkim, DkimAlgorithm};
        let dkim = Dkim {
            selector: "dkim".into(),
            origin: crate::source::Location::new(crate::source::FileId(0), 0..0),
            algorithm: DkimAlgorithm::Rsa { bits: 4096 },
            public_key: String::new(),
            dns_p: "M".repeat(736),
            state: crate::model::DkimState::Active,
            published: None,
            retiring: None,
        };
        let record = dkim.record();
        assert!(record.is_ascii());
        let parts = split_strings(&record);
        assert_eq!(parts.len(), 3);
        assert!(parts[..2].iter().all(|p| p.len() == 255));
    }
}
