//! The rows of the three routing tables, keyed by their natural keys: as the
//! model declares them (desired) and as the database holds them (live).
//!
//! Rows name their domain by its name, not its id: ids differ between
//! databases and mean nothing to a reviewer. `Fields` hashes rows for the
//! digests `desired` records and the fingerprint `live` gives a saved plan.

use std::collections::BTreeMap;

/// Rows per multi-row statement (of apply's writes and live's reads).
pub(crate) const CHUNK: usize = 1000;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A `virtual_domains` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DomainRow {
    pub(crate) name: String,
    /// `active`, `suspended` or `disabled` (migration 0005).
    pub(crate) state: String,
}

#[cfg(test)]
impl DomainRow {
    /// An active domain.
    pub(crate) fn active(name: &str) -> DomainRow {
        DomainRow {
            name: name.to_string(),
            state: crate::model::TenantState::Active.name().to_string(),
        }
    }
}

/// A `virtual_users` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRow {
    pub(crate) email: String,
    /// The domain the row's `domain_id` points at.
    pub(crate) domain: String,
    pub(crate) password: String,
    pub(crate) quota_bytes: i64,
    pub(crate) name: Option<String>,
    /// `active`, `locked` or `disabled` (migration 0004); a plan file saved
    /// before it has none: the column's default.
    #[serde(default = "default_state")]
    pub(crate) state: String,
    /// The logins it may use, `imap,pop3,smtp` (migration 0004).
    #[serde(default = "default_protocols")]
    pub(crate) protocols: String,
    /// The name of its home host (migration 0008); `None` on a single-host
    /// platform ("the only host"). Left out of a saved plan when `None`, so
    /// that a single-host plan and its hash read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) home: Option<String>,
}

fn default_state() -> String {
    crate::model::MailboxState::Active.name().to_string()
}

fn default_protocols() -> String {
    crate::model::Protocols::default().column().to_string()
}

/// The columns of a `virtual_users` row, borrowed (from a `UserRow` or
/// from the model's mailbox).
pub(crate) struct UserColumns<'a> {
    pub(crate) email: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) password: &'a str,
    pub(crate) quota_bytes: i64,
    pub(crate) name: Option<&'a str>,
    pub(crate) state: &'a str,
    pub(crate) protocols: &'a str,
    pub(crate) home: Option<&'a str>,
}

/// A `virtual_aliases` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasRow {
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) domain: String,
}

/// A `virtual_app_passwords` row (migration 0004): one more password of a
/// mailbox, for the logins in `protocols`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppPasswordRow {
    /// The mailbox it logs in as.
    pub(crate) email: String,
    pub(crate) name: String,
    /// The mailbox's domain.
    pub(crate) domain: String,
    pub(crate) password: String,
    pub(crate) protocols: String,
}

/// A `virtual_sender_grants` row (migration 0004): the mailbox `login` may
/// send as `sender`. It belongs to the sender's domain, whose file grants it
/// (`send_as` of a mailbox of that domain, or `allow_send_as` for a mailbox
/// of another tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GrantRow {
    pub(crate) sender: String,
    pub(crate) login: String,
    pub(crate) domain: String,
}

/// A `relay_domains` row (migration 0006): the domain is relayed to the
/// client's server `nexthop` (Postfix next-hop syntax), as its only MX or as
/// its backup MX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RelayRow {
    pub(crate) domain: String,
    pub(crate) nexthop: String,
    pub(crate) backup_mx: bool,
}

/// A `relay_recipients` row (migration 0006): an address of a relay domain
/// that is accepted (`@domain`: any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RelayRecipientRow {
    pub(crate) address: String,
    pub(crate) domain: String,
}

/// A `mail_hosts` row (migration 0008): a host of the platform's `[[hosts]]`.
/// Platform-level: it belongs to no domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HostRow {
    pub(crate) name: String,
    pub(crate) hostname: String,
    pub(crate) private_ip: String,
}

/// All rows of the routing tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rows {
    pub(crate) domains: BTreeMap<String, DomainRow>,
    pub(crate) users: BTreeMap<String, UserRow>,
    pub(crate) aliases: BTreeMap<(String, String), AliasRow>,
    /// Keyed by (email, name).
    pub(crate) app_passwords: BTreeMap<(String, String), AppPasswordRow>,
    /// Keyed by (sender, login).
    pub(crate) grants: BTreeMap<(String, String), GrantRow>,
    /// Keyed by domain.
    pub(crate) relays: BTreeMap<String, RelayRow>,
    /// Keyed by address.
    pub(crate) relay_recipients: BTreeMap<String, RelayRecipientRow>,
    /// Keyed by name; none on a single-host platform.
    pub(crate) hosts: BTreeMap<String, HostRow>,
}

/// A SHA-256 of a sequence of fields, each prefixed with its length so that
/// no two different sequences hash the same bytes. Fields are gathered in a
/// buffer and hashed in blocks: a million rows are seven million small fields.
#[derive(Default)]
pub(crate) struct Fields {
    hash: Sha256,
    buffer: Vec<u8>,
}

/// Bytes gathered before they are hashed.
const BLOCK: usize = 16 * 1024;

impl Fields {
    pub(crate) fn field(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.buffer
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.buffer.extend_from_slice(value);
        if self.buffer.len() >= BLOCK {
            self.hash.update(&self.buffer);
            self.buffer.clear();
        }
    }

    pub(crate) fn number(&mut self, value: i64) {
        self.bytes(&value.to_le_bytes());
    }

    pub(crate) fn optional(&mut self, value: Option<&str>) {
        match value {
            Some(value) => {
                self.field("some");
                self.field(value);
            }
            None => self.field("none"),
        }
    }

    /// Every column of a `virtual_domains` row.
    pub(crate) fn domain(&mut self, domain: &DomainRow) {
        self.field("d");
        self.field(&domain.name);
        self.field(&domain.state);
    }

    /// Every column of a `virtual_users` row.
    pub(crate) fn user(&mut self, user: &UserRow) {
        self.user_columns(UserColumns {
            email: &user.email,
            domain: &user.domain,
            password: &user.password,
            quota_bytes: user.quota_bytes,
            name: user.name.as_deref(),
            state: &user.state,
            protocols: &user.protocols,
            home: user.home.as_deref(),
        });
    }

    /// A `virtual_users` row from its columns (the model's, without building a `UserRow`).
    ///
    /// A home is hashed only when there is one, after a field no row marker
    /// is: a row without a home (every row of a single-host platform)
    /// hashes exactly as before migration 0008, so that the digests apply
    /// recorded then still match.
    pub(crate) fn user_columns(&mut self, user: UserColumns<'_>) {
        self.field("u");
        self.field(user.email);
        self.field(user.domain);
        self.field(user.password);
        self.number(user.quota_bytes);
        self.optional(user.name);
        self.field(user.state);
        self.field(user.protocols);
        if let Some(home) = user.home {
            self.field("home");
            self.field(home);
        }
    }

    /// Every column of a `mail_hosts` row.
    pub(crate) fn host(&mut self, row: &HostRow) {
        self.field("h");
        self.field(&row.name);
        self.field(&row.hostname);
        self.field(&row.private_ip);
    }

    /// Every column of a `virtual_aliases` row.
    pub(crate) fn alias(&mut self, alias: &AliasRow) {
        self.alias_columns(&alias.source, &alias.destination, &alias.domain);
    }

    pub(crate) fn alias_columns(&mut self, source: &str, destination: &str, domain: &str) {
        self.field("a");
        self.field(source);
        self.field(destination);
        self.field(domain);
    }

    /// Every column of a `virtual_app_passwords` row.
    pub(crate) fn app_password(&mut self, row: &AppPasswordRow) {
        self.field("p");
        self.field(&row.email);
        self.field(&row.name);
        self.field(&row.domain);
        self.field(&row.password);
        self.field(&row.protocols);
    }

    /// Every column of a `virtual_sender_grants` row.
    pub(crate) fn grant(&mut self, row: &GrantRow) {
        self.field("g");
        self.field(&row.sender);
        self.field(&row.login);
        self.field(&row.domain);
    }

    /// Every column of a `relay_domains` row.
    pub(crate) fn relay(&mut self, row: &RelayRow) {
        self.field("r");
        self.field(&row.domain);
        self.field(&row.nexthop);
        self.number(i64::from(row.backup_mx));
    }

    /// Every column of a `relay_recipients` row.
    pub(crate) fn relay_recipient(&mut self, row: &RelayRecipientRow) {
        self.field("rr");
        self.field(&row.address);
        self.field(&row.domain);
    }

    /// `sha256:<hex>`.
    pub(crate) fn finish(mut self) -> String {
        self.hash.update(&self.buffer);
        format!("sha256:{}", hex(&self.hash.finalize()))
    }
}

/// A quota as the `quota_bytes` column holds it.
pub(crate) fn quota_column(quota_bytes: u64) -> i64 {
    i64::try_from(quota_bytes).unwrap_or(i64::MAX)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
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
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        }
    }

    fn hash_of(users: &[UserRow]) -> String {
        let mut fields = Fields::default();
        for u in users {
            fields.user(u);
        }
        fields.finish()
    }

    #[test]
    fn fields_see_every_column_and_no_field_boundary_games() {
        let a = user("a@x", Some("b"));
        let base = hash_of(std::slice::from_ref(&a));
        assert_eq!(base, hash_of(&[user("a@x", Some("b"))]));
        let mut b = a.clone();
        b.name = None;
        assert_ne!(base, hash_of(&[b]));
        let mut c = a.clone();
        c.quota_bytes = 2;
        assert_ne!(base, hash_of(&[c]));
        let mut locked = a.clone();
        locked.state = "locked".into();
        assert_ne!(base, hash_of(&[locked]));
        let mut imap_only = a.clone();
        imap_only.protocols = "imap".into();
        assert_ne!(base, hash_of(&[imap_only]));
        let mut homed = a.clone();
        homed.home = Some("mx2".into());
        let on_mx2 = hash_of(std::slice::from_ref(&homed));
        assert_ne!(base, on_mx2);
        homed.home = Some("mx3".into());
        assert_ne!(on_mx2, hash_of(&[homed]));
        let mut d = Fields::default();
        d.field("ab");
        let mut e = Fields::default();
        e.field("a");
        e.field("b");
        assert_ne!(d.finish(), e.finish());
    }

    /// A row without a home hashes as every row did before migration 0008:
    /// the digests recorded then still match.
    #[test]
    fn a_row_without_a_home_hashes_as_before_homes() {
        let a = user("a@x", Some("b"));
        let mut before = Fields::default();
        for field in ["u", "a@x", "x", "{ARGON2ID}x"] {
            before.field(field);
        }
        before.number(1);
        before.optional(Some("b"));
        before.field("active");
        before.field("imap,pop3,smtp");
        assert_eq!(hash_of(&[a]), before.finish());
    }

    #[test]
    fn fields_hash_the_same_whatever_the_blocks() {
        let mut fields = Fields::default();
        let mut plain = Sha256::new();
        for i in 0..5000u64 {
            let value = format!("value {i}");
            fields.field(&value);
            plain.update((value.len() as u64).to_le_bytes());
            plain.update(value.as_bytes());
        }
        assert_eq!(
            fields.finish(),
            format!("sha256:{}", hex(&plain.finalize()))
        );
    }

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn catch_all_sources_belong_to_their_domain() {
        assert_eq!(domain_of("@acme.example"), "acme.example");
        assert_eq!(domain_of("info@acme.example"), "acme.example");
    }
}
