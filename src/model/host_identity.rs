//! What a mail host's own configs say of it: its name, the hostname it greets
//! and HELOs with, and the certificate it presents.
//!
//! `generated/` is one set of configs, rendered for the primary host. On a
//! platform with `[[hosts]]`, `mailops install --host mx2` (and the reconcile
//! agent of a host file with `host = "mx2"`) renders the files that carry the
//! host's identity for that host instead: the emitters take a `HostIdentity`,
//! they never rewrite the primary's text. Everything else (the SRS domain,
//! the autoconfig server name, the routing queries) is the platform's and
//! stays shared, so that any host can answer for any other.

use crate::model::Platform;

/// The identity of one mail host, as its configs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostIdentity {
    /// `mx2`: the `[[hosts]]` name (the implicit host's first label).
    pub(crate) name: String,
    /// `mx2.webhizzy.in`: Postfix's `myhostname` (banner, HELO), Dovecot's `hostname`.
    pub(crate) hostname: String,
    /// The certificate chain Postfix and Dovecot present.
    pub(crate) tls_cert: String,
    /// Its private key.
    pub(crate) tls_key: String,
}

/// Let's Encrypt's lineage of `hostname`: where `[tls]` points by default.
pub(crate) fn letsencrypt_cert(hostname: &str) -> String {
    format!("/etc/letsencrypt/live/{hostname}/fullchain.pem")
}

/// The private key of Let's Encrypt's lineage of `hostname`.
pub(crate) fn letsencrypt_key(hostname: &str) -> String {
    format!("/etc/letsencrypt/live/{hostname}/privkey.pem")
}

impl HostIdentity {
    /// The primary host's identity: what `generated/` is rendered for.
    pub(crate) fn primary(platform: &Platform) -> HostIdentity {
        HostIdentity {
            name: platform
                .hosts
                .iter()
                .find(|h| h.hostname == platform.hostname)
                .map_or_else(
                    || super::host::implicit_name(&platform.hostname).to_string(),
                    |h| h.name.clone(),
                ),
            hostname: platform.hostname.clone(),
            tls_cert: platform.tls.cert.clone(),
            tls_key: platform.tls.key.clone(),
        }
    }

    /// The identity of the host named `name`, `None` when the platform has
    /// no such host. A `[tls]` path left at its default (the primary's Let's
    /// Encrypt lineage) becomes the host's own lineage; a path the platform
    /// file names is the same path on every host (each host keeps its own
    /// certificate there).
    pub(crate) fn of(platform: &Platform, name: &str) -> Option<HostIdentity> {
        let host = platform.host(name)?;
        let own = |path: &str, default: String, mine: String| {
            if path == default {
                mine
            } else {
                path.to_string()
            }
        };
        Some(HostIdentity {
            name: host.name.clone(),
            hostname: host.hostname.clone(),
            tls_cert: own(
                &platform.tls.cert,
                letsencrypt_cert(&platform.hostname),
                letsencrypt_cert(&host.hostname),
            ),
            tls_key: own(
                &platform.tls.key,
                letsencrypt_key(&platform.hostname),
                letsencrypt_key(&host.hostname),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo;

    const TWO_HOSTS: &str = "[[hosts]]\nname = \"mx1\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\n";

    fn platform(extra: &str) -> Platform {
        let text = format!("{}\n{extra}", test_repo::platform("driver = \"sqlite\""));
        test_repo::compile(&text, &[]).platform
    }

    #[test]
    fn the_primary_is_the_host_of_mail_host_hostname() {
        let platform = platform(TWO_HOSTS);
        let primary = HostIdentity::primary(&platform);
        assert_eq!(primary.name, "mx1");
        assert_eq!(HostIdentity::of(&platform, "mx1"), Some(primary));
    }

    #[test]
    fn another_host_has_its_own_hostname_and_lets_encrypt_lineage() {
        let platform = platform(TWO_HOSTS);
        let mx2 = HostIdentity::of(&platform, "mx2").unwrap();
        assert_eq!(mx2.hostname, "mx2.webhizzy.in");
        assert_eq!(
            mx2.tls_cert,
            "/etc/letsencrypt/live/mx2.webhizzy.in/fullchain.pem"
        );
        assert_eq!(
            mx2.tls_key,
            "/etc/letsencrypt/live/mx2.webhizzy.in/privkey.pem"
        );
        assert_eq!(HostIdentity::of(&platform, "mx3"), None);
    }

    #[test]
    fn a_named_certificate_path_is_the_same_on_every_host() {
        let platform = platform(&format!(
            "[tls]\ncert = \"/etc/ssl/mail.pem\"\nkey = \"/etc/ssl/mail.key\"\n\n{TWO_HOSTS}"
        ));
        let mx2 = HostIdentity::of(&platform, "mx2").unwrap();
        assert_eq!(
            (mx2.tls_cert.as_str(), mx2.tls_key.as_str()),
            ("/etc/ssl/mail.pem", "/etc/ssl/mail.key")
        );
    }
}
