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
/// Rspamd's proxy worker in milter mode (its default, `localhost:11332`).
pub(crate) const MILTER_PORT: u16 = 11332;

/// Public ports besides 25 (the security group in `main.tf` opens 25, these,
/// and 80 for the Let's Encrypt HTTP-01 challenge).
pub(crate) const SUBMISSION_PORT: u16 = 587;
pub(crate) const IMAPS_PORT: u16 = 993;

/// The one system account that owns every Maildir; mailboxes are virtual.
pub(crate) const VMAIL_USER: &str = "vmail";
pub(crate) const VMAIL_UID: u32 = 5000;
pub(crate) const VMAIL_GID: u32 = 5000;

/// Largest message Postfix accepts (50 MiB, about 36 MiB of attachments).
pub(crate) const MESSAGE_SIZE_LIMIT: u64 = 50 << 20;

/// Stands where a config needs the database password; `mailops install` (or
/// the first-boot script) replaces it on the host. Never a real secret.
pub(crate) const DB_PASSWORD_PLACEHOLDER: &str = "@@MAILOPS_DB_PASSWORD@@";

/// On the host: the secrets file the first-boot script writes (`KEY=value`
/// lines, mode 0600) and `mailops install --secrets` reads.
pub(crate) const SECRETS_FILE: &str = "/etc/mailops/secrets.env";

/// File name, inside the platform's DKIM key directory, of the map from
/// tenant domain to DKIM selector that Rspamd reads (see `rspamd.rs`).
pub(crate) const DKIM_SELECTOR_MAP: &str = "selectors.map";

/// Rspamd's system group on Debian, which must read the DKIM keys.
pub(crate) const RSPAMD_GROUP: &str = "_rspamd";

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
/// Files that may hold the database password once filled are readable only by
/// root and the one service that needs them (`0640 root:postfix`,
/// `0640 root:dovecot`); every other config is `0644 root:root`.
pub(crate) fn placement(generated: &str) -> Option<Placement> {
    let (dir, name) = generated.split_once('/')?;
    let public = |path: String| Placement {
        path,
        owner: "root",
        group: "root",
        mode: "0644",
    };
    match dir {
        "postfix" if name == "main.cf" || name == "master.cf" => {
            Some(public(format!("/etc/postfix/{name}")))
        }
        "postfix" => Some(Placement {
            path: format!("/etc/postfix/{name}"),
            owner: "root",
            group: "postfix",
            mode: "0640",
        }),
        "dovecot" if name.ends_with(".conf.ext") => Some(Placement {
            path: format!("/etc/dovecot/{name}"),
            owner: "root",
            group: "dovecot",
            mode: "0640",
        }),
        "dovecot" => Some(public(format!("/etc/dovecot/{name}"))),
        "rspamd" => Some(public(format!("/etc/rspamd/{name}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_with_the_password_are_not_world_readable() {
        let map = placement("postfix/virtual-domains.cf").unwrap();
        assert_eq!(
            (map.path.as_str(), map.group, map.mode),
            ("/etc/postfix/virtual-domains.cf", "postfix", "0640")
        );
        let sql = placement("dovecot/dovecot-sql.conf.ext").unwrap();
        assert_eq!(
            (sql.path.as_str(), sql.group, sql.mode),
            ("/etc/dovecot/dovecot-sql.conf.ext", "dovecot", "0640")
        );
        assert_eq!(placement("postfix/main.cf").unwrap().mode, "0644");
        assert_eq!(
            placement("rspamd/local.d/dkim_signing.conf").unwrap().path,
            "/etc/rspamd/local.d/dkim_signing.conf"
        );
    }

    #[test]
    fn compiler_only_files_are_not_installed() {
        assert_eq!(placement("sql/mysql.sql"), None);
        assert_eq!(placement("terraform/main.tf"), None);
        assert_eq!(placement("cloud-init/user-data.yaml"), None);
        assert_eq!(placement("README.md"), None);
    }
}
