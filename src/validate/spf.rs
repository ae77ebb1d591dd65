//! SPF terms a tenant may add (RFC 7208): `include:`, `ip4:`, `ip6:`, `a`, `mx`, `redirect=`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::validate::domain::{DomainProblem, normalize_dns_name};

pub(crate) const MAX_DNS_LOOKUPS: usize = 10;

/// One checked term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpfTerm {
    Mechanism(String),
    Redirect(String),
}

/// Why an SPF term is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpfProblem {
    IncludeWithoutDomain,
    Ip4WithoutAddress,
    Ip6WithoutAddress,
    NotIpv4(String),
    NotIpv6(String),
    /// `/prefix` and the longest prefix of the address family.
    Prefix(String, u8),
    /// `all` in any qualification: mailops writes `-all` itself.
    All,
    Ptr,
    Unknown(String),
    Macro,
    Domain(String, DomainProblem),
}

impl SpfProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            SpfProblem::IncludeWithoutDomain => {
                "`include` needs a domain: `include:_spf.example.com`".into()
            }
            SpfProblem::Ip4WithoutAddress => "`ip4` needs an address: `ip4:192.0.2.0/24`".into(),
            SpfProblem::Ip6WithoutAddress => "`ip6` needs an address: `ip6:2001:db8::/32`".into(),
            SpfProblem::NotIpv4(address) => format!("`{address}` is not an IPv4 address"),
            SpfProblem::NotIpv6(address) => format!("`{address}` is not an IPv6 address"),
            SpfProblem::Prefix(prefix, max) => {
                format!("`/{prefix}` is not a prefix length from 0 to {max}")
            }
            SpfProblem::All => {
                "mailops ends every SPF record with `-all` itself; remove this term".into()
            }
            SpfProblem::Ptr => {
                "`ptr` is deprecated (RFC 7208 §5.5); use `a`, `ip4` or `ip6`".into()
            }
            SpfProblem::Unknown(term) => format!(
                "`{term}` is not an SPF term mailops accepts (include:, ip4:, ip6:, a, mx, redirect=)"
            ),
            SpfProblem::Macro => "SPF macros are not supported".into(),
            SpfProblem::Domain(domain, problem) => format!("`{domain}`: {}", problem.describe()),
        }
    }
}

/// Check a mechanism written out in SPF syntax and return it normalised.
pub(crate) fn check_term(term: &str) -> Result<SpfTerm, SpfProblem> {
    if let Some(domain) = term.strip_prefix("redirect=") {
        return Ok(SpfTerm::Redirect(spf_domain(domain)?));
    }
    let (name, rest) = match term.find([':', '/']) {
        Some(i) => (&term[..i], &term[i..]),
        None => (term, ""),
    };
    match name {
        "include" => {
            let domain = rest
                .strip_prefix(':')
                .ok_or(SpfProblem::IncludeWithoutDomain)?;
            Ok(SpfTerm::Mechanism(format!(
                "include:{}",
                spf_domain(domain)?
            )))
        }
        "ip4" => {
            let value = rest
                .strip_prefix(':')
                .ok_or(SpfProblem::Ip4WithoutAddress)?;
            let (address, prefix) = split_prefix(value);
            address
                .parse::<Ipv4Addr>()
                .map_err(|_| SpfProblem::NotIpv4(address.to_string()))?;
            check_prefix(prefix, 32)?;
            Ok(SpfTerm::Mechanism(format!("ip4:{value}")))
        }
        "ip6" => {
            let value = rest
                .strip_prefix(':')
                .ok_or(SpfProblem::Ip6WithoutAddress)?;
            let (address, prefix) = split_prefix(value);
            let parsed = address
                .parse::<Ipv6Addr>()
                .map_err(|_| SpfProblem::NotIpv6(address.to_string()))?;
            check_prefix(prefix, 128)?;
            Ok(SpfTerm::Mechanism(match prefix {
                Some(p) => format!("ip6:{parsed}/{p}"),
                None => format!("ip6:{parsed}"),
            }))
        }
        "a" | "mx" => {
            let (domain_part, cidr) = match rest.strip_prefix(':') {
                Some(after) => {
                    let (domain, cidr) = split_prefix(after);
                    (Some(spf_domain(domain)?), cidr)
                }
                None if rest.is_empty() => (None, None),
                None => (None, Some(rest.trim_start_matches('/'))),
            };
            check_prefix(cidr, 32)?;
            let mut out = name.to_string();
            if let Some(domain) = domain_part {
                out.push(':');
                out.push_str(&domain);
            }
            if let Some(cidr) = cidr {
                out.push('/');
                out.push_str(cidr);
            }
            Ok(SpfTerm::Mechanism(out))
        }
        "all" | "-all" | "~all" | "?all" | "+all" => Err(SpfProblem::All),
        "ptr" => Err(SpfProblem::Ptr),
        _ => Err(SpfProblem::Unknown(term.to_string())),
    }
}

fn split_prefix(value: &str) -> (&str, Option<&str>) {
    match value.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (value, None),
    }
}

fn check_prefix(prefix: Option<&str>, max: u8) -> Result<(), SpfProblem> {
    match prefix {
        None => Ok(()),
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => Ok(()),
            _ => Err(SpfProblem::Prefix(p.to_string(), max)),
        },
    }
}

fn spf_domain(domain: &str) -> Result<String, SpfProblem> {
    if domain.contains('%') {
        return Err(SpfProblem::Macro);
    }
    normalize_dns_name(domain)
        .map(|d| d.ascii)
        .map_err(|p| SpfProblem::Domain(domain.to_string(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mechanism(term: &str) -> String {
        match check_term(term).unwrap() {
            SpfTerm::Mechanism(m) => m,
            SpfTerm::Redirect(r) => panic!("redirect {r}"),
        }
    }

    #[test]
    fn accepts_the_supported_grammar() {
        assert_eq!(
            mechanism("include:_spf.Google.com"),
            "include:_spf.google.com"
        );
        assert_eq!(mechanism("ip4:192.0.2.0/24"), "ip4:192.0.2.0/24");
        assert_eq!(mechanism("ip6:2001:DB8::/32"), "ip6:2001:db8::/32");
        assert_eq!(mechanism("a"), "a");
        assert_eq!(mechanism("a/24"), "a/24");
        assert_eq!(mechanism("mx:relay.example"), "mx:relay.example");
        assert_eq!(
            check_term("redirect=_spf.example").unwrap(),
            SpfTerm::Redirect("_spf.example".into())
        );
    }

    #[test]
    fn refuses_everything_else() {
        for (bad, problem) in [
            ("ip4:300.1.1.1", SpfProblem::NotIpv4("300.1.1.1".into())),
            ("ip4:10.0.0.0/33", SpfProblem::Prefix("33".into(), 32)),
            ("ip6", SpfProblem::Ip6WithoutAddress),
            (
                "include:",
                SpfProblem::Domain(String::new(), DomainProblem::Empty),
            ),
            ("include", SpfProblem::IncludeWithoutDomain),
            ("all", SpfProblem::All),
            ("-all", SpfProblem::All),
            ("ptr", SpfProblem::Ptr),
            ("exists:x", SpfProblem::Unknown("exists:x".into())),
            ("v=spf1", SpfProblem::Unknown("v=spf1".into())),
            ("include:%{i}.x", SpfProblem::Macro),
        ] {
            assert_eq!(check_term(bad), Err(problem), "{bad}");
        }
        assert_eq!(
            SpfProblem::Prefix("33".into(), 32).describe(),
            "`/33` is not a prefix length from 0 to 32"
        );
    }
}
