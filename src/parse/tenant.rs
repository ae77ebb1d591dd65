//! The tenant file as written: `tenants/<domain>.toml`, one client domain.
//!
//! These types are the contract of the file format (DESIGN.md): their doc
//! comments become the descriptions in `schema/tenant.schema.json`. Values are
//! kept as written, with spans; the validate stage interprets them.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::parse::raw_str::RawStr;
use crate::span::Sp;

/// One client domain hosted on the mail platform.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailops tenant file")]
pub(crate) struct RawTenant<'a> {
    /// The client domain. Must equal the file name without `.toml`. A Unicode (IDN)
    /// domain is stored as its A-label (`xn--…`).
    pub(crate) domain: Sp<String>,
    /// Free text for people: who the client is.
    #[serde(default)]
    pub(crate) description: Option<Sp<String>>,
    /// The whole tenant: `active` (the default); `suspended`: mail is still accepted and
    /// delivered, every login of every mailbox is refused; `disabled`: all mail is refused
    /// with `550 5.2.1` and every login is refused, nothing is deleted. It overrides the
    /// mailboxes' own `state`.
    #[serde(default, borrow)]
    pub(crate) state: Option<Sp<RawStr<'a>>>,
    /// Alias domains: every address `x@<alias domain>` is delivered as `x@<domain>` (for each
    /// mailbox and alias of this tenant; an unknown address is refused at RCPT). Each gets its
    /// own MX, SPF, DMARC and DKIM records (the tenant's keys) and mail sent from it is DKIM
    /// signed; every mailbox may send as its local part at each alias domain. A Unicode (IDN)
    /// domain is stored as its A-label.
    #[serde(default)]
    pub(crate) alias_domains: Vec<Sp<String>>,
    /// DNS records published for the domain (MX, SPF, DMARC; DKIM comes from `[dkim]`).
    #[serde(default)]
    pub(crate) dns: RawDns,
    /// The DKIM keys the mail host signs this domain's outbound mail with: one `[dkim]`
    /// table, or `[[dkim]]` entries with distinct selectors (mail is signed with every
    /// key). An Ed25519 key needs an RSA key beside it (RFC 8463 dual signing; ARC seals
    /// with RSA).
    pub(crate) dkim: RawDkimKeys,
    /// Per-domain limits on mailboxes, aliases and quotas.
    #[serde(default)]
    pub(crate) limits: RawLimits,
    /// Mailboxes: accounts that log in over IMAP and submission.
    #[serde(default, rename = "mailbox", borrow)]
    pub(crate) mailboxes: Vec<Sp<RawMailbox<'a>>>,
    /// Aliases: addresses that forward to mailboxes, other aliases or external addresses.
    #[serde(default, rename = "alias", borrow)]
    pub(crate) aliases: Vec<Sp<RawAlias<'a>>>,
    /// A relay domain: mail for the listed recipients is accepted here and forwarded to the
    /// client's own server. A relay tenant declares no mailboxes and no aliases.
    #[serde(default, borrow)]
    pub(crate) relay: Option<Sp<RawRelay<'a>>>,
    /// Not a key of its own: `backup_mx` belongs in `[relay]`. Written here it is an
    /// error (`mailops::relay::backup-mx-without-relay`).
    #[serde(default)]
    pub(crate) backup_mx: Option<Sp<bool>>,
    /// The home host of every mailbox of the tenant (a `[[hosts]]` name of
    /// mailops.toml) that names none itself (default: `[defaults] home`, else the
    /// primary host).
    #[serde(default)]
    pub(crate) home: Option<Sp<String>>,
}

/// `[relay]`: the tenant is a relay domain (or a backup MX) for the client's own server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelay<'a> {
    /// The client's server, in Postfix next-hop syntax: `host`, `host:port`, `[host]`,
    /// `[host]:port`, `[192.0.2.1]:port` or `[2001:db8::1]:port`. Brackets: no MX lookup.
    #[serde(borrow)]
    pub(crate) to: Sp<RawStr<'a>>,
    /// The local parts accepted for the domain (others get 550 at RCPT); `"*"` accepts
    /// any (a warning: the client's server may then bounce to forged senders).
    #[serde(borrow)]
    pub(crate) recipients: Sp<Vec<Sp<RawStr<'a>>>>,
    /// `true`: we are the backup MX (MX 20) and the client's server the primary (MX 10);
    /// `false` (the default): we are the domain's only MX.
    #[serde(default)]
    pub(crate) backup_mx: Option<Sp<bool>>,
    /// The primary MX host name published with `backup_mx = true`; default: the host of
    /// `to`. Needed when `to` is an IP address.
    #[serde(default, borrow)]
    pub(crate) primary_mx: Option<Sp<RawStr<'a>>>,
}

/// DNS settings of a tenant domain.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    /// Whether the operator's Route53 holds this domain's records (default `true`).
    /// `false`: its DNS is hosted elsewhere; Terraform declares none of its records,
    /// `mailops dns records` prints what its DNS administrator must publish, and
    /// `mailops dns check` still checks them.
    #[serde(default)]
    pub(crate) managed: Option<Sp<bool>>,
    /// TTL in seconds of every record of this domain (default: the platform's `defaults.ttl`).
    #[serde(default)]
    pub(crate) ttl: Option<Sp<i64>>,
    /// Route53 hosted zone id; default: the zone is looked up by the domain name.
    #[serde(default)]
    pub(crate) zone_id: Option<Sp<String>>,
    /// Sign the domain's Route53 zone, and each alias domain's (DNSSEC, default `false`):
    /// Terraform makes a KMS key in us-east-1, a key-signing key per zone and turns signing
    /// on. The registrar must then publish the DS record `mailops dns records` prints. Only
    /// for a domain whose DNS is in Route53 (`managed`).
    #[serde(default)]
    pub(crate) dnssec: Option<Sp<bool>>,
    /// SPF record additions. The record is always `v=spf1 mx … -all`.
    #[serde(default)]
    pub(crate) spf: Option<RawSpf>,
    /// DMARC policy (default: the platform's `defaults.dmarc`).
    #[serde(default)]
    pub(crate) dmarc: Option<RawDmarc>,
    /// MTA-STS (RFC 8461): `enforce`, `testing` or `off` (default: the platform's
    /// `defaults.mta_sts`). On, the domain gets `_mta-sts` TXT and `mta-sts` CNAME
    /// records, and the mail host serves its policy at
    /// `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    #[serde(default)]
    pub(crate) mta_sts: Option<Sp<String>>,
    /// TLS-RPT (RFC 8460) report destinations, `mailto:` or `https://` URIs, published
    /// at `_smtp._tls.<domain>` (default: the platform's `defaults.tls_rpt`; `[]`: none).
    #[serde(default)]
    pub(crate) tls_rpt: Option<Vec<Sp<String>>>,
    /// BIMI (Brand Indicators for Message Identification): the logo mail
    /// clients show beside this domain's authenticated mail, published as
    /// `default._bimi.<domain>` TXT `v=BIMI1; l=…; a=…`. Needs DMARC
    /// `policy = "quarantine"` or `"reject"` at 100 %.
    #[serde(default)]
    pub(crate) bimi: Option<RawBimi>,
}

/// `[dns.bimi]`: where the domain's logo (and its mark certificate) are served.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBimi {
    /// `l=`: the HTTPS URL of the logo, an SVG Tiny PS file. When the repo holds it as
    /// `bimi/<domain>.svg`, mailops checks it against the SVG Tiny PS rules receivers apply.
    pub(crate) logo: Sp<String>,
    /// `a=`: the HTTPS URL of the Verified Mark Certificate (PEM) some receivers
    /// (Gmail, Apple Mail) require before they show the logo.
    #[serde(default)]
    pub(crate) authority: Option<Sp<String>>,
}

/// Extra SPF mechanisms, added between `mx` and `-all`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpf {
    /// Domains whose SPF policy is included (`include:<domain>`), e.g. a newsletter provider.
    #[serde(default)]
    pub(crate) include: Vec<Sp<String>>,
    /// Further mechanisms written out in SPF syntax: `ip4:203.0.113.0/24`, `ip6:2001:db8::/32`,
    /// `a`, `a:relay.example`, `mx:other.example`, `include:…`, or the modifier `redirect=…`.
    #[serde(default)]
    pub(crate) mechanisms: Vec<Sp<String>>,
}

/// A DMARC policy (RFC 7489).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDmarc {
    /// `p=`: `none`, `quarantine` or `reject`.
    #[serde(default)]
    pub(crate) policy: Option<Sp<String>>,
    /// `sp=`: policy for subdomains: `none`, `quarantine` or `reject` (default: as `policy`).
    #[serde(default)]
    pub(crate) subdomain_policy: Option<Sp<String>>,
    /// `adkim=`: DKIM alignment, `r` (relaxed) or `s` (strict).
    #[serde(default)]
    pub(crate) adkim: Option<Sp<String>>,
    /// `aspf=`: SPF alignment, `r` (relaxed) or `s` (strict).
    #[serde(default)]
    pub(crate) aspf: Option<Sp<String>>,
    /// `pct=`: percentage of mail the policy applies to, 0 to 100.
    #[serde(default)]
    pub(crate) pct: Option<Sp<i64>>,
    /// `rua=`: where aggregate reports go, as `mailto:` URIs.
    #[serde(default)]
    pub(crate) rua: Option<Vec<Sp<String>>>,
    /// `ruf=`: where failure reports go, as `mailto:` URIs.
    #[serde(default)]
    pub(crate) ruf: Option<Vec<Sp<String>>>,
}

// Deserialized by hand rather than derived with `#[serde(untagged)]`: an
// untagged enum buffers the value and loses the spans `Sp` reads from the
// TOML deserializer. The schema (and so the shape check) is `anyOf` both.
/// `[dkim]` (one key) or `[[dkim]]` (several keys, each with its own selector).
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub(crate) enum RawDkimKeys {
    /// One key: a `[dkim]` table.
    One(RawDkim),
    /// Several keys: `[[dkim]]` entries.
    Many(Vec<Sp<RawDkim>>),
}

impl RawDkimKeys {
    /// The keys in file order.
    pub(crate) fn keys(&self) -> Vec<&RawDkim> {
        match self {
            RawDkimKeys::One(key) => vec![key],
            RawDkimKeys::Many(keys) => keys.iter().map(|k| &k.value).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for RawDkimKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = RawDkimKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [dkim] table or [[dkim]] entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawDkimKeys, A::Error> {
                RawDkim::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawDkimKeys::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<RawDkimKeys, A::Error> {
                Vec::<Sp<RawDkim>>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(RawDkimKeys::Many)
            }
        }
        deserializer.deserialize_any(Keys)
    }
}

/// One DKIM key of the domain. `mailops dkim keygen` writes it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDkim {
    /// The selector: the record is published at `<selector>._domainkey.<domain>`
    /// (default: the platform's `defaults.dkim_selector`).
    #[serde(default)]
    pub(crate) selector: Option<Sp<String>>,
    /// Base64 SubjectPublicKeyInfo (DER) of an RSA key of at least 2048 bits, or an Ed25519 key.
    pub(crate) public_key: Sp<String>,
    /// Where the key is in its rotation: `published` (in DNS, not signing), `active`
    /// (in DNS, signing; the default), `retiring` (in DNS, not signing), `retired`
    /// (out of DNS, not on the mail host). One active key per algorithm; `mailops dkim
    /// rotate`, `promote` and `retire` move keys along.
    #[serde(default)]
    pub(crate) state: Option<Sp<String>>,
    /// When the key was published in DNS, RFC 3339 in UTC (`"2026-11-30T09:00:00Z"`);
    /// required for a `published` key: `mailops dkim promote` waits until the record has
    /// been in DNS longer than the domain's TTL plus a margin.
    #[serde(default)]
    pub(crate) published: Option<Sp<String>>,
    /// When the key stopped signing (became `retiring`), RFC 3339 in UTC; `mailops dkim
    /// promote` writes it. `mailops dkim retire` waits a week from it, so that mail
    /// signed with the key and still queued somewhere verifies when it arrives.
    #[serde(default)]
    pub(crate) retiring: Option<Sp<String>>,
}

/// Limits of one domain.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    /// The most mailboxes the domain may have.
    #[serde(default)]
    pub(crate) max_mailboxes: Option<Sp<i64>>,
    /// The most alias entries (source addresses) the domain may have.
    #[serde(default)]
    pub(crate) max_aliases: Option<Sp<i64>>,
    /// Quota of a mailbox that does not set `quota`, e.g. `"5 GiB"` (default: the platform's).
    #[serde(default)]
    pub(crate) default_quota: Option<Sp<String>>,
    /// The largest quota any mailbox of the domain may ask for.
    #[serde(default)]
    pub(crate) max_quota: Option<Sp<String>>,
    /// Outbound messages each logged-in mailbox may send per hour (default: the
    /// platform's `[defaults] send_per_hour`, else no limit). Past it, a submission is
    /// refused with a temporary error (451), not bounced.
    #[serde(default)]
    pub(crate) send_per_hour: Option<Sp<i64>>,
    /// Outbound messages all mailboxes of the domain together may send per hour
    /// (default: the platform's `[defaults] domain_send_per_hour`, else no limit).
    #[serde(default)]
    pub(crate) domain_send_per_hour: Option<Sp<i64>>,
    /// Whether the domain's aliases and mailbox `forward`s may forward mail off the
    /// platform (default `true`). `false`: a destination outside the platform's tenants
    /// is an error — forwarding spam out hurts the mail host's reputation.
    #[serde(default)]
    pub(crate) external_forwards: Option<Sp<bool>>,
}

/// A mailbox: `<user>@<domain>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMailbox<'a> {
    /// The local part: the address is `<user>@<domain>`.
    #[serde(borrow)]
    pub(crate) user: Sp<RawStr<'a>>,
    /// The person's name, for people reading the file.
    #[serde(default, borrow)]
    pub(crate) name: Option<Sp<RawStr<'a>>>,
    /// Dovecot password hash, `{SCHEME}hash`; make one with `mailops hash-password`.
    #[serde(borrow)]
    pub(crate) password: Sp<RawStr<'a>>,
    /// Storage quota, e.g. `"10 GiB"` or `"500 MB"` (default: the domain's `limits.default_quota`).
    #[serde(default, borrow)]
    pub(crate) quota: Option<Sp<RawStr<'a>>>,
    /// `active` (the default); `locked`: mail is delivered, every login is refused;
    /// `disabled`: mail is refused with `550 5.2.1`, logins are refused, the Maildir is kept.
    #[serde(default, borrow)]
    pub(crate) state: Option<Sp<RawStr<'a>>>,
    /// Addresses this mailbox may use as envelope sender and `From` besides its own: a bare
    /// local part is an alias or mailbox of this domain; `user@other-tenant` only when that
    /// tenant's alias or mailbox lists this mailbox in its `allow_send_as`.
    #[serde(default, borrow)]
    pub(crate) send_as: Vec<Sp<RawStr<'a>>>,
    /// Mailboxes of other tenants (`user@their-domain`) that may name this address in their
    /// `send_as`.
    #[serde(default, borrow)]
    pub(crate) allow_send_as: Vec<Sp<RawStr<'a>>>,
    /// The logins this mailbox may use: `imap`, `pop3` (when the platform's
    /// `[mail_host] pop3` is on), `smtp` (submission). Default: all the platform offers.
    #[serde(default, borrow)]
    pub(crate) protocols: Option<Sp<Vec<Sp<RawStr<'a>>>>>,
    /// App passwords: further passwords of this mailbox, one per device, each revocable
    /// by removing it.
    #[serde(default, rename = "app_password", borrow)]
    pub(crate) app_passwords: Vec<Sp<RawAppPassword<'a>>>,
    /// Forward this mailbox's mail, as an alias's `to` does: a bare local part means this
    /// domain; `user@other-tenant` must exist there; an address in a domain that is not a
    /// tenant is an external forward (an error when `[limits] external_forwards = false`).
    #[serde(default, borrow)]
    pub(crate) forward: Option<Sp<Vec<Sp<RawStr<'a>>>>>,
    /// With `forward`: whether the mailbox keeps a copy of the mail it forwards (default
    /// `true`). `false`: its mail is only forwarded; the mailbox still logs in and sends.
    #[serde(default)]
    pub(crate) keep_copy: Option<Sp<bool>>,
    /// The host the mailbox lives on (a `[[hosts]]` name of mailops.toml; default:
    /// the tenant's `home`, else `[defaults] home`, else the primary host).
    #[serde(default)]
    pub(crate) home: Option<Sp<String>>,
}

/// An app password of a mailbox: logs in as the mailbox, with its own protocols.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAppPassword<'a> {
    /// A name for people (`phone`, `laptop`), unique within the mailbox: letters, digits,
    /// `.`, `_` and `-`, at most 64.
    #[serde(borrow)]
    pub(crate) name: Sp<RawStr<'a>>,
    /// Dovecot password hash, `{SCHEME}hash`, under the same rules as a mailbox password.
    #[serde(borrow)]
    pub(crate) password: Sp<RawStr<'a>>,
    /// The logins this password may use (default: the mailbox's `protocols`); each must be
    /// one the mailbox may use.
    #[serde(default, borrow)]
    pub(crate) protocols: Option<Sp<Vec<Sp<RawStr<'a>>>>>,
}

/// An alias: mail to `address` goes to every destination in `to`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlias<'a> {
    /// A local part of this domain, or `"*"` for the catch-all.
    #[serde(borrow)]
    pub(crate) address: Sp<RawStr<'a>>,
    /// Destinations: a bare local part means this domain; `user@other-tenant` must exist
    /// there; an address in a domain that is not a tenant is an external forward.
    #[serde(borrow)]
    pub(crate) to: Sp<Vec<Sp<RawStr<'a>>>>,
    /// Mailboxes of other tenants (`user@their-domain`) that may name this address in their
    /// `send_as`.
    #[serde(default, borrow)]
    pub(crate) allow_send_as: Vec<Sp<RawStr<'a>>>,
}

#[cfg(test)]
mod tests {
    /// Validate one tenant file (with the smallest platform file) and return
    /// its diagnostics, printed (codes and messages).
    fn diagnose(tenant: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mailops.toml"),
            "[mail_host]\nhostname = \"mx.webhizzy.in\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        std::fs::write(dir.path().join("tenants/acme.example.toml"), tenant).unwrap();
        let compiled = crate::pipeline::compile(dir.path()).unwrap();
        format!("{:?}", compiled.diagnostics)
    }

    const RFC2142: &str = "\n[[alias]]\naddress = \"postmaster\"\nto = [\"ops@elsewhere.example\"]\n\n[[alias]]\naddress = \"abuse\"\nto = [\"ops@elsewhere.example\"]\n";

    #[test]
    fn dkim_array_entries_are_shape_checked_like_the_table() {
        let found = diagnose(&format!(
            "domain = \"acme.example\"\n\n[[dkim]]\nselectr = \"x\"\npublic_key = \"{}\"\n{RFC2142}",
            crate::emit::test_repo::PUBLIC_KEY
        ));
        assert!(found.contains("mailops::parse::unknown-key"), "{found}");
        assert!(found.contains("selectr"), "{found}");
        let found = diagnose(&format!(
            "domain = \"acme.example\"\ndkim = \"a key\"\n{RFC2142}"
        ));
        assert!(found.contains("mailops::parse::wrong-type"), "{found}");
    }

    #[test]
    fn a_table_and_an_array_of_one_key_mean_the_same() {
        let key = crate::emit::test_repo::PUBLIC_KEY;
        for dkim in [
            format!("[dkim]\nselector = \"s1\"\npublic_key = \"{key}\"\n"),
            format!("[[dkim]]\nselector = \"s1\"\npublic_key = \"{key}\"\n"),
        ] {
            let found = diagnose(&format!("domain = \"acme.example\"\n\n{dkim}{RFC2142}"));
            assert!(!found.contains("mailops::"), "{dkim}: {found}");
        }
    }
}
