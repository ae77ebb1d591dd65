//! nginx on the mail host: each tenant's MTA-STS policy and mail client
//! autoconfiguration file over HTTPS (see [`crate::model::mta_sts`]).
//!
//! Onboarding a tenant must not touch nginx: `generated/nginx/mailops.conf`
//! names no tenant. It maps the host name a client asks for
//! (`mta-sts.<domain>`, `autoconfig.<domain>`) to the domain, serves that
//! domain's files from [`WEB_ROOT`] and loads its certificate by that name at
//! the handshake (variables in `ssl_certificate`, nginx ≥ 1.15.9). The
//! per-domain files are not in `generated/` (they would be thousands of
//! files that say what the DNS records already say): `mailops install` writes
//! them from the model ([`web_files`]), with the list of names the
//! certificate service (`mailops-web-certs`, see cloud-init) keeps one Let's
//! Encrypt certificate per domain for.

use crate::emit::header::header;
use crate::emit::{Artifacts, engine, render};
use crate::model::{Model, Platform, mta_sts, records};

const CONF: &str = include_str!("templates/nginx/mailops.conf");
const CERTS_SERVICE: &str = include_str!("templates/systemd/mailops-web-certs.service");
const CERTS_PATH_UNIT: &str = include_str!("templates/systemd/mailops-web-certs.path");
const CERTS_TIMER: &str = include_str!("templates/systemd/mailops-web-certs.timer");

/// Where the config is emitted under generated/ (installed in
/// `/etc/nginx/conf.d/`).
pub(crate) const CONF_PATH: &str = "nginx/mailops.conf";
/// The tenants' policy and autoconfig files on the host.
pub(crate) const WEB_ROOT: &str = "/var/www/mailops";
/// The list of each domain's web names, for the certificate service.
pub(crate) const CERT_LIST: &str = "/var/www/mailops/certificates.list";
/// certbot's webroot for HTTP-01 challenges (every certificate of the host).
pub(crate) const ACME_ROOT: &str = "/var/www/mailops-acme";
/// certbot's live folder: `mailops-<domain>/fullchain.pem` and `privkey.pem`.
pub(crate) const CERT_DIR: &str = "/etc/letsencrypt/live";
/// The certificate service's script (written by cloud-init).
pub(crate) const CERTS_SCRIPT: &str = "/usr/local/sbin/mailops-web-certs";

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let _ = platform;
    let tera = engine(&[
        ("conf", CONF),
        ("service", CERTS_SERVICE),
        ("path", CERTS_PATH_UNIT),
        ("timer", CERTS_TIMER),
    ]);
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("web_root", WEB_ROOT);
    context.insert("acme_root", ACME_ROOT);
    context.insert("cert_dir", CERT_DIR);
    context.insert("http_listen", "80");
    context.insert("https_listen", "443");
    context.insert("list", CERT_LIST);
    context.insert("script", CERTS_SCRIPT);
    out.add(CONF_PATH, render(&tera, "conf", &context));
    out.add(
        "systemd/mailops-web-certs.service",
        render(&tera, "service", &context),
    );
    out.add(
        "systemd/mailops-web-certs.path",
        render(&tera, "path", &context),
    );
    out.add(
        "systemd/mailops-web-certs.timer",
        render(&tera, "timer", &context),
    );
}

/// The files `mailops install` writes under [`WEB_ROOT`] (paths relative to
/// the install root): for each tenant domain and alias domain, its MTA-STS
/// policy (`mta-sts/<domain>.txt`, with MTA-STS on) and autoconfig file
/// (`autoconfig/<domain>.xml`, a hosted domain), and the certificate list.
pub(crate) fn web_files(model: &Model) -> Vec<(String, String)> {
    let root = WEB_ROOT.trim_start_matches('/');
    let hostname = &model.platform.hostname;
    let mut files = Vec::new();
    let mut list = format!(
        "{}# <domain> <names its certificate covers>: read by {CERTS_SCRIPT}\n",
        header("#", "tenants/")
    );
    for domain in model.domains.values() {
        let settings = &domain.mta_sts;
        let policy = mta_sts::policy(
            settings,
            &records::mx_values(model.platform.mail_hosts(), domain),
        );
        for zone in domain.signing_names() {
            if let Some(policy) = &policy {
                files.push((format!("{root}/mta-sts/{zone}.txt"), policy.text()));
            }
            if settings.autoconfig {
                files.push((
                    format!("{root}/autoconfig/{zone}.xml"),
                    mta_sts::autoconfig_xml(hostname, zone, settings.pop3),
                ));
            }
            let names = mta_sts::web_names(settings, zone);
            if !names.is_empty() {
                list.push_str(&format!("{zone} {}\n", names.join(" ")));
            }
        }
    }
    files.push((CERT_LIST.trim_start_matches('/').to_string(), list));
    files
}

#[cfg(test)]
mod tests {
    use crate::emit::test_repo::{self, tenant};

    #[test]
    fn the_config_names_no_tenant() {
        let platform = test_repo::platform("driver = \"sqlite\"");
        let out = test_repo::emit(
            &platform,
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        );
        let conf = out.get(super::CONF_PATH).expect("nginx config");
        assert!(!conf.contains("acme.example"), "{conf}");
        insta::assert_snapshot!("mailops.conf", conf);
    }

    #[test]
    fn web_files_hold_each_domains_policy_autoconfig_and_names() {
        let platform = test_repo::platform("driver = \"sqlite\"");
        let model = test_repo::compile(
            &platform,
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        );
        let files: std::collections::BTreeMap<String, String> =
            super::web_files(&model).into_iter().collect();
        let policy = &files["var/www/mailops/mta-sts/acme.example.txt"];
        assert!(
            policy.starts_with("version: STSv1\nmode: testing\nmx: "),
            "{policy}"
        );
        let xml = &files["var/www/mailops/autoconfig/acme.example.xml"];
        assert!(xml.contains("<port>993</port>"), "{xml}");
        let list = &files["var/www/mailops/certificates.list"];
        assert!(
            list.contains("\nacme.example mta-sts.acme.example autoconfig.acme.example\n"),
            "{list}"
        );
    }
}
