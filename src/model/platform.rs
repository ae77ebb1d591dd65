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
    pub(crate) aws: Aws,
    pub(crate) database: Database,
    pub(crate) defaults: Defaults,
    pub(crate) paths: Paths,
    pub(crate) tls: Tls,
}

#[derive(Debug, Clone)]
pub(crate) struct Aws {
    pub(crate) region: String,
    pub(crate) instance_type: String,
    pub(crate) volume_size_gb: u32,
    pub(crate) admin_cidrs: Vec<String>,
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
