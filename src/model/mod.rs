//! Model: the normalised, checked mail platform that every emitter reads.
//!
//! Domains are A-labels, addresses lowercase, maps sorted (BTreeMap), quotas
//! in bytes, DNS record texts assembled. Emitters and the database layer read
//! only this; they never see raw TOML. Items keep the `Location` they were
//! declared at, for the graph stage's diagnostics.

pub(crate) mod host;
pub(crate) mod host_identity;
pub(crate) mod mailbox;
pub(crate) mod mta_sts;
pub(crate) mod platform;
pub(crate) mod records;
pub(crate) mod relay;
pub(crate) mod tenant_state;

use std::collections::BTreeMap;

use crate::source::Location;
pub(crate) use host::Host;
pub(crate) use host_identity::HostIdentity;
pub(crate) use mailbox::{AppPassword, Grantee, MailboxState, Protocol, Protocols, SendAs};
pub(crate) use platform::{Aws, Database, Defaults, Driver, Paths, Platform, Secrets, Tls};
pub(crate) use records::{Bimi, Dkim, DkimAlgorithm, DkimState, Dmarc, Spf};
pub(crate) use relay::{Relay, RelayHost};
pub(crate) use tenant_state::TenantState;

/// Every tenant domain on the platform.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) platform: Platform,
    /// Keyed by A-label domain name.
    pub(crate) domains: BTreeMap<String, Domain>,
    /// Every alias domain (A-label) → its tenant's domain.
    pub(crate) alias_domains: BTreeMap<String, String>,
}

impl Model {
    pub(crate) fn alias(&self, source: &str) -> Option<&Alias> {
        let domain = source.rsplit_once('@')?.1;
        self.domains.get(domain)?.aliases.get(source)
    }

    /// The tenant whose alias domain `name` is.
    pub(crate) fn primary_of(&self, name: &str) -> Option<&Domain> {
        self.domains.get(self.alias_domains.get(name)?)
    }

    /// `address` with an alias domain's name replaced by its tenant's
    /// domain (`bob@acme-old.example` → `bob@acme.example`); `None` when
    /// its domain is no alias domain.
    pub(crate) fn through_alias_domain(&self, address: &str) -> Option<String> {
        let (local, domain) = address.rsplit_once('@')?;
        let primary = self.alias_domains.get(domain)?;
        Some(format!("{local}@{primary}"))
    }
}

/// One client domain.
#[derive(Debug, Clone)]
pub(crate) struct Domain {
    /// A-label (ASCII) form, lowercase: the key everywhere.
    pub(crate) name: String,
    /// Unicode form for people (equal to `name` for ASCII domains).
    pub(crate) unicode: String,
    pub(crate) description: Option<String>,
    /// The tenant file, relative to the mail repo (`tenants/acme.example.toml`).
    pub(crate) file: String,
    /// Whether mail is accepted and mailboxes log in (overrides their own states).
    pub(crate) state: TenantState,
    pub(crate) ttl: u32,
    /// `[dns] managed`: its records are in the operator's Route53 (Terraform).
    pub(crate) dns_managed: bool,
    /// `[dns] dnssec`: Route53 signs its zone and each alias domain's.
    pub(crate) dnssec: bool,
    pub(crate) zone_id: Option<String>,
    pub(crate) spf: Spf,
    pub(crate) dmarc: Dmarc,
    /// The platform's report domains (`[mail_host] dmarc_report_domains`)
    /// its DMARC reports go to: each needs an authorization record there for
    /// each of its zones (see [`records::needs_report_authorization`]).
    pub(crate) dmarc_report_domains: Vec<String>,
    /// `[dns] mta_sts`, `tls_rpt` and client autoconfiguration.
    pub(crate) mta_sts: mta_sts::Settings,
    /// Every DKIM key, in file order (`[dkim]` is one, `[[dkim]]` several, with
    /// distinct selectors), retired ones included. Mail is signed with each
    /// active key ([`Domain::signing_keys`]); a valid domain has one active
    /// RSA key (see [`Domain::arc_key`]) and at most one active key per
    /// algorithm.
    pub(crate) dkim: Vec<Dkim>,
    /// `[dns.bimi]`: the logo published at `default._bimi` of each of its zones.
    pub(crate) bimi: Option<Bimi>,
    /// Sorted by full address, each address once.
    pub(crate) mailboxes: Mailboxes,
    /// Keyed by source address; the catch-all's source is `@<domain>`.
    pub(crate) aliases: BTreeMap<String, Alias>,
    /// `[limits]`, with the platform's defaults applied.
    pub(crate) limits: Limits,
    /// `alias_domains`, sorted by A-label, each once: every address of the
    /// tenant is also an address at each of them.
    pub(crate) alias_domains: Vec<AliasDomain>,
    /// `[relay]`: a relay domain (no mailboxes, no aliases).
    pub(crate) relay: Option<Relay>,
    pub(crate) origin: Location,
}

/// An alias domain of a tenant: `x@<name>` is delivered as `x@<tenant domain>`.
#[derive(Debug, Clone)]
pub(crate) struct AliasDomain {
    /// A-label form, lowercase.
    pub(crate) name: String,
    /// Unicode form for people.
    pub(crate) unicode: String,
    pub(crate) origin: Location,
}

/// A domain's mailboxes and aliases are freed on a background thread: a
/// platform's million of them would take a core a fifth of a second to free
/// at the end of every command (see `parallel::drop_in_background`).
impl Drop for Domain {
    fn drop(&mut self) {
        if !self.mailboxes.is_empty() || !self.aliases.is_empty() {
            crate::parallel::drop_in_background((
                std::mem::take(&mut self.mailboxes),
                std::mem::take(&mut self.aliases),
            ));
        }
    }
}

impl Domain {
    /// The names mail is DKIM-signed for with this domain's keys: its own,
    /// then each alias domain's.
    pub(crate) fn signing_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str())
            .chain(self.alias_domains.iter().map(|a| a.name.as_str()))
    }

    /// Every `virtual_aliases` row of the domain, (source, destination)
    /// sorted: its aliases', and the expanded rows of its alias domains
    /// (`alias_domain_rows`), which are the domain's rows too (their
    /// `domain_id` is the tenant's: its state, its digest, its deletion).
    pub(crate) fn alias_rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .aliases
            .values()
            .flat_map(|a| {
                a.destinations
                    .iter()
                    .map(|d| (a.source.clone(), d.address.clone()))
            })
            .collect();
        rows.extend(self.alias_domain_rows());
        rows.sort();
        rows
    }

    /// The expanded `virtual_aliases` rows of its alias domains, (source,
    /// destination), sorted: `x@alias → x@domain` for every mailbox that
    /// accepts mail (not disabled) and every alias, and `@alias →` the
    /// catch-all's destinations when the domain has a catch-all. No
    /// `@alias → @domain` row: an unknown address at the alias domain is
    /// refused at RCPT, like one at the domain itself (no backscatter).
    pub(crate) fn alias_domain_rows(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        if self.alias_domains.is_empty() {
            return rows;
        }
        let catch_all = format!("@{}", self.name);
        for alias_domain in &self.alias_domains {
            let at = |address: &str| {
                let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
                format!("{local}@{}", alias_domain.name)
            };
            for mailbox in self.mailboxes.values() {
                if mailbox.state != MailboxState::Disabled {
                    rows.push((at(&mailbox.address), mailbox.address.to_string()));
                }
            }
            // A mailbox's forward has its address there already (or none,
            // when the mailbox is disabled).
            for alias in self.aliases.values().filter(|a| !a.of_mailbox) {
                if alias.source == catch_all {
                    for destination in &alias.destinations {
                        rows.push((
                            format!("@{}", alias_domain.name),
                            destination.address.clone(),
                        ));
                    }
                } else {
                    rows.push((at(&alias.source), alias.source.clone()));
                }
            }
        }
        rows.sort();
        rows.dedup();
        rows
    }

    /// Who may send as which of this domain's addresses besides their owners:
    /// (sender, login) pairs, sorted, each once. Its mailboxes' `send_as`
    /// addresses in this domain, and the mailboxes of other tenants that its
    /// mailboxes and aliases list in `allow_send_as`. The sender's domain
    /// grants the right, so the pair belongs to it.
    pub(crate) fn grants(&self) -> Vec<(&str, &str)> {
        let own = |address: &str| {
            address
                .rsplit_once('@')
                .is_some_and(|(_, d)| d == self.name)
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for mailbox in self.mailboxes.values() {
            for send_as in &mailbox.send_as {
                if own(&send_as.address) {
                    pairs.push((&send_as.address, &mailbox.address));
                }
            }
            for grantee in &mailbox.allow_send_as {
                pairs.push((&mailbox.address, &grantee.address));
            }
        }
        for alias in self.aliases.values() {
            for grantee in &alias.allow_send_as {
                pairs.push((&alias.source, &grantee.address));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// How many `[[alias]]` entries it declares (its mailboxes' forwards are
    /// aliases of the model, not of the file).
    pub(crate) fn alias_count(&self) -> usize {
        self.aliases.values().filter(|a| !a.of_mailbox).count()
    }

    /// The key that seals ARC (Rspamd 3.4 seals with RSA only) and that
    /// receivers without Ed25519 support verify: the first active RSA key.
    pub(crate) fn arc_key(&self) -> Option<&Dkim> {
        self.signing_keys()
            .find(|k| matches!(k.algorithm, DkimAlgorithm::Rsa { .. }))
    }

    /// The keys Rspamd signs with: the active ones, in file order.
    pub(crate) fn signing_keys(&self) -> impl Iterator<Item = &Dkim> {
        self.dkim.iter().filter(|k| k.signs())
    }

    /// The keys in DNS and on the mail host: every one not retired.
    pub(crate) fn deployed_keys(&self) -> impl Iterator<Item = &Dkim> {
        self.dkim.iter().filter(|k| k.deployed())
    }
}

/// A domain's mailboxes, sorted by address, each address once, looked up
/// by binary search. Built once from a sorted list: no map grown by an
/// insert per mailbox, and no second copy of every address as a map key (a
/// million mailboxes are a tenth of the model's memory less).
#[derive(Debug, Clone, Default)]
pub(crate) struct Mailboxes(Vec<Mailbox>);

impl Mailboxes {
    /// From mailboxes sorted by address, each address once.
    pub(crate) fn from_sorted(mailboxes: Vec<Mailbox>) -> Mailboxes {
        debug_assert!(
            mailboxes.windows(2).all(|w| w[0].address < w[1].address),
            "mailboxes sorted by address, each once"
        );
        Mailboxes(mailboxes)
    }

    pub(crate) fn get(&self, address: &str) -> Option<&Mailbox> {
        self.0
            .binary_search_by(|m| (*m.address).cmp(address))
            .ok()
            .map(|i| &self.0[i])
    }

    pub(crate) fn contains_key(&self, address: &str) -> bool {
        self.get(address).is_some()
    }

    /// In address order.
    pub(crate) fn values(&self) -> std::slice::Iter<'_, Mailbox> {
        self.0.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for Mailboxes {
    type Output = Mailbox;

    fn index(&self, address: &str) -> &Mailbox {
        self.get(address)
            .unwrap_or_else(|| panic!("no mailbox {address}"))
    }
}

/// Per-domain limits (already defaulted). The counts and quotas are checked by
/// validation; the send rates are emitted for Rspamd (`emit::rspamd::rate_limit_map`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_mailboxes: Option<u64>,
    pub(crate) max_aliases: Option<u64>,
    pub(crate) default_quota: u64,
    pub(crate) max_quota: Option<u64>,
    /// Outbound messages per logged-in mailbox per hour; `None`: no limit.
    pub(crate) send_per_hour: Option<u32>,
    /// Outbound messages per hour for the whole domain; `None`: no limit.
    pub(crate) domain_send_per_hour: Option<u32>,
    /// `external_forwards = false`: where it is written; aliases of the
    /// tenant may not forward off the platform. `None`: they may (default).
    pub(crate) external_forwards_off: Option<Location>,
}

/// A mailbox `local@domain`.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    /// Full address, lowercase, A-label domain.
    pub(crate) address: Box<str>,
    pub(crate) name: Option<Box<str>>,
    /// Dovecot `{SCHEME}hash`.
    pub(crate) password: Box<str>,
    pub(crate) quota_bytes: u64,
    pub(crate) state: MailboxState,
    pub(crate) protocols: Protocols,
    /// Other addresses it may send as, sorted, without duplicates.
    pub(crate) send_as: Box<[SendAs]>,
    /// Mailboxes of other tenants that may send as this address.
    pub(crate) allow_send_as: Box<[Grantee]>,
    /// Sorted by name.
    pub(crate) app_passwords: Box<[AppPassword]>,
    /// The name of the host it lives on, on a platform with `[[hosts]]`;
    /// `None` on a single-host platform (see [`host`]).
    pub(crate) home: Option<Box<str>>,
    pub(crate) origin: Location,
}

/// An alias: mail to `source` goes to every destination.
///
/// A mailbox's `forward` is one too, keyed by the mailbox's own address
/// (`of_mailbox`): its rows are alias rows like any other, and its
/// destinations are checked and ordered as an alias's are. When the mailbox
/// keeps a copy, its own address is one of the destinations: Postfix does not
/// expand an address that maps to itself again, it delivers it.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    /// `local@domain`, or `@domain` for the catch-all.
    pub(crate) source: String,
    /// The local part, `*` for the catch-all.
    pub(crate) local_part: String,
    pub(crate) domain: String,
    /// Full addresses, sorted, without duplicates.
    pub(crate) destinations: Vec<Destination>,
    /// Mailboxes of other tenants that may send as this address.
    pub(crate) allow_send_as: Vec<Grantee>,
    /// The `forward` of the mailbox `source`, not an `[[alias]]`.
    pub(crate) of_mailbox: bool,
    pub(crate) origin: Location,
}

impl Alias {
    pub(crate) fn is_catch_all(&self) -> bool {
        self.local_part == "*"
    }

    /// The destinations mail is forwarded to: all but the mailbox's own
    /// address, which keeps its copy (delivered, not forwarded again).
    pub(crate) fn forwards(&self) -> impl Iterator<Item = &Destination> {
        self.destinations
            .iter()
            .filter(move |d| !(self.of_mailbox && d.address == self.source))
    }
}

/// One destination of an alias.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// Full address, lowercase, A-label domain.
    pub(crate) address: String,
    pub(crate) origin: Location,
}

#[cfg(test)]
mod tests {
    use super::{Mailbox, Mailboxes};

    fn mailbox(address: &str) -> Mailbox {
        Mailbox {
            address: address.into(),
            name: None,
            password: "".into(),
            quota_bytes: 1,
            state: super::MailboxState::Active,
            protocols: super::Protocols::default(),
            send_as: Box::default(),
            allow_send_as: Box::default(),
            app_passwords: Box::default(),
            home: None,
            origin: crate::source::Location::new(crate::source::FileId(0), 0..0),
        }
    }

    #[test]
    fn mailboxes_are_found_by_address_in_address_order() {
        let addresses = ["a@x.example", "b@x.example", "bb@x.example", "c@x.example"];
        let mailboxes = Mailboxes::from_sorted(addresses.iter().map(|a| mailbox(a)).collect());
        assert_eq!(mailboxes.len(), 4);
        for address in addresses {
            assert_eq!(&*mailboxes[address].address, address);
            assert!(mailboxes.contains_key(address));
        }
        for missing in ["", "a@x", "ba@x.example", "d@x.example", "@x.example"] {
            assert!(mailboxes.get(missing).is_none(), "{missing}");
        }
        let order: Vec<&str> = mailboxes.values().map(|m| &*m.address).collect();
        assert_eq!(order, addresses);
        assert!(Mailboxes::default().is_empty());
    }
}
