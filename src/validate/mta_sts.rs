//! `mta_sts` and `tls_rpt`, in a tenant's `[dns]` and the platform's
//! `[defaults]`: the MTA-STS mode and the TLS-RPT report URIs (RFC 8460 §3).

use crate::model::mta_sts::{MODES, Mode};
use crate::span::Sp;
use crate::validate::address::normalize_address;
use crate::validate::domain::normalize_domain;
use crate::validate::{Checker, diags};

/// The mode, `Some(None)` for `off`; `None` (and a diagnostic) for another word.
pub(crate) fn mode(c: &mut Checker<'_>, value: &Sp<String>) -> Option<Option<Mode>> {
    let text = c.structured(value, "the MTA-STS mode")?;
    let mode = Mode::parse(text);
    if mode.is_none() {
        c.push(diags::invalid_mta_sts_mode(
            c.loc(value),
            text,
            &MODES.join(", "),
        ));
    }
    mode
}

/// The report URIs, each valid, normalised and listed once.
pub(crate) fn tls_rpt(c: &mut Checker<'_>, uris: &[Sp<String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for uri in uris {
        let Some(text) = c.structured(uri, "the TLS-RPT report URI") else {
            continue;
        };
        match check_report_uri(text) {
            Ok(uri) if out.contains(&uri) => {}
            Ok(uri) => out.push(uri),
            Err(problem) => c.push(diags::invalid_tls_rpt_uri(c.loc(uri), &problem)),
        }
    }
    out
}

/// `mailto:<address>` or `https://<host>[/path]`: RFC 8460's two schemes.
/// A `,` or `;` would end the URI inside the record, and `!` or `%` are
/// left out for simplicity (no size limits, no escapes).
pub(crate) fn check_report_uri(uri: &str) -> Result<String, String> {
    if let Some(address) = uri.strip_prefix("mailto:") {
        if address.contains([',', ';', '!', ' ']) {
            return Err("one address, without a size limit".to_string());
        }
        let (local, domain) = normalize_address(address).map_err(|p| p.describe())?;
        return Ok(format!("mailto:{local}@{domain}"));
    }
    if let Some(rest) = uri.strip_prefix("https://") {
        let (host, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let host =
            normalize_domain(host).map_err(|p| format!("the host `{host}`: {}", p.describe()))?;
        let path_ok = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~:@=&+?".contains(&b));
        if !path_ok {
            return Err(format!(
                "the path `{path}` holds a character other than letters, digits and / - . _ ~ : @ = & + ?"
            ));
        }
        return Ok(format!("https://{}{path}", host.ascii));
    }
    Err("not a `mailto:` or `https://` URI".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_uris() {
        assert_eq!(
            check_report_uri("mailto:TLS@Webhizzy.in").unwrap(),
            "mailto:tls@webhizzy.in"
        );
        assert_eq!(
            check_report_uri("https://Reports.example/v1/tlsrpt").unwrap(),
            "https://reports.example/v1/tlsrpt"
        );
        assert_eq!(
            check_report_uri("https://reports.example").unwrap(),
            "https://reports.example"
        );
        for bad in [
            "tls@webhizzy.in",
            "http://reports.example/",
            "mailto:a@x.example,mailto:b@x.example",
            "mailto:a@x.example!10m",
            "https://reports.example/a;b",
            "https://reports.example/a,b",
            "https://bad host/",
            "mailto:not-an-address",
        ] {
            assert!(check_report_uri(bad).is_err(), "{bad}");
        }
    }
}
