//! The rows the model declares, seen per domain: how many there are, and a
//! digest of them.
//!
//! The digest is what `mailops_domain_state` records for a domain when apply
//! writes it. A later plan compares the recorded digest with the digest of
//! the domain's desired rows: equal (and nobody edited the domain since, see
//! `live`) means the domain's live rows are already what the files ask for,
//! and none of them needs to be read. So the digests are computed for every
//! domain on every plan — from the model, without building rows, on every
//! core — while rows are built only for the domains that are diffed.

use std::collections::{BTreeMap, BTreeSet};

use crate::db::connection::DbError;
use crate::db::rows::{
    AliasRow, AppPasswordRow, DomainRow, Fields, GrantRow, HostRow, RelayRecipientRow, RelayRow,
    Rows, UserColumns, UserRow, domain_of, quota_column,
};
use crate::model::{Domain, Model, Platform, TenantState};
use crate::parallel;

/// What one domain of the model asks of the routing tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DesiredDomain {
    /// The tenant's state, the `state` column of its `virtual_domains` row
    /// (domain rows are always compared, so the digest leaves it out).
    pub(crate) state: TenantState,
    /// `sha256:<hex>` of the domain's rows (`digest`).
    pub(crate) digest: String,
    /// Rows of the domain's mailboxes: in virtual_users, virtual_app_passwords
    /// and virtual_sender_grants, and of its relay: relay_domains and
    /// relay_recipients (one tally covers the five, see `live`).
    pub(crate) users: i64,
    /// Rows in virtual_aliases (one per destination).
    pub(crate) aliases: i64,
}

/// Domains a compile holds only as summaries, not in its model: after an
/// incremental compile, those of the tenant files it did not parse (their
/// summaries come from the compile cache). Their domains are built again
/// only when their rows are diffed.
pub(crate) trait Summarised: Sync {
    /// Every such domain.
    fn summaries(&self) -> Vec<Summary<'_>>;
    /// Build these domains again; fails when one of their files is not the
    /// file summarised any more.
    fn materialise(&self, domains: &BTreeSet<&str>) -> Result<Vec<Domain>, String>;
}

/// What a summarised domain asks of the routing tables.
pub(crate) struct Summary<'a> {
    pub(crate) domain: &'a str,
    pub(crate) desired: DesiredDomain,
    /// Its alias rows (source, destination) whose destination is in another domain.
    pub(crate) foreign: &'a [(String, String)],
}

/// Every domain of the model, by name.
pub(crate) struct Desired<'m> {
    model: &'m Model,
    /// The domains the compile holds only as summaries.
    known: Option<&'m dyn Summarised>,
    pub(crate) domains: BTreeMap<&'m str, DesiredDomain>,
}

/// Digests being computed on other threads (`in_background`).
pub(crate) struct Pending<'scope, 'm>(std::thread::ScopedJoinHandle<'scope, Desired<'m>>);

impl<'m> Pending<'_, 'm> {
    /// Wait for the digests.
    pub(crate) fn wait(self) -> Desired<'m> {
        match self.0.join() {
            Ok(desired) => desired,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Run `work` while the model is digested on other threads: the database
/// answers its first queries (the bookkeeping and the row counts, which do
/// not depend on the model) in the meantime.
pub(crate) fn in_background<'m, R>(
    model: &'m Model,
    known: Option<&'m dyn Summarised>,
    work: impl for<'scope> FnOnce(Pending<'scope, 'm>) -> R,
) -> R {
    std::thread::scope(|scope| {
        work(Pending(
            scope.spawn(move || Desired::with_known(model, known)),
        ))
    })
}

impl<'m> Desired<'m> {
    #[cfg(test)]
    pub(crate) fn new(model: &'m Model) -> Desired<'m> {
        Desired::with_known(model, None)
    }

    /// The model's domains, and those an incremental compile knows.
    pub(crate) fn with_known(model: &'m Model, known: Option<&'m dyn Summarised>) -> Desired<'m> {
        let domains: Vec<&Domain> = model.domains.values().collect();
        let parts = parallel::map_chunks(&domains, |chunk| {
            chunk
                .iter()
                .flat_map(|domain| {
                    std::iter::once((domain.name.as_str(), summarise(domain))).chain(
                        domain
                            .alias_domains
                            .iter()
                            .map(|a| (a.name.as_str(), alias_domain_summary(&a.name, domain))),
                    )
                })
                .collect::<Vec<_>>()
        });
        let mut all: BTreeMap<&str, DesiredDomain> = parts.into_iter().flatten().collect();
        if let Some(known) = known {
            for summary in known.summaries() {
                all.insert(summary.domain, summary.desired);
            }
        }
        Desired {
            model,
            known,
            domains: all,
        }
    }

    /// The rows to diff: every domain name and every host (both are few and
    /// always compared), and the mailbox and alias rows of the domains in `only`
    /// (of every domain when `None`). Fails only when a tenant file that an
    /// incremental compile did not parse changed since.
    pub(crate) fn rows(&self, only: Option<&BTreeSet<String>>) -> Result<Rows, DbError> {
        let mut rows = Rows {
            domains: self
                .domains
                .iter()
                .map(|(name, d)| {
                    let row = DomainRow {
                        name: name.to_string(),
                        state: d.state.name().to_string(),
                    };
                    (name.to_string(), row)
                })
                .collect(),
            hosts: host_rows(&self.model.platform),
            ..Rows::default()
        };
        let mut selected: Vec<&Domain> = match only {
            None => self.model.domains.values().collect(),
            Some(names) => names
                .iter()
                .filter_map(|name| self.model.domains.get(name))
                .collect(),
        };
        // Domains of files the compile did not parse: build them again.
        let rebuilt = match self.known {
            Some(known) => {
                let wanted: BTreeSet<&str> = self
                    .domains
                    .keys()
                    .copied()
                    .filter(|name| !self.model.domains.contains_key(*name))
                    .filter(|name| !self.model.alias_domains.contains_key(*name))
                    .filter(|name| only.is_none_or(|only| only.contains(*name)))
                    .collect();
                if wanted.is_empty() {
                    Vec::new()
                } else {
                    known.materialise(&wanted).map_err(DbError::Operational)?
                }
            }
            None => Vec::new(),
        };
        selected.extend(&rebuilt);
        for domain in selected {
            for mailbox in domain.mailboxes.values() {
                rows.users.insert(
                    mailbox.address.to_string(),
                    UserRow {
                        email: mailbox.address.to_string(),
                        domain: domain.name.clone(),
                        password: mailbox.password.to_string(),
                        quota_bytes: quota_column(mailbox.quota_bytes),
                        name: mailbox.name.as_deref().map(str::to_string),
                        state: mailbox.state.name().to_string(),
                        protocols: mailbox.protocols.column().to_string(),
                        home: mailbox.home.as_deref().map(str::to_string),
                    },
                );
            }
            for row in app_password_rows(domain) {
                rows.app_passwords
                    .insert((row.email.clone(), row.name.clone()), row);
            }
            for row in grant_rows(domain) {
                rows.grants
                    .insert((row.sender.clone(), row.login.clone()), row);
            }
            let (relay, recipients) = relay_rows(domain);
            if let Some(row) = relay {
                rows.relays.insert(row.domain.clone(), row);
            }
            for row in recipients {
                rows.relay_recipients.insert(row.address.clone(), row);
            }
            for alias in domain.aliases.values() {
                for destination in &alias.destinations {
                    let key = (alias.source.clone(), destination.address.clone());
                    rows.aliases.insert(
                        key,
                        AliasRow {
                            source: alias.source.clone(),
                            destination: destination.address.clone(),
                            domain: domain.name.clone(),
                        },
                    );
                }
            }
            for (source, destination) in domain.alias_domain_rows() {
                rows.aliases.insert(
                    (source.clone(), destination.clone()),
                    AliasRow {
                        source,
                        destination,
                        domain: domain.name.clone(),
                    },
                );
            }
        }
        Ok(rows)
    }
}

impl Desired<'_> {
    /// The alias rows the files keep that forward into one of `going`
    /// (domains the plan deletes): (source, destination), sorted. After the
    /// apply they forward off the platform, to a domain it no longer hosts.
    pub(crate) fn forwards_into(&self, going: &[DomainRow]) -> Vec<(String, String)> {
        if going.is_empty() {
            return Vec::new();
        }
        let going: BTreeSet<&str> = going.iter().map(|d| d.name.as_str()).collect();
        let into = |destination: &str| going.contains(domain_of(destination));
        let mut forwards: BTreeSet<(String, String)> = BTreeSet::new();
        for domain in self.model.domains.values() {
            for alias in domain.aliases.values() {
                for destination in &alias.destinations {
                    if into(&destination.address) {
                        forwards.insert((alias.source.clone(), destination.address.clone()));
                    }
                }
            }
        }
        if let Some(known) = self.known {
            for summary in known.summaries() {
                forwards.extend(
                    summary
                        .foreign
                        .iter()
                        .filter(|(_, destination)| into(destination))
                        .cloned(),
                );
            }
        }
        forwards.into_iter().collect()
    }
}

/// The `mail_hosts` rows of the platform, by name: its `[[hosts]]`, none
/// for a single-host platform (its one host is implicit). As the generated
/// SQL writes them (`emit::sql`).
pub(crate) fn host_rows(platform: &Platform) -> BTreeMap<String, HostRow> {
    if !platform.hosts_declared {
        return BTreeMap::new();
    }
    platform
        .hosts
        .iter()
        .map(|host| {
            let row = HostRow {
                name: host.name.clone(),
                hostname: host.hostname.clone(),
                private_ip: host.private_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            };
            (row.name.clone(), row)
        })
        .collect()
}

/// A domain's `virtual_app_passwords` rows, sorted by (email, name).
pub(crate) fn app_password_rows(domain: &Domain) -> Vec<AppPasswordRow> {
    let mut rows = Vec::new();
    for mailbox in domain.mailboxes.values() {
        for app in &mailbox.app_passwords {
            rows.push(AppPasswordRow {
                email: mailbox.address.to_string(),
                name: app.name.clone(),
                domain: domain.name.clone(),
                password: app.password.clone(),
                protocols: app.protocols.column().to_string(),
            });
        }
    }
    rows
}

/// A domain's `virtual_sender_grants` rows, sorted by (sender, login), each
/// once: its mailboxes' `send_as` addresses in the domain, and the mailboxes
/// of other tenants its mailboxes and aliases list in `allow_send_as`.
pub(crate) fn grant_rows(domain: &Domain) -> Vec<GrantRow> {
    domain
        .grants()
        .into_iter()
        .map(|(sender, login)| GrantRow {
            sender: sender.to_string(),
            login: login.to_string(),
            domain: domain.name.clone(),
        })
        .collect()
}

/// A domain's `relay_domains` row and `relay_recipients` rows (sorted by
/// address): none unless it is a relay tenant.
pub(crate) fn relay_rows(domain: &Domain) -> (Option<RelayRow>, Vec<RelayRecipientRow>) {
    let Some(relay) = &domain.relay else {
        return (None, Vec::new());
    };
    let row = RelayRow {
        domain: domain.name.clone(),
        nexthop: relay.nexthop.clone(),
        backup_mx: relay.backup_mx,
    };
    let recipients = relay
        .recipients
        .iter()
        .map(|address| RelayRecipientRow {
            address: address.clone(),
            domain: domain.name.clone(),
        })
        .collect();
    (Some(row), recipients)
}

pub(crate) fn summarise(domain: &Domain) -> DesiredDomain {
    let relay_rows = domain.relay.as_ref().map_or(0, |r| 1 + r.recipients.len());
    let extras: usize = domain
        .mailboxes
        .values()
        .map(|m| m.app_passwords.len())
        .sum::<usize>()
        + grant_rows(domain).len()
        + relay_rows;
    DesiredDomain {
        state: domain.state,
        digest: digest(domain),
        users: (domain.mailboxes.len() + extras) as i64,
        aliases: domain
            .aliases
            .values()
            .map(|a| a.destinations.len() as i64)
            .sum::<i64>()
            + domain.alias_domain_rows().len() as i64,
    }
}

/// What an alias domain asks of the routing tables: its `virtual_domains`
/// row, in its tenant's state, and no rows of its own.
fn alias_domain_summary(name: &str, tenant: &Domain) -> DesiredDomain {
    let mut fields = Fields::default();
    fields.field("mailops-domain-rows/2");
    fields.field(name);
    DesiredDomain {
        state: tenant.state,
        digest: fields.finish(),
        users: 0,
        aliases: 0,
    }
}

/// The digest of a domain's rows: its name, then every mailbox row and every
/// alias row in key order (the model's maps are sorted by the same keys as
/// `Rows`), each column hashed as the live fingerprint hashes it.
fn digest(domain: &Domain) -> String {
    let mut fields = Fields::default();
    fields.field("mailops-domain-rows/2");
    fields.field(&domain.name);
    for mailbox in domain.mailboxes.values() {
        fields.user_columns(UserColumns {
            email: &mailbox.address,
            domain: &domain.name,
            password: &mailbox.password,
            quota_bytes: quota_column(mailbox.quota_bytes),
            name: mailbox.name.as_deref(),
            state: mailbox.state.name(),
            protocols: mailbox.protocols.column(),
            home: mailbox.home.as_deref(),
        });
    }
    if domain.alias_domains.is_empty() {
        for alias in domain.aliases.values() {
            for destination in &alias.destinations {
                fields.alias_columns(&alias.source, &destination.address, &domain.name);
            }
        }
    } else {
        for (source, destination) in domain.alias_rows() {
            fields.alias_columns(&source, &destination, &domain.name);
        }
    }
    for row in app_password_rows(domain) {
        fields.app_password(&row);
    }
    for row in grant_rows(domain) {
        fields.grant(&row);
    }
    let (relay, recipients) = relay_rows(domain);
    if let Some(row) = relay {
        fields.relay(&row);
    }
    for row in recipients {
        fields.relay_recipient(&row);
    }
    fields.finish()
}

/// The digest of one domain's rows as `Rows` holds them: equal to `digest`
/// of the model domain they were built from.
#[cfg(test)]
pub(crate) fn digest_of_rows(domain: &str, rows: &Rows) -> String {
    let mut fields = Fields::default();
    fields.field("mailops-domain-rows/2");
    fields.field(domain);
    for user in rows.users.values().filter(|u| u.domain == domain) {
        fields.user(user);
    }
    for alias in rows.aliases.values().filter(|a| a.domain == domain) {
        fields.alias(alias);
    }
    for row in rows.app_passwords.values().filter(|r| r.domain == domain) {
        fields.app_password(row);
    }
    for row in rows.grants.values().filter(|r| r.domain == domain) {
        fields.grant(row);
    }
    if let Some(row) = rows.relays.get(domain) {
        fields.relay(row);
    }
    for row in rows
        .relay_recipients
        .values()
        .filter(|r| r.domain == domain)
    {
        fields.relay_recipient(row);
    }
    fields.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo::{compile, platform, tenant};

    fn model(mailboxes: usize, name: &str) -> Model {
        compile(
            &platform(""),
            &[
                (
                    "a.example",
                    tenant("a.example", "dkim", mailboxes, "A", name),
                ),
                ("b.example", tenant("b.example", "dkim", 2, "B", "Bee")),
            ],
        )
    }

    #[test]
    fn the_digest_is_the_digest_of_the_rows_built_from_the_model() {
        let model = model(3, "Ann");
        let desired = Desired::new(&model);
        let rows = desired.rows(None).unwrap();
        for (name, domain) in &desired.domains {
            assert_eq!(domain.digest, digest_of_rows(name, &rows), "{name}");
        }
        let a = &desired.domains["a.example"];
        assert_eq!(a.users, 3);
        // postmaster, abuse, and team to each of the three.
        assert_eq!(a.aliases, 5);
    }

    #[test]
    fn the_digest_follows_every_column_and_only_its_domain() {
        let summary = |mailboxes, name| -> BTreeMap<String, DesiredDomain> {
            let model = model(mailboxes, name);
            Desired::new(&model)
                .domains
                .into_iter()
                .map(|(name, d)| (name.to_string(), d))
                .collect()
        };
        let base = summary(3, "Ann");
        let renamed = summary(3, "Anne");
        let grown = summary(4, "Ann");
        assert_ne!(base["a.example"].digest, renamed["a.example"].digest);
        assert_ne!(base["a.example"].digest, grown["a.example"].digest);
        assert_eq!(base["b.example"], renamed["b.example"]);
        assert_ne!(base["a.example"].digest, base["b.example"].digest);
    }

    /// A platform of two hosts, `mx` (the primary) and `mx2`; a.example is
    /// homed on mx2, b.example on the primary.
    fn two_hosts() -> Model {
        let platform = format!(
            "{}\n[[hosts]]\nname = \"mx\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\
             \n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\n",
            platform("")
        );
        compile(
            &platform,
            &[
                (
                    "a.example",
                    format!(
                        "home = \"mx2\"\n{}",
                        tenant("a.example", "dkim", 2, "A", "Ann")
                    ),
                ),
                ("b.example", tenant("b.example", "dkim", 2, "B", "Bee")),
            ],
        )
    }

    #[test]
    fn homes_and_hosts_are_rows_and_the_digest_follows_the_home() {
        let hosted = two_hosts();
        let desired = Desired::new(&hosted);
        let rows = desired.rows(None).unwrap();
        for (name, domain) in &desired.domains {
            assert_eq!(domain.digest, digest_of_rows(name, &rows), "{name}");
        }
        let homes: Vec<(&str, Option<&str>)> = rows
            .users
            .values()
            .map(|u| (u.email.as_str(), u.home.as_deref()))
            .collect();
        assert_eq!(
            homes,
            [
                ("user0@a.example", Some("mx2")),
                ("user0@b.example", Some("mx")),
                ("user1@a.example", Some("mx2")),
                ("user1@b.example", Some("mx")),
            ]
        );
        let hosts: Vec<(&str, &str, &str)> = rows
            .hosts
            .values()
            .map(|h| (h.name.as_str(), h.hostname.as_str(), h.private_ip.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("mx", "mx.webhizzy.in", "10.20.1.11"),
                ("mx2", "mx2.webhizzy.in", "10.20.1.12")
            ]
        );
        // Hosts are platform rows: asked for no domain, they are still there.
        let only = BTreeSet::new();
        assert_eq!(desired.rows(Some(&only)).unwrap().hosts.len(), 2);
        // A home moves the digest of its domain; one platform without
        // [[hosts]] has no host rows and no home.
        let single = model(2, "Ann");
        let single_desired = Desired::new(&single);
        let single_rows = single_desired.rows(None).unwrap();
        assert!(single_rows.hosts.is_empty());
        assert!(single_rows.users.values().all(|u| u.home.is_none()));
        assert_ne!(
            desired.domains["a.example"].digest,
            single_desired.domains["a.example"].digest
        );
    }

    #[test]
    fn rows_are_built_only_for_the_domains_asked_for() {
        let model = model(3, "Ann");
        let desired = Desired::new(&model);
        let only: BTreeSet<String> = ["b.example".to_string()].into();
        let rows = desired.rows(Some(&only)).unwrap();
        assert_eq!(rows.domains.len(), 2, "every domain name is compared");
        assert!(rows.users.values().all(|u| u.domain == "b.example"));
        assert_eq!(rows.users.len(), 2);
    }
}
