//! A relay tenant: mail for its listed recipients is accepted and forwarded
//! to the client's own server, or held while that server is down when we are
//! its backup MX.
//!
//! Its rows are `relay_domains` (the next hop, whether we are the backup MX)
//! and `relay_recipients` (migration 0006), which Postfix reads live as
//! `relay_domains`, `transport_maps` and `relay_recipient_maps`.

use std::net::IpAddr;

/// `[relay]` of a tenant, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relay {
    /// The client's server as Postfix's next hop: `host`, `[host]:25`,
    /// `[192.0.2.1]:2525`; lowercase, A-labels.
    pub(crate) nexthop: String,
    pub(crate) host: RelayHost,
    /// Full addresses, sorted, each once; `@<domain>` for `"*"` (any).
    pub(crate) recipients: Vec<String>,
    pub(crate) backup_mx: bool,
    /// The host published as MX 10 when `backup_mx`: `primary_mx`, else the
    /// name in `to`.
    pub(crate) primary_mx: Option<String>,
}

/// The host of a next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelayHost {
    Name(String),
    Ip(IpAddr),
}

impl Relay {
    /// The SPF mechanism naming the client's server, which sends the
    /// domain's mail itself: `a:<host>`, `ip4:…` or `ip6:…`.
    pub(crate) fn spf_term(&self) -> String {
        match &self.host {
            RelayHost::Name(name) => format!("a:{name}"),
            RelayHost::Ip(IpAddr::V4(ip)) => format!("ip4:{ip}"),
            RelayHost::Ip(IpAddr::V6(ip)) => format!("ip6:{ip}"),
        }
    }

    /// Whether every local part is accepted (`"*"`).
    pub(crate) fn any_recipient(&self) -> bool {
        self.recipients.iter().any(|r| r.starts_with('@'))
    }
}
