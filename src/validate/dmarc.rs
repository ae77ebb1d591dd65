//! DMARC tag values (RFC 7489 §6.3).

use crate::validate::address::{AddressProblem, normalize_address};

pub(crate) const POLICIES: [&str; 3] = ["none", "quarantine", "reject"];
pub(crate) const ALIGNMENTS: [&str; 2] = ["r", "s"];

/// Why a DMARC report URI is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReportUriProblem {
    NotMailto,
    /// The text after `!`.
    SizeLimit(String),
    SeveralAddresses,
    Address(AddressProblem),
}

impl ReportUriProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            ReportUriProblem::NotMailto => "a report address must be a `mailto:` URI".into(),
            ReportUriProblem::SizeLimit(limit) => {
                format!("`!{limit}` is not a size limit (digits and an optional k, m, g or t)")
            }
            ReportUriProblem::SeveralAddresses => {
                "one address per entry: list several as separate strings".into()
            }
            ReportUriProblem::Address(problem) => problem.describe(),
        }
    }
}

/// A `mailto:` report URI, optionally with a size limit (`mailto:a@b.example!10m`).
pub(crate) fn check_report_uri(uri: &str) -> Result<String, ReportUriProblem> {
    let Some(rest) = uri.strip_prefix("mailto:") else {
        return Err(ReportUriProblem::NotMailto);
    };
    let (address, limit) = match rest.split_once('!') {
        Some((address, limit)) => (address, Some(limit)),
        None => (rest, None),
    };
    if let Some(limit) = limit {
        let digits = limit.trim_end_matches(['k', 'm', 'g', 't']);
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || limit.len() - digits.len() > 1
        {
            return Err(ReportUriProblem::SizeLimit(limit.to_string()));
        }
    }
    if address.contains([',', ';', ' ']) {
        return Err(ReportUriProblem::SeveralAddresses);
    }
    let (local, domain) = normalize_address(address).map_err(ReportUriProblem::Address)?;
    Ok(match limit {
        Some(limit) => format!("mailto:{local}@{domain}!{limit}"),
        None => format!("mailto:{local}@{domain}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_uris() {
        assert_eq!(
            check_report_uri("mailto:Dmarc@Acme.example").unwrap(),
            "mailto:dmarc@acme.example"
        );
        assert_eq!(
            check_report_uri("mailto:d@acme.example!10m").unwrap(),
            "mailto:d@acme.example!10m"
        );
        assert_eq!(
            check_report_uri("https://acme.example/dmarc"),
            Err(ReportUriProblem::NotMailto)
        );
        assert_eq!(
            check_report_uri("mailto:a@b.example,mailto:c@d.example"),
            Err(ReportUriProblem::SeveralAddresses)
        );
        assert_eq!(
            check_report_uri("mailto:d@acme.example!lots"),
            Err(ReportUriProblem::SizeLimit("lots".into()))
        );
    }
}
