//! The platform file as written: `mailops.toml`, the mail host and its defaults.
//!
//! Only `[mail_host] hostname` is required; every other key has a default,
//! applied by the validate stage (see `model::Platform`).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::parse::tenant::RawDmarc;
use crate::span::Sp;

/// The mail platform: one mail host serving every tenant domain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailops platform file")]
pub(crate) struct RawPlatform {
    /// The mail host every tenant's MX points at.
    pub(crate) mail_host: RawMailHost,
    /// AWS settings for the mail host and Route53.
    #[serde(default)]
    pub(crate) aws: RawAws,
    /// The routing database Postfix and Dovecot query.
    #[serde(default)]
    pub(crate) database: RawDatabase,
    /// Defaults for tenant files.
    #[serde(default)]
    pub(crate) defaults: RawDefaults,
    /// Paths on the mail host and in the mail repo.
    #[serde(default)]
    pub(crate) paths: RawPaths,
    /// TLS certificate of the mail host.
    #[serde(default)]
    pub(crate) tls: RawTls,
    /// Secrets kept in the mail repo, encrypted with age: with this table, DKIM
    /// private keys live in `keys/<domain>.<selector>.key.age` (default: no
    /// table, keys in the plaintext key store `paths.key_store`, outside git).
    #[serde(default)]
    pub(crate) secrets: Option<RawSecrets>,
    /// The mail hosts, when the platform has several (default: none, one host:
    /// `[mail_host] hostname`). One entry must have `[mail_host] hostname`: the
    /// primary host. Each mailbox lives on one host, its home (`home` in tenant
    /// files, `[defaults] home`, else the primary host); every inbound host is
    /// an MX of every tenant domain.
    #[serde(default)]
    pub(crate) hosts: Option<Sp<Vec<Sp<RawHost>>>>,
}

/// One mail host of a platform with several (`[[hosts]]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHost {
    /// A short name, `[a-z][a-z0-9-]{0,31}` (`mx1`): what `home` names, and the key
    /// of the host's resources in Terraform. Keep it when the hostname changes.
    pub(crate) name: Sp<String>,
    /// Fully qualified host name (`mx1.webhizzy.in`), in the zone of `[mail_host]`:
    /// its A and PTR records, its MX target and HELO name.
    pub(crate) hostname: Sp<String>,
    /// The host's address in the private network (`[aws] private_cidr`), unique:
    /// the other hosts reach it there (database replication, LMTP, proxied logins).
    pub(crate) private_ip: Sp<String>,
    /// Whether the host is an MX of every tenant domain, accepting mail on port 25
    /// (default `true`).
    #[serde(default)]
    pub(crate) inbound: Option<Sp<bool>>,
    /// The MX preference of the host (default 10): equal values share the inbound
    /// mail, a lower value is tried first (a higher one is a secondary MX).
    #[serde(default)]
    pub(crate) mx_priority: Option<Sp<i64>>,
    /// EC2 instance type (default: `[aws] instance_type`).
    #[serde(default)]
    pub(crate) instance_type: Option<Sp<String>>,
    /// Root volume size in GiB (default: `[aws] volume_size_gb`).
    #[serde(default)]
    pub(crate) volume_size_gb: Option<Sp<i64>>,
    /// DANE TLSA records of this host's TLS key for `_25._tcp.<hostname>`, as
    /// `mailops tls tlsa` prints them (`"3 1 1 <SHA-256 hex>"`): each inbound host
    /// has its own key, so its own records. The primary host's may be given here
    /// or as `[mail_host] tlsa` (both: the union). Default: none.
    #[serde(default)]
    pub(crate) tlsa: Vec<Sp<String>>,
}

/// Who can decrypt the secrets in the mail repo.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecrets {
    /// age X25519 recipients (`age1…`, from `age-keygen` or `rage-keygen`): the
    /// mail host's key and the operators'. Every DKIM private key in `keys/` is
    /// encrypted to all of them; after changing the list, run `mailops keys reencrypt`.
    pub(crate) recipients: Sp<Vec<Sp<String>>>,
}

/// The mail host.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMailHost {
    /// Fully qualified host name, e.g. `mx.webhizzy.in`: the MX target, HELO name and PTR.
    pub(crate) hostname: Sp<String>,
    /// The DNS zone the host's A record lives in (default: the hostname's parent, `webhizzy.in`).
    #[serde(default)]
    pub(crate) zone: Option<Sp<String>>,
    /// Route53 hosted zone id of `zone` (default: looked up by name).
    #[serde(default)]
    pub(crate) zone_id: Option<Sp<String>>,
    /// Sign `zone` in Route53 (DNSSEC, default `false`): a KMS key in us-east-1, a
    /// key-signing key and signing, in the host's Terraform root. The registrar of `zone`
    /// must then publish the DS record `mailops dns records` prints. Signed, the host's
    /// TLSA records (`tlsa`) make DANE senders verify its certificate.
    #[serde(default)]
    pub(crate) dnssec: Option<Sp<bool>>,
    /// DANE TLSA records of the host's TLS key for `_25._tcp.<hostname>`, as `mailops
    /// tls tlsa` prints them: `"3 1 1 <SHA-256 hex>"` (or usage 2, selector 0, matching
    /// type 2 with SHA-512): the current key's and, during a key rollover, the next key's.
    /// Terraform publishes them in the host's zone; senders use them only when the zone is
    /// signed (`dnssec`). Default: none.
    #[serde(default)]
    pub(crate) tlsa: Vec<Sp<String>>,
    /// Mail address of the operator, used for Let's Encrypt (default: `postmaster@<zone>`).
    #[serde(default)]
    pub(crate) admin_email: Option<Sp<String>>,
    /// Serve POP3 over TLS on port 995 (never plain POP3 on 110), in Dovecot, the
    /// security group and the firewall (default `false`).
    #[serde(default)]
    pub(crate) pop3: Option<Sp<bool>>,
    /// STARTTLS on port 25: `"offer"` (default: a sender without TLS is still
    /// accepted, as a public MX must) or `"require"` (a sender that does not
    /// start TLS gets `530 5.7.0 Must issue a STARTTLS command first`: its
    /// mail is refused, not received). Submission (587) and IMAPS/POP3S always
    /// require TLS.
    #[serde(default)]
    pub(crate) inbound_tls: Option<Sp<String>>,
    /// Rewrite the envelope sender of mail from outside senders with the
    /// Sender Rewriting Scheme (postsrsd), so that mail a tenant forwards off
    /// the platform passes SPF at its destination, and bounces to it come back
    /// here to be sent to the original sender (default `true`). Mail that
    /// the platform's own users send keeps its envelope sender.
    #[serde(default)]
    pub(crate) srs: Option<Sp<bool>>,
    /// The domain of rewritten senders (`SRS0=…@<srs_domain>`): the host name
    /// (the default) or a name in the host's zone. mailops publishes its SPF
    /// record (and its MX when it is not the host name).
    #[serde(default)]
    pub(crate) srs_domain: Option<Sp<String>>,
    /// Domains in this operator's Route53 that receive DMARC reports for
    /// other domains (a central `rua = ["mailto:dmarc@webhizzy.in"]`). A
    /// tenant whose reports go to one gets the authorization record RFC 7489
    /// §7.1 asks for (`<tenant>._report._dmarc.<report domain>` TXT
    /// `v=DMARC1`) in its Terraform; reports to any other outside domain get
    /// a warning naming the record its owner must publish. The host's zone is
    /// always one (default: only it).
    #[serde(default)]
    pub(crate) dmarc_report_domains: Option<Vec<Sp<String>>>,
}

/// AWS settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAws {
    /// Region of the mail host (default `ap-south-1`).
    #[serde(default)]
    pub(crate) region: Option<Sp<String>>,
    /// EC2 instance type (default `t3.small`).
    #[serde(default)]
    pub(crate) instance_type: Option<Sp<String>>,
    /// Root volume size in GiB, holding the Maildirs (default 50).
    #[serde(default)]
    pub(crate) volume_size_gb: Option<Sp<i64>>,
    /// CIDR blocks allowed to reach SSH on the mail host (default: none).
    #[serde(default)]
    pub(crate) admin_cidrs: Option<Vec<Sp<String>>>,
    /// How many Terraform roots hold the tenants' Route53 records (default 16,
    /// from 1 to 256): a tenant's records are in root
    /// `generated/terraform/dns-<shard>/`, chosen by a stable hash of its
    /// domain. Changing it moves tenants between roots (and their state:
    /// `mailops dns shards --moves`).
    #[serde(default)]
    pub(crate) dns_shards: Option<Sp<i64>>,
    /// With `[[hosts]]`: the private network of the hosts, an IPv4 CIDR block from
    /// /16 to /28 (default `10.20.0.0/16`). Terraform makes a VPC and a subnet of it;
    /// each host's `private_ip` is inside it.
    #[serde(default)]
    pub(crate) private_cidr: Option<Sp<String>>,
}

/// The routing database. Never holds a password: that comes from the
/// environment (`MAILOPS_DB_PASSWORD`) or the host's secrets file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatabase {
    /// `mysql` (MariaDB/MySQL, the production default) or `sqlite`.
    #[serde(default)]
    pub(crate) driver: Option<Sp<String>>,
    /// Where `mailops plan` and `apply` connect (`mysql://user@host:port/db` or
    /// `sqlite://path`), without a password. Default: `sqlite://.mailops/state.db`.
    #[serde(default)]
    pub(crate) url: Option<Sp<String>>,
    /// Host the mail services connect to (default `127.0.0.1`).
    #[serde(default)]
    pub(crate) host: Option<Sp<String>>,
    /// Port (default 3306).
    #[serde(default)]
    pub(crate) port: Option<Sp<i64>>,
    /// Database name (default `mailserver`).
    #[serde(default)]
    pub(crate) name: Option<Sp<String>>,
    /// Database user the mail services log in as (default `mailuser`).
    #[serde(default)]
    pub(crate) user: Option<Sp<String>>,
    /// With driver `sqlite`: the database file on the mail host (default `/var/lib/mailops/mail.sqlite`).
    #[serde(default)]
    pub(crate) path: Option<Sp<String>>,
}

/// Defaults for tenant files.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    /// DKIM selector of a tenant that sets none (default `dkim`).
    #[serde(default)]
    pub(crate) dkim_selector: Option<Sp<String>>,
    /// Quota of a mailbox when neither it nor its domain sets one (default `"2 GiB"`).
    #[serde(default)]
    pub(crate) quota: Option<Sp<String>>,
    /// Over-quota grace, as a percentage of each mailbox's quota (default `"10%"`): a
    /// mailbox below its quota accepts a message that takes it past the quota by up to
    /// this much; a mailbox at or over quota + grace has mail refused at RCPT time
    /// (`552 5.2.2`, so no bounce is ever sent for it).
    #[serde(default)]
    pub(crate) quota_grace: Option<Sp<String>>,
    /// TTL of tenant DNS records (default 3600).
    #[serde(default)]
    pub(crate) ttl: Option<Sp<i64>>,
    /// DMARC policy of a tenant that sets none (default `p=quarantine; adkim=s; aspf=s`).
    #[serde(default)]
    pub(crate) dmarc: Option<RawDmarc>,
    /// Password schemes tenants may use (default `["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT"]`).
    #[serde(default)]
    pub(crate) password_schemes: Option<Vec<Sp<String>>>,
    /// Weaker schemes still accepted while their users change passwords (default none):
    /// for mailboxes adopted from an older server (`mailops import --allow-scheme`).
    /// Every mailbox whose password uses one gets a warning until it is rehashed.
    #[serde(default)]
    pub(crate) legacy_password_schemes: Option<Vec<Sp<String>>>,
    /// Outbound messages per logged-in mailbox per hour, for tenants whose `[limits]`
    /// set none (default: no limit). Enforced by Rspamd's ratelimit module (Redis).
    #[serde(default)]
    pub(crate) send_per_hour: Option<Sp<i64>>,
    /// Outbound messages per tenant domain per hour, for tenants whose `[limits]` set
    /// none (default: no limit).
    #[serde(default)]
    pub(crate) domain_send_per_hour: Option<Sp<i64>>,
    /// MTA-STS mode of tenants that set none: `enforce`, `testing` or `off` (default
    /// `testing`: senders report TLS failures but still deliver, so a tenant whose
    /// `mta-sts.` certificate is not issued yet loses no mail).
    #[serde(default)]
    pub(crate) mta_sts: Option<Sp<String>>,
    /// TLS-RPT report URIs of tenants that set none (default
    /// `["mailto:<mail_host.admin_email>"]`; `[]`: no TLS-RPT record).
    #[serde(default)]
    pub(crate) tls_rpt: Option<Vec<Sp<String>>>,
    /// The home host (a `[[hosts]]` name) of mailboxes whose tenant file names none
    /// (default: the primary host, the one with `[mail_host] hostname`). Adding a
    /// host moves no mailbox.
    #[serde(default)]
    pub(crate) home: Option<Sp<String>>,
}

/// Paths.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPaths {
    /// Root of the Maildirs on the mail host (default `/var/vmail`).
    #[serde(default)]
    pub(crate) vmail_root: Option<Sp<String>>,
    /// Where Rspamd reads DKIM private keys on the mail host (default `/var/lib/rspamd/dkim`).
    #[serde(default)]
    pub(crate) dkim_key_dir: Option<Sp<String>>,
    /// The local DKIM key store, relative to the mail repo; never committed (default `.mailops/keys`).
    /// Not used with `[secrets]`: keys then live encrypted in `keys/`.
    #[serde(default)]
    pub(crate) key_store: Option<Sp<String>>,
}

/// TLS certificate paths (default: Let's Encrypt's for the hostname).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    /// Certificate chain (default `/etc/letsencrypt/live/<hostname>/fullchain.pem`).
    #[serde(default)]
    pub(crate) cert: Option<Sp<String>>,
    /// Private key (default `/etc/letsencrypt/live/<hostname>/privkey.pem`).
    #[serde(default)]
    pub(crate) key: Option<Sp<String>>,
}
