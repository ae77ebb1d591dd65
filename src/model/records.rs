//! The DNS record texts of a tenant: SPF, DMARC and DKIM.
//!
//! Values here are already validated; these types only assemble the exact
//! TXT strings that are published, so that every emitter (Terraform, plans)
//! publishes the same text.

/// SPF: `v=spf1 mx <terms> -all`, or `… redirect=<domain>` when a redirect is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Spf {
    /// Mechanisms after `mx`, in file order (`include:…`, `ip4:…`, `a`, …).
    pub(crate) terms: Vec<String>,
    /// The `redirect=` modifier's domain, if any (then no `-all`).
    pub(crate) redirect: Option<String>,
}

impl Spf {
    pub(crate) fn record(&self) -> String {
        let mut record = String::from("v=spf1 mx");
        for term in &self.terms {
            record.push(' ');
            record.push_str(term);
        }
        match &self.redirect {
            Some(domain) => {
                record.push_str(" redirect=");
                record.push_str(domain);
            }
            None => record.push_str(" -all"),
        }
        record
    }
}

pub(crate) fn spf_term_queries_dns(term: &str) -> bool {
    let name = term.trim_start_matches(['+', '-', '~', '?']);
    let name = name.split([':', '/']).next().unwrap_or("");
    matches!(name, "a" | "mx" | "include" | "exists" | "ptr")
}

/// DMARC (RFC 7489).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dmarc {
    pub(crate) policy: String,
    pub(crate) subdomain_policy: Option<String>,
    pub(crate) adkim: String,
    pub(crate) aspf: String,
    pub(crate) pct: Option<u8>,
    pub(crate) rua: Vec<String>,
    pub(crate) ruf: Vec<String>,
}

impl Default for Dmarc {
    fn default() -> Self {
        Dmarc {
            policy: "quarantine".to_string(),
            subdomain_policy: None,
            adkim: "s".to_string(),
            aspf: "s".to_string(),
            pct: None,
            rua: Vec::new(),
            ruf: Vec::new(),
        }
    }
}

impl Dmarc {
    /// `v=DMARC1; p=quarantine; adkim=s; aspf=s` and the optional tags.
    pub(crate) fn record(&self) -> String {
        let mut record = format!("v=DMARC1; p={}", self.policy);
        if let Some(sp) = &self.subdomain_policy {
            record.push_str(&format!("; sp={sp}"));
        }
        record.push_str(&format!("; adkim={}; aspf={}", self.adkim, self.aspf));
        if let Some(pct) = self.pct {
            record.push_str(&format!("; pct={pct}"));
        }
        if !self.rua.is_empty() {
            record.push_str(&format!("; rua={}", self.rua.join(",")));
        }
        if !self.ruf.is_empty() {
            record.push_str(&format!("; ruf={}", self.ruf.join(",")));
        }
        record
    }
}

/// Key type of a DKIM key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DkimAlgorithm {
    Rsa { bits: usize },
    Ed25519,
}

impl DkimAlgorithm {
    /// The `k=` tag value.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa { .. } => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// Where a DKIM key is in its rotation: `published` (in DNS, not signing)
/// → `active` (in DNS, signing) → `retiring` (in DNS, not signing: mail in
/// transit still verifies) → `retired` (out of DNS, private key off the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DkimState {
    Published,
    Active,
    Retiring,
    Retired,
}

impl DkimState {
    pub(crate) const ALL: [DkimState; 4] = [
        DkimState::Published,
        DkimState::Active,
        DkimState::Retiring,
        DkimState::Retired,
    ];

    /// The word the tenant file uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DkimState::Published => "published",
            DkimState::Active => "active",
            DkimState::Retiring => "retiring",
            DkimState::Retired => "retired",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One DKIM public key of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dkim {
    pub(crate) selector: String,
    /// Where the public key is written in the tenant file.
    pub(crate) origin: crate::source::Location,
    pub(crate) algorithm: DkimAlgorithm,
    /// Base64 SubjectPublicKeyInfo, whitespace removed.
    pub(crate) public_key: String,
    /// The `p=` value: the SPKI for RSA, the raw 32-byte key for Ed25519 (RFC 8463).
    pub(crate) dns_p: String,
    /// Where the key is in its rotation (`active` when the file says nothing).
    pub(crate) state: DkimState,
    /// When the key was published in DNS (`published = "…"`), seconds since
    /// the Unix epoch.
    pub(crate) published: Option<i64>,
    /// When the key stopped signing (`retiring = "…"`), seconds since the
    /// Unix epoch.
    pub(crate) retiring: Option<i64>,
}

impl Dkim {
    /// Whether Rspamd signs with the key.
    pub(crate) fn signs(&self) -> bool {
        self.state == DkimState::Active
    }

    /// Whether its record is in DNS and its private key on the mail host:
    /// every state but `retired` (a published key must be there before it is
    /// promoted, a retiring one still verifies mail in transit).
    pub(crate) fn deployed(&self) -> bool {
        self.state != DkimState::Retired
    }

    /// `v=DKIM1; k=rsa; p=…`.
    pub(crate) fn record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.algorithm.tag(), self.dns_p)
    }
}

/// A domain's BIMI assertion (`[dns.bimi]`): validated HTTPS URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bimi {
    pub(crate) logo: String,
    pub(crate) authority: Option<String>,
    /// Where `logo` is written in the tenant file.
    pub(crate) origin: crate::source::Location,
}

/// The owner name of a domain's BIMI record: the `default` selector.
pub(crate) fn bimi_name(zone: &str) -> String {
    format!("default._bimi.{zone}")
}

impl Bimi {
    /// `v=BIMI1; l=<logo>` and `; a=<authority>` when there is one.
    pub(crate) fn record(&self) -> String {
        match &self.authority {
            Some(authority) => format!("v=BIMI1; l={}; a={authority}", self.logo),
            None => format!("v=BIMI1; l={}", self.logo),
        }
    }
}

/// The text of a DMARC report authorization record (RFC 7489 §7.1).
pub(crate) const REPORT_AUTHORIZATION: &str = "v=DMARC1";

/// The domain of a validated `mailto:` report URI
/// (`mailto:d@reports.example!10m` → `reports.example`).
pub(crate) fn report_uri_domain(uri: &str) -> Option<&str> {
    let address = uri.strip_prefix("mailto:")?;
    let address = address.split('!').next()?;
    address.rsplit_once('@').map(|(_, domain)| domain)
}

/// Whether DMARC reports for `policy_domain` sent to `report_domain` need
/// the report domain's authorization (RFC 7489 §7.1): when their
/// organizational domains differ. Without the public suffix list, mailops
/// takes a domain and the names inside it as one organization, and any
/// other pair as two; an extra authorization record is harmless.
pub(crate) fn needs_report_authorization(policy_domain: &str, report_domain: &str) -> bool {
    let inside = |a: &str, b: &str| {
        a.len() > b.len() && a.ends_with(b) && a.as_bytes()[a.len() - b.len() - 1] == b'.'
    };
    policy_domain != report_domain
        && !inside(policy_domain, report_domain)
        && !inside(report_domain, policy_domain)
}

/// `acme.example._report._dmarc.reports.example`: where `report_domain`
/// authorizes reports about `policy_domain`.
pub(crate) fn report_authorization_name(policy_domain: &str, report_domain: &str) -> String {
    format!("{policy_domain}._report._dmarc.{report_domain}")
}

/// Which of a tenant's records a [`DnsRecord`] is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Purpose {
    Mx,
    Spf,
    Dmarc,
    /// In the zone of this report domain: its authorization of the
    /// tenant's DMARC reports.
    DmarcReport(String),
    /// The key of this selector.
    Dkim(String),
    /// `_mta-sts` TXT, `mta-sts` CNAME, `_smtp._tls` TXT, `autoconfig`
    /// CNAME and the RFC 6186 SRV records (`_submission._tcp`…): see
    /// [`super::mta_sts`].
    MtaSts,
    MtaStsHost,
    TlsRpt,
    Autoconfig,
    Srv(String),
    /// The BIMI assertion (`default._bimi`).
    Bimi,
}

impl Purpose {
    /// `MX`, `SPF`, `DMARC`, `DKIM dkim`.
    pub(crate) fn label(&self) -> String {
        match self {
            Purpose::Mx => "MX".to_string(),
            Purpose::Spf => "SPF".to_string(),
            Purpose::Dmarc => "DMARC".to_string(),
            Purpose::DmarcReport(report) => format!("DMARC report authorization by {report}"),
            Purpose::Dkim(selector) => format!("DKIM {selector}"),
            Purpose::MtaSts => "MTA-STS".to_string(),
            Purpose::MtaStsHost => "MTA-STS policy host".to_string(),
            Purpose::TlsRpt => "TLS-RPT".to_string(),
            Purpose::Autoconfig => "autoconfig host".to_string(),
            Purpose::Srv(service) => format!("SRV {service}"),
            Purpose::Bimi => "BIMI".to_string(),
        }
    }

    /// The record type: `MX`, `TXT`, `CNAME` or `SRV`.
    pub(crate) fn rtype(&self) -> &'static str {
        match self {
            Purpose::Mx => "MX",
            Purpose::MtaStsHost | Purpose::Autoconfig => "CNAME",
            Purpose::Srv(_) => "SRV",
            _ => "TXT",
        }
    }
}

/// One record a tenant declares: what Terraform publishes in Route53, what
/// `mailops dns records` prints for a DNS host elsewhere, and what
/// `mailops dns check` expects to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnsRecord {
    /// Owner name, A-label, without the trailing dot.
    pub(crate) name: String,
    pub(crate) purpose: Purpose,
    pub(crate) ttl: u32,
    /// MX: `10 mx.webhizzy.in.` (a backup MX: one value a line, `10 …\n20 …`);
    /// TXT: the whole text, before any split into
    /// 255-octet character-strings.
    pub(crate) value: String,
}

use super::host::MailHosts;

/// The MX values of a tenant: every inbound mail host at its preference
/// (one host: `10 <hostname>.`); for a backup MX relay, the client's server
/// at 10 and each inbound mail host at 20.
pub(crate) fn mx_values(hosts: MailHosts<'_>, domain: &super::Domain) -> Vec<String> {
    match &domain.relay {
        Some(relay) if relay.backup_mx => {
            let primary = relay.primary_mx.as_deref().unwrap_or(hosts.primary);
            let mut values = vec![format!("10 {primary}.")];
            let mut ours: Vec<&str> = hosts
                .all
                .iter()
                .filter(|h| h.inbound)
                .map(|h| h.hostname.as_str())
                .collect();
            ours.sort_unstable();
            values.extend(ours.iter().map(|h| format!("20 {h}.")));
            values
        }
        _ => super::host::mx_values(hosts.all),
    }
}

/// The records of `domain` in one of its zones (its own name, or one of its
/// alias domains', which have the same records under their own names: the
/// tenant's DKIM keys sign their mail), in the order Terraform declares
/// them: MX, SPF, DMARC, each report domain's authorization of its DMARC
/// reports (in that domain's zone), each DKIM key, the MTA-STS, TLS-RPT and
/// client autoconfiguration records ([`mta_sts_records`]), then the BIMI assertion.
pub(crate) fn declared_in(
    hosts: MailHosts<'_>,
    domain: &super::Domain,
    zone: &str,
) -> Vec<DnsRecord> {
    let record = |owner: String, purpose: Purpose, value: String| DnsRecord {
        name: owner,
        purpose,
        ttl: domain.ttl,
        value,
    };
    let mut out = Vec::new();
    {
        let name = zone;
        out.push(record(
            name.to_string(),
            Purpose::Mx,
            mx_values(hosts, domain).join("\n"),
        ));
        out.push(record(name.to_string(), Purpose::Spf, domain.spf.record()));
        out.push(record(
            format!("_dmarc.{name}"),
            Purpose::Dmarc,
            domain.dmarc.record(),
        ));
        out.extend(
            domain
                .dmarc_report_domains
                .iter()
                .filter(|report| needs_report_authorization(name, report))
                .map(|report| {
                    record(
                        report_authorization_name(name, report),
                        Purpose::DmarcReport(report.clone()),
                        REPORT_AUTHORIZATION.to_string(),
                    )
                }),
        );
        out.extend(domain.dkim.iter().filter(|k| k.deployed()).map(|key| {
            record(
                format!("{}._domainkey.{name}", key.selector),
                Purpose::Dkim(key.selector.clone()),
                key.record(),
            )
        }));
        out.extend(mta_sts_records(hosts, domain, name));
        if let Some(bimi) = &domain.bimi {
            out.push(record(bimi_name(name), Purpose::Bimi, bimi.record()));
        }
    }
    out
}

/// `_mta-sts.<zone>` TXT and `mta-sts.<zone>` CNAME to the mail host (with
/// MTA-STS on), `_smtp._tls.<zone>` TXT (with report URIs), and for a hosted
/// domain `autoconfig.<zone>` CNAME and the SRV records of its client ports.
pub(crate) fn mta_sts_records(
    hosts: MailHosts<'_>,
    domain: &super::Domain,
    zone: &str,
) -> Vec<DnsRecord> {
    use super::mta_sts;
    let hostname = hosts.primary;
    let settings = &domain.mta_sts;
    let record = |name: String, purpose: Purpose, value: String| DnsRecord {
        name,
        purpose,
        ttl: domain.ttl,
        value,
    };
    let mut out = Vec::new();
    if let Some(policy) = mta_sts::policy(settings, &mx_values(hosts, domain)) {
        out.push(record(
            format!("_mta-sts.{zone}"),
            Purpose::MtaSts,
            policy.record(),
        ));
        out.push(record(
            format!("mta-sts.{zone}"),
            Purpose::MtaStsHost,
            format!("{hostname}."),
        ));
    }
    if !settings.tls_rpt.is_empty() {
        out.push(record(
            format!("_smtp._tls.{zone}"),
            Purpose::TlsRpt,
            mta_sts::tls_rpt_record(&settings.tls_rpt),
        ));
    }
    if settings.autoconfig {
        out.push(record(
            format!("autoconfig.{zone}"),
            Purpose::Autoconfig,
            format!("{hostname}."),
        ));
        for (service, port) in mta_sts::srv_services(settings.pop3) {
            out.push(record(
                format!("{service}.{zone}"),
                Purpose::Srv(service.to_string()),
                mta_sts::srv_value(port, hostname),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_authorization_is_needed_across_organizations_only() {
        assert!(needs_report_authorization("acme.example", "webhizzy.in"));
        for (policy, report) in [
            ("acme.example", "acme.example"),
            ("acme.example", "reports.acme.example"),
            ("mail.acme.example", "acme.example"),
        ] {
            assert!(
                !needs_report_authorization(policy, report),
                "{policy} {report}"
            );
        }
        // A suffix that is not a whole label is another domain.
        assert!(needs_report_authorization("acme.example", "xacme.example"));
        assert_eq!(
            report_authorization_name("acme.example", "webhizzy.in"),
            "acme.example._report._dmarc.webhizzy.in"
        );
        assert_eq!(
            report_uri_domain("mailto:d@reports.example!10m"),
            Some("reports.example")
        );
        assert_eq!(
            report_uri_domain("mailto:d@reports.example"),
            Some("reports.example")
        );
    }

    #[test]
    fn default_records_match_the_platform_contract() {
        assert_eq!(Spf::default().record(), "v=spf1 mx -all");
        assert_eq!(
            Dmarc::default().record(),
            "v=DMARC1; p=quarantine; adkim=s; aspf=s"
        );
    }

    #[test]
    fn spf_record_lists_terms_in_order() {
        let spf = Spf {
            terms: vec![
                "include:_spf.example".into(),
                "ip4:192.0.2.0/24".into(),
                "a".into(),
                "mx:other.example".into(),
            ],
            redirect: None,
        };
        assert_eq!(
            spf.record(),
            "v=spf1 mx include:_spf.example ip4:192.0.2.0/24 a mx:other.example -all"
        );
    }

    #[test]
    fn dmarc_optional_tags_in_order() {
        let dmarc = Dmarc {
            policy: "reject".into(),
            subdomain_policy: Some("quarantine".into()),
            adkim: "r".into(),
            aspf: "s".into(),
            pct: Some(50),
            rua: vec!["mailto:a@x.example".into(), "mailto:b@x.example".into()],
            ruf: vec![],
        };
        assert_eq!(
            dmarc.record(),
            "v=DMARC1; p=reject; sp=quarantine; adkim=r; aspf=s; pct=50; rua=mailto:a@x.example,mailto:b@x.example"
        );
    }
}
