//! One tenant file → one `model::Domain`, every rule checked, every problem reported.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostics;
use crate::model::{
    Alias, AliasDomain, AppPassword, Destination, Dkim, DkimState, Domain, Grantee, Limits,
    Mailbox, MailboxState, Mailboxes, Platform, Protocol, Protocols, SendAs, Spf, TenantState,
};
use crate::parse::raw_str::RawStr;
use crate::parse::tenant::{RawAlias, RawAppPassword, RawMailbox, RawTenant};
use crate::source::{FileId, Location};
use crate::span::Sp;
use crate::validate::address::{local_address, normalize_address, normalize_local_part};
use crate::validate::domain::{DomainName, normalize_domain};
use crate::validate::password::{PasswordProblem, check_password};
use crate::validate::quota::{format_quota, parse_quota};
use crate::validate::spf::{MAX_DNS_LOOKUPS, SpfTerm, check_term};
use crate::validate::{Checker, diags, dkim, records, relay};

/// RFC 2142 mailboxes every mail domain should accept.
const RFC2142: [&str; 2] = ["postmaster", "abuse"];

pub(crate) struct TenantInput<'a> {
    pub(crate) file: FileId,
    pub(crate) file_name: &'a str,
    /// The file name without `.toml`.
    pub(crate) stem: &'a str,
    pub(crate) raw: &'a RawTenant<'a>,
}

pub(crate) fn build_domain(
    input: &TenantInput<'_>,
    platform: &Platform,
    diagnostics: &mut Diagnostics,
) -> Domain {
    let mut c = Checker::new(input.file, diagnostics);
    let raw = input.raw;

    let (name, domain_ok) = match c.structured(&raw.domain, "the domain") {
        Some(text) => match normalize_domain(text) {
            Ok(name) => {
                c.check_script(&raw.domain, "the domain", &name);
                (name, true)
            }
            Err(problem) => {
                c.push(diags::invalid_domain(
                    c.loc(&raw.domain),
                    &problem.describe(),
                ));
                (fallback_name(text), false)
            }
        },
        None => (fallback_name(&raw.domain), false),
    };
    // An invalid domain cannot match any file name; saying so again would be noise.
    let stem_matches = normalize_domain(input.stem).is_ok_and(|s| s.ascii == name.ascii);
    if domain_ok && !stem_matches {
        c.push(diags::file_name_mismatch(
            c.loc(&raw.domain),
            &name.unicode,
            input.file_name,
        ));
    }
    let description = raw
        .description
        .as_ref()
        .and_then(|d| c.free_text(d, "the description"));
    let state = match &raw.state {
        Some(state) => match c.structured(state, "the tenant state") {
            Some(word) => TenantState::parse(word).unwrap_or_else(|| {
                c.push(diags::invalid_tenant_state(c.loc(state), word));
                TenantState::Active
            }),
            None => TenantState::Active,
        },
        None => TenantState::Active,
    };

    let alias_domains = build_alias_domains(&mut c, raw, &name.ascii, domain_ok);

    let ttl = match &raw.dns.ttl {
        Some(ttl) => records::ttl(&mut c, ttl).unwrap_or(platform.defaults.ttl),
        None => platform.defaults.ttl,
    };
    let zone_id = raw
        .dns
        .zone_id
        .as_ref()
        .and_then(|z| records::zone_id(&mut c, z));
    let dns_managed = raw.dns.managed.as_ref().is_none_or(|m| m.value);
    let dnssec = match &raw.dns.dnssec {
        Some(on) if on.value && !dns_managed => {
            c.push(diags::dnssec_unmanaged(c.loc(on)));
            false
        }
        Some(on) => on.value,
        None => false,
    };
    let mut spf = build_spf(&mut c, raw);
    let dmarc = records::dmarc(&mut c, raw.dns.dmarc.as_ref(), &platform.defaults.dmarc);
    let bimi = records::bimi(&mut c, raw.dns.bimi.as_ref(), &dmarc);
    let mut dkim = build_dkim(&mut c, raw, platform, &name.unicode);
    let domain_ok = domain_ok && file_names_fit(&mut c, &raw.domain, &name.ascii, &mut dkim);
    if !domain_ok {
        // A name that failed validation (a NUL, 300 bytes) never reaches the
        // key store, which skips a key without a public key.
        for key in &mut dkim {
            key.public_key.clear();
        }
    }
    // The host key directory holds the tenant's keys under each alias
    // domain's name too (`mailops install`), so those names must fit.
    for alias in &alias_domains {
        let too_long = dkim.iter().find_map(|key| {
            let file = crate::keystore::key_file_name(&alias.name, &key.selector);
            (file.len() > 255).then_some((file, key.selector.clone()))
        });
        if let Some((file, selector)) = too_long {
            c.push(diags::file_name_too_long(
                alias.origin.clone(),
                &file,
                &format!("the alias domain with the DKIM selector `{selector}`"),
                "this alias domain",
            ));
        }
    }
    // The SRS domain's mail is the rewritten senders' bounces, reversed by
    // postsrsd: a tenant there would have its addresses taken for them.
    if let Some(srs) = &platform.srs_domain {
        let taken = std::iter::once((c.loc(&raw.domain), name.ascii.as_str()))
            .chain(
                alias_domains
                    .iter()
                    .map(|a| (a.origin.clone(), a.name.as_str())),
            )
            .find(|(_, d)| d == srs);
        if let Some((loc, domain)) = taken {
            c.push(diags::srs_domain_is_tenant(loc, domain));
        }
    }
    let dmarc_report_domains =
        dmarc_report_domains(&mut c, raw, &name.ascii, &alias_domains, &dmarc, platform);
    let limits = build_limits(&mut c, raw, platform);
    let mta_sts = crate::model::mta_sts::Settings {
        mode: match &raw.dns.mta_sts {
            Some(value) => super::mta_sts::mode(&mut c, value).unwrap_or(platform.defaults.mta_sts),
            None => platform.defaults.mta_sts,
        },
        tls_rpt: match &raw.dns.tls_rpt {
            Some(uris) => super::mta_sts::tls_rpt(&mut c, uris),
            None => platform.defaults.tls_rpt.clone(),
        },
        autoconfig: raw.relay.is_none(),
        pop3: platform.pop3,
    };

    let mailboxes = build_mailboxes(&mut c, raw, &name.ascii, &limits, platform);
    let mut aliases = build_aliases(&mut c, raw, &name.ascii, &mailboxes);
    build_forwards(&mut c, raw, &name.ascii, &mailboxes, &mut aliases);
    check_send_as(&mut c, &name.ascii, &mailboxes, &aliases);
    let relay = relay::build_relay(&mut c, raw, &name.ascii, &platform.hostname);
    if let Some(relay) = &relay {
        // The client's server sends the domain's mail itself; as the only MX we
        // are not it, so `mx` alone would fail its mail (a backup MX's primary
        // is an MX already).
        if !relay.backup_mx && spf.redirect.is_none() {
            spf.terms.insert(0, relay.spf_term());
        }
    }

    // A relay domain's postmaster@ and abuse@ are on the client's server:
    // they must be relay recipients.
    if let (Some(relay), Some(at)) = (&relay, relay::recipients_loc(&c, raw)) {
        for local in RFC2142 {
            let address = format!("{local}@{}", name.ascii);
            if !relay.any_recipient() && !relay.recipients.contains(&address) {
                c.push(diags::missing_rfc2142_recipient(
                    at.clone(),
                    &name.unicode,
                    local,
                ));
            }
        }
    }

    // A catch-all receives postmaster@ and abuse@ too (Postfix tries
    // `@domain` for any address that is neither a mailbox nor an alias), so
    // RFC 2142 is met and there is nothing to warn about.
    let catch_all = format!("@{}", name.ascii);
    for local in RFC2142 {
        let address = format!("{local}@{}", name.ascii);
        if raw.relay.is_none()
            && !mailboxes.contains_key(&address)
            && !aliases.contains_key(&address)
            && !aliases.contains_key(&catch_all)
        {
            c.push(diags::missing_rfc2142(
                c.loc(&raw.domain),
                &name.ascii,
                local,
            ));
        }
    }

    Domain {
        origin: c.loc(&raw.domain),
        name: name.ascii,
        unicode: name.unicode,
        description,
        file: input.file_name.to_string(),
        state,
        ttl,
        dns_managed,
        dnssec,
        zone_id,
        spf,
        dmarc,
        dmarc_report_domains,
        mta_sts,
        dkim,
        bimi,
        mailboxes,
        aliases,
        limits,
        alias_domains,
        relay,
    }
}

/// The platform's report domains (or the tenant's own zones) this tenant's
/// DMARC reports go to, each once: its Terraform publishes their
/// authorization records. A report
/// domain outside them needs its owner's record: a warning at the tenant's
/// own `rua`/`ruf` value (the platform file warns once about its default's).
fn dmarc_report_domains(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    domain: &str,
    alias_domains: &[crate::model::AliasDomain],
    dmarc: &crate::model::Dmarc,
    platform: &Platform,
) -> Vec<String> {
    use crate::model::records::{
        needs_report_authorization, report_authorization_name, report_uri_domain,
    };
    let zones: Vec<&str> = std::iter::once(domain)
        .chain(alias_domains.iter().map(|a| a.name.as_str()))
        .collect();
    let raw_dmarc = raw.dns.dmarc.as_ref();
    let mut out = std::collections::BTreeSet::new();
    let mut warned = std::collections::BTreeSet::new();
    for (own, uris) in [
        (raw_dmarc.and_then(|d| d.rua.as_ref()), &dmarc.rua),
        (raw_dmarc.and_then(|d| d.ruf.as_ref()), &dmarc.ruf),
    ] {
        for uri in uris {
            let Some(report) = report_uri_domain(uri) else {
                continue;
            };
            let records: Vec<String> = zones
                .iter()
                .filter(|zone| needs_report_authorization(zone, report))
                .map(|zone| report_authorization_name(zone, report))
                .collect();
            if records.is_empty() {
                continue;
            }
            // The platform's report domains, and the tenant's own zones
            // (reports for an alias domain sent to the tenant's domain).
            if platform.dmarc_report_domains.iter().any(|d| d == report) || zones.contains(&report)
            {
                out.insert(report.to_string());
                continue;
            }
            let at = own.into_iter().flatten().find(|value| {
                crate::validate::dmarc::check_report_uri(&value.value)
                    .ok()
                    .as_deref()
                    == Some(uri.as_str())
            });
            if let Some(at) = at
                && warned.insert(report.to_string())
            {
                c.push(diags::dmarc_report_unauthorized(
                    c.loc(at),
                    report,
                    &records,
                    false,
                ));
            }
        }
    }
    out.into_iter().collect()
}

/// `alias_domains`: each a valid domain (IDN as its A-label), not the
/// tenant's own, listed once; sorted. Domains of other tenants and alias
/// domains of two tenants are cross-file rules (`validate::check_alias_domains`).
fn build_alias_domains(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    own: &str,
    own_ok: bool,
) -> Vec<AliasDomain> {
    let mut out: Vec<AliasDomain> = Vec::new();
    for entry in &raw.alias_domains {
        let Some(text) = c.structured(entry, "the alias domain") else {
            continue;
        };
        let name = match normalize_domain(text) {
            Ok(name) => name,
            Err(problem) => {
                c.push(diags::invalid_alias_domain(
                    c.loc(entry),
                    &problem.describe(),
                ));
                continue;
            }
        };
        c.check_script(entry, "the alias domain", &name);
        if own_ok && name.ascii == own {
            c.push(diags::alias_domain_is_own_domain(
                c.loc(entry),
                &name.ascii,
                &name.unicode,
            ));
            continue;
        }
        if let Some(first) = out.iter().find(|a| a.name == name.ascii) {
            c.push(diags::duplicate_alias_domain(
                c.loc(entry),
                first.origin.clone(),
                &name.ascii,
                &name.unicode,
                None,
            ));
            continue;
        }
        out.push(AliasDomain {
            name: name.ascii,
            unicode: name.unicode,
            origin: c.loc(entry),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The files named after the domain (its DNS file, and a key file per DKIM
/// key) fit a file name's 255 bytes; a key whose file cannot exist is kept
/// from the key store (a 250-byte domain ended in exit 2, "File name too
/// long", before any diagnostic was shown). False when the domain itself is
/// too long for its DNS file.
fn file_names_fit(c: &mut Checker<'_>, at: &Sp<String>, domain: &str, dkim: &mut [Dkim]) -> bool {
    const NAME_MAX: usize = 255;
    let dns_file = format!("dns_{domain}.tf");
    if dns_file.len() > NAME_MAX {
        c.push(diags::file_name_too_long(
            c.loc(at),
            &dns_file,
            "the domain",
            "this domain",
        ));
        return false;
    }
    for key in dkim.iter_mut() {
        let key_file = crate::keystore::key_file_name(domain, &key.selector);
        if key_file.len() > NAME_MAX {
            c.push(diags::file_name_too_long(
                key.origin.clone(),
                &key_file,
                &format!("the domain with the DKIM selector `{}`", key.selector),
                "this key",
            ));
            key.public_key.clear();
        }
    }
    true
}

fn fallback_name(text: &str) -> DomainName {
    DomainName {
        ascii: text.to_lowercase(),
        unicode: text.to_string(),
    }
}

fn build_spf(c: &mut Checker<'_>, raw: &RawTenant<'_>) -> Spf {
    let mut spf = Spf::default();
    let Some(raw_spf) = &raw.dns.spf else {
        return spf;
    };
    let written = raw_spf
        .include
        .iter()
        .map(|d| (d, format!("include:{}", d.value)))
        .chain(raw_spf.mechanisms.iter().map(|m| (m, m.value.clone())));
    // The term that takes the count of DNS lookups past the limit, if any.
    let mut lookups = 1; // the `mx` every record starts with
    let mut first_excess = None;
    for (value, term) in written {
        if c.structured(value, "the SPF term").is_none() {
            continue;
        }
        let queries = match check_term(&term) {
            Ok(SpfTerm::Mechanism(m)) => {
                let queries = crate::model::records::spf_term_queries_dns(&m);
                spf.terms.push(m);
                queries
            }
            Ok(SpfTerm::Redirect(_)) if spf.redirect.is_some() => {
                c.push(diags::spf_duplicate_redirect(c.loc(value)));
                false
            }
            Ok(SpfTerm::Redirect(domain)) => {
                spf.redirect = Some(domain);
                true
            }
            Err(problem) => {
                c.push(diags::invalid_spf(c.loc(value), &problem.describe()));
                false
            }
        };
        if queries {
            lookups += 1;
            if lookups > MAX_DNS_LOOKUPS && first_excess.is_none() {
                first_excess = Some(c.loc(value));
            }
        }
    }
    if let Some(loc) = first_excess {
        c.push(diags::spf_too_many_lookups(loc, lookups, MAX_DNS_LOOKUPS));
    }
    spf
}

/// Every DKIM key; an Ed25519 key needs an RSA key beside it (ARC, and
/// receivers that verify only RSA: RFC 8463 section 3 advises signing with both).
fn build_dkim(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    platform: &Platform,
    domain: &str,
) -> Vec<Dkim> {
    let mut keys: Vec<Dkim> = Vec::new();
    // Where each key's state is written (its public key when it names none).
    let mut state_at: Vec<Location> = Vec::new();
    let mut all_parsed = true;
    for entry in raw.dkim.keys() {
        let selector = match &entry.selector {
            Some(s) => {
                records::selector(c, s).unwrap_or_else(|| platform.defaults.dkim_selector.clone())
            }
            None => platform.defaults.dkim_selector.clone(),
        };
        let key = &entry.public_key;
        let loc = c.loc(key);
        if let Some(first) = keys.iter().find(|k| k.selector == selector) {
            let at = entry
                .selector
                .as_ref()
                .map_or_else(|| loc.clone(), |s| c.loc(s));
            c.push(diags::duplicate_dkim_selector(
                at,
                first.origin.clone(),
                &selector,
            ));
            continue;
        }
        let mut out = Dkim {
            selector,
            origin: loc,
            algorithm: crate::model::DkimAlgorithm::Rsa { bits: 0 },
            public_key: String::new(),
            dns_p: String::new(),
            state: crate::model::DkimState::Active,
            published: None,
            retiring: None,
        };
        let state_loc = entry
            .state
            .as_ref()
            .map_or_else(|| out.origin.clone(), |s| c.loc(s));
        if let Some(state) = &entry.state {
            if let Some(word) = c.structured(state, "the DKIM key state") {
                match DkimState::from_name(word) {
                    Some(parsed) => out.state = parsed,
                    None => c.push(diags::invalid_dkim_state(c.loc(state), word)),
                }
            }
        }
        if let Some(published) = &entry.published {
            if let Some(text) = c.structured(published, "the DKIM publication time") {
                match crate::utc_time::parse(text) {
                    Some(at) => out.published = Some(at),
                    None => c.push(diags::invalid_dkim_published(c.loc(published), text)),
                }
            }
        } else if out.state == DkimState::Published {
            c.push(diags::missing_dkim_published(
                state_loc.clone(),
                &out.selector,
            ));
        }
        if let Some(retiring) = &entry.retiring {
            if let Some(text) = c.structured(retiring, "the time the DKIM key stopped signing") {
                match crate::utc_time::parse(text) {
                    Some(at) => out.retiring = Some(at),
                    None => c.push(diags::invalid_dkim_retiring(c.loc(retiring), text)),
                }
            }
        }
        if c.structured(key, "the DKIM public key").is_none() {
            all_parsed = false;
            state_at.push(state_loc);
            keys.push(out);
            continue;
        }
        match dkim::parse_public_key(key) {
            Ok(parsed) => {
                out.algorithm = parsed.algorithm;
                out.public_key = parsed.spki_base64;
                out.dns_p = parsed.dns_p;
            }
            Err(problem @ dkim::DkimProblem::RsaTooShort(_)) => {
                all_parsed = false;
                c.push(diags::weak_dkim_key(c.loc(key), &problem.describe()));
            }
            Err(problem) => {
                all_parsed = false;
                c.push(diags::invalid_dkim_key(c.loc(key), &problem.describe()));
            }
        }
        state_at.push(state_loc);
        keys.push(out);
    }
    match keys.first() {
        None => c.push(diags::no_dkim_key(c.loc(&raw.domain), domain)),
        // Only once every key is understood: a broken RSA key was reported already.
        Some(first)
            if all_parsed
                && keys
                    .iter()
                    .all(|k| k.algorithm == crate::model::DkimAlgorithm::Ed25519) =>
        {
            c.push(diags::ed25519_without_rsa(
                first.origin.clone(),
                domain,
                &first.selector,
            ));
        }
        Some(_) if all_parsed => active_keys(c, &keys, &state_at, raw, domain),
        Some(_) => {}
    }
    keys
}

/// One active key per algorithm (RSA and Ed25519 may sign side by side),
/// and an active RSA key.
fn active_keys(
    c: &mut Checker<'_>,
    keys: &[Dkim],
    state_at: &[Location],
    raw: &RawTenant<'_>,
    domain: &str,
) {
    let mut first_active: Vec<(&Dkim, &Location)> = Vec::new();
    for (key, at) in keys.iter().zip(state_at).filter(|(k, _)| k.signs()) {
        let tag = key.algorithm.tag();
        match first_active.iter().find(|(k, _)| k.algorithm.tag() == tag) {
            Some((_, first)) => c.push(diags::several_active_dkim_keys(
                at.clone(),
                (*first).clone(),
                if tag == "rsa" { "RSA" } else { "Ed25519" },
            )),
            None => first_active.push((key, at)),
        }
    }
    if !first_active.iter().any(|(k, _)| k.algorithm.tag() == "rsa") {
        c.push(diags::no_active_dkim_key(c.loc(&raw.domain), domain));
    }
}

fn build_limits(c: &mut Checker<'_>, raw: &RawTenant<'_>, platform: &Platform) -> Limits {
    let count = |c: &mut Checker<'_>, value: &Option<Sp<i64>>, key: &str| -> Option<u64> {
        let value = value.as_ref()?;
        match u64::try_from(value.value) {
            Ok(n) => Some(n),
            Err(_) => {
                c.push(diags::invalid_limit(c.loc(value), key));
                None
            }
        }
    };
    let max_mailboxes = count(c, &raw.limits.max_mailboxes, "max_mailboxes");
    let max_aliases = count(c, &raw.limits.max_aliases, "max_aliases");
    let max_quota = raw.limits.max_quota.as_ref().and_then(|q| quota(c, q));
    let default_quota = match &raw.limits.default_quota {
        Some(q) => {
            let bytes = quota(c, q).unwrap_or(platform.defaults.quota);
            if let (Some(max), Some(max_raw)) = (max_quota, &raw.limits.max_quota) {
                if bytes > max {
                    c.push(diags::quota_above_limit(
                        c.loc(q),
                        c.loc(max_raw),
                        &format_quota(bytes),
                        &format_quota(max),
                    ));
                }
            }
            bytes
        }
        None => match max_quota {
            Some(max) => platform.defaults.quota.min(max),
            None => platform.defaults.quota,
        },
    };
    let send_per_hour = send_rate(c, &raw.limits.send_per_hour, "send_per_hour")
        .or(platform.defaults.send_per_hour);
    let domain_send_per_hour =
        send_rate(c, &raw.limits.domain_send_per_hour, "domain_send_per_hour")
            .or(platform.defaults.domain_send_per_hour);
    Limits {
        max_mailboxes,
        max_aliases,
        default_quota,
        max_quota,
        send_per_hour,
        domain_send_per_hour,
        external_forwards_off: raw
            .limits
            .external_forwards
            .as_ref()
            .filter(|allowed| !allowed.value)
            .map(|switch| c.loc(switch)),
    }
}

/// A send limit (`send_per_hour`, `domain_send_per_hour`, in `[limits]` or the
/// platform's `[defaults]`): messages per hour, 1 to [`diags::MAX_SEND_PER_HOUR`].
pub(crate) fn send_rate(c: &mut Checker<'_>, value: &Option<Sp<i64>>, key: &str) -> Option<u32> {
    let value = value.as_ref()?;
    match u32::try_from(value.value) {
        Ok(n) if (1..=diags::MAX_SEND_PER_HOUR).contains(&n) => Some(n),
        _ => {
            c.push(diags::invalid_send_rate(c.loc(value), key));
            None
        }
    }
}

fn quota<S: AsRef<str>>(c: &mut Checker<'_>, value: &Sp<S>) -> Option<u64> {
    match parse_quota(c.structured(value, "the quota")?) {
        Ok(bytes) => Some(bytes),
        Err(problem) => {
            c.push(diags::invalid_quota(c.loc(value), &problem.describe()));
            None
        }
    }
}

fn build_mailboxes(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    domain: &str,
    limits: &Limits,
    platform: &Platform,
) -> Mailboxes {
    let users: Vec<&Sp<RawStr<'_>>> = raw.mailboxes.iter().map(|m| &m.value.user).collect();
    check_count(
        c,
        &users,
        limits.max_mailboxes,
        &raw.limits.max_mailboxes,
        "mailboxes",
        domain,
    );
    let tenant_home = raw.home.as_ref().and_then(|h| home_of(c, h, platform));
    let mut built = Vec::with_capacity(raw.mailboxes.len());
    for entry in &raw.mailboxes {
        built.extend(build_mailbox(
            c,
            &entry.value,
            domain,
            limits,
            raw,
            platform,
            tenant_home,
        ));
    }
    // Sorted by address once (no map grown by an insert per mailbox). The
    // sort is stable, so of two mailboxes with one address the first in the
    // file comes first, and is the one kept.
    built.sort_by(|a: &Mailbox, b: &Mailbox| a.address.cmp(&b.address));
    built.dedup_by(|later, first| {
        let same = later.address == first.address;
        if same {
            c.push(diags::duplicate_mailbox(
                later.origin.clone(),
                first.origin.clone(),
                &later.address,
            ));
        }
        same
    });
    Mailboxes::from_sorted(built)
}

/// More entries than a limit allows: reported once, at the first entry past it.
fn check_count(
    c: &mut Checker<'_>,
    entries: &[&Sp<RawStr<'_>>],
    max: Option<u64>,
    max_raw: &Option<Sp<i64>>,
    what: &str,
    domain: &str,
) {
    if let (Some(max), Some(max_raw)) = (max, max_raw) {
        if let Some(first_excess) = usize::try_from(max).ok().and_then(|m| entries.get(m)) {
            c.push(diags::too_many(
                c.loc(*first_excess),
                c.loc(max_raw),
                what,
                domain,
                entries.len(),
                max,
            ));
        }
    }
}

fn build_mailbox(
    c: &mut Checker<'_>,
    raw: &RawMailbox<'_>,
    domain: &str,
    limits: &Limits,
    tenant: &RawTenant<'_>,
    platform: &Platform,
    tenant_home: Option<&str>,
) -> Option<Mailbox> {
    let own_home = raw.home.as_ref().and_then(|h| home_of(c, h, platform));
    let home = platform.hosts_declared.then(|| {
        crate::model::host::resolve_home(own_home, tenant_home, &platform.default_home).into()
    });
    let name = raw
        .name
        .as_ref()
        .and_then(|n| c.free_text(n, "the mailbox name"));
    let password_ok = check_password_value(c, &raw.password, platform);
    let quota_bytes = match &raw.quota {
        Some(q) => {
            let bytes = quota(c, q);
            if let (Some(bytes), Some(max), Some(max_raw)) =
                (bytes, limits.max_quota, &tenant.limits.max_quota)
            {
                if bytes > max {
                    c.push(diags::quota_above_limit(
                        c.loc(q),
                        c.loc(max_raw),
                        &format_quota(bytes),
                        &format_quota(max),
                    ));
                }
            }
            bytes.unwrap_or(limits.default_quota)
        }
        None => limits.default_quota,
    };
    let state = match &raw.state {
        Some(state) => match c.structured(state, "the mailbox state") {
            Some(word) => MailboxState::parse(word).unwrap_or_else(|| {
                c.push(diags::invalid_state(c.loc(state), word));
                MailboxState::Active
            }),
            None => MailboxState::Active,
        },
        None => MailboxState::Active,
    };
    let protocols = raw
        .protocols
        .as_ref()
        .map_or_else(Protocols::default, |list| {
            protocols_of(c, list, platform).unwrap_or_default()
        });
    let send_as = raw
        .send_as
        .iter()
        .filter_map(|entry| send_as_address(c, entry, domain))
        .collect::<Vec<_>>();
    let allow_send_as = grantees(c, &raw.allow_send_as, domain);
    let app_passwords = build_app_passwords(c, raw, protocols, platform);
    let user = c.structured(&raw.user, "the mailbox user")?;
    let address = match local_address(user, domain) {
        Ok(address) => address,
        Err(problem) => {
            c.push(diags::invalid_local_part(
                c.loc(&raw.user),
                "mailbox",
                &problem.describe(),
            ));
            return None;
        }
    };
    if address.len() > crate::validate::address::MAX_ADDRESS {
        let problem = crate::validate::address::AddressProblem::AddressTooLong(address.len());
        c.push(diags::invalid_local_part(
            c.loc(&raw.user),
            "mailbox",
            &problem.describe(),
        ));
        return None;
    }
    // A mailbox with a bad password still exists for the rest of the checks
    // (duplicates, alias destinations): the password problem is reported, and
    // a model with errors is never emitted.
    let password = if password_ok {
        raw.password.value.to_string()
    } else {
        String::new()
    };
    let mut send_as = send_as;
    send_as.sort_by(|a, b| a.address.cmp(&b.address));
    send_as.dedup_by(|a, b| a.address == b.address);
    send_as.retain(|s| s.address != address);
    Some(Mailbox {
        address: address.into(),
        name: name.map(String::into_boxed_str),
        password: password.into(),
        quota_bytes,
        state,
        protocols,
        send_as: send_as.into(),
        allow_send_as: allow_send_as.into(),
        app_passwords: app_passwords.into(),
        home,
        origin: c.loc(&raw.user),
    })
}

/// A `protocols` list; `None` when an entry is not understood (reported).
fn protocols_of(
    c: &mut Checker<'_>,
    list: &Sp<Vec<Sp<RawStr<'_>>>>,
    platform: &Platform,
) -> Option<Protocols> {
    let mut protocols = Protocols::none();
    let mut seen: Vec<(Protocol, Location)> = Vec::new();
    let mut ok = true;
    for entry in &list.value {
        let Some(word) = c.structured(entry, "the protocol") else {
            ok = false;
            continue;
        };
        let Some(protocol) = Protocol::parse(word) else {
            c.push(diags::invalid_protocol(c.loc(entry), word));
            ok = false;
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == protocol) {
            c.push(diags::duplicate_protocol(c.loc(entry), first.clone(), word));
            continue;
        }
        if protocol == Protocol::Pop3 && !platform.pop3 {
            c.push(diags::pop3_not_offered(c.loc(entry)));
            ok = false;
        }
        seen.push((protocol, c.loc(entry)));
        protocols.insert(protocol);
    }
    ok.then_some(protocols)
}

/// A `send_as` entry as a full address: a bare local part is this domain's.
fn send_as_address(c: &mut Checker<'_>, entry: &Sp<RawStr<'_>>, domain: &str) -> Option<SendAs> {
    let text = c.structured(entry, "the send-as address")?;
    let address = if text.contains('@') {
        normalize_address(text).map(|(local, domain)| format!("{local}@{domain}"))
    } else {
        local_address(text, domain).and_then(crate::validate::address::check_address_length)
    };
    match address {
        Ok(address) => Some(SendAs {
            address,
            origin: c.loc(entry),
        }),
        Err(problem) => {
            c.push(diags::send_as_unknown(
                c.loc(entry),
                text,
                &problem.describe(),
            ));
            None
        }
    }
}

/// `allow_send_as`: full addresses in other domains, sorted, each once.
fn grantees(c: &mut Checker<'_>, entries: &[Sp<RawStr<'_>>], domain: &str) -> Vec<Grantee> {
    let mut out: Vec<Grantee> = Vec::new();
    for entry in entries {
        let Some(text) = c.structured(entry, "the `allow_send_as` address") else {
            continue;
        };
        if !text.contains('@') {
            c.push(diags::invalid_grantee(
                c.loc(entry),
                &format!("`{text}` is a local part of this domain"),
            ));
            continue;
        }
        match normalize_address(text) {
            Ok((_, d)) if d == domain => c.push(diags::invalid_grantee(
                c.loc(entry),
                &format!("`{text}` is an address of this domain"),
            )),
            Ok((local, d)) => out.push(Grantee {
                address: format!("{local}@{d}"),
            }),
            Err(problem) => c.push(diags::invalid_grantee(c.loc(entry), &problem.describe())),
        }
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out.dedup_by(|a, b| a.address == b.address);
    out
}

/// The longest app password name.
const MAX_APP_PASSWORD_NAME: usize = 64;

fn build_app_passwords(
    c: &mut Checker<'_>,
    raw: &RawMailbox<'_>,
    mailbox_protocols: Protocols,
    platform: &Platform,
) -> Vec<AppPassword> {
    let mut out: Vec<AppPassword> = Vec::new();
    for entry in &raw.app_passwords {
        let app: &RawAppPassword<'_> = &entry.value;
        let password_ok = check_password_value(c, &app.password, platform);
        let protocols = match &app.protocols {
            Some(list) => {
                let protocols = protocols_of(c, list, platform).unwrap_or(mailbox_protocols);
                for protocol in Protocol::ALL {
                    if protocols.contains(protocol) && !mailbox_protocols.contains(protocol) {
                        let at = list
                            .value
                            .iter()
                            .find(|e| &*e.value == protocol.name())
                            .map_or_else(|| c.loc(list), |e| c.loc(e));
                        let mailbox_at = raw
                            .protocols
                            .as_ref()
                            .map_or_else(|| c.loc(&raw.user), |p| c.loc(p));
                        c.push(diags::protocol_not_of_mailbox(
                            at,
                            mailbox_at,
                            protocol.name(),
                        ));
                    }
                }
                protocols
            }
            None => mailbox_protocols,
        };
        let Some(name) = c.structured(&app.name, "the app password name") else {
            continue;
        };
        if name.is_empty()
            || name.len() > MAX_APP_PASSWORD_NAME
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            c.push(diags::invalid_app_password_name(c.loc(&app.name)));
            continue;
        }
        if out.len() == crate::model::mailbox::MAX_APP_PASSWORDS {
            c.push(diags::too_many_app_passwords(
                c.loc(&app.name),
                crate::model::mailbox::MAX_APP_PASSWORDS,
            ));
            break;
        }
        if let Some(first) = out.iter().find(|a| a.name == name) {
            c.push(diags::duplicate_app_password(
                c.loc(&app.name),
                first.origin.clone(),
                name,
            ));
            continue;
        }
        out.push(AppPassword {
            name: name.to_string(),
            password: if password_ok {
                app.password.value.to_string()
            } else {
                String::new()
            },
            protocols,
            origin: c.loc(&app.name),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Every `send_as` address in this domain is one of its mailboxes or aliases
/// (never the catch-all: it owns no address). Addresses of other domains are
/// the graph stage's to check, against the other tenant's grants.
fn check_send_as(
    c: &mut Checker<'_>,
    domain: &str,
    mailboxes: &Mailboxes,
    aliases: &BTreeMap<String, Alias>,
) {
    for mailbox in mailboxes.values() {
        for send_as in &mailbox.send_as {
            if send_as.address.rsplit_once('@').map(|(_, d)| d) == Some(domain)
                && !mailboxes.contains_key(&send_as.address)
                && !aliases.contains_key(&send_as.address)
            {
                c.push(diags::send_as_unknown(
                    send_as.origin.clone(),
                    &send_as.address,
                    "it is neither a mailbox nor an alias of this domain",
                ));
            }
        }
    }
}

fn check_password_value(
    c: &mut Checker<'_>,
    password: &Sp<RawStr<'_>>,
    platform: &Platform,
) -> bool {
    let allowed = &platform.defaults.password_schemes;
    if c.structured_quiet(password).is_none() {
        // What is not a well-formed hash may be a plaintext password: it is
        // masked in every snippet that shows its line (CI logs are public).
        c.mark_secret(c.loc(password));
        // Do not echo any part of what may be a password.
        c.push(diags::password_malformed(
            c.loc(password),
            "password",
            "a `{SCHEME}hash` string without quotes, backslashes or control characters",
        ));
        return false;
    }
    let legacy = &platform.defaults.legacy_password_schemes;
    let checked = match check_password(password, allowed) {
        // A legacy scheme the platform still accepts: well formed, and warned about.
        Err(PasswordProblem::NotAllowed(scheme)) if legacy.contains(&scheme) => {
            check_password(password, legacy).inspect(|scheme| {
                c.push(diags::password_legacy_scheme(c.loc(password), scheme));
            })
        }
        checked => checked,
    };
    if checked.is_err() {
        c.mark_secret(c.loc(password));
    }
    match checked {
        Ok(_) => return true,
        Err(PasswordProblem::Plaintext) => c.push(diags::password_plaintext(c.loc(password))),
        Err(PasswordProblem::PlainScheme(scheme)) => {
            c.push(diags::password_plain_scheme(c.loc(password), &scheme));
        }
        Err(PasswordProblem::NotAllowed(scheme)) => {
            c.push(diags::password_scheme_not_allowed(
                c.loc(password),
                &scheme,
                allowed,
            ));
        }
        Err(PasswordProblem::UnknownScheme(scheme)) => {
            c.push(diags::password_unknown_scheme(c.loc(password), &scheme));
        }
        Err(PasswordProblem::Malformed { scheme, expected }) => {
            c.push(diags::password_malformed(
                c.loc(password),
                &scheme,
                expected,
            ));
        }
    }
    false
}

fn build_aliases(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    domain: &str,
    mailboxes: &Mailboxes,
) -> BTreeMap<String, Alias> {
    let mut aliases: BTreeMap<String, Alias> = BTreeMap::new();
    let max_aliases = raw
        .limits
        .max_aliases
        .as_ref()
        .and_then(|m| u64::try_from(m.value).ok());
    let addresses: Vec<&Sp<RawStr<'_>>> = raw.aliases.iter().map(|a| &a.value.address).collect();
    check_count(
        c,
        &addresses,
        max_aliases,
        &raw.limits.max_aliases,
        "aliases",
        domain,
    );
    for entry in &raw.aliases {
        let Some(alias) = build_alias(c, &entry.value, domain) else {
            continue;
        };
        if let Some(first) = aliases.get(&alias.source) {
            let diagnostic = if alias.is_catch_all() {
                diags::duplicate_catch_all(alias.origin.clone(), first.origin.clone(), domain)
            } else {
                diags::duplicate_alias(alias.origin.clone(), first.origin.clone(), &alias.source)
            };
            c.push(diagnostic);
            continue;
        }
        if let Some(mailbox) = mailboxes.get(&alias.source) {
            c.push(diags::alias_shadows_mailbox(
                alias.origin.clone(),
                mailbox.origin.clone(),
                &alias.source,
            ));
            continue;
        }
        aliases.insert(alias.source.clone(), alias);
    }
    aliases
}

fn build_alias(c: &mut Checker<'_>, raw: &RawAlias<'_>, domain: &str) -> Option<Alias> {
    let destinations = build_destinations(c, &raw.to.value, domain, Whose::Alias);
    let address = c.structured(&raw.address, "the alias address")?;
    let (source, local_part) = if address == "*" {
        (format!("@{domain}"), "*".to_string())
    } else {
        match normalize_local_part(address) {
            Ok(local) => (format!("{local}@{domain}"), local),
            Err(problem) => {
                let help = if address.contains('@') {
                    "an alias address is a local part of this domain, without `@domain`".to_string()
                } else {
                    problem.describe()
                };
                c.push(diags::invalid_local_part(
                    c.loc(&raw.address),
                    "alias",
                    &help,
                ));
                return None;
            }
        }
    };
    if source.len() > crate::validate::address::MAX_ADDRESS {
        let problem = crate::validate::address::AddressProblem::AddressTooLong(source.len());
        c.push(diags::invalid_local_part(
            c.loc(&raw.address),
            "alias",
            &problem.describe(),
        ));
        return None;
    }
    if raw.to.value.is_empty() {
        c.push(diags::alias_empty(c.loc(&raw.to), &source));
        return None;
    }
    let allow_send_as = if local_part == "*" && !raw.allow_send_as.is_empty() {
        // Postfix asks the sender-login map for `@domain` after every
        // address: a grant on the catch-all would be a grant of them all.
        c.push(diags::invalid_grantee(
            c.loc(&raw.allow_send_as[0]),
            "the catch-all owns no address, so it grants none",
        ));
        Vec::new()
    } else {
        grantees(c, &raw.allow_send_as, domain)
    };
    Some(Alias {
        source,
        local_part,
        domain: domain.to_string(),
        destinations,
        allow_send_as,
        of_mailbox: false,
        origin: c.loc(&raw.address),
    })
}

/// Every mailbox's `forward`, as an alias keyed by the mailbox's address
/// (see `model::Alias`): its destinations under an alias's rules, never the
/// mailbox itself; its own address besides them when it keeps a copy
/// (`keep_copy`, default true). The forwards of a mailbox that was not
/// kept (a bad user, a duplicate) are checked and dropped.
fn build_forwards(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    domain: &str,
    mailboxes: &Mailboxes,
    aliases: &mut BTreeMap<String, Alias>,
) {
    for entry in &raw.mailboxes {
        let mailbox = &entry.value;
        let forward = mailbox.forward.as_ref().filter(|f| !f.value.is_empty());
        let Some(forward) = forward else {
            if let Some(keep_copy) = &mailbox.keep_copy {
                c.push(diags::keep_copy_without_forward(c.loc(keep_copy)));
            }
            continue;
        };
        let mut destinations = build_destinations(c, &forward.value, domain, Whose::Mailbox);
        // The mailbox as kept: its address, if this entry is the one kept.
        let Some(address) = c
            .structured_quiet(&mailbox.user)
            .and_then(|user| local_address(user, domain).ok())
            .filter(|a| {
                mailboxes
                    .get(a)
                    .is_some_and(|m| m.origin == c.loc(&mailbox.user))
            })
        else {
            continue;
        };
        if let Some(at) = destinations.iter().position(|d| d.address == address) {
            let itself = destinations.remove(at);
            c.push(diags::forward_to_self(itself.origin, &address));
        }
        if destinations.is_empty() {
            continue;
        }
        if mailbox.keep_copy.as_ref().is_none_or(|k| k.value) {
            let origin = mailbox
                .keep_copy
                .as_ref()
                .map_or_else(|| c.loc(forward), |k| c.loc(k));
            let at = destinations.partition_point(|d| d.address < address);
            destinations.insert(
                at,
                Destination {
                    address: address.clone(),
                    origin,
                },
            );
        }
        let local_part = address.rsplit_once('@').map_or("", |(l, _)| l).to_string();
        aliases.insert(
            address.clone(),
            Alias {
                source: address,
                local_part,
                domain: domain.to_string(),
                destinations,
                allow_send_as: Vec::new(),
                of_mailbox: true,
                origin: c.loc(forward),
            },
        );
    }
}

/// Whose destinations are checked: an `[[alias]]`'s `to`, or a mailbox's
/// `forward` (the same rules; their own codes and words).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Whose {
    Alias,
    Mailbox,
}

fn build_destinations(
    c: &mut Checker<'_>,
    targets: &[Sp<RawStr<'_>>],
    domain: &str,
    whose: Whose,
) -> Vec<Destination> {
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    let what = match whose {
        Whose::Alias => "the alias destination",
        Whose::Mailbox => "the forward address",
    };
    for target in targets {
        let Some(text) = c.structured(target, what) else {
            continue;
        };
        let address = if text.contains('@') {
            normalize_address(text).map(|(local, domain)| format!("{local}@{domain}"))
        } else {
            local_address(text, domain).and_then(crate::validate::address::check_address_length)
        };
        match address {
            Ok(address) => {
                if let Some(name) = text
                    .rsplit_once('@')
                    .and_then(|(_, d)| normalize_domain(d).ok())
                {
                    c.check_script(target, "the destination's domain", &name);
                }
                if let Some(first) = seen.get(&address) {
                    c.push(match whose {
                        Whose::Alias => {
                            diags::duplicate_destination(c.loc(target), first.clone(), &address)
                        }
                        Whose::Mailbox => {
                            diags::duplicate_forward(c.loc(target), first.clone(), &address)
                        }
                    });
                } else {
                    seen.insert(address, c.loc(target));
                }
            }
            Err(problem) => c.push(match whose {
                Whose::Alias => diags::invalid_destination(c.loc(target), &problem.describe()),
                Whose::Mailbox => diags::invalid_forward(c.loc(target), &problem.describe()),
            }),
        }
    }
    seen.into_iter()
        .map(|(address, origin)| Destination { address, origin })
        .collect()
}

/// A `home` (`[defaults]`, a tenant's or a mailbox's): the name of one of
/// the platform's hosts. Without `[[hosts]]`, only the implicit host's name
/// is one.
pub(crate) fn home_of<'p>(
    c: &mut Checker<'_>,
    value: &Sp<String>,
    platform: &'p Platform,
) -> Option<&'p str> {
    let text = c.structured(value, "the home host")?;
    match platform.host(text) {
        Some(host) => Some(host.name.as_str()),
        None => {
            let known: Vec<&str> = platform.hosts.iter().map(|h| h.name.as_str()).collect();
            c.push(diags::unknown_home(
                c.loc(value),
                text,
                &known,
                platform.hosts_declared,
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{MailboxState, Model, Protocol};

    const HASH: &str = crate::emit::test_repo::PASSWORD_HASH;

    /// Compile tenant files (domain, text after the DKIM key) with the
    /// smallest platform file plus `platform_extra` under `[mail_host]`.
    fn compile(platform_extra: &str, tenants: &[(&str, &str)]) -> (Model, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mailops.toml"),
            format!("[mail_host]\nhostname = \"mx.webhizzy.in\"\n{platform_extra}"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        for (domain, body) in tenants {
            std::fs::write(
                dir.path().join(format!("tenants/{domain}.toml")),
                format!(
                    "domain = \"{domain}\"\n[dkim]\npublic_key = \"{}\"\n{body}\n\
                     [[alias]]\naddress = \"postmaster\"\nto = [\"ops@elsewhere.example\"]\n\
                     [[alias]]\naddress = \"abuse\"\nto = [\"ops@elsewhere.example\"]\n",
                    crate::emit::test_repo::PUBLIC_KEY
                ),
            )
            .unwrap();
        }
        let compiled = crate::pipeline::compile(dir.path()).unwrap();
        let found = format!("{:?}", compiled.diagnostics);
        (compiled.model, found)
    }

    #[test]
    fn an_old_mailbox_is_active_with_every_protocol_and_nothing_else() {
        let (model, found) = compile(
            "",
            &[(
                "a.example",
                &format!("[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n"),
            )],
        );
        assert!(!found.contains("mailops::"), "{found}");
        let alice = &model.domains["a.example"].mailboxes["alice@a.example"];
        assert_eq!(alice.state, MailboxState::Active);
        assert_eq!(alice.protocols.column(), "imap,pop3,smtp");
        assert!(alice.send_as.is_empty() && alice.app_passwords.is_empty());
        assert!(model.domains["a.example"].grants().is_empty());
    }

    #[test]
    fn send_as_is_normalised_sorted_once_and_never_the_mailbox_itself() {
        let (model, found) = compile(
            "pop3 = true\n",
            &[(
                "a.example",
                &format!(
                    "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n\
                     send_as = [\"Sales\", \"sales@A.example\", \"alice\", \"bob\"]\n\
                     protocols = [\"smtp\", \"pop3\"]\n\
                     [[mailbox]]\nuser = \"bob\"\npassword = \"{HASH}\"\n\
                     [[alias]]\naddress = \"sales\"\nto = [\"bob\"]\n"
                ),
            )],
        );
        assert!(!found.contains("mailops::"), "{found}");
        let domain = &model.domains["a.example"];
        let alice = &domain.mailboxes["alice@a.example"];
        let send_as: Vec<&str> = alice.send_as.iter().map(|s| s.address.as_str()).collect();
        assert_eq!(send_as, ["bob@a.example", "sales@a.example"]);
        assert!(!alice.protocols.contains(Protocol::Imap));
        assert_eq!(alice.protocols.column(), "pop3,smtp");
        assert_eq!(
            domain.grants(),
            [
                ("bob@a.example", "alice@a.example"),
                ("sales@a.example", "alice@a.example")
            ]
        );
    }

    #[test]
    fn a_cross_tenant_grant_belongs_to_the_granting_domain() {
        let (model, found) = compile(
            "",
            &[
                (
                    "a.example",
                    &format!(
                        "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n\
                         send_as = [\"sales@b.example\"]\n"
                    ),
                ),
                (
                    "b.example",
                    &format!(
                        "[[mailbox]]\nuser = \"erin\"\npassword = \"{HASH}\"\n\
                         [[alias]]\naddress = \"sales\"\nto = [\"erin\"]\n\
                         allow_send_as = [\"ALICE@a.example\"]\n"
                    ),
                ),
            ],
        );
        assert!(!found.contains("mailops::"), "{found}");
        assert!(model.domains["a.example"].grants().is_empty());
        assert_eq!(
            model.domains["b.example"].grants(),
            [("sales@b.example", "alice@a.example")]
        );
    }

    /// Issue 22: a mailbox's `forward` is an alias of its own address: with
    /// `keep_copy` (the default) the address itself is a destination too, so
    /// that the mailbox keeps its copy; without, only the forwards. Not the
    /// "both a mailbox and an alias" error.
    #[test]
    fn a_forward_is_the_mailboxs_alias_with_its_copy_unless_keep_copy_is_false() {
        let (model, found) = compile(
            "",
            &[(
                "a.example",
                &format!(
                    "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n\
                     forward = [\"desk@Partner.example\", \"bob\"]\n\
                     [[mailbox]]\nuser = \"bob\"\npassword = \"{HASH}\"\n\
                     forward = [\"desk@partner.example\"]\nkeep_copy = false\n\
                     [[mailbox]]\nuser = \"carol\"\npassword = \"{HASH}\"\nforward = []\n"
                ),
            )],
        );
        assert!(!found.contains("mailops::"), "{found}");
        let domain = &model.domains["a.example"];
        let destinations = |address: &str| -> Vec<&str> {
            domain.aliases[address]
                .destinations
                .iter()
                .map(|d| d.address.as_str())
                .collect()
        };
        assert_eq!(
            destinations("alice@a.example"),
            ["alice@a.example", "bob@a.example", "desk@partner.example"]
        );
        assert_eq!(destinations("bob@a.example"), ["desk@partner.example"]);
        assert!(domain.aliases["alice@a.example"].of_mailbox);
        let forwards: Vec<&str> = domain.aliases["alice@a.example"]
            .forwards()
            .map(|d| d.address.as_str())
            .collect();
        assert_eq!(forwards, ["bob@a.example", "desk@partner.example"]);
        // An empty forward forwards nothing: no rows.
        assert!(!domain.aliases.contains_key("carol@a.example"));
        let rows = domain.alias_rows();
        assert!(rows.contains(&("alice@a.example".into(), "alice@a.example".into())));
        assert!(!rows.contains(&("bob@a.example".into(), "bob@a.example".into())));
        assert_eq!(domain.mailboxes.len(), 3);
    }

    #[test]
    fn a_forward_is_checked_as_an_alias_destination_is() {
        let (model, found) = compile(
            "",
            &[(
                "a.example",
                &format!(
                    "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n\
                     forward = [\"ALICE\", \"x@y..example\", \"desk@partner.example\", \"Desk@partner.example\"]\n\
                     [[mailbox]]\nuser = \"bob\"\npassword = \"{HASH}\"\nkeep_copy = true\n"
                ),
            )],
        );
        for code in [
            "mailops::mailbox::forward-to-self",
            "mailops::mailbox::invalid-forward",
            "mailops::mailbox::duplicate-forward",
            "mailops::mailbox::keep-copy-without-forward",
        ] {
            assert!(found.contains(code), "{code}: {found}");
        }
        // What is left forwards, and keeps the copy.
        let alice = &model.domains["a.example"].aliases["alice@a.example"];
        let destinations: Vec<&str> = alice
            .destinations
            .iter()
            .map(|d| d.address.as_str())
            .collect();
        assert_eq!(destinations, ["alice@a.example", "desk@partner.example"]);
    }

    #[test]
    fn the_catch_all_grants_nothing() {
        let (_, found) = compile(
            "",
            &[(
                "a.example",
                &format!(
                    "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\n\
                     [[alias]]\naddress = \"*\"\nto = [\"alice\"]\n\
                     allow_send_as = [\"bob@b.example\"]\n"
                ),
            )],
        );
        assert!(
            found.contains("mailops::send-as::invalid-grantee"),
            "{found}"
        );
        assert!(found.contains("catch-all owns no address"), "{found}");
    }

    #[test]
    fn send_as_the_catch_all_or_an_unknown_address_is_refused() {
        for send_as in ["*", "nobody", "@a.example"] {
            let (_, found) = compile(
                "",
                &[(
                    "a.example",
                    &format!(
                        "[[mailbox]]\nuser = \"alice\"\npassword = \"{HASH}\"\nsend_as = [\"{send_as}\"]\n\
                         [[alias]]\naddress = \"*\"\nto = [\"alice\"]\n"
                    ),
                )],
            );
            assert!(
                found.contains("mailops::send-as::unknown-address"),
                "{send_as}: {found}"
            );
        }
    }
}
