//! Checks shared by tenant and platform files: TTL, zone id, DKIM selector, DMARC.

use crate::model::{Bimi, Dmarc};
use crate::parse::tenant::{RawBimi, RawDmarc};
use crate::span::Sp;
use crate::validate::dmarc::{ALIGNMENTS, POLICIES, check_report_uri};
use crate::validate::{Checker, diags};

/// `[dns.bimi]`: its URLs, and a DMARC policy under which receivers show
/// the logo (the domain's, `dmarc`).
pub(crate) fn bimi(c: &mut Checker<'_>, raw: Option<&RawBimi>, dmarc: &Dmarc) -> Option<Bimi> {
    let raw = raw?;
    let url = |c: &mut Checker<'_>, value: &Sp<String>, what: &str| {
        let text = c.structured(value, "the BIMI URL")?;
        match crate::validate::bimi::check_url(text) {
            Ok(()) => Some(text.to_string()),
            Err(problem) => {
                c.push(diags::bimi_invalid_url(c.loc(value), what, &problem));
                None
            }
        }
    };
    let logo = url(c, &raw.logo, "logo");
    let authority = raw
        .authority
        .as_ref()
        .map(|value| url(c, value, "authority"));
    if let Some(problem) = crate::validate::bimi::dmarc_problem(dmarc) {
        c.push(diags::bimi_dmarc_policy(c.loc(&raw.logo), &problem));
    }
    Some(Bimi {
        logo: logo?,
        authority: authority.map_or(Some(None), |a| a.map(Some))?,
        origin: c.loc(&raw.logo),
    })
}

pub(crate) const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=604_800;

pub(crate) fn ttl(c: &mut Checker<'_>, value: &Sp<i64>) -> Option<u32> {
    if TTL_RANGE.contains(&value.value) {
        u32::try_from(value.value).ok()
    } else {
        c.push(diags::invalid_ttl(c.loc(value), value.value));
        None
    }
}

pub(crate) fn zone_id(c: &mut Checker<'_>, value: &Sp<String>) -> Option<String> {
    let text = c.structured(value, "the zone id")?;
    let ok = !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Some(text.to_string())
    } else {
        c.push(diags::invalid_zone_id(c.loc(value), text));
        None
    }
}

/// The DKIM selector grammar: one or more lowercase LDH labels, at most 63 octets.
pub(crate) fn is_selector(selector: &str) -> bool {
    !selector.is_empty()
        && selector.len() <= 63
        && selector.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A DKIM selector as written in a file.
pub(crate) fn selector(c: &mut Checker<'_>, value: &Sp<String>) -> Option<String> {
    let text = c.structured(value, "the DKIM selector")?;
    if is_selector(text) {
        Some(text.to_string())
    } else {
        c.push(diags::invalid_selector(c.loc(value), text));
        None
    }
}

/// DMARC settings over a base (the platform default, or the built-in one).
pub(crate) fn dmarc(c: &mut Checker<'_>, raw: Option<&RawDmarc>, base: &Dmarc) -> Dmarc {
    let mut out = base.clone();
    let Some(raw) = raw else {
        return out;
    };
    let one_of = |c: &mut Checker<'_>, value: &Option<Sp<String>>, tag: &str, allowed: &[&str]| {
        let value = value.as_ref()?;
        let text = c.structured(value, "the DMARC value")?;
        if allowed.contains(&text) {
            Some(text.to_string())
        } else {
            c.push(diags::invalid_dmarc(
                c.loc(value),
                tag,
                text,
                &allowed.join(", "),
            ));
            None
        }
    };
    if let Some(p) = one_of(c, &raw.policy, "policy", &POLICIES) {
        out.policy = p;
    }
    if let Some(sp) = one_of(c, &raw.subdomain_policy, "subdomain policy", &POLICIES) {
        out.subdomain_policy = Some(sp);
    }
    if let Some(a) = one_of(c, &raw.adkim, "DKIM alignment (adkim)", &ALIGNMENTS) {
        out.adkim = a;
    }
    if let Some(a) = one_of(c, &raw.aspf, "SPF alignment (aspf)", &ALIGNMENTS) {
        out.aspf = a;
    }
    if let Some(pct) = &raw.pct {
        match u8::try_from(pct.value) {
            Ok(n) if n <= 100 => out.pct = Some(n),
            _ => c.push(diags::invalid_dmarc(
                c.loc(pct),
                "percentage (pct)",
                &pct.value.to_string(),
                "a whole number from 0 to 100",
            )),
        }
    }
    if let Some(rua) = &raw.rua {
        out.rua = report_uris(c, rua);
    }
    if let Some(ruf) = &raw.ruf {
        out.ruf = report_uris(c, ruf);
    }
    out
}

fn report_uris(c: &mut Checker<'_>, uris: &[Sp<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for uri in uris {
        let Some(text) = c.structured(uri, "the DMARC report URI") else {
            continue;
        };
        match check_report_uri(text) {
            Ok(uri) => out.push(uri),
            Err(problem) => c.push(diags::invalid_dmarc_uri(c.loc(uri), &problem.describe())),
        }
    }
    out
}
