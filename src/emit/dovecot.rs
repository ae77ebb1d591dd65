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
use crate::model::{HostIdentity, Platform};

const DOVECOT_CONF: &str = include_str!("templates/dovecot/dovecot.conf");
const SQL_CONF: &str = include_str!("templates/dovecot/dovecot-sql.conf.ext");
const APP_SQL_CONF: &str = include_str!("templates/dovecot/dovecot-sql-app.conf.ext");

/// The file of app password slot `slot` (1-based).
fn app_slot_file(slot: usize) -> String {
    format!("dovecot-sql-app-{slot}.conf.ext")
}

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

/// The Dovecot files, for the host `host` (`generated/` holds the primary's).
pub(crate) fn emit(platform: &Platform, host: &HostIdentity, out: &mut Artifacts) {
    let tera = engine(&[
        ("dovecot.conf", DOVECOT_CONF),
        ("dovecot-sql.conf.ext", SQL_CONF),
        ("dovecot-sql-app.conf.ext", APP_SQL_CONF),
    ]);
    let slots = crate::model::mailbox::MAX_APP_PASSWORDS;
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("hostname", &host.hostname);
    context.insert("postmaster", &platform.admin_email);
    context.insert("vmail_user", mail_host::VMAIL_USER);
    context.insert("vmail_uid", &mail_host::VMAIL_UID);
    context.insert("vmail_gid", &mail_host::VMAIL_GID);
    context.insert("vmail_root", &platform.paths.vmail_root);
    context.insert("tls_cert", &host.tls_cert);
    context.insert("tls_key", &host.tls_key);
    context.insert("loopback", LOOPBACK);
    context.insert("lmtp_port", &mail_host::LMTP_PORT);
    context.insert("several_hosts", &platform.hosts_declared);
    context.insert("doveadm_port", &mail_host::DOVEADM_PORT);
    context.insert("doveadm_password_file", mail_host::DOVEADM_PASSWORD_FILE);
    context.insert("private_cidr", &platform.private_cidr);
    context.insert("sasl_port", &mail_host::SASL_PORT);
    context.insert("quota_status_port", &mail_host::QUOTA_STATUS_PORT);
    context.insert("quota_grace", &platform.defaults.quota_grace_percent);
    context.insert("imaps_port", &mail_host::IMAPS_PORT);
    context.insert("pop3", &platform.pop3);
    context.insert("pop3s_port", &mail_host::POP3S_PORT);
    context.insert(
        "app_slots",
        &(1..=slots).map(app_slot_file).collect::<Vec<_>>(),
    );
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
    context.insert("slots", &slots);
    for slot in 1..=slots {
        context.insert("slot", &slot);
        context.insert("offset", &(slot - 1));
        out.add(
            format!("dovecot/{}", app_slot_file(slot)),
            render(&tera, "dovecot-sql-app.conf.ext", &context),
        );
    }
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
            "\nsmtpd_recipient_restrictions = reject_non_fqdn_recipient, check_recipient_access proxy:mysql:/etc/postfix/recipient-state.cf, reject_unlisted_recipient, check_policy_service inet:127.0.0.1:12340\n"
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

    /// The password queries of the SQLite configs, run on the real engine as
    /// Dovecot runs them (`%u` the login, `%s` the service): the mailbox
    /// password logs in only while the mailbox is active and lists the
    /// protocol; each app password slot gives one of the mailbox's app
    /// passwords for that protocol, in name order, and none once it is gone.
    #[test]
    fn password_queries_follow_state_protocols_and_app_passwords() {
        use sqlx::SqliteConnection;
        let out = files("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"");
        let query = |file: &str| -> String {
            let text = out.get(&format!("dovecot/{file}")).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("password_query = "))
                .unwrap()
                .to_string()
        };
        let mailbox = query("dovecot-sql.conf.ext");
        let slots: Vec<String> = (1..=crate::model::mailbox::MAX_APP_PASSWORDS)
            .map(|n| query(&super::app_slot_file(n)))
            .collect();
        let (runtime, mut conn) = crate::emit::postfix::tests::routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'a.test');
                 INSERT INTO virtual_users (domain_id, email, password, state, protocols) VALUES
                   (1, 'on@a.test', 'p-on', 'active', 'imap,smtp'),
                   (1, 'locked@a.test', 'p-locked', 'locked', 'imap,pop3,smtp'),
                   (1, 'off@a.test', 'p-off', 'disabled', 'imap,pop3,smtp');
                 INSERT INTO virtual_app_passwords (domain_id, email, name, password, protocols) VALUES
                   (1, 'on@a.test', 'phone', 'p-phone', 'imap,smtp'),
                   (1, 'on@a.test', 'laptop', 'p-laptop', 'imap'),
                   (1, 'locked@a.test', 'phone', 'p-locked-phone', 'imap');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            async fn passwords(conn: &mut SqliteConnection, query: &str, user: &str, service: &str) -> Vec<String> {
                let sql = query.replace("%u", user).replace("%s", service);
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT password FROM ({sql})"
                )))
                .fetch_all(conn)
                .await
                .unwrap()
            }
            assert_eq!(passwords(&mut conn, &mailbox, "on@a.test", "imap").await, ["p-on"]);
            assert_eq!(passwords(&mut conn, &mailbox, "on@a.test", "smtp").await, ["p-on"]);
            // Not a protocol of the mailbox, not a login service, not active.
            for (user, service) in [
                ("on@a.test", "pop3"),
                ("on@a.test", "lmtp"),
                ("locked@a.test", "imap"),
                ("off@a.test", "imap"),
            ] {
                assert!(passwords(&mut conn, &mailbox, user, service).await.is_empty(), "{user} {service}");
            }
            let mut by_slot = Vec::new();
            for slot in &slots {
                by_slot.push(passwords(&mut conn, slot, "on@a.test", "imap").await);
            }
            assert_eq!(by_slot[0], ["p-laptop"]);
            assert_eq!(by_slot[1], ["p-phone"]);
            assert!(by_slot[2..].iter().all(Vec::is_empty), "{by_slot:?}");
            assert_eq!(passwords(&mut conn, &slots[0], "on@a.test", "smtp").await, ["p-phone"]);
            assert!(passwords(&mut conn, &slots[1], "on@a.test", "smtp").await.is_empty());
            // A locked mailbox's app passwords log in no more than its password.
            assert!(passwords(&mut conn, &slots[0], "locked@a.test", "imap").await.is_empty());
            // Revoked: gone from the table, refused at the next login.
            sqlx::raw_sql("DELETE FROM virtual_app_passwords WHERE name = 'laptop'")
                .execute(&mut conn)
                .await
                .unwrap();
            assert_eq!(passwords(&mut conn, &slots[0], "on@a.test", "imap").await, ["p-phone"]);
            assert!(passwords(&mut conn, &slots[1], "on@a.test", "imap").await.is_empty());
            // A suspended or disabled tenant: no login of any of its
            // mailboxes, by password or app password; active again, they log in.
            for state in ["suspended", "disabled", "active"] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "UPDATE virtual_domains SET state = '{state}' WHERE name = 'a.test'"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                let mailbox_login = passwords(&mut conn, &mailbox, "on@a.test", "imap").await;
                let app_login = passwords(&mut conn, &slots[0], "on@a.test", "imap").await;
                if state == "active" {
                    assert_eq!((mailbox_login, app_login), (vec!["p-on".to_string()], vec!["p-phone".to_string()]));
                } else {
                    assert!(mailbox_login.is_empty() && app_login.is_empty(), "{state}");
                }
            }
        });
    }

    /// The two-host platform of `tests/fixtures/valid/two-hosts` on `database`.
    fn two_hosts(database: &str) -> crate::emit::Artifacts {
        let hosts = "[aws]\nprivate_cidr = \"10.20.0.0/16\"\n\n[[hosts]]\nname = \"mx1\"\nhostname = \"mx1.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\nmx_priority = 20\n";
        let platform =
            test_repo::platform(database).replace("mx.webhizzy.in", "mx1.webhizzy.in") + hosts;
        test_repo::emit(
            &platform,
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        )
    }

    /// With `[[hosts]]` (issue 18), the password and app password queries
    /// return Dovecot's proxy fields from the home host's row, and the
    /// backend trusts the private network for the client's address; one
    /// host's files say none of it.
    #[test]
    fn two_hosts_proxy_logins_to_the_home_host() {
        let two = two_hosts("driver = \"mysql\"\nhost = \"127.0.0.1\"\nport = 3306");
        let sql = two.get("dovecot/dovecot-sql.conf.ext").unwrap();
        insta::assert_snapshot!("two-hosts-mysql-dovecot-sql.conf.ext", sql);
        let app = two
            .get(&format!("dovecot/{}", super::app_slot_file(1)))
            .unwrap();
        insta::assert_snapshot!("two-hosts-mysql-dovecot-sql-app-1.conf.ext", app);
        // The mailbox query answers LMTP's lookups too (lmtp_proxy: port 24,
        // no TLS, whatever the states); an app password never serves LMTP.
        assert!(sql.contains("h.private_ip AS host, CASE WHEN h.private_ip IS NOT NULL THEN 'y' END AS proxy_maybe, CASE WHEN h.private_ip IS NULL THEN NULL WHEN '%s' = 'imap' THEN 993 WHEN '%s' = 'pop3' THEN 995 WHEN '%s' = 'lmtp' THEN 24 END AS port, CASE WHEN h.private_ip IS NOT NULL AND '%s' <> 'lmtp' THEN 'any-cert' END AS `ssl`"), "{sql}");
        assert!(app.contains("h.private_ip AS host, CASE WHEN h.private_ip IS NOT NULL THEN 'y' END AS proxy_maybe, CASE WHEN h.private_ip IS NULL THEN NULL WHEN '%s' = 'imap' THEN 993 WHEN '%s' = 'pop3' THEN 995 END AS port, CASE WHEN h.private_ip IS NOT NULL THEN 'any-cert' END AS `ssl`"), "{app}");
        for text in [sql, app] {
            assert!(
                text.contains(" LEFT JOIN mail_hosts h ON h.name = u.home WHERE "),
                "{text}"
            );
        }
        let conf = two.get("dovecot/dovecot.conf").unwrap();
        assert!(
            conf.contains("\nlogin_trusted_networks = 10.20.0.0/16\n"),
            "{conf}"
        );
        assert!(conf.contains("\nlmtp_proxy = yes\n"), "{conf}");
        let one = files("driver = \"mysql\"");
        for file in [
            "dovecot.conf",
            "dovecot-sql.conf.ext",
            &super::app_slot_file(1),
        ] {
            let text = one.get(&format!("dovecot/{file}")).unwrap();
            for word in ["proxy", "mail_hosts", "login_trusted_networks", "any-cert"] {
                assert!(!text.contains(word), "{file} has {word}");
            }
        }
    }

    /// The two-host SQLite queries on the real engine, as Dovecot runs them:
    /// a mailbox homed on mx2 gets mx2's private address, `proxy_maybe`, the
    /// TLS port of the service (993 IMAP, 995 POP3, none for Postfix's smtp)
    /// and `ssl=any-cert`, by password and by app password; a mailbox with no
    /// home gets no proxy field at all (NULL columns are not fields for
    /// Dovecot), and logs in where it is.
    #[test]
    fn two_hosts_password_queries_return_the_home_hosts_proxy_fields() {
        use sqlx::Row;
        let out = two_hosts("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"");
        let query = |file: &str| -> String {
            let text = out.get(&format!("dovecot/{file}")).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("password_query = "))
                .unwrap()
                .to_string()
        };
        let mailbox = query("dovecot-sql.conf.ext");
        let slot = query(&super::app_slot_file(1));
        let (runtime, mut conn) = crate::emit::postfix::tests::routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'a.test');
                 INSERT INTO mail_hosts (name, hostname, private_ip) VALUES
                   ('mx1', 'mx1.a.test', '10.20.1.11'), ('mx2', 'mx2.a.test', '10.20.1.12');
                 INSERT INTO virtual_users (domain_id, email, password, state, protocols, home) VALUES
                   (1, 'b@a.test', 'p-b', 'active', 'imap,pop3,smtp', 'mx2'),
                   (1, 'nohome@a.test', 'p-n', 'active', 'imap,pop3,smtp', NULL),
                   (1, 'locked@a.test', 'p-l', 'locked', 'imap', 'mx2');
                 INSERT INTO virtual_app_passwords (domain_id, email, name, password, protocols) VALUES
                   (1, 'b@a.test', 'phone', 'p-phone', 'imap,smtp');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            type Fields = Vec<(String, Option<String>, Option<String>, Option<i64>, Option<String>)>;
            async fn fields(conn: &mut sqlx::SqliteConnection, query: &str, user: &str, service: &str) -> Fields {
                let sql = query.replace("%u", user).replace("%s", service);
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT password, host, proxy_maybe, port, ssl FROM ({sql})"
                )))
                .fetch_all(conn)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect()
            }
            let proxied = |password: &str, port: Option<i64>| {
                vec![(password.to_string(), Some("10.20.1.12".to_string()), Some("y".to_string()), port, Some("any-cert".to_string()))]
            };
            assert_eq!(fields(&mut conn, &mailbox, "b@a.test", "imap").await, proxied("p-b", Some(993)));
            assert_eq!(fields(&mut conn, &mailbox, "b@a.test", "pop3").await, proxied("p-b", Some(995)));
            assert_eq!(fields(&mut conn, &mailbox, "b@a.test", "smtp").await, proxied("p-b", None));
            assert_eq!(fields(&mut conn, &slot, "b@a.test", "imap").await, proxied("p-phone", Some(993)));
            assert_eq!(fields(&mut conn, &slot, "b@a.test", "smtp").await, proxied("p-phone", None));
            assert_eq!(
                fields(&mut conn, &mailbox, "nohome@a.test", "imap").await,
                vec![("p-n".to_string(), None, None, None, None)]
            );
            // LMTP's lookup (lmtp_proxy): the home's LMTP port, no TLS, and
            // a mailbox that may not log in still receives there; an app
            // password never answers it.
            let lmtp = |password: &str| {
                vec![(password.to_string(), Some("10.20.1.12".to_string()), Some("y".to_string()), Some(24), None)]
            };
            assert_eq!(fields(&mut conn, &mailbox, "b@a.test", "lmtp").await, lmtp("p-b"));
            assert_eq!(fields(&mut conn, &mailbox, "locked@a.test", "lmtp").await, lmtp("p-l"));
            assert_eq!(fields(&mut conn, &mailbox, "locked@a.test", "imap").await, vec![]);
            assert_eq!(fields(&mut conn, &slot, "b@a.test", "lmtp").await, vec![]);
            assert_eq!(
                fields(&mut conn, &mailbox, "nohome@a.test", "lmtp").await,
                vec![("p-n".to_string(), None, None, None, None)]
            );
        });
    }

    #[test]
    fn pop3_is_served_over_tls_only_when_the_platform_turns_it_on() {
        let off = files("driver = \"mysql\"");
        let conf = off.get("dovecot/dovecot.conf").unwrap();
        assert!(conf.contains("\nprotocols = imap lmtp\n"), "{conf}");
        assert!(!conf.contains("pop3"), "{conf}");
        let platform = test_repo::platform("driver = \"mysql\"")
            .replace("[mail_host]\n", "[mail_host]\npop3 = true\n");
        assert!(platform.contains("pop3 = true"), "{platform}");
        let on = test_repo::emit(&platform, &[]);
        let conf = on.get("dovecot/dovecot.conf").unwrap();
        assert!(conf.contains("\nprotocols = imap lmtp pop3\n"), "{conf}");
        assert!(
            conf.contains("  inet_listener pop3 {\n    port = 0\n  }\n  inet_listener pop3s {\n    port = 995\n    ssl = yes\n  }\n"),
            "{conf}"
        );
        let main_tf = on.get("terraform/host/main.tf").unwrap();
        assert!(
            main_tf.contains("resource \"aws_vpc_security_group_ingress_rule\" \"pop3s\""),
            "{main_tf}"
        );
        assert!(!off.get("terraform/host/main.tf").unwrap().contains("pop3"));
        assert!(
            on.get("cloud-init/user-data.yaml")
                .unwrap()
                .contains("dovecot-pop3d")
        );
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
