//! The mail host's fixed layout, in one place: the loopback ports by which
//! Postfix, Dovecot and Rspamd reach each other, the vmail account, where each
//! generated file is installed and with which owner and mode.
//!
//! These are not platform keys: they are choices of this platform's design
//! that no operator needs to vary, and every emitter (and `mailops install`,
//! and the end-to-end suite) must agree on them. Keeping them here means a
//! change is made once and every file follows.
//!
//! Services talk over TCP on 127.0.0.1 rather than Unix sockets: that keeps
//! Dovecot's sockets out of Postfix's queue directory (and its chroot), and a
//! test run can start the same configuration without systemd's directories.

/// Loopback address every internal listener binds to.
pub(crate) const LOOPBACK: &str = "127.0.0.1";

/// Dovecot's LMTP listener; Postfix delivers every virtual mailbox there.
pub(crate) const LMTP_PORT: u16 = 24;
/// Dovecot's auth listener that Postfix uses for SASL on submission.
pub(crate) const SASL_PORT: u16 = 12345;
/// Dovecot's doveadm server, with several hosts only: between the hosts
/// (the security group), for moving a mailbox's mail to its new home. Not
/// Dovecot's customary 12345: that is the SASL listener above.
pub(crate) const DOVEADM_PORT: u16 = 12346;
/// Where `mailops install` writes the doveadm server's password (several
/// hosts only; `dovecot.conf` reads it with `doveadm_password = <file`).
pub(crate) const DOVEADM_PASSWORD_FILE: &str = "/etc/dovecot/private/doveadm-password";
/// postsrsd's secrets file on a single host: Debian's, made by its package.
pub(crate) const SRS_SECRETS_FILE: &str = "/etc/postsrsd.secret";
/// With several hosts, the secrets file `mailops install` writes (the secret
/// every host signs with first: `install::with_earlier_secrets`), in a folder
/// of its own that the reconcile agent's unit makes and may write
/// (`ConfigurationDirectory=postsrsd`; /etc itself stays read-only to it).
pub(crate) const SHARED_SRS_SECRETS_FILE: &str = "/etc/postsrsd/secrets";

/// The secrets file postsrsd is pointed at.
pub(crate) fn srs_secrets_file(platform: &crate::model::Platform) -> &'static str {
    if platform.hosts_declared {
        SHARED_SRS_SECRETS_FILE
    } else {
        SRS_SECRETS_FILE
    }
}
/// Dovecot's quota-status policy service; Postfix asks it at RCPT time
/// whether a mailbox can take a message (`check_policy_service`).
pub(crate) const QUOTA_STATUS_PORT: u16 = 12340;
/// Rspamd's proxy worker in milter mode (its default, `localhost:11332`).
pub(crate) const MILTER_PORT: u16 = 11332;

/// Public ports besides 25 (the security group in `main.tf` opens 25, these,
/// 80 for the Let's Encrypt HTTP-01 challenge and 443 for MTA-STS and
/// autoconfig); in the model, since the SRV records name them too.
pub(crate) use crate::model::mta_sts::{IMAPS_PORT, POP3S_PORT, SUBMISSION_PORT};

/// The one system account that owns every Maildir; mailboxes are virtual.
pub(crate) const VMAIL_USER: &str = "vmail";
pub(crate) const VMAIL_UID: u32 = 5000;
pub(crate) const VMAIL_GID: u32 = 5000;

/// Largest message Postfix accepts (50 MiB, about 36 MiB of attachments).
pub(crate) const MESSAGE_SIZE_LIMIT: u64 = 50 << 20;

/// Stands where a config needs the database password; `mailops install` (or
/// the first-boot script) replaces it on the host. Never a real secret.
pub(crate) const DB_PASSWORD_PLACEHOLDER: &str = "@@MAILOPS_DB_PASSWORD@@";

/// On the host: the secrets file the first-boot script writes (TOML,
/// `db_password = "…"`, mode 0600) and `mailops install --secrets` reads.
pub(crate) const SECRETS_FILE: &str = "/etc/mailops/secrets.toml";

/// File name, inside the platform's DKIM key directory, of the map from
/// tenant domain to DKIM selector that Rspamd reads (see `rspamd.rs`).
pub(crate) const DKIM_SELECTOR_MAP: &str = "selectors.map";

/// File name, inside the platform's DKIM key directory, of the Rspamd
/// `domain { … }` entries of the domains with several DKIM keys, which
/// `dkim_signing.conf` includes (see `rspamd.rs`).
pub(crate) const DKIM_SIGNING_DOMAINS: &str = "signing-domains.conf";

/// File name, inside the platform's DKIM key directory (Rspamd's folder of
/// data that `mailops install` keeps), of the map from tenant domain to its
/// outbound send limits, read by the ratelimit module (see `rspamd.rs`).
pub(crate) const RATE_LIMIT_MAP: &str = "ratelimits.map";

/// postsrsd's lookup tables for Postfix (Debian's defaults, on loopback):
/// sender → its SRS form, and an SRS address → the original sender.
pub(crate) const SRS_FORWARD_PORT: u16 = 10001;
pub(crate) const SRS_REVERSE_PORT: u16 = 10002;

/// Rspamd's system group on Debian, which must read the DKIM keys.
pub(crate) const RSPAMD_GROUP: &str = "_rspamd";

/// Whether the routing database is a MariaDB on the mail host itself
/// (the first boot makes it; with several hosts, it is the host's Galera node).
pub(crate) fn local_mariadb(platform: &crate::model::Platform) -> bool {
    platform.database.driver == crate::model::Driver::Mysql
        && matches!(
            platform.database.host.as_str(),
            "127.0.0.1" | "localhost" | "::1"
        )
}

/// Where one generated file goes on the mail host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) path: String,
    pub(crate) owner: &'static str,
    pub(crate) group: &'static str,
    pub(crate) mode: &'static str,
}

/// The host placement of a file under `generated/`, or `None` for files that
/// are not installed on the mail host (SQL, Terraform, cloud-init itself).
///
/// The same rule as `mailops install` (a test holds them together):
/// `<service>/<rest>` goes to `/etc/<service>/<rest>` (`postsrsd/<rest>` to
/// `/etc/default/<rest>`, `nginx/<rest>` to `/etc/nginx/conf.d/<rest>`, `mysql/<rest>` (a Galera
/// node's settings, several hosts only) to `/etc/mysql/<rest>`); a file that holds the
/// database password placeholder is `0640 root:<the service's group>` (only
/// that service reads it once filled), every other one `0644 root:root`.
pub(crate) fn placement(generated: &str, contents: &str) -> Option<Placement> {
    let (service, rest) = generated.split_once('/')?;
    let (dir, group) = match service {
        "postfix" => ("/etc/postfix", "postfix"),
        "dovecot" => ("/etc/dovecot", "dovecot"),
        "rspamd" => ("/etc/rspamd", RSPAMD_GROUP),
        // `postsrsd/postsrsd`: the settings Debian's postsrsd launcher reads.
        "postsrsd" => ("/etc/default", "postsrsd"),
        // `nginx/mailops.conf`: read with the rest of `conf.d` by Debian's nginx.
        "nginx" => ("/etc/nginx/conf.d", "root"),
        // `mysql/mariadb.conf.d/…`: read by Debian's MariaDB when it starts.
        "mysql" => ("/etc/mysql", "mysql"),
        _ => return None,
    };
    let secret = contents.contains(DB_PASSWORD_PLACEHOLDER);
    Some(Placement {
        path: format!("{dir}/{rest}"),
        owner: "root",
        group: if secret { group } else { "root" },
        mode: if secret { "0640" } else { "0644" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo;
    use crate::install::{self, Secrets};
    use crate::keystore::KeyStore;

    #[test]
    fn files_with_the_password_are_not_world_readable() {
        let with = format!("password = {DB_PASSWORD_PLACEHOLDER}\n");
        let map = placement("postfix/virtual-domains.cf", &with).unwrap();
        assert_eq!(
            (map.path.as_str(), map.group, map.mode),
            ("/etc/postfix/virtual-domains.cf", "postfix", "0640")
        );
        let sql = placement("dovecot/dovecot-sql.conf.ext", &with).unwrap();
        assert_eq!((sql.group, sql.mode), ("dovecot", "0640"));
        let sqlite = placement("dovecot/dovecot-sql.conf.ext", "connect = /x.sqlite\n").unwrap();
        assert_eq!((sqlite.group, sqlite.mode), ("root", "0644"));
        assert_eq!(
            placement("rspamd/local.d/dkim_signing.conf", "")
                .unwrap()
                .path,
            "/etc/rspamd/local.d/dkim_signing.conf"
        );
    }

    #[test]
    fn compiler_only_files_are_not_installed() {
        assert_eq!(placement("sql/mysql/acme.example.sql", ""), None);
        assert_eq!(placement("terraform/host/main.tf", ""), None);
        assert_eq!(placement("cloud-init/user-data.yaml", ""), None);
        assert_eq!(placement("README.md", ""), None);
    }

    /// cloud-init writes each config where, and as, `mailops install` does,
    /// so a later install changes no owner or mode.
    #[test]
    fn placements_agree_with_mailops_install() {
        for database in ["driver = \"mysql\"", "driver = \"sqlite\""] {
            let platform = test_repo::platform(database);
            let model = test_repo::compile(&platform, &[]);
            let artifacts = test_repo::emit(&platform, &[]);
            let generated = artifacts.clone().into_map();
            let store = KeyStore::new(std::path::Path::new("/nonexistent"), ".mailops/keys");
            let secrets = Secrets {
                db_password: Some("pw".into()),
            };
            let files = install::plan(&generated, &model, &store, &secrets).unwrap();
            let configs: Vec<_> = files
                .iter()
                .filter(|f| f.kind == install::FileKind::Config)
                .collect();
            assert_eq!(configs.len(), 29, "{database}");
            for file in configs {
                let target = file.target.strip_prefix("etc").unwrap().to_str().unwrap();
                let generated_path = match (
                    target.strip_prefix("default/"),
                    target.strip_prefix("nginx/conf.d/"),
                ) {
                    (Some(rest), _) => format!("postsrsd/{rest}"),
                    (_, Some(rest)) => format!("nginx/{rest}"),
                    _ => target.to_string(),
                };
                let place = placement(&generated_path, &generated[&generated_path]).unwrap();
                assert_eq!(
                    std::path::Path::new(&place.path),
                    std::path::Path::new("/").join(&file.target)
                );
                assert_eq!(place.group, file.group(), "{generated_path}");
                assert_eq!(
                    place.mode,
                    format!("0{:o}", file.mode()),
                    "{generated_path}"
                );
            }
        }
    }
}
