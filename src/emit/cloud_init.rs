//! cloud-init: `cloud-init/user-data.yaml`, the mail host's first boot.
//!
//! It embeds the Postfix, Dovecot and Rspamd files exactly as generated (read
//! back from the `Artifacts` already emitted, placed where `mail_host`
//! says), so it is emitted last. Because those files do not depend on the
//! tenants, neither does this one: `main.tf` does not change, and the
//! instance is not replaced, when a tenant is added.
//!
//! Files are written with `defer: true`: cloud-init then writes them after
//! the packages are installed, when the `postfix`, `dovecot` and `_rspamd`
//! groups they belong to exist. A first-boot script does the rest; it holds
//! no secret either: with a local MariaDB it makes the database password on
//! the host, keeps it in the secrets file for `mailops install`, creates the
//! database and its read-only account, and fills the placeholder in the
//! installed configs.
//!
//! EC2 accepts at most 16 KiB of user data; a test keeps this file under it.

use serde::Serialize;

use crate::emit::header::header;
use crate::emit::mail_host::{self, DB_PASSWORD_PLACEHOLDER, RSPAMD_GROUP};
use crate::emit::{Artifacts, engine, render};
use crate::model::{Driver, Platform};

const USER_DATA: &str = include_str!("templates/cloud-init/user-data.yaml");
const FIRSTBOOT: &str = include_str!("templates/cloud-init/firstboot.sh");
const BOOTSTRAP_SQL: &str = include_str!("templates/cloud-init/bootstrap.sql");
const RELOAD_HOOK: &str = include_str!("templates/cloud-init/reload-hook.sh");

pub(crate) const PATH: &str = "cloud-init/user-data.yaml";
const FIRSTBOOT_PATH: &str = "/usr/local/sbin/mailops-firstboot";
const BOOTSTRAP_SQL_PATH: &str = "/etc/mailops/bootstrap-mariadb.sql";
const RELOAD_HOOK_PATH: &str = "/etc/letsencrypt/renewal-hooks/deploy/mailops-reload";

/// One `write_files` entry.
#[derive(Serialize)]
struct File {
    path: String,
    owner: String,
    mode: &'static str,
    content: String,
}

/// Whether the routing database is a MariaDB on the mail host itself.
fn mysql_is_local(platform: &Platform) -> bool {
    platform.database.driver == Driver::Mysql
        && matches!(
            platform.database.host.as_str(),
            "127.0.0.1" | "localhost" | "::1"
        )
}

/// Debian 12 packages for the platform's database driver.
fn packages(platform: &Platform) -> Vec<&'static str> {
    let mut packages = vec![
        "postfix",
        "dovecot-core",
        "dovecot-imapd",
        "dovecot-lmtpd",
        "rspamd",
        "certbot",
        "openssl",
        "ca-certificates",
        "unattended-upgrades",
    ];
    match platform.database.driver {
        Driver::Mysql => packages.extend(["postfix-mysql", "dovecot-mysql"]),
        Driver::Sqlite => packages.extend(["postfix-sqlite", "dovecot-sqlite", "sqlite3"]),
    }
    if mysql_is_local(platform) {
        packages.push("mariadb-server");
    }
    packages
}

/// The accounts MariaDB sees the mail services as (TCP from loopback is
/// `localhost` when the server resolves names, `127.0.0.1` when it does not).
fn db_client_hosts(platform: &Platform) -> Vec<&'static str> {
    match platform.database.host.as_str() {
        "::1" => vec!["localhost", "::1"],
        _ => vec!["localhost", "127.0.0.1"],
    }
}

fn letsencrypt_paths(platform: &Platform) -> bool {
    platform.tls.cert == format!("/etc/letsencrypt/live/{}/fullchain.pem", platform.hostname)
}

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[
        ("user-data.yaml", USER_DATA),
        ("firstboot.sh", FIRSTBOOT),
        ("bootstrap.sql", BOOTSTRAP_SQL),
        ("reload-hook.sh", RELOAD_HOOK),
    ]);
    let mut files: Vec<File> = out
        .iter()
        .filter_map(|(path, content)| {
            let place = mail_host::placement(path)?;
            Some(File {
                path: place.path,
                owner: format!("{}:{}", place.owner, place.group),
                mode: place.mode,
                content: content.to_string(),
            })
        })
        .collect();
    let secret_files: Vec<String> = files
        .iter()
        .filter(|f| f.content.contains(DB_PASSWORD_PLACEHOLDER))
        .map(|f| f.path.clone())
        .collect();

    let mut context = tera::Context::new();
    context.insert("hostname", &platform.hostname);
    context.insert(
        "short_hostname",
        platform
            .hostname
            .split('.')
            .next()
            .unwrap_or(&platform.hostname),
    );
    context.insert("admin_email", &platform.admin_email);
    context.insert("vmail_root", &platform.paths.vmail_root);
    context.insert("vmail_user", mail_host::VMAIL_USER);
    context.insert("vmail_uid", &mail_host::VMAIL_UID);
    context.insert("vmail_gid", &mail_host::VMAIL_GID);
    context.insert("dkim_key_dir", &platform.paths.dkim_key_dir);
    context.insert("rspamd_group", RSPAMD_GROUP);
    context.insert("selector_map", mail_host::DKIM_SELECTOR_MAP);
    context.insert("secrets_file", mail_host::SECRETS_FILE);
    context.insert("placeholder", DB_PASSWORD_PLACEHOLDER);
    context.insert("driver", platform.database.driver.name());
    context.insert("mysql_local", &mysql_is_local(platform));
    context.insert("db_name", &platform.database.name);
    context.insert("db_user", &platform.database.user);
    context.insert("db_client_hosts", &db_client_hosts(platform));
    let db_dir = platform
        .database
        .path
        .rsplit_once('/')
        .map_or("/", |(dir, _)| dir);
    context.insert("db_path_dir", if db_dir.is_empty() { "/" } else { db_dir });
    context.insert("bootstrap_sql", BOOTSTRAP_SQL_PATH);
    context.insert("secret_files", &secret_files);
    context.insert("letsencrypt", &letsencrypt_paths(platform));
    context.insert("tls_cert", &platform.tls.cert);

    context.insert("header", &header("#", "mailops.toml"));
    files.push(File {
        path: FIRSTBOOT_PATH.to_string(),
        owner: "root:root".to_string(),
        mode: "0755",
        content: render(&tera, "firstboot.sh", &context),
    });
    if letsencrypt_paths(platform) {
        files.push(File {
            path: RELOAD_HOOK_PATH.to_string(),
            owner: "root:root".to_string(),
            mode: "0755",
            content: render(&tera, "reload-hook.sh", &context),
        });
    }
    if mysql_is_local(platform) {
        context.insert("header", &header("--", "mailops.toml"));
        files.push(File {
            path: BOOTSTRAP_SQL_PATH.to_string(),
            owner: "root:root".to_string(),
            mode: "0600",
            content: render(&tera, "bootstrap.sql", &context),
        });
    }

    context.insert("header", &header("#", "mailops.toml"));
    context.insert("files", &files);
    context.insert("packages", &packages(platform));
    out.add(PATH, render(&tera, "user-data.yaml", &context));
}
