//! MTA-STS (RFC 8461), SMTP TLS reporting (RFC 8460) and mail client
//! autoconfiguration (RFC 6186 SRV records, Thunderbird's autoconfig XML):
//! what a tenant publishes in DNS and what the mail host serves over HTTPS
//! for it (`emit::nginx`).
//!
//! The policy text is assembled here once, so that its `id` in the
//! `_mta-sts` TXT record is derived from exactly the bytes nginx serves: the
//! id changes when, and only when, the policy does.

use sha2::{Digest, Sha256};

/// Submission (STARTTLS required), IMAPS, and POP3 over TLS with
/// `[mail_host] pop3 = true` (never plain POP3 on 110): the mail host's
/// client ports, which the SRV records and the autoconfig file name
/// (`emit::mail_host` takes them from here).
pub(crate) const SUBMISSION_PORT: u16 = 587;
pub(crate) const IMAPS_PORT: u16 = 993;
pub(crate) const POP3S_PORT: u16 = 995;

/// `[dns] mta_sts`: the policy mode (`off` is no policy at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Enforce,
    Testing,
}

/// The words `[dns] mta_sts` accepts.
pub(crate) const MODES: [&str; 3] = ["enforce", "testing", "off"];

impl Mode {
    /// `Some(None)` for `off`; `None` for anything else than [`MODES`].
    pub(crate) fn parse(word: &str) -> Option<Option<Mode>> {
        match word {
            "enforce" => Some(Some(Mode::Enforce)),
            "testing" => Some(Some(Mode::Testing)),
            "off" => Some(None),
            _ => None,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
        }
    }
}

/// `max_age` of every policy: one week, within RFC 8461's advice (weeks),
/// short enough that a mode change reaches senders' caches in days.
pub(crate) const MAX_AGE: u32 = 604_800;

/// A tenant's settings for these records, with the platform defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Settings {
    /// `None`: `mta_sts = "off"`.
    pub(crate) mode: Option<Mode>,
    /// `[dns] tls_rpt`: the report URIs (`mailto:`/`https:`), or none.
    pub(crate) tls_rpt: Vec<String>,
    /// Client autoconfiguration (SRV records, `autoconfig.<domain>`): a
    /// hosted domain, not a relay one, whose mailboxes are elsewhere.
    pub(crate) autoconfig: bool,
    /// `[mail_host] pop3`: POP3S is offered too.
    pub(crate) pop3: bool,
}

/// The MTA-STS policy of a domain whose MX hosts are `mx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) mode: Mode,
    pub(crate) mx: Vec<String>,
}

impl Policy {
    /// The policy file (RFC 8461 §3.2), LF line endings.
    pub(crate) fn text(&self) -> String {
        let mut text = format!("version: STSv1\nmode: {}\n", self.mode.word());
        for mx in &self.mx {
            text.push_str(&format!("mx: {mx}\n"));
        }
        text.push_str(&format!("max_age: {MAX_AGE}\n"));
        text
    }

    /// The `id`: the first 20 hex digits of the SHA-256 of the policy text
    /// (RFC 8461 §3.1 allows 1 to 32 letters and digits).
    pub(crate) fn id(&self) -> String {
        let digest = Sha256::digest(self.text().as_bytes());
        digest.iter().take(10).map(|b| format!("{b:02x}")).collect()
    }

    /// `v=STSv1; id=…`.
    pub(crate) fn record(&self) -> String {
        format!("v=STSv1; id={}", self.id())
    }
}

/// The policy of a domain with these settings and MX values (`10 mx.host.`
/// as [`super::records::mx_values`] gives them), or `None` when it is off.
pub(crate) fn policy(settings: &Settings, mx_values: &[String]) -> Option<Policy> {
    let mode = settings.mode?;
    let mx = mx_values
        .iter()
        .filter_map(|v| v.split_whitespace().nth(1))
        .map(|host| host.trim_end_matches('.').to_string())
        .collect();
    Some(Policy { mode, mx })
}

/// `v=TLSRPTv1; rua=a,b`.
pub(crate) fn tls_rpt_record(uris: &[String]) -> String {
    format!("v=TLSRPTv1; rua={}", uris.join(","))
}

/// The RFC 6186 services a client finds by SRV: (owner prefix, port).
pub(crate) fn srv_services(pop3: bool) -> Vec<(&'static str, u16)> {
    let mut out = vec![
        ("_submission._tcp", SUBMISSION_PORT),
        ("_imaps._tcp", IMAPS_PORT),
    ];
    if pop3 {
        out.push(("_pop3s._tcp", POP3S_PORT));
    }
    out
}

/// An SRV value: priority 0, weight 1, the port, the mail host.
pub(crate) fn srv_value(port: u16, hostname: &str) -> String {
    format!("0 1 {port} {hostname}.")
}

/// `mta-sts.<zone>` and `autoconfig.<zone>`, the names the host serves for
/// a zone (and its certificate covers), in that order; none when both are off.
pub(crate) fn web_names(settings: &Settings, zone: &str) -> Vec<String> {
    let mut out = Vec::new();
    if settings.mode.is_some() {
        out.push(format!("mta-sts.{zone}"));
    }
    if settings.autoconfig {
        out.push(format!("autoconfig.{zone}"));
    }
    out
}

/// Text for an XML element or attribute value.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Thunderbird's `config-v1.1.xml` for `zone`: IMAP on 993 over TLS, POP3
/// on 995 when offered, SMTP submission on 587 with STARTTLS; the login is
/// the whole address.
pub(crate) fn autoconfig_xml(hostname: &str, zone: &str, pop3: bool) -> String {
    let host = xml_escape(hostname);
    let zone = xml_escape(zone);
    let server = |kind: &str, port: u16, socket: &str| {
        format!(
            "    <{kind} type=\"{}\">\n      <hostname>{host}</hostname>\n      <port>{port}</port>\n      <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </{kind}>\n",
            match (kind, port) {
                ("outgoingServer", _) => "smtp",
                (_, p) if p == POP3S_PORT => "pop3",
                _ => "imap",
            }
        )
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str("<!-- generated by mailops — do not edit -->\n");
    xml.push_str("<clientConfig version=\"1.1\">\n");
    xml.push_str(&format!("  <emailProvider id=\"{zone}\">\n"));
    xml.push_str(&format!("    <domain>{zone}</domain>\n"));
    xml.push_str(&format!("    <displayName>{zone}</displayName>\n"));
    xml.push_str(&format!(
        "    <displayShortName>{zone}</displayShortName>\n"
    ));
    xml.push_str(&server("incomingServer", IMAPS_PORT, "SSL"));
    if pop3 {
        xml.push_str(&server("incomingServer", POP3S_PORT, "SSL"));
    }
    xml.push_str(&server("outgoingServer", SUBMISSION_PORT, "STARTTLS"));
    xml.push_str("  </emailProvider>\n</clientConfig>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: Option<Mode>) -> Settings {
        Settings {
            mode,
            tls_rpt: vec!["mailto:tls@webhizzy.in".into()],
            autoconfig: true,
            pop3: false,
        }
    }

    #[test]
    fn the_policy_lists_every_mx_host_and_its_id_follows_the_text() {
        let enforce = policy(
            &settings(Some(Mode::Enforce)),
            &["10 mx.webhizzy.in.".into()],
        )
        .expect("a policy");
        assert_eq!(
            enforce.text(),
            "version: STSv1\nmode: enforce\nmx: mx.webhizzy.in\nmax_age: 604800\n"
        );
        let id = enforce.id();
        assert_eq!(id.len(), 20);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(enforce.record(), format!("v=STSv1; id={id}"));
        // Another mode, or another MX, is another policy: another id.
        let testing = policy(
            &settings(Some(Mode::Testing)),
            &["10 mx.webhizzy.in.".into()],
        )
        .expect("a policy");
        assert_ne!(testing.id(), id);
        let backup = policy(
            &settings(Some(Mode::Enforce)),
            &[
                "10 mail.client.example.".into(),
                "20 mx.webhizzy.in.".into(),
            ],
        )
        .expect("a policy");
        assert!(
            backup
                .text()
                .contains("mx: mail.client.example\nmx: mx.webhizzy.in\n")
        );
        assert_ne!(backup.id(), id);
        assert_eq!(
            policy(&settings(None), &["10 mx.webhizzy.in.".into()]),
            None
        );
    }

    #[test]
    fn tls_rpt_srv_and_names() {
        assert_eq!(
            tls_rpt_record(&["mailto:a@x.example".into(), "https://r.example/v1".into()]),
            "v=TLSRPTv1; rua=mailto:a@x.example,https://r.example/v1"
        );
        assert_eq!(
            srv_services(true),
            vec![
                ("_submission._tcp", 587),
                ("_imaps._tcp", 993),
                ("_pop3s._tcp", 995)
            ]
        );
        assert_eq!(srv_services(false).len(), 2);
        assert_eq!(srv_value(587, "mx.webhizzy.in"), "0 1 587 mx.webhizzy.in.");
        assert_eq!(
            web_names(&settings(Some(Mode::Testing)), "acme.example"),
            ["mta-sts.acme.example", "autoconfig.acme.example"]
        );
        let mut off = settings(None);
        off.autoconfig = false;
        assert!(web_names(&off, "acme.example").is_empty());
    }

    #[test]
    fn autoconfig_lists_imap_smtp_and_pop3_when_offered() {
        let xml = autoconfig_xml("mx.webhizzy.in", "acme.example", true);
        for part in [
            "<emailProvider id=\"acme.example\">",
            "<incomingServer type=\"imap\">\n      <hostname>mx.webhizzy.in</hostname>\n      <port>993</port>\n      <socketType>SSL</socketType>",
            "<incomingServer type=\"pop3\">\n      <hostname>mx.webhizzy.in</hostname>\n      <port>995</port>",
            "<outgoingServer type=\"smtp\">\n      <hostname>mx.webhizzy.in</hostname>\n      <port>587</port>\n      <socketType>STARTTLS</socketType>",
            "<username>%EMAILADDRESS%</username>",
        ] {
            assert!(xml.contains(part), "{part}\n{xml}");
        }
        assert!(!autoconfig_xml("mx.webhizzy.in", "acme.example", false).contains("pop3"));
        assert_eq!(xml_escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
