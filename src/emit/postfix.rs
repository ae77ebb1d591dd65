//! Postfix: `main.cf`, `master.cf`, and one lookup-table file per map.
//!
//! Every tenant fact is a query on the routing database, made by Postfix at
//! each message, so these files depend on the platform only: onboarding a
//! domain changes rows, never these files, and needs no reload. The maps are
//! read through `proxy:` (one pooled connection in proxymap instead of one
//! per smtpd process, and no table access from chrooted daemons).
//!
//! The queries are plain SQL that MariaDB and SQLite both run. Postfix
//! escapes the `%s` it substitutes for the dialect.

use serde::Serialize;

use crate::emit::header::header;
use crate::emit::mail_host::{self, DB_PASSWORD_PLACEHOLDER, LOOPBACK};
use crate::emit::{Artifacts, engine, render};
use crate::model::{Driver, HostIdentity, Platform};

const MAIN_CF: &str = include_str!("templates/postfix/main.cf");
const MASTER_CF: &str = include_str!("templates/postfix/master.cf");
const MAP_CF: &str = include_str!("templates/postfix/map.cf");
const POSTSRSD: &str = include_str!("templates/postsrsd/postsrsd");

/// One lookup table: file name, what it answers, and its query.
pub(crate) struct LookupMap {
    pub(crate) file: &'static str,
    pub(crate) parameter: &'static str,
    pub(crate) purpose: &'static str,
    pub(crate) query: &'static str,
    /// Postfix's `result_format` (`%s` is the answer), when not the answer as is.
    pub(crate) result_format: Option<&'static str>,
}

pub(crate) const DOMAINS: LookupMap = LookupMap {
    file: "virtual-domains.cf",
    parameter: "virtual_mailbox_domains",
    purpose: "Is this a tenant domain with mailboxes here? (any row means yes; a relay domain is not)",
    query: "SELECT 1 FROM virtual_domains d WHERE d.name='%s' \
AND NOT EXISTS (SELECT 1 FROM relay_domains r WHERE r.domain_id = d.id)",
    result_format: None,
};

pub(crate) const MAILBOXES: LookupMap = LookupMap {
    file: "virtual-mailboxes.cf",
    parameter: "virtual_mailbox_maps",
    purpose: "Is this address a mailbox that receives mail? (any row means yes; a disabled one, or one of a disabled tenant, does not)",
    query: "SELECT 1 FROM virtual_users u JOIN virtual_domains d ON d.id = u.domain_id \
WHERE u.email='%s' AND u.state <> 'disabled' AND d.state <> 'disabled'",
    result_format: None,
};

/// A disabled mailbox is refused at RCPT with 550 5.2.1 ("mailbox
/// disabled", RFC 3463), before `reject_unlisted_recipient` would refuse it
/// as unknown (5.1.1). Postfix asks for the full address, then for the
/// domain alone, then `user@`: the full address matches a disabled
/// mailbox, the domain a disabled tenant (every address of it, aliases and
/// unknown ones too); a domain is never an `email`, nor an address a
/// domain `name`.
pub(crate) const RECIPIENT_STATE: LookupMap = LookupMap {
    file: "recipient-state.cf",
    parameter: "check_recipient_access in smtpd_recipient_restrictions",
    purpose: "Is this recipient a disabled mailbox, or in a disabled tenant? Then its mail is refused with 550 5.2.1; the Maildir is kept.",
    query: "SELECT '550 5.2.1 Mailbox disabled' FROM virtual_users WHERE email='%s' AND state = 'disabled' \
UNION ALL SELECT '550 5.2.1 Mail domain disabled' FROM virtual_domains WHERE name='%s' AND state = 'disabled'",
    result_format: None,
};

pub(crate) const ALIASES: LookupMap = LookupMap {
    file: "virtual-aliases.cf",
    parameter: "virtual_alias_maps",
    purpose: "Where does mail to this alias go? Postfix asks for user@domain, then @domain (the catch-all).",
    query: "SELECT destination FROM virtual_aliases WHERE source='%s'",
    result_format: None,
};

pub(crate) const IDENTITY: LookupMap = LookupMap {
    file: "virtual-mailbox-identity.cf",
    parameter: "virtual_alias_maps",
    purpose: "Every mailbox to itself, so that its full address matches before a catch-all.",
    query: "SELECT email FROM virtual_users WHERE email='%s'",
    result_format: None,
};

/// The mailboxes that receive mail for an address, directly or through
/// aliases (recursively; `UNION` stops at cycles): the logins that may send
/// as it. For an address that is neither a mailbox nor an alias, Postfix
/// then asks for `@domain`, the catch-all's key, which this query never
/// matches: receiving a domain's stray mail grants no right to send as every
/// address there (an alias names the addresses a mailbox may use). The
/// send-as grants add the mailboxes the sender's tenant names
/// (`send_as`, `allow_send_as`). A mailbox's `forward` (alias rows whose
/// source is a mailbox) is never followed: forwarding its mail to someone
/// does not let them send as it.
pub(crate) const SENDER_LOGIN: LookupMap = LookupMap {
    file: "sender-login.cf",
    parameter: "smtpd_sender_login_maps",
    purpose: "Which logins may send as this envelope sender: its mailbox, the mailboxes that receive it as an alias (never a catch-all: `@domain` owns nothing; never a mailbox's forward), and the mailboxes its tenant grants it to (send_as, allow_send_as).",
    query: "WITH RECURSIVE owner(address) AS (\
SELECT email FROM virtual_users WHERE email='%s' \
UNION SELECT login FROM virtual_sender_grants WHERE sender='%s' \
UNION SELECT destination FROM virtual_aliases WHERE source='%s' AND SUBSTR(source, 1, 1) <> '@' \
AND source NOT IN (SELECT email FROM virtual_users) \
UNION SELECT a.destination FROM virtual_aliases a JOIN owner o ON a.source = o.address \
WHERE a.source NOT IN (SELECT email FROM virtual_users)) \
SELECT u.email FROM virtual_users u JOIN owner o ON u.email = o.address",
    result_format: None,
};

/// A relay tenant's domain: mail for it is accepted (for its relay
/// recipients) and forwarded, not delivered here.
pub(crate) const RELAY_DOMAINS: LookupMap = LookupMap {
    file: "relay-domains.cf",
    parameter: "relay_domains",
    purpose: "Is this a relay domain, whose mail is forwarded to the client's own server? (any row means yes)",
    query: "SELECT 1 FROM relay_domains r JOIN virtual_domains d ON d.id = r.domain_id WHERE d.name='%s'",
    result_format: None,
};

/// Where a relay domain's mail goes: the `relay` transport (Postfix's SMTP
/// client) to the next hop of its tenant file. Postfix asks for the full
/// address, then the domain; only a domain matches.
pub(crate) const RELAY_TRANSPORT: LookupMap = LookupMap {
    file: "relay-transport.cf",
    parameter: "transport_maps",
    purpose: "Where is a relay domain's mail forwarded? The relay transport (SMTP) to its next hop, with the envelope unchanged.",
    query: "SELECT r.nexthop FROM relay_domains r JOIN virtual_domains d ON d.id = r.domain_id WHERE d.name='%s'",
    result_format: Some("relay:%s"),
};

/// With `[[hosts]]`: the host a mailbox lives on, as an LMTP next hop at
/// its private address, for every mailbox with a home (its own host's
/// mailboxes too, over the same address: every host's configuration is the
/// same). Postfix asks for the final recipient after alias expansion, then
/// its domain; only a mailbox address matches, so forwards and relay
/// domains keep their own transports.
pub(crate) const HOME_TRANSPORT: LookupMap = LookupMap {
    file: "home-transport.cf",
    parameter: "transport_maps (with [[hosts]])",
    purpose: "Which host holds this mailbox? LMTP to the private address of its home host (mail_hosts), where Dovecot delivers into its Maildir.",
    query: "SELECT h.private_ip FROM virtual_users u JOIN mail_hosts h ON h.name = u.home WHERE u.email='%s'",
    result_format: Some("lmtp:inet:[%s]:24"),
};

/// The addresses a relay domain accepts; Postfix asks for `user@domain`,
/// then `@domain` (`"*"`: any). Any other address of the domain is refused
/// at RCPT with 550 5.1.1.
pub(crate) const RELAY_RECIPIENTS: LookupMap = LookupMap {
    file: "relay-recipients.cf",
    parameter: "relay_recipient_maps",
    purpose: "Is this address of a relay domain accepted? (any row means yes; `@domain` accepts any)",
    query: "SELECT 1 FROM relay_recipients WHERE address='%s'",
    result_format: None,
};

/// The senders SRS leaves alone: every address at a tenant domain (or an
/// alias domain) with mailboxes here, mapped to itself. It comes before
/// postsrsd in `sender_canonical_maps`, and Postfix stops at the first table
/// that answers, so what the platform's own users send keeps its envelope
/// sender, and onboarding a domain needs no postsrsd restart. A relay
/// domain's senders are outside senders here (their server sends their mail).
pub(crate) const SRS_EXCLUDE: LookupMap = LookupMap {
    file: "srs-exclude.cf",
    parameter: "sender_canonical_maps (with [mail_host] srs)",
    purpose: "Is this sender at a domain with mailboxes here? Then it keeps its address: SRS (postsrsd) rewrites outside senders only.",
    query: "SELECT '%s' FROM virtual_domains d WHERE d.name='%d' \
AND NOT EXISTS (SELECT 1 FROM relay_domains r WHERE r.domain_id = d.id)",
    result_format: None,
};

pub(crate) const MAPS: [&LookupMap; 10] = [
    &DOMAINS,
    &MAILBOXES,
    &ALIASES,
    &IDENTITY,
    &SENDER_LOGIN,
    &RECIPIENT_STATE,
    &RELAY_DOMAINS,
    &RELAY_TRANSPORT,
    &RELAY_RECIPIENTS,
    &SRS_EXCLUDE,
];

/// `proxy:mysql:/etc/postfix/virtual-domains.cf`.
pub(crate) fn map_reference(driver: Driver, map: &LookupMap) -> String {
    format!("proxy:{}:/etc/postfix/{}", driver.name(), map.file)
}

#[derive(Serialize)]
struct MapNames {
    domains: String,
    mailboxes: String,
    aliases: String,
    identity: String,
    sender_login: String,
    recipient_state: String,
    relay_domains: String,
    relay_transport: String,
    /// With `[[hosts]]`: `HOME_TRANSPORT`'s reference.
    home_transport: Option<String>,
    relay_recipients: String,
    srs_exclude: String,
}

/// The SRS settings of main.cf, master.cf and postsrsd's file.
#[derive(Serialize)]
struct Srs {
    domain: String,
    /// `tcp:127.0.0.1:10001`: postsrsd's sender → SRS form table.
    forward: String,
    /// `tcp:127.0.0.1:10002`: postsrsd's SRS address → original sender table.
    reverse: String,
}

/// `inet:host:port` for `hosts =` (an IPv6 address in brackets).
fn mysql_host(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("inet:[{host}]:{port}")
    } else {
        format!("inet:{host}:{port}")
    }
}

/// The Postfix files (and postsrsd's), for the host `host` (`generated/`
/// holds the primary's).
pub(crate) fn emit(platform: &Platform, host: &HostIdentity, out: &mut Artifacts) {
    let tera = engine(&[
        ("main.cf", MAIN_CF),
        ("master.cf", MASTER_CF),
        ("map.cf", MAP_CF),
        ("postsrsd", POSTSRSD),
    ]);
    let driver = platform.database.driver;
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("hostname", &host.hostname);
    context.insert("zone", &platform.zone);
    context.insert("driver", driver.name());
    context.insert("message_size_limit", &mail_host::MESSAGE_SIZE_LIMIT);
    context.insert(
        "maps",
        &MapNames {
            domains: map_reference(driver, &DOMAINS),
            mailboxes: map_reference(driver, &MAILBOXES),
            aliases: map_reference(driver, &ALIASES),
            identity: map_reference(driver, &IDENTITY),
            sender_login: map_reference(driver, &SENDER_LOGIN),
            recipient_state: map_reference(driver, &RECIPIENT_STATE),
            relay_domains: map_reference(driver, &RELAY_DOMAINS),
            relay_transport: map_reference(driver, &RELAY_TRANSPORT),
            home_transport: platform
                .hosts_declared
                .then(|| map_reference(driver, &HOME_TRANSPORT)),
            relay_recipients: map_reference(driver, &RELAY_RECIPIENTS),
            srs_exclude: map_reference(driver, &SRS_EXCLUDE),
        },
    );
    let srs = platform.srs_domain.as_ref().map(|domain| Srs {
        domain: domain.clone(),
        forward: format!("tcp:{LOOPBACK}:{}", mail_host::SRS_FORWARD_PORT),
        reverse: format!("tcp:{LOOPBACK}:{}", mail_host::SRS_REVERSE_PORT),
    });
    context.insert("srs", &srs);
    context.insert(
        "lmtp",
        &format!("lmtp:inet:{LOOPBACK}:{}", mail_host::LMTP_PORT),
    );
    context.insert("sasl", &format!("inet:{LOOPBACK}:{}", mail_host::SASL_PORT));
    context.insert(
        "quota_status",
        &format!("inet:{LOOPBACK}:{}", mail_host::QUOTA_STATUS_PORT),
    );
    context.insert(
        "milter",
        &format!("inet:{LOOPBACK}:{}", mail_host::MILTER_PORT),
    );
    context.insert("tls_cert", &host.tls_cert);
    context.insert("inbound_tls_required", &platform.inbound_tls_required);
    context.insert("tls_key", &host.tls_key);
    context.insert("submission_port", &mail_host::SUBMISSION_PORT);
    out.add("postfix/main.cf", render(&tera, "main.cf", &context));
    out.add("postfix/master.cf", render(&tera, "master.cf", &context));
    if let Some(srs) = &srs {
        context.insert("srs_domain", &srs.domain);
        context.insert("several_hosts", &platform.hosts_declared);
        context.insert("srs_secrets_file", mail_host::srs_secrets_file(platform));
        context.insert("loopback", LOOPBACK);
        context.insert("forward_port", &mail_host::SRS_FORWARD_PORT);
        context.insert("reverse_port", &mail_host::SRS_REVERSE_PORT);
        out.add("postsrsd/postsrsd", render(&tera, "postsrsd", &context));
    }

    let db = &platform.database;
    let home = platform.hosts_declared.then_some(&HOME_TRANSPORT);
    for map in MAPS.into_iter().chain(home) {
        if map.file == SRS_EXCLUDE.file && srs.is_none() {
            continue;
        }
        context.insert("purpose", map.purpose);
        context.insert("parameter", map.parameter);
        context.insert("hosts", &mysql_host(&db.host, db.port));
        context.insert("user", &db.user);
        context.insert("password", DB_PASSWORD_PLACEHOLDER);
        context.insert("dbname", &db.name);
        context.insert("dbpath", &db.path);
        context.insert("query", map.query);
        context.insert("result_format", &map.result_format);
        out.add(
            format!("postfix/{}", map.file),
            render(&tera, "map.cf", &context),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::emit::test_repo::{self, tenant};

    fn files(database: &str) -> crate::emit::Artifacts {
        test_repo::emit(
            &test_repo::platform(database),
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 2, "Acme", "A"),
            )],
        )
    }

    #[test]
    fn main_cf_and_master_cf() {
        let out = files("driver = \"mysql\"");
        insta::assert_snapshot!("main.cf", out.get("postfix/main.cf").unwrap());
        insta::assert_snapshot!("master.cf", out.get("postfix/master.cf").unwrap());
    }

    #[test]
    fn mysql_lookup_tables() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"\nport = 3306");
        for map in super::MAPS {
            insta::assert_snapshot!(
                format!("mysql-{}", map.file),
                out.get(&format!("postfix/{}", map.file)).unwrap()
            );
        }
    }

    #[test]
    fn sqlite_lookup_tables() {
        let out = files("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"");
        for map in super::MAPS {
            let text = out.get(&format!("postfix/{}", map.file)).unwrap();
            assert!(
                text.contains("dbpath = /var/lib/mailops/mail.sqlite\n"),
                "{text}"
            );
            assert!(!text.contains("password"), "{text}");
        }
        insta::assert_snapshot!(
            "sqlite-sender-login.cf",
            out.get("postfix/sender-login.cf").unwrap()
        );
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains("virtual_alias_maps = proxy:sqlite:/etc/postfix/virtual-aliases.cf, proxy:sqlite:/etc/postfix/virtual-mailbox-identity.cf\n"));
    }

    #[test]
    fn identity_map_follows_the_alias_map() {
        let main = files("driver = \"mysql\"")
            .get("postfix/main.cf")
            .unwrap()
            .to_string();
        let line = main
            .lines()
            .find(|l| l.starts_with("virtual_alias_maps = "))
            .unwrap();
        let aliases = line.find("virtual-aliases.cf").unwrap();
        let identity = line.find("virtual-mailbox-identity.cf").unwrap();
        assert!(aliases < identity, "{line}");
    }

    #[test]
    fn port_25_is_opportunistic_and_587_requires_tls_and_owned_senders() {
        let out = files("driver = \"mysql\"");
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains("\nsmtpd_tls_security_level = may\n"));
        assert!(main.contains("\nsmtpd_sasl_auth_enable = no\n"));
        assert!(main.contains("reject_unauth_destination"));
        assert!(!main.contains("permit_mynetworks"));
        let master = out.get("postfix/master.cf").unwrap();
        let submission: Vec<&str> = master
            .lines()
            .skip_while(|l| !l.starts_with("submission "))
            .skip(1)
            .take_while(|l| l.starts_with("  -o "))
            .collect();
        for option in [
            "smtpd_tls_security_level=encrypt",
            "smtpd_tls_auth_only=yes",
            "smtpd_sasl_auth_enable=yes",
            "smtpd_client_restrictions=permit_sasl_authenticated,reject",
        ] {
            assert!(
                submission.contains(&format!("  -o {option}").as_str()),
                "{option} missing in {submission:?}"
            );
        }
        assert!(
            submission
                .iter()
                .any(|l| l.contains("reject_sender_login_mismatch"))
        );
    }

    /// Postfix asks the sender-login map for `user@domain`, then `@domain`:
    /// the catch-all's key must own nothing, or its target could send as
    /// every address of the domain (issue 19). Run on the real SQLite engine
    /// against the routing tables' schema, as Postfix does (`%s` filled in).
    /// The logins the sender-login map gives for `key`, as Postfix asks.
    async fn owners(conn: &mut sqlx::SqliteConnection, key: &str) -> Vec<String> {
        let sql = super::SENDER_LOGIN.query.replace("%s", key);
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(conn)
            .await
            .unwrap()
    }

    #[test]
    fn catch_all_target_owns_no_unassigned_sender_address() {
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'alpha.test'), (2, 'beta.test');
                 INSERT INTO virtual_users (domain_id, email, password) VALUES (1, 'alice@alpha.test', 'x');
                 INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
                   (2, '@beta.test', 'alice@alpha.test'),
                   (2, 'sales@beta.test', 'alice@alpha.test');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            assert_eq!(owners(&mut conn, "alice@alpha.test").await, ["alice@alpha.test"]);
            assert_eq!(owners(&mut conn, "sales@beta.test").await, ["alice@alpha.test"]);
            // `ceo@beta.test` is nobody's: Postfix's next key is the catch-all's.
            assert!(owners(&mut conn, "ceo@beta.test").await.is_empty());
            assert!(owners(&mut conn, "@beta.test").await.is_empty());
            // A send-as grant adds its login, and only to its sender.
            sqlx::raw_sql(
                "INSERT INTO virtual_users (domain_id, email, password) VALUES (2, 'bob@beta.test', 'x');
                 INSERT INTO virtual_sender_grants (domain_id, sender, login) VALUES
                   (2, 'sales@beta.test', 'bob@beta.test');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            assert_eq!(
                owners(&mut conn, "sales@beta.test").await,
                ["alice@alpha.test", "bob@beta.test"]
            );
            assert!(owners(&mut conn, "ceo@beta.test").await.is_empty());
        });
    }

    /// Issue 22: a mailbox's `forward` is alias rows whose source is the
    /// mailbox (with a row to itself when it keeps a copy). Whoever it
    /// forwards to receives its mail but may not send as it, directly or
    /// through an alias that reaches the mailbox.
    #[test]
    fn a_mailbox_forward_grants_no_send_as() {
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'alpha.test');
                 INSERT INTO virtual_users (domain_id, email, password) VALUES
                   (1, 'alice@alpha.test', 'x'), (1, 'carol@alpha.test', 'x');
                 INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
                   (1, 'alice@alpha.test', 'alice@alpha.test'),
                   (1, 'alice@alpha.test', 'carol@alpha.test'),
                   (1, 'info@alpha.test', 'alice@alpha.test');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            assert_eq!(
                owners(&mut conn, "alice@alpha.test").await,
                ["alice@alpha.test"]
            );
            assert_eq!(
                owners(&mut conn, "info@alpha.test").await,
                ["alice@alpha.test"]
            );
            assert_eq!(
                owners(&mut conn, "carol@alpha.test").await,
                ["carol@alpha.test"]
            );
        });
    }

    /// A current-thread runtime and an in-memory SQLite database holding the
    /// routing tables as mailops's migrations make them (every one): the
    /// queries' tests run on the real engine, with Postfix's and Dovecot's
    /// `%s`/`%u` filled in.
    pub(crate) fn routing_tables() -> (tokio::runtime::Runtime, sqlx::SqliteConnection) {
        use sqlx::Connection;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conn = runtime.block_on(async {
            let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
                .await
                .unwrap();
            for migration in crate::db::migrate::MIGRATIONS {
                let sql = migration.sql(crate::db::connection::Dialect::Sqlite);
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
            conn
        });
        (runtime, conn)
    }

    /// Mailbox states on the real SQLite engine: a disabled mailbox is no
    /// mailbox for Postfix (its alias mail would bounce) and is refused with
    /// 550 5.2.1 at RCPT; a locked one is still a mailbox (it receives).
    #[test]
    fn a_disabled_mailbox_is_refused_with_5_2_1_and_a_locked_one_receives() {
        use sqlx::SqliteConnection;
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'alpha.test');
                 INSERT INTO virtual_users (domain_id, email, password, state) VALUES
                   (1, 'on@alpha.test', 'x', 'active'),
                   (1, 'locked@alpha.test', 'x', 'locked'),
                   (1, 'off@alpha.test', 'x', 'disabled');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            async fn rows(conn: &mut SqliteConnection, map: &LookupMap, key: &str) -> usize {
                let sql = map.query.replace("%s", key);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
                    .len()
            }
            async fn answer(
                conn: &mut SqliteConnection,
                map: &LookupMap,
                key: &str,
            ) -> Vec<String> {
                let sql = map.query.replace("%s", key);
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
            }
            use super::{LookupMap, MAILBOXES, RECIPIENT_STATE};
            for address in ["on@alpha.test", "locked@alpha.test"] {
                assert_eq!(rows(&mut conn, &MAILBOXES, address).await, 1, "{address}");
                assert!(
                    answer(&mut conn, &RECIPIENT_STATE, address)
                        .await
                        .is_empty(),
                    "{address}"
                );
            }
            assert_eq!(rows(&mut conn, &MAILBOXES, "off@alpha.test").await, 0);
            assert_eq!(
                answer(&mut conn, &RECIPIENT_STATE, "off@alpha.test").await,
                ["550 5.2.1 Mailbox disabled"]
            );
            // Postfix's other keys for an access map: the domain, `user@`.
            for key in ["alpha.test", "off@"] {
                assert!(
                    answer(&mut conn, &RECIPIENT_STATE, key).await.is_empty(),
                    "{key}"
                );
            }
        });
    }

    /// Tenant states on the real SQLite engine: every address of a disabled
    /// tenant (mailbox, alias, unknown) is refused with 550 5.2.1 at its
    /// domain's key, and none of its mailboxes is a mailbox any more (mail
    /// forwarded into it bounces); a suspended tenant still receives.
    #[test]
    fn a_disabled_tenant_is_refused_with_5_2_1_and_a_suspended_one_receives() {
        use super::{MAILBOXES, RECIPIENT_STATE};
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name, state) VALUES
                   (1, 'on.test', 'active'), (2, 'paused.test', 'suspended'), (3, 'off.test', 'disabled');
                 INSERT INTO virtual_users (domain_id, email, password, state) VALUES
                   (1, 'a@on.test', 'x', 'active'),
                   (2, 'a@paused.test', 'x', 'active'),
                   (3, 'a@off.test', 'x', 'active'),
                   (3, 'gone@off.test', 'x', 'disabled');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            async fn rows(conn: &mut sqlx::SqliteConnection, key: &str) -> usize {
                let sql = MAILBOXES.query.replace("%s", key);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
                    .len()
            }
            async fn answer(conn: &mut sqlx::SqliteConnection, key: &str) -> Vec<String> {
                let sql = RECIPIENT_STATE.query.replace("%s", key);
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
            }
            for address in ["a@on.test", "a@paused.test"] {
                assert_eq!(rows(&mut conn, address).await, 1, "{address}");
            }
            for address in ["a@off.test", "gone@off.test"] {
                assert_eq!(rows(&mut conn, address).await, 0, "{address}");
            }
            for key in ["on.test", "paused.test", "a@on.test", "a@paused.test", "a@off.test", "a@"] {
                assert!(answer(&mut conn, key).await.is_empty(), "{key}");
            }
            assert_eq!(
                answer(&mut conn, "off.test").await,
                ["550 5.2.1 Mail domain disabled"]
            );
            assert_eq!(
                answer(&mut conn, "gone@off.test").await,
                ["550 5.2.1 Mailbox disabled"]
            );
        });
    }

    /// Relay domains on the real SQLite engine: a relay tenant is no mailbox
    /// domain, it is a relay domain whose transport is `relay:<next hop>`
    /// (asked for by domain only), and only its listed recipients (or any,
    /// with `@domain`) are accepted.
    #[test]
    fn a_relay_domain_is_relayed_to_its_next_hop_for_its_recipients_only() {
        use super::{DOMAINS, LookupMap, RELAY_DOMAINS, RELAY_RECIPIENTS, RELAY_TRANSPORT};
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES
                   (1, 'hosted.test'), (2, 'relayed.test'), (3, 'backup.test');
                 INSERT INTO relay_domains (domain_id, nexthop, backup_mx) VALUES
                   (2, '[mail.relayed.test]:25', 0), (3, '[192.0.2.1]:2525', 1);
                 INSERT INTO relay_recipients (domain_id, address) VALUES
                   (2, 'alice@relayed.test'), (3, '@backup.test');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            async fn answer(
                conn: &mut sqlx::SqliteConnection,
                map: &LookupMap,
                key: &str,
            ) -> Vec<String> {
                use sqlx::Row;
                let sql = map.query.replace("%s", key);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| {
                        row.try_get::<String, _>(0)
                            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
                            .unwrap()
                    })
                    .collect()
            }
            assert_eq!(answer(&mut conn, &DOMAINS, "hosted.test").await, ["1"]);
            for relayed in ["relayed.test", "backup.test"] {
                assert!(answer(&mut conn, &DOMAINS, relayed).await.is_empty());
                assert_eq!(answer(&mut conn, &RELAY_DOMAINS, relayed).await, ["1"]);
            }
            assert!(
                answer(&mut conn, &RELAY_DOMAINS, "hosted.test")
                    .await
                    .is_empty()
            );
            assert_eq!(
                answer(&mut conn, &RELAY_TRANSPORT, "relayed.test").await,
                ["[mail.relayed.test]:25"]
            );
            assert_eq!(RELAY_TRANSPORT.result_format, Some("relay:%s"));
            for key in ["alice@relayed.test", "hosted.test"] {
                assert!(
                    answer(&mut conn, &RELAY_TRANSPORT, key).await.is_empty(),
                    "{key}"
                );
            }
            assert_eq!(
                answer(&mut conn, &RELAY_RECIPIENTS, "alice@relayed.test").await,
                ["1"]
            );
            for key in ["bob@relayed.test", "@relayed.test"] {
                assert!(
                    answer(&mut conn, &RELAY_RECIPIENTS, key).await.is_empty(),
                    "{key}"
                );
            }
            // `"*"`: Postfix's second key, `@domain`, matches any address.
            assert_eq!(
                answer(&mut conn, &RELAY_RECIPIENTS, "@backup.test").await,
                ["1"]
            );
        });
    }

    /// The SRS exclusion map on the real SQLite engine: an address at a
    /// domain with mailboxes here maps to itself (Postfix then stops before
    /// postsrsd), one at a relay domain or outside does not (postsrsd
    /// rewrites it). Postfix fills `%s` with the address, `%d` its domain.
    #[test]
    fn srs_leaves_senders_at_hosted_domains_alone() {
        use super::SRS_EXCLUDE;
        let (runtime, mut conn) = routing_tables();
        runtime.block_on(async {
            sqlx::raw_sql(
                "INSERT INTO virtual_domains (id, name) VALUES (1, 'hosted.test'), (2, 'relayed.test');
                 INSERT INTO relay_domains (domain_id, nexthop, backup_mx) VALUES (2, '[mail.relayed.test]:25', 0);",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            async fn answer(conn: &mut sqlx::SqliteConnection, address: &str) -> Vec<String> {
                use sqlx::Row;
                let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
                let sql = SRS_EXCLUDE
                    .query
                    .replace("%s", address)
                    .replace("%d", domain);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<String, _>(0))
                    .collect()
            }
            assert_eq!(
                answer(&mut conn, "alice@hosted.test").await,
                ["alice@hosted.test"]
            );
            for outside in ["bob@relayed.test", "someone@outside.test"] {
                assert!(answer(&mut conn, outside).await.is_empty(), "{outside}");
            }
        });
    }

    fn srs_files(mail_host_extra: &str) -> crate::emit::Artifacts {
        let platform = test_repo::platform("driver = \"mysql\"").replacen(
            "[mail_host]\n",
            &format!("[mail_host]\n{mail_host_extra}"),
            1,
        );
        test_repo::emit(
            &platform,
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        )
    }

    /// SRS is on by default, under the host name: the exclusion map before
    /// postsrsd's forward table, its reverse table for bounces, the relay
    /// transport turning senders back, and postsrsd's settings file.
    #[test]
    fn srs_is_on_by_default_under_the_host_name() {
        let out = srs_files("");
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains(
            "\nsender_canonical_maps = proxy:mysql:/etc/postfix/srs-exclude.cf, tcp:127.0.0.1:10001\n\
             sender_canonical_classes = envelope_sender\n\
             recipient_canonical_maps = tcp:127.0.0.1:10002\n\
             recipient_canonical_classes = envelope_recipient\n"
        ));
        assert!(main.contains("\nmydestination = $myhostname, localhost\n"));
        let master = out.get("postfix/master.cf").unwrap();
        assert!(master.contains(
            "relay      unix  -       -       y       -       -       smtp\n  \
             -o syslog_name=postfix/$service_name\n  \
             -o smtp_generic_maps=tcp:127.0.0.1:10002\n"
        ));
        let settings = out.get("postsrsd/postsrsd").unwrap();
        for line in [
            "SRS_DOMAIN=mx.webhizzy.in",
            "SRS_LISTEN_ADDR=127.0.0.1",
            "SRS_FORWARD_PORT=10001",
            "SRS_REVERSE_PORT=10002",
            "SRS_SECRET=/etc/postsrsd.secret",
        ] {
            assert!(settings.lines().any(|l| l == line), "{line}: {settings}");
        }
        let tf = out.get("terraform/host/main.tf").unwrap();
        assert!(tf.contains("resource \"aws_route53_record\" \"srs_spf\""));
        assert!(tf.contains("\"v=spf1 a:mx.webhizzy.in -all\""));
        assert!(!tf.contains("srs_mx"), "the host name has its A record");
    }

    /// Another SRS domain in the zone is a local destination too, with its
    /// own MX; `srs = false` leaves every sender and the relay alone.
    #[test]
    fn srs_domain_and_srs_off() {
        let out = srs_files("srs_domain = \"srs.webhizzy.in\"\n");
        let main = out.get("postfix/main.cf").unwrap();
        assert!(main.contains("\nmydestination = $myhostname, localhost, srs.webhizzy.in\n"));
        assert!(
            out.get("postsrsd/postsrsd")
                .unwrap()
                .contains("\nSRS_DOMAIN=srs.webhizzy.in\n")
        );
        let tf = out.get("terraform/host/main.tf").unwrap();
        assert!(tf.contains("resource \"aws_route53_record\" \"srs_mx\""));
        assert!(tf.contains("\"10 mx.webhizzy.in.\""));

        let off = srs_files("srs = false\n");
        assert!(off.get("postsrsd/postsrsd").is_none());
        assert!(off.get("postfix/srs-exclude.cf").is_none());
        assert!(!off.get("postfix/main.cf").unwrap().contains("canonical"));
        assert!(!off.get("postfix/master.cf").unwrap().contains("generic"));
        assert!(!off.get("terraform/host/main.tf").unwrap().contains("srs_"));
        assert!(
            !off.get("cloud-init/user-data.yaml")
                .unwrap()
                .contains("postsrsd")
        );
    }

    #[test]
    fn an_ipv6_database_host_is_bracketed() {
        assert_eq!(super::mysql_host("::1", 3306), "inet:[::1]:3306");
        assert_eq!(
            super::mysql_host("db.internal", 3307),
            "inet:db.internal:3307"
        );
    }

    /// Outbound mail is DANE-checked (issue 20): Postfix asks for DNSSEC-validated
    /// answers and verifies a destination's TLSA records where they are signed.
    /// `scripts/e2e dane` proves it on a real Postfix with these lines.
    #[test]
    fn outbound_mail_uses_dane_with_dnssec_lookups() {
        let out = test_repo::emit(&test_repo::platform(""), &[]);
        let main = out.get("postfix/main.cf").unwrap();
        let setting = |key: &str| {
            main.lines()
                .filter_map(|l| l.strip_prefix(key)?.strip_prefix(" = "))
                .collect::<Vec<_>>()
        };
        assert_eq!(setting("smtp_tls_security_level"), ["dane"]);
        assert_eq!(setting("smtp_dns_support_level"), ["dnssec"]);
    }

    /// `[mail_host] inbound_tls = "require"` makes STARTTLS mandatory on port
    /// 25 (530 without it); the default offers it.
    #[test]
    fn inbound_tls_require_makes_port_25_encrypt() {
        let level = |extra: &str| {
            let platform = test_repo::platform("").replace(
                "admin_email = \"postmaster@webhizzy.in\"\n",
                &format!("admin_email = \"postmaster@webhizzy.in\"\n{extra}"),
            );
            let out = test_repo::emit(&platform, &[]);
            let main = out.get("postfix/main.cf").unwrap().to_string();
            main.lines()
                .find(|l| l.starts_with("smtpd_tls_security_level = "))
                .unwrap()
                .to_string()
        };
        assert_eq!(level(""), "smtpd_tls_security_level = may");
        assert_eq!(
            level("inbound_tls = \"offer\"\n"),
            "smtpd_tls_security_level = may"
        );
        assert_eq!(
            level("inbound_tls = \"require\"\n"),
            "smtpd_tls_security_level = encrypt"
        );
    }
}
