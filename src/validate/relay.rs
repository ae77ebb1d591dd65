//! `[relay]` of a tenant → `model::Relay`: the next hop (it goes into
//! Postfix's transport map, so only a host name or an IP address with an
//! optional port passes, rebuilt from its parts), the recipients, and the
//! backup MX's primary host.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::{Relay, RelayHost};
use crate::parse::tenant::{RawRelay, RawTenant};
use crate::source::Location;
use crate::span::Sp;
use crate::validate::address::local_address;
use crate::validate::domain::normalize_domain;
use crate::validate::{Checker, diags};

/// The relay of a tenant, or None (no `[relay]`, or one with errors). Also
/// reports a `backup_mx` outside `[relay]`, and mailboxes or aliases beside it.
pub(crate) fn build_relay(
    c: &mut Checker<'_>,
    raw: &RawTenant<'_>,
    domain: &str,
    mail_host: &str,
) -> Option<Relay> {
    if let Some(misplaced) = &raw.backup_mx {
        c.push(diags::backup_mx_without_relay(c.loc(misplaced)));
    }
    let relay = raw.relay.as_ref()?;
    let relay_loc = c.loc(relay);
    if let Some(mailbox) = raw.mailboxes.first() {
        c.push(diags::relay_with_mailboxes(
            c.loc(mailbox),
            relay_loc.clone(),
            "a mailbox",
        ));
    }
    if let Some(alias) = raw.aliases.first() {
        c.push(diags::relay_with_mailboxes(
            c.loc(alias),
            relay_loc,
            "an alias",
        ));
    }
    let relay = &relay.value;
    let target = target(c, relay, mail_host);
    let recipients = recipients(c, relay, domain);
    let backup_mx = relay.backup_mx.as_ref().is_some_and(|b| b.value);
    let (nexthop, host) = target?;
    let primary_mx = primary_mx(c, relay, backup_mx, &host, domain)?;
    Some(Relay {
        nexthop,
        host,
        recipients: recipients?,
        backup_mx,
        primary_mx,
    })
}

fn target(
    c: &mut Checker<'_>,
    relay: &RawRelay<'_>,
    mail_host: &str,
) -> Option<(String, RelayHost)> {
    let text = c.structured(&relay.to, "the relay target")?;
    match parse_nexthop(text) {
        Ok((_, RelayHost::Name(name))) if name == mail_host => {
            c.push(diags::relay_invalid_target(
                c.loc(&relay.to),
                "that is this mail host: the mail would loop",
            ));
            None
        }
        Ok(found) => Some(found),
        Err(problem) => {
            c.push(diags::relay_invalid_target(c.loc(&relay.to), &problem));
            None
        }
    }
}

/// A Postfix next hop: `host`, `host:port`, `[host]`, `[host]:port`,
/// `[ip]`, `[ip]:port`. Returns it rebuilt from its checked parts
/// (lowercase, A-labels) and its host.
pub(crate) fn parse_nexthop(text: &str) -> Result<(String, RelayHost), String> {
    let (inner, rest, bracketed) = if let Some(after) = text.strip_prefix('[') {
        let Some(close) = after.find(']') else {
            return Err("a `[` without its `]`".to_string());
        };
        (&after[..close], &after[close + 1..], true)
    } else {
        match text.find(':') {
            Some(colon) if text[colon + 1..].contains(':') => {
                return Err("an IPv6 address needs brackets: `[2001:db8::1]:25`".to_string());
            }
            Some(colon) => (&text[..colon], &text[colon..], false),
            None => (text, "", false),
        }
    };
    let port = match rest {
        "" => None,
        _ => {
            let digits = rest
                .strip_prefix(':')
                .ok_or_else(|| format!("`{rest}` after the host is not `:port`"))?;
            match digits.parse::<u16>() {
                Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(port),
                _ => return Err(format!("`{digits}` is not a port (1 to 65535)")),
            }
        }
    };
    if inner.is_empty() {
        return Err("no host".to_string());
    }
    let host = match inner.parse::<IpAddr>() {
        Ok(_) if !bracketed => {
            return Err(format!(
                "an IP address needs brackets (`[{inner}]`): without them Postfix looks up its MX"
            ));
        }
        Ok(ip) => RelayHost::Ip(ip),
        Err(_) => match normalize_domain(inner) {
            Ok(name) => RelayHost::Name(name.ascii),
            Err(problem) => return Err(format!("`{inner}`: {}", problem.describe())),
        },
    };
    let shown = match &host {
        RelayHost::Name(name) => name.clone(),
        RelayHost::Ip(ip) => ip.to_string(),
    };
    let mut nexthop = if bracketed {
        format!("[{shown}]")
    } else {
        shown
    };
    if let Some(port) = port {
        nexthop.push_str(&format!(":{port}"));
    }
    Ok((nexthop, host))
}

fn recipients(c: &mut Checker<'_>, relay: &RawRelay<'_>, domain: &str) -> Option<Vec<String>> {
    if relay.recipients.value.is_empty() {
        c.push(diags::relay_no_recipients(c.loc(&relay.recipients)));
        return None;
    }
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    let mut ok = true;
    for entry in &relay.recipients.value {
        let Some(text) = c.structured(entry, "the relay recipient") else {
            ok = false;
            continue;
        };
        let address = if text == "*" {
            c.push(diags::relay_any_recipient(c.loc(entry), domain));
            Ok(format!("@{domain}"))
        } else if text.contains('@') {
            Err("a recipient is a local part of this domain, without `@domain`".to_string())
        } else {
            local_address(text, domain)
                .and_then(crate::validate::address::check_address_length)
                .map_err(|p| p.describe())
        };
        match address {
            Ok(address) => {
                if let Some(first) = seen.get(&address) {
                    c.push(diags::relay_duplicate_recipient(
                        c.loc(entry),
                        first.clone(),
                        &address,
                    ));
                } else {
                    seen.insert(address, c.loc(entry));
                }
            }
            Err(problem) => {
                c.push(diags::relay_invalid_recipient(c.loc(entry), &problem));
                ok = false;
            }
        }
    }
    ok.then(|| seen.into_keys().collect())
}

/// The primary MX host published beside us with `backup_mx`: `primary_mx`,
/// else the name of `to`. Outer None: an error was reported.
fn primary_mx(
    c: &mut Checker<'_>,
    relay: &RawRelay<'_>,
    backup_mx: bool,
    host: &RelayHost,
    domain: &str,
) -> Option<Option<String>> {
    match (&relay.primary_mx, backup_mx) {
        (Some(written), false) => {
            c.push(diags::relay_primary_mx(
                c.loc(written),
                "`primary_mx` without `backup_mx = true`",
                "the primary MX is published only when we are the backup MX; set `backup_mx = true` or remove `primary_mx`",
            ));
            None
        }
        (None, false) => Some(None),
        (Some(written), true) => {
            let text = c.structured(written, "the primary MX")?;
            match normalize_domain(text) {
                Ok(name) => Some(Some(name.ascii)),
                Err(problem) => {
                    c.push(diags::relay_primary_mx(
                        c.loc(written),
                        &format!("invalid primary MX `{text}`: {}", problem.describe()),
                        "write the host name of the client's server, as its MX record names it",
                    ));
                    None
                }
            }
        }
        (None, true) => match host {
            // `to = "acme.example"` (Postfix looks up the domain's MX, the
            // classic backup MX) names no host to publish as MX 10.
            RelayHost::Name(name) if name == domain => {
                c.push(diags::relay_primary_mx(
                    at_backup(c, relay),
                    "a backup MX relaying to its own domain's MX needs `primary_mx`",
                    "the MX record names the client's server: add `primary_mx = \"mail.client.example\"`",
                ));
                None
            }
            RelayHost::Name(name) => Some(Some(name.clone())),
            RelayHost::Ip(_) => {
                c.push(diags::relay_primary_mx(
                    at_backup(c, relay),
                    "a backup MX relaying to an IP address needs `primary_mx`",
                    "an MX record names a host, not an address: add `primary_mx = \"mail.client.example\"`",
                ));
                None
            }
        },
    }
}

fn at_backup(c: &Checker<'_>, relay: &RawRelay<'_>) -> Location {
    match &relay.backup_mx {
        Some(b) => c.loc(b),
        None => c.loc(&relay.to),
    }
}

/// Where a relay tenant's recipients are, for the RFC 2142 check.
pub(crate) fn recipients_loc(c: &Checker<'_>, raw: &RawTenant<'_>) -> Option<Location> {
    raw.relay
        .as_ref()
        .map(|r: &Sp<RawRelay<'_>>| c.loc(&r.value.recipients))
}

#[cfg(test)]
mod tests {
    use super::parse_nexthop;
    use crate::model::RelayHost;

    fn ok(text: &str) -> String {
        parse_nexthop(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .0
    }

    #[test]
    fn next_hops_are_rebuilt_from_their_checked_parts() {
        assert_eq!(
            ok("[Mail.Acme-Onprem.example]:25"),
            "[mail.acme-onprem.example]:25"
        );
        assert_eq!(ok("mail.acme.example"), "mail.acme.example");
        assert_eq!(ok("mail.acme.example:2525"), "mail.acme.example:2525");
        assert_eq!(ok("[192.0.2.1]"), "[192.0.2.1]");
        assert_eq!(ok("[2001:DB8::1]:25"), "[2001:db8::1]:25");
        assert_eq!(ok("[bücher.example]"), "[xn--bcher-kva.example]");
        assert!(matches!(
            parse_nexthop("[127.0.0.1]:2525").unwrap().1,
            RelayHost::Ip(_)
        ));
    }

    /// A relay tenant's DNS: our MX alone (and its server in SPF), or as a
    /// backup MX their server at 10 and ours at 20 (Terraform and `dns
    /// records` read the same records).
    #[test]
    fn a_relay_tenants_records_follow_backup_mx() {
        use crate::emit::test_repo::{compile, emit, platform, relay_tenant};
        let tenants = [
            (
                "only.example",
                relay_tenant(
                    "only.example",
                    "to = \"[mail.only.example]:25\"\nrecipients = [\"postmaster\", \"abuse\"]\n",
                ),
            ),
            (
                "backup.example",
                relay_tenant(
                    "backup.example",
                    "to = \"[192.0.2.1]\"\nrecipients = [\"*\"]\nbackup_mx = true\nprimary_mx = \"mx1.backup.example\"\n",
                ),
            ),
        ];
        let model = compile(&platform(""), &tenants);
        let host = &model.platform.hostname;
        let only = &model.domains["only.example"];
        assert_eq!(
            crate::model::records::mx_values(model.platform.mail_hosts(), only),
            [format!("10 {host}.")]
        );
        assert_eq!(only.spf.record(), "v=spf1 mx a:mail.only.example -all");
        let backup = &model.domains["backup.example"];
        assert_eq!(
            crate::model::records::mx_values(model.platform.mail_hosts(), backup),
            ["10 mx1.backup.example.".to_string(), format!("20 {host}.")]
        );
        assert_eq!(backup.spf.record(), "v=spf1 mx -all");
        let relay = backup.relay.as_ref().unwrap();
        assert_eq!(relay.recipients, ["@backup.example"]);
        assert_eq!(relay.nexthop, "[192.0.2.1]");
        let out = emit(&platform(""), &tenants);
        let tf = out
            .iter()
            .find(|(path, _)| path.ends_with("/dns_backup.example.tf"))
            .map(|(_, text)| text)
            .unwrap();
        assert!(
            tf.contains(&format!(
                "records = [\"10 mx1.backup.example.\", \"20 {host}.\"]"
            )),
            "{tf}"
        );
    }

    /// A backup MX whose `to` is its own domain (Postfix follows the MX) or
    /// an IP address names no MX 10 host: `primary_mx` is required.
    #[test]
    fn a_backup_mx_without_a_host_to_publish_needs_primary_mx() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mailops.toml"),
            "[mail_host]\nhostname = \"mx.webhizzy.in\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        for (to, fails) in [
            ("backup.example", true),
            ("[192.0.2.1]", true),
            ("[mail.backup.example]", false),
        ] {
            std::fs::write(
                dir.path().join("tenants/backup.example.toml"),
                crate::emit::test_repo::relay_tenant(
                    "backup.example",
                    &format!("to = \"{to}\"\nrecipients = [\"*\"]\nbackup_mx = true\n"),
                ),
            )
            .unwrap();
            let compiled = crate::pipeline::compile(dir.path()).unwrap();
            let found = format!("{:?}", compiled.diagnostics);
            assert_eq!(
                found.contains("mailops::relay::primary-mx"),
                fails,
                "{to}: {found}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "[]",
            "[mail.acme.example",
            "mail.acme.example]",
            "192.0.2.1",
            "2001:db8::1",
            "[mail.acme.example]:0",
            "[mail.acme.example]:65536",
            "[mail.acme.example]:+25",
            "[mail.acme.example]x",
            "mail.acme.example:",
            "smtp:[mail.acme.example]",
            "mail acme.example",
            "mail.acme.example,evil",
            "mail_acme.example",
            "[mail.acme.example]:25:25",
            "[a]]",
        ] {
            assert!(parse_nexthop(bad).is_err(), "{bad:?} passed");
        }
    }
}
