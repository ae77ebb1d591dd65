//! Dovecot: `dovecot.conf` (IMAP, LMTP, TLS, quota, the SASL listener for
//! Postfix) and `dovecot-sql.conf.ext` (how users are found in the routing
//! database).
//!
//! `dovecot.conf` is complete on its own (it does not include Debian's
//! `conf.d/`), so what runs is exactly what is reviewed. Uid, gid and home of
//! every user are fixed here, so the user query only returns the quota.

use serde::Serialize;

use crate::emit::header::header;
use crate::emit::mail_host::{self, DB_PASSWORD_PLACEHOLDER, LOOPBACK};
use crate::emit::{Artifacts, engine, render};
use crate::model::Platform;

const DOVECOT_CONF: &str = include_str!("templates/dovecot/dovecot.conf");
const SQL_CONF: &str = include_str!("templates/dovecot/dovecot-sql.conf.ext");

/// The database settings the SQL file names (never a password: its placeholder).
#[derive(Serialize)]
struct Db<'a> {
    host: &'a str,
    port: u16,
    name: &'a str,
    user: &'a str,
    password: &'a str,
    path: &'a str,
}

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[
        ("dovecot.conf", DOVECOT_CONF),
        ("dovecot-sql.conf.ext", SQL_CONF),
    ]);
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("hostname", &platform.hostname);
    context.insert("postmaster", &platform.admin_email);
    context.insert("vmail_user", mail_host::VMAIL_USER);
    context.insert("vmail_uid", &mail_host::VMAIL_UID);
    context.insert("vmail_gid", &mail_host::VMAIL_GID);
    context.insert("vmail_root", &platform.paths.vmail_root);
    context.insert("tls_cert", &platform.tls.cert);
    context.insert("tls_key", &platform.tls.key);
    context.insert("loopback", LOOPBACK);
    context.insert("lmtp_port", &mail_host::LMTP_PORT);
    context.insert("sasl_port", &mail_host::SASL_PORT);
    context.insert("quota_status_port", &mail_host::QUOTA_STATUS_PORT);
    context.insert("quota_grace", &platform.defaults.quota_grace_percent);
    context.insert("imaps_port", &mail_host::IMAPS_PORT);
    context.insert("driver", platform.database.driver.name());
    let db = &platform.database;
    context.insert(
        "db",
        &Db {
            host: &db.host,
            port: db.port,
            name: &db.name,
            user: &db.user,
            password: DB_PASSWORD_PLACEHOLDER,
            path: &db.path,
        },
    );
    out.add(
        "dovecot/dovecot.conf",
        render(&tera, "dovecot.conf", &context),
    );
    out.add(
        "dovecot/dovecot-sql.conf.ext",
        render(&tera, "dovecot-sql.conf.ext", &context),
    );
}

#[cfg(test)]
mod tests {
    use crate::emit::test_repo::{self, tenant};

    fn files(database: &str) -> crate::emit::Artifacts {
        test_repo::emit(
            &test_repo::platform(database),
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        )
    }

    #[test]
    fn dovecot_conf() {
        let out = files("driver = \"mysql\"");
        insta::assert_snapshot!("dovecot.conf", out.get("dovecot/dovecot.conf").unwrap());
    }

    #[test]
    fn mysql_sql_conf_has_the_placeholder_not_a_password() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"\nport = 3306");
        insta::assert_snapshot!(
            "mysql-dovecot-sql.conf.ext",
            out.get("dovecot/dovecot-sql.conf.ext").unwrap()
        );
    }

    #[test]
    fn sqlite_sql_conf() {
        let out = files("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"");
        insta::assert_snapshot!(
            "sqlite-dovecot-sql.conf.ext",
            out.get("dovecot/dovecot-sql.conf.ext").unwrap()
        );
    }

    /// A full mailbox is refused at RCPT time on port 25 (issue 19): Postfix
    /// asks Dovecot's quota-status where it listens, with the grace the
    /// platform declares (`[defaults] quota_grace`, default 10 %).
    #[test]
    fn quota_status_answers_postfix_at_rcpt_with_the_platform_grace() {
        let out = files("driver = \"mysql\"");
        let dovecot = out.get("dovecot/dovecot.conf").unwrap();
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains(
            "\nsmtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_unlisted_recipient, check_policy_service inet:127.0.0.1:12340\n"
        ));
        assert!(dovecot.contains(
            "service quota-status {\n  executable = quota-status -p postfix\n  inet_listener quota-status {\n    address = 127.0.0.1\n    port = 12340\n"
        ));
        assert!(dovecot.contains("\n  quota_grace = 10%%\n"), "{dovecot}");
        assert!(dovecot.contains("\n  quota_status_overquota = \"552 5.2.2 Mailbox is full\"\n"));

        let platform = test_repo::platform("driver = \"mysql\"") + "quota_grace = \"5%\"\n";
        let out = test_repo::emit(&platform, &[]);
        let dovecot = out.get("dovecot/dovecot.conf").unwrap();
        assert!(dovecot.contains("\n  quota_grace = 5%%\n"), "{dovecot}");
    }

    #[test]
    fn an_invalid_quota_grace_is_refused() {
        for bad in ["10", "101%", "-1%", "ten%", "1.5%", "%"] {
            let dir = tempfile::tempdir().unwrap();
            let platform =
                test_repo::platform("driver = \"mysql\"") + &format!("quota_grace = \"{bad}\"\n");
            std::fs::write(dir.path().join("mailops.toml"), platform).unwrap();
            std::fs::create_dir(dir.path().join("tenants")).unwrap();
            let compiled = crate::pipeline::compile(dir.path()).unwrap();
            assert!(compiled.has_errors(), "{bad} was accepted");
            let text = format!("{:?}", compiled.diagnostics);
            assert!(text.contains("defaults.quota_grace"), "{bad}: {text}");
        }
    }

    #[test]
    fn lmtp_and_sasl_listen_where_main_cf_points() {
        let out = files("driver = \"mysql\"");
        let dovecot = out.get("dovecot/dovecot.conf").unwrap();
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains("virtual_transport = lmtp:inet:127.0.0.1:24\n"));
        assert!(main.contains("smtpd_sasl_path = inet:127.0.0.1:12345\n"));
        assert!(dovecot.contains("inet_listener lmtp {\n    address = 127.0.0.1\n    port = 24\n"));
        assert!(
            dovecot.contains("inet_listener sasl {\n    address = 127.0.0.1\n    port = 12345\n")
        );
    }
}
