//! The mail hosts of the platform, and which one each mailbox lives on.
//!
//! A platform without `[[hosts]]` has one implicit host, named by the first
//! label of `[mail_host] hostname`: everything compiles exactly as before, and
//! no mailbox carries a home (its routing row's `home` is NULL, "the only
//! host"). With `[[hosts]]`, every mailbox has a home, resolved in a fixed
//! order (its own `home`, its tenant's, `[defaults] home`, the primary host),
//! never by hashing over the host set: adding a host moves no mailbox.

/// One mail host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// `mx1`: what `home` names, and the host's key in Terraform.
    pub(crate) name: String,
    /// `mx1.webhizzy.in`, A-label.
    pub(crate) hostname: String,
    /// Its address in the private network (`None` for the implicit host).
    pub(crate) private_ip: Option<std::net::Ipv4Addr>,
    /// An MX of every tenant domain.
    pub(crate) inbound: bool,
    /// Its MX preference.
    pub(crate) mx_priority: u16,
    pub(crate) instance_type: String,
    pub(crate) volume_size_gb: u32,
    /// The TLSA records of `_25._tcp.<hostname>` (normalised, in file order);
    /// for the primary host, `[mail_host] tlsa` and its own.
    pub(crate) tlsa: Vec<String>,
}

/// What a tenant's DNS records need of the platform's hosts: the primary
/// host's name (the MTA-STS and autoconfig target) and every host (the MX
/// targets). From `Platform::mail_hosts`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailHosts<'a> {
    pub(crate) primary: &'a str,
    pub(crate) all: &'a [Host],
}

/// The MX preference of a host that declares none.
pub(crate) const DEFAULT_MX_PRIORITY: u16 = 10;

/// The private network of `[[hosts]]` when `[aws] private_cidr` is not set.
pub(crate) const DEFAULT_PRIVATE_CIDR: &str = "10.20.0.0/16";

/// The name of the implicit host of a platform without `[[hosts]]`: the first
/// label of its hostname (`mx.webhizzy.in` → `mx`).
pub(crate) fn implicit_name(hostname: &str) -> &str {
    hostname.split('.').next().unwrap_or(hostname)
}

/// Whether `name` is a host name as `[[hosts]] name` takes it:
/// `[a-z][a-z0-9-]{0,31}`.
pub(crate) fn is_host_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The home of a mailbox: its own `home`, else its tenant's, else the
/// platform's `[defaults] home` (which is the primary host when the platform
/// file names none). The host set itself plays no part.
pub(crate) fn resolve_home<'a>(
    mailbox: Option<&'a str>,
    tenant: Option<&'a str>,
    platform_default: &'a str,
) -> &'a str {
    mailbox.or(tenant).unwrap_or(platform_default)
}

/// The MX values (`<preference> <host>.`) of a hosted domain: one per inbound
/// host, by preference then host name.
pub(crate) fn mx_values(hosts: &[Host]) -> Vec<String> {
    let mut inbound: Vec<&Host> = hosts.iter().filter(|h| h.inbound).collect();
    inbound.sort_by(|a, b| (a.mx_priority, &a.hostname).cmp(&(b.mx_priority, &b.hostname)));
    inbound
        .iter()
        .map(|h| format!("{} {}.", h.mx_priority, h.hostname))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, inbound: bool, priority: u16) -> Host {
        Host {
            name: name.to_string(),
            hostname: format!("{name}.webhizzy.in"),
            private_ip: None,
            inbound,
            mx_priority: priority,
            instance_type: "t3.small".to_string(),
            volume_size_gb: 50,
            tlsa: Vec::new(),
        }
    }

    #[test]
    fn the_home_is_the_mailboxs_then_the_tenants_then_the_platforms() {
        assert_eq!(resolve_home(Some("mx2"), Some("mx3"), "mx1"), "mx2");
        assert_eq!(resolve_home(None, Some("mx3"), "mx1"), "mx3");
        assert_eq!(resolve_home(None, None, "mx1"), "mx1");
    }

    #[test]
    fn host_names_follow_their_grammar() {
        assert!(is_host_name("mx1"));
        assert!(is_host_name("a"));
        assert!(is_host_name(&format!("a{}", "b".repeat(31))));
        assert!(!is_host_name(&format!("a{}", "b".repeat(32))));
        assert!(!is_host_name("1mx"));
        assert!(!is_host_name("Mx1"));
        assert!(!is_host_name("mx_1"));
        assert!(!is_host_name(""));
    }

    #[test]
    fn the_implicit_host_is_named_by_the_first_label() {
        assert_eq!(implicit_name("mx.webhizzy.in"), "mx");
    }

    #[test]
    fn every_inbound_host_is_an_mx_by_preference() {
        let hosts = [
            host("mx3", true, 20),
            host("mx2", true, 10),
            host("store", false, 10),
            host("mx1", true, 10),
        ];
        assert_eq!(
            mx_values(&hosts),
            [
                "10 mx1.webhizzy.in.",
                "10 mx2.webhizzy.in.",
                "20 mx3.webhizzy.in."
            ]
        );
    }
}
