//! The rows of the three routing tables, keyed by their natural keys: as the
//! model declares them (desired) and as the database holds them (live).
//!
//! Rows name their domain by its name, not its id: ids differ between
//! databases and mean nothing to a reviewer. The live rows' fingerprint is what
//! a saved plan checks before it is applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::connection::{Conn, DbError, failed, on_conn};
use crate::model::Model;

/// A `virtual_users` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRow {
    pub(crate) email: String,
    /// The domain the row's `domain_id` points at.
    pub(crate) domain: String,
    pub(crate) password: String,
    pub(crate) quota_bytes: i64,
    pub(crate) name: Option<String>,
}

/// A `virtual_aliases` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasRow {
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) domain: String,
}

/// A `virtual_users` row as read: email, domain name (if its id resolves),
/// password, quota, name.
type LiveUser = (String, Option<String>, String, i64, Option<String>);

/// All rows of the three tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rows {
    pub(crate) domains: BTreeSet<String>,
    pub(crate) users: BTreeMap<String, UserRow>,
    pub(crate) aliases: BTreeMap<(String, String), AliasRow>,
}

impl Rows {
    /// The rows the model declares.
    pub(crate) fn desired(model: &Model) -> Rows {
        let mut rows = Rows::default();
        for domain in model.domains.values() {
            rows.domains.insert(domain.name.clone());
            for mailbox in domain.mailboxes.values() {
                rows.users.insert(
                    mailbox.address.clone(),
                    UserRow {
                        email: mailbox.address.clone(),
                        domain: domain.name.clone(),
                        password: mailbox.password.clone(),
                        quota_bytes: i64::try_from(mailbox.quota_bytes).unwrap_or(i64::MAX),
                        name: mailbox.name.clone(),
                    },
                );
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
        }
        rows
    }

    /// Read every row of the three tables.
    pub(crate) async fn live(conn: &mut Conn) -> Result<Rows, DbError> {
        let mut rows = Rows::default();
        let domains: Vec<String> = on_conn!(conn, c => sqlx::query_scalar("SELECT name FROM virtual_domains")
            .fetch_all(&mut *c)
            .await
            .map_err(failed("reading virtual_domains")))?;
        rows.domains.extend(domains);
        // A row whose domain_id points nowhere (possible only with foreign keys
        // off) shows with an empty domain, and is corrected by an update.
        let users: Vec<LiveUser> = on_conn!(conn, c => sqlx::query_as(
            "SELECT u.email, d.name, u.password, u.quota_bytes, u.name \
             FROM virtual_users u LEFT JOIN virtual_domains d ON d.id = u.domain_id",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading virtual_users")))?;
        // Collected at once: BTreeMap builds in bulk from an iterator.
        rows.users = users
            .into_iter()
            .map(|(email, domain, password, quota_bytes, name)| {
                let row = UserRow {
                    email: email.clone(),
                    domain: domain.unwrap_or_default(),
                    password,
                    quota_bytes,
                    name,
                };
                (email, row)
            })
            .collect();
        let aliases: Vec<(String, String, Option<String>)> = on_conn!(conn, c => sqlx::query_as(
            "SELECT a.source, a.destination, d.name \
             FROM virtual_aliases a LEFT JOIN virtual_domains d ON d.id = a.domain_id",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading virtual_aliases")))?;
        rows.aliases = aliases
            .into_iter()
            .map(|(source, destination, domain)| {
                let key = (source.clone(), destination.clone());
                let row = AliasRow {
                    source,
                    destination,
                    domain: domain.unwrap_or_default(),
                };
                (key, row)
            })
            .collect();
        Ok(rows)
    }

    /// `sha256:<hex>` over every row in key order, each field length-prefixed
    /// so that no two different sets of rows hash the same text.
    pub(crate) fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        let mut field = |value: &str| {
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value.as_bytes());
        };
        for name in &self.domains {
            field("d");
            field(name);
        }
        for user in self.users.values() {
            field("u");
            field(&user.email);
            field(&user.domain);
            field(&user.password);
            field(&user.quota_bytes.to_string());
            match &user.name {
                Some(name) => {
                    field("some");
                    field(name);
                }
                None => field("none"),
            }
        }
        for alias in self.aliases.values() {
            field("a");
            field(&alias.source);
            field(&alias.destination);
            field(&alias.domain);
        }
        format!("sha256:{}", hex(&hash.finalize()))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The domain part of an address or a catch-all source (`@domain`).
pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, name: Option<&str>) -> UserRow {
        UserRow {
            email: email.into(),
            domain: domain_of(email).into(),
            password: "{ARGON2ID}x".into(),
            quota_bytes: 1,
            name: name.map(Into::into),
        }
    }

    #[test]
    fn fingerprint_sees_every_column_and_no_field_boundary_games() {
        let mut a = Rows::default();
        a.users.insert("a@x".into(), user("a@x", Some("b")));
        let base = a.fingerprint();
        assert_eq!(base, a.clone().fingerprint());
        let mut b = a.clone();
        b.users.get_mut("a@x").unwrap().name = None;
        assert_ne!(base, b.fingerprint());
        let mut c = a.clone();
        c.users.get_mut("a@x").unwrap().quota_bytes = 2;
        assert_ne!(base, c.fingerprint());
        let mut d = Rows::default();
        d.domains.insert("ab".into());
        let mut e = Rows::default();
        e.domains.insert("a".into());
        e.domains.insert("b".into());
        assert_ne!(d.fingerprint(), e.fingerprint());
    }

    #[test]
    fn catch_all_sources_belong_to_their_domain() {
        assert_eq!(domain_of("@acme.example"), "acme.example");
        assert_eq!(domain_of("info@acme.example"), "acme.example");
    }
}
