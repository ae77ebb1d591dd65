//! The platform with every default applied.

use crate::model::records::Dmarc;

pub(crate) const DEFAULT_SCHEMES: [&str; 3] = ["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT"];

#[derive(Debug, Clone)]
pub(crate) struct Platform {
    /// `mx.webhizzy.in`.
    pub(crate) hostname: String,
    /// The zone of the host's A record (`webhizzy.in`).
    pub(crate) zone: String,
    pub(crate) zone_id: Option<String>,
    pub(crate) admin_email: String,
    /// `[mail_host] pop3`: Dovecot serves POP3 over TLS on 995.
    pub(crate) pop3: bool,
    /// `[mail_host] dnssec`: Route53 signs the platform zone.
    pub(crate) dnssec: bool,
    /// `[mail_host] tlsa`: the TLSA records of `_25._tcp.<hostname>`, each
    /// `<usage> <selector> <matching type> <lowercase hex>`, in file order.
    pub(crate) tlsa: Vec<String>,
    /// `[mail_host] inbound_tls = "require"`: port 25 refuses mail without STARTTLS.
    pub(crate) inbound_tls_required: bool,
    /// `[mail_host] srs`, `srs_domain`: the domain of rewritten envelope
    /// senders, or `None` when SRS is off.
    pub(crate) srs_domain: Option<String>,
    /// `[mail_host] dmarc_report_domains` and the host's zone: where DMARC
    /// report authorization records are published (sorted, each once).
    pub(crate) dmarc_report_domains: Vec<String>,
    pub(crate) aws: Aws,
    pub(crate) database: Database,
    pub(crate) defaults: Defaults,
    pub(crate) paths: Paths,
    pub(crate) tls: Tls,
    pub(crate) secrets: Secrets,
    /// Every mail host, sorted by name: the `[[hosts]]` entries, or the one
    /// implicit host (see [`super::host`]).
    pub(crate) hosts: Vec<super::Host>,
    /// Whether the platform file declares `[[hosts]]`: mailboxes then have a
    /// home, and Terraform makes the private network.
    pub(crate) hosts_declared: bool,
    /// The name of the home of mailboxes that name none (`[defaults] home`,
    /// else the primary host's).
    pub(crate) default_home: String,
    /// `[aws] private_cidr`: the hosts' private network.
    pub(crate) private_cidr: String,
}

impl Platform {
    /// The MX values of a hosted domain: one per inbound host.
    pub(crate) fn mx_values(&self) -> Vec<String> {
        super::host::mx_values(&self.hosts)
    }

    /// What tenants' DNS records need of the hosts.
    pub(crate) fn mail_hosts(&self) -> super::host::MailHosts<'_> {
        super::host::MailHosts {
            primary: &self.hostname,
            all: &self.hosts,
        }
    }

    /// Every host's hostname, the primary's first.
    pub(crate) fn host_names(&self) -> Vec<String> {
        let mut names = vec![self.hostname.clone()];
        names.extend(
            self.hosts
                .iter()
                .filter(|h| h.hostname != self.hostname)
                .map(|h| h.hostname.clone()),
        );
        names
    }

    /// The host named `name`.
    pub(crate) fn host(&self, name: &str) -> Option<&super::Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Aws {
    pub(crate) region: String,
    pub(crate) instance_type: String,
    pub(crate) volume_size_gb: u32,
    pub(crate) admin_cidrs: Vec<String>,
    /// `[aws] dns_shards`: the number of Terraform roots of tenant DNS.
    pub(crate) dns_shards: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    Mysql,
    Sqlite,
}

impl Driver {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Driver::Mysql => "mysql",
            Driver::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub(crate) driver: Driver,
    /// Where plan/apply connect, if the platform file names it (no password).
    pub(crate) url: Option<String>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) name: String,
    pub(crate) user: String,
    /// SQLite database file on the mail host.
    pub(crate) path: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) dkim_selector: String,
    pub(crate) quota: u64,
    /// Over-quota grace, percent of the quota (Dovecot's `quota_grace`).
    pub(crate) quota_grace_percent: u8,
    pub(crate) ttl: u32,
    pub(crate) dmarc: Dmarc,
    pub(crate) password_schemes: Vec<String>,
    /// Accepted with a warning on every mailbox that uses one.
    pub(crate) legacy_password_schemes: Vec<String>,
    /// Outbound messages per mailbox per hour for tenants that set none.
    pub(crate) send_per_hour: Option<u32>,
    /// Outbound messages per tenant domain per hour for tenants that set none.
    pub(crate) domain_send_per_hour: Option<u32>,
    /// `[defaults] mta_sts` (default `testing`); `None` is `off`.
    pub(crate) mta_sts: Option<super::mta_sts::Mode>,
    /// `[defaults] tls_rpt` (default `mailto:<mail_host.admin_email>`).
    pub(crate) tls_rpt: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) vmail_root: String,
    pub(crate) dkim_key_dir: String,
    /// Local key store, relative to the mail repo.
    pub(crate) key_store: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Tls {
    pub(crate) cert: String,
    pub(crate) key: String,
}

/// The folder of the mail repo holding the age-encrypted DKIM private keys
/// (`<domain>.<selector>.key.age`) when the platform file has `[secrets]`:
/// `paths.key_store` is then this folder.
pub(crate) const ENCRYPTED_KEY_DIR: &str = "keys";

/// `[secrets]`: the age recipients DKIM private keys are encrypted to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    /// Whether the platform file has `[secrets]`: DKIM private keys then live
    /// encrypted in the repo (`keys/`), else in the plaintext key store.
    pub(crate) enabled: bool,
    /// The valid `age1…` recipients, each once, in file order.
    pub(crate) recipients: Vec<String>,
    /// Some recipient was refused (a diagnostic says which): nothing may be
    /// encrypted to the others alone.
    pub(crate) refused: bool,
}

impl Secrets {
    /// The recipients to encrypt to: `None` without `[secrets]`; an error
    /// (for the user) when the list has a problem the diagnostics name.
    pub(crate) fn to_encrypt_to(&self) -> Result<Option<&[String]>, String> {
        if !self.enabled {
            return Ok(None);
        }
        if self.refused || self.recipients.is_empty() {
            return Err("`[secrets] recipients` in mailops.toml has a problem; run `mailops validate` to see it, fix it, and try again".to_string());
        }
        Ok(Some(&self.recipients))
    }
}

/// `[aws] dns_shards` when the platform file does not say.
pub(crate) const DEFAULT_DNS_SHARDS: u16 = 16;

/// The Terraform root (shard) holding a tenant's Route53 records: the first
/// eight octets of the SHA-256 of its domain (the A-label), big-endian,
/// modulo the number of shards. It depends on the domain and the count only,
/// so a tenant stays in its root whatever other tenants come and go.
pub(crate) fn dns_shard(domain: &str, shards: u16) -> u16 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(domain.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(shards.max(1))) as u16
}

/// The folder of a DNS root under `generated/terraform/`: `dns-07` (at
/// least two digits, as many as the largest shard number needs).
pub(crate) fn dns_root(shard: u16, shards: u16) -> String {
    let width = shards.saturating_sub(1).to_string().len().max(2);
    format!("dns-{shard:0width$}")
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    /// Pinned: a change here moves every tenant to another root.
    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(dns_shard("acme.example", 16), dns_shard("acme.example", 16));
        let pinned: Vec<u16> = ["acme.example", "webhizzy.in", "xn--11bg9a6av5ff.example"]
            .iter()
            .map(|d| dns_shard(d, 16))
            .collect();
        assert_eq!(pinned, PINNED);
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[usize::from(dns_shard(&format!("t{i}.example"), 16))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(dns_shard("acme.example", 1), 0);
    }

    const PINNED: [u16; 3] = [6, 9, 9];

    #[test]
    fn root_names_sort_by_shard() {
        assert_eq!(dns_root(7, 16), "dns-07");
        assert_eq!(dns_root(0, 1), "dns-00");
        assert_eq!(dns_root(7, 256), "dns-007");
        assert_eq!(dns_root(99, 100), "dns-99");
    }
}
