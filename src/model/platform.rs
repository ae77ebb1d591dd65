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
    pub(crate) aws: Aws,
    pub(crate) database: Database,
    pub(crate) defaults: Defaults,
    pub(crate) paths: Paths,
    pub(crate) tls: Tls,
    pub(crate) secrets: Secrets,
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
    /// Accepted with a warning on every mailbox that uses one.
    pub(crate) legacy_password_schemes: Vec<String>,
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
