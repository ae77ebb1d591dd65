//! The DNS a tenant needs, outside Terraform: `mailops dns records` prints
//! the records a client's DNS administrator must publish (zone-file syntax or
//! JSON), and `mailops dns check` ([`check`]) resolves what is published and
//! compares it with what the repo declares.
//!
//! The records themselves come from one place, [`crate::model::records::declared_in`],
//! which the Terraform emitter uses too.

pub(crate) mod check;
pub(crate) mod ds;
pub(crate) mod render;
pub(crate) mod smtp;
pub(crate) mod tlsa;

use serde_json::{Value, json};

use crate::emit::route53::split_strings;
use crate::model::records::DnsRecord;

/// The records of one tenant in zone-file syntax (RFC 1035 §5): absolute
/// owner names, the TTL, class IN, and TXT values split into quoted
/// character-strings of at most 255 octets, with `"` and `\` escaped and
/// any byte outside printable ASCII written `\DDD`.
pub(crate) fn zone_lines(records: &[DnsRecord]) -> String {
    let width = records.iter().map(|r| r.name.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for record in records {
        let owner = format!("{}.", record.name);
        let rdata = match record.purpose.rtype() {
            "TXT" => split_strings(&record.value)
                .into_iter()
                .map(quoted)
                .collect::<Vec<_>>()
                .join(" "),
            _ => record.value.clone(),
        };
        // An MX set (a backup MX) is one value a line.
        for rdata in rdata.split('\n') {
            out.push_str(&format!(
                "{owner:<width$} {ttl} IN {rtype:<3} {rdata}\n",
                ttl = record.ttl,
                rtype = record.purpose.rtype(),
            ));
        }
    }
    out
}

/// One character-string, quoted for a zone file.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03}")),
        }
    }
    out.push('"');
    out
}

/// The records of one tenant as JSON objects: `{domain, name, type, ttl,
/// purpose, value}`.
pub(crate) fn records_json(domain: &str, records: &[DnsRecord]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            json!({
                "domain": domain,
                "name": r.name,
                "type": r.purpose.rtype(),
                "ttl": r.ttl,
                "purpose": r.purpose.label(),
                "value": r.value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::Purpose;

    fn record(name: &str, purpose: Purpose, value: &str) -> DnsRecord {
        DnsRecord {
            name: name.to_string(),
            purpose,
            ttl: 3600,
            value: value.to_string(),
        }
    }

    #[test]
    fn zone_lines_are_absolute_aligned_and_quoted() {
        let records = [
            record("a.example", Purpose::Mx, "10 mx.host.example."),
            record("a.example", Purpose::Spf, "v=spf1 mx -all"),
            record(
                "_dmarc.a.example",
                Purpose::Dmarc,
                "v=DMARC1; p=reject; adkim=s; aspf=s",
            ),
        ];
        assert_eq!(
            zone_lines(&records),
            "a.example.        3600 IN MX  10 mx.host.example.\n\
             a.example.        3600 IN TXT \"v=spf1 mx -all\"\n\
             _dmarc.a.example. 3600 IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
        );
    }

    #[test]
    fn long_txt_values_split_at_255_octets_and_escape() {
        let value = format!("v=DKIM1; k=rsa; p={}", "A".repeat(300));
        let line = zone_lines(&[record(
            "dkim._domainkey.a.example",
            Purpose::Dkim("dkim".into()),
            &value,
        )]);
        let strings: Vec<&str> = line
            .split_once(" TXT ")
            .unwrap()
            .1
            .trim_end()
            .split("\" \"")
            .collect();
        assert_eq!(strings.len(), 2, "{line}");
        assert_eq!(
            strings.concat().trim_matches('"'),
            value,
            "the strings join back to the value"
        );
        assert_eq!(quoted("a\"b\\c\u{7f}"), "\"a\\\"b\\\\c\\127\"");
    }
}
