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
//! groups they belong to exist. A first-boot script does the rest, and holds
//! no secret either: it installs the mailops binary (refused unless its
//! SHA-256 is the one named), makes the host's age identity and prints its
//! recipient (publishing it to SSM when asked), with a local MariaDB makes
//! the two database passwords on the host (the services' read-only account,
//! mailops' writing account) into the secrets file, creates the database and
//! both accounts and fills the placeholder in the installed configs, reads
//! the repo's deploy key from SSM, writes `/etc/mailops/host.toml`, runs the
//! first `mailops reconcile --once` and enables its timer.
//!
//! What only Terraform knows (the release URL and its SHA-256, the repo, the
//! SSM parameter names) is not in this file: `terraform/main.tf` replaces
//! [`BOOT_SETTINGS_PLACEHOLDER`] with a base64 `key=value` file, each value
//! checked by its variable's validation and again by the script.
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
const UNBOUND_CONF: &str = include_str!("templates/cloud-init/unbound.conf");
const DHCLIENT_HOOK: &str = include_str!("templates/cloud-init/dhclient-hook.sh");
const WEB_CERTS: &str = include_str!("templates/cloud-init/web-certs.sh");

pub(crate) const PATH: &str = "cloud-init/user-data.yaml";
const FIRSTBOOT_PATH: &str = "/usr/local/sbin/mailops-firstboot";
const BOOTSTRAP_SQL_PATH: &str = "/etc/mailops/bootstrap-mariadb.sql";
const RELOAD_HOOK_PATH: &str = "/etc/letsencrypt/renewal-hooks/deploy/mailops-reload";
/// The validating resolver Postfix's DANE relies on (Debian's unbound reads
/// every `.conf` of this folder).
const UNBOUND_CONF_PATH: &str = "/etc/unbound/unbound.conf.d/mailops.conf";
const DHCLIENT_HOOK_PATH: &str = "/etc/dhcp/dhclient-enter-hooks.d/mailops-resolv-conf";

/// Replaced by `terraform/main.tf` with the base64 of the boot settings.
pub(crate) const BOOT_SETTINGS_PLACEHOLDER: &str = "@@MAILOPS_BOOT_SETTINGS@@";
/// Where the writing account's password goes in the secrets file's URL
/// until the first boot makes it.
const WRITER_PASSWORD_PLACEHOLDER: &str = "@@MAILOPS_WRITER_PASSWORD@@";
const SETTINGS_PATH: &str = "/etc/mailops/boot.env";
const IDENTITY_PATH: &str = "/etc/mailops/age-identity.txt";
const DEPLOY_KEY_PATH: &str = "/etc/mailops/deploy-key";
const KNOWN_HOSTS_PATH: &str = "/etc/mailops/known_hosts";
pub(crate) const HOST_CONFIG_PATH: &str = "/etc/mailops/host.toml";
const WORK_DIR: &str = "/var/lib/mailops";
const SYSTEMD_DIR: &str = "/etc/systemd/system";
/// A drop-in giving the reconcile service the deploy key for `git fetch`.
const GIT_SSH_DROP_IN: &str =
    "/etc/systemd/system/mailops-reconcile.service.d/mailops-git-ssh.conf";

/// One `write_files` entry.
#[derive(Serialize)]
struct File {
    path: String,
    owner: String,
    mode: &'static str,
    content: String,
}

/// Debian 12 packages for the platform's database driver.
fn packages(platform: &Platform) -> Vec<&'static str> {
    let mut packages = vec![
        "postfix",
        "dovecot-core",
        "dovecot-imapd",
        "dovecot-lmtpd",
        "rspamd",
        // The buckets of Rspamd's ratelimit module (the send limits); Debian's
        // redis-server listens on loopback only.
        "redis-server",
        "certbot",
        // MTA-STS policies and autoconfig files over HTTPS; the HTTP-01
        // challenges of every certificate.
        "nginx",
        "openssl",
        "ca-certificates",
        "unattended-upgrades",
        // Outbound DANE: a local DNSSEC-validating resolver and the root
        // trust anchor it starts from.
        "unbound",
        "dns-root-data",
        // The first boot: the binary, the host's identity, SSM, the repo.
        "curl",
        "age",
        "awscli",
        "git",
    ];
    match platform.database.driver {
        Driver::Mysql => packages.extend(["postfix-mysql", "dovecot-mysql"]),
        Driver::Sqlite => packages.extend(["postfix-sqlite", "dovecot-sqlite", "sqlite3"]),
    }
    if mail_host::local_mariadb(platform) {
        packages.push("mariadb-server");
    }
    if crate::emit::galera::has_nodes(platform) {
        // The host's Galera node (its settings come with the first
        // install; the cluster is formed by hand, never at boot) and the
        // tool of its state transfer.
        packages.extend(["galera-4", "rsync"]);
    }
    if platform.pop3 {
        packages.push("dovecot-pop3d");
    }
    if platform.srs_domain.is_some() {
        // SRS for forwarded mail; the package makes its secret on the host.
        packages.push("postsrsd");
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

/// The account mailops writes the routing tables with: never the services'.
fn writer_user(platform: &Platform) -> &'static str {
    if platform.database.user == "mailops" {
        "mailops_rw"
    } else {
        "mailops"
    }
}

/// A TOML basic string holding exactly `value`.
fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// `ssh` for git with the deploy key: the host key named in main.tf, or the
/// first one seen, kept (a changed key is refused either way).
fn git_ssh_command() -> String {
    format!(
        "ssh -i {DEPLOY_KEY_PATH} -o IdentitiesOnly=yes -o UserKnownHostsFile={KNOWN_HOSTS_PATH} -o StrictHostKeyChecking=accept-new"
    )
}

/// The lines of `host.toml` before `repo` and `branch` (which come from the
/// boot settings), and after.
fn host_config(platform: &Platform) -> (String, String) {
    let head = format!(
        "# {HOST_CONFIG_PATH}: the reconcile agent's settings (see \"On the mail host\" in\n\
         # mailops' README), written by mailops-firstboot; edit freely, it is never rewritten.\n\
         version = 1"
    );
    let database = match platform.database.driver {
        Driver::Sqlite => format!("sqlite://{}", platform.database.path),
        Driver::Mysql => mail_host::SECRETS_FILE.to_string(),
    };
    let mut tail = [
        ("work_dir", WORK_DIR.to_string()),
        ("identity", IDENTITY_PATH.to_string()),
        ("database", database),
        ("install_root", "/".to_string()),
    ]
    .iter()
    .map(|(key, value)| format!("{key} = {}", toml_string(value)))
    .collect::<Vec<_>>()
    .join("\n");
    if platform.hosts_declared {
        // The mail services first start at the install that puts this
        // host's configs in place: `reload-or-restart` starts a stopped one.
        let reload: Vec<String> = ["dovecot", "nginx", "postfix", "postsrsd", "rspamd"]
            .iter()
            .map(|service| {
                let verb = match *service {
                    "postfix" | "dovecot" | "rspamd" => "reload-or-restart",
                    "postsrsd" => "restart",
                    _ => "reload",
                };
                format!(
                    "{service} = {}",
                    toml_string(&format!("systemctl {verb} {service}"))
                )
            })
            .collect();
        tail.push_str(&format!("\nreload = {{ {} }}", reload.join(", ")));
    }
    (head, tail)
}

/// The local MariaDB server's socket on Debian.
const MARIADB_SOCKET: &str = "/run/mysqld/mysqld.sock";

/// The secrets file's line for the writing account, its password a
/// placeholder: the account exists at `localhost` only, reached through the
/// server's socket.
fn writer_url_line(platform: &Platform) -> String {
    let db = &platform.database;
    format!(
        "database_url = {}",
        toml_string(&format!(
            "mysql://{}:{WRITER_PASSWORD_PLACEHOLDER}@localhost:{}/{}?socket={MARIADB_SOCKET}",
            writer_user(platform),
            db.port,
            db.name
        ))
    )
}

/// The systemd units `generated/systemd/` holds, placed in /etc/systemd/system.
fn systemd_unit(path: &str, content: &str) -> Option<File> {
    let name = path.strip_prefix("systemd/")?;
    (!name.contains('/')).then(|| File {
        path: format!("{SYSTEMD_DIR}/{name}"),
        owner: "root:root".to_string(),
        mode: "0644",
        content: content.to_string(),
    })
}

/// With `[[hosts]]`: the table by which the first boot finds its hostname
/// from its `mailops-host` tag (every host boots with the same user data).
#[derive(Serialize)]
struct BootHost<'a> {
    name: &'a str,
    hostname: &'a str,
}

fn boot_hosts(platform: &Platform) -> Vec<BootHost<'_>> {
    if !platform.hosts_declared {
        return Vec::new();
    }
    platform
        .hosts
        .iter()
        .map(|h| BootHost {
            name: &h.name,
            hostname: &h.hostname,
        })
        .collect()
}

/// With `[[hosts]]`: the tag of each instance that names its host
/// (terraform/host/main.tf sets it, the first boot reads it over IMDSv2).
pub(crate) const HOST_TAG: &str = "mailops-host";

fn letsencrypt_paths(platform: &Platform) -> bool {
    platform.tls.cert == format!("/etc/letsencrypt/live/{}/fullchain.pem", platform.hostname)
}

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[
        ("user-data.yaml", USER_DATA),
        ("firstboot.sh", FIRSTBOOT),
        ("bootstrap.sql", BOOTSTRAP_SQL),
        ("reload-hook.sh", RELOAD_HOOK),
        ("unbound.conf", UNBOUND_CONF),
        ("dhclient-hook.sh", DHCLIENT_HOOK),
        ("web-certs.sh", WEB_CERTS),
    ]);
    let mut files: Vec<File> = out
        .iter()
        .filter_map(|(path, content)| {
            let Some(place) = mail_host::placement(path, content) else {
                return systemd_unit(path, content);
            };
            // With [[hosts]], the mail services' configs come from the first
            // reconcile, rendered for the host the instance is (its tag):
            // those of generated/ are the primary's. nginx's are every host's.
            if platform.hosts_declared && !path.starts_with("nginx/") {
                return None;
            }
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
    context.insert("hosts", &boot_hosts(platform));
    context.insert("host_tag", HOST_TAG);
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
    context.insert("rate_limit_map", mail_host::RATE_LIMIT_MAP);
    context.insert("secrets_file", mail_host::SECRETS_FILE);
    context.insert("placeholder", DB_PASSWORD_PLACEHOLDER);
    context.insert("driver", platform.database.driver.name());
    context.insert("mysql_local", &mail_host::local_mariadb(platform));
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
    context.insert("srs", &platform.srs_domain.is_some());
    context.insert("tls_cert", &platform.tls.cert);
    context.insert("dhclient_hook", DHCLIENT_HOOK_PATH);
    context.insert("settings_file", SETTINGS_PATH);
    context.insert("settings_placeholder", BOOT_SETTINGS_PLACEHOLDER);
    context.insert("identity_file", IDENTITY_PATH);
    context.insert("deploy_key_file", DEPLOY_KEY_PATH);
    context.insert("known_hosts_file", KNOWN_HOSTS_PATH);
    context.insert("host_config_file", HOST_CONFIG_PATH);
    context.insert("git_ssh_command", &git_ssh_command());
    let (head, tail) = host_config(platform);
    context.insert("host_config_head", &head);
    context.insert("host_config_tail", &tail);
    context.insert("writer_user", writer_user(platform));
    context.insert("writer_placeholder", WRITER_PASSWORD_PLACEHOLDER);
    context.insert("writer_url_line", &writer_url_line(platform));
    context.insert("list", crate::emit::nginx::CERT_LIST);
    context.insert("acme_root", crate::emit::nginx::ACME_ROOT);
    context.insert("web_root", crate::emit::nginx::WEB_ROOT);
    context.insert("web_certs", crate::emit::nginx::CERTS_SCRIPT);

    context.insert("header", &header("#", "mailops.toml"));
    files.push(File {
        path: FIRSTBOOT_PATH.to_string(),
        owner: "root:root".to_string(),
        mode: "0755",
        content: render(&tera, "firstboot.sh", &context),
    });
    files.push(File {
        path: crate::emit::nginx::CERTS_SCRIPT.to_string(),
        owner: "root:root".to_string(),
        mode: "0755",
        content: render(&tera, "web-certs.sh", &context),
    });
    files.push(File {
        path: GIT_SSH_DROP_IN.to_string(),
        owner: "root:root".to_string(),
        mode: "0644",
        content: format!(
            "{}[Service]\nEnvironment=\"GIT_SSH_COMMAND={}\"\n",
            header("#", "mailops.toml"),
            git_ssh_command()
        ),
    });
    for (path, template) in [
        (UNBOUND_CONF_PATH, "unbound.conf"),
        (DHCLIENT_HOOK_PATH, "dhclient-hook.sh"),
    ] {
        files.push(File {
            path: path.to_string(),
            owner: "root:root".to_string(),
            mode: "0644",
            content: render(&tera, template, &context),
        });
    }
    if letsencrypt_paths(platform) {
        files.push(File {
            path: RELOAD_HOOK_PATH.to_string(),
            owner: "root:root".to_string(),
            mode: "0755",
            content: render(&tera, "reload-hook.sh", &context),
        });
    }
    if mail_host::local_mariadb(platform) {
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use serde_json::Value;

    use crate::emit::test_repo::{self, tenant};
    use crate::emit::yaml::tests::pyyaml;
    use crate::emit::{Artifacts, mail_host};

    fn files(database: &str) -> Artifacts {
        test_repo::emit(
            &test_repo::platform(database),
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        )
    }

    fn model(database: &str) -> crate::model::Model {
        test_repo::compile(&test_repo::platform(database), &[])
    }

    fn write_files(parsed: &Value) -> Vec<Value> {
        parsed["write_files"].as_array().unwrap().clone()
    }

    fn entry<'a>(entries: &'a [Value], path: &str) -> &'a Value {
        entries
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("{path} not written"))
    }

    /// `sh -n`: the script parses.
    fn assert_shell_parses(script: &str) {
        let mut child = Command::new("sh")
            .arg("-n")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn user_data() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        insta::assert_snapshot!("user-data.yaml", out.get(super::PATH).unwrap());
    }

    #[test]
    fn starts_with_cloud_config_then_the_header() {
        let out = files("driver = \"mysql\"");
        let text = out.get(super::PATH).unwrap();
        assert!(
            text.starts_with(
                "#cloud-config\n# generated by mailops from mailops.toml; do not edit\n"
            )
        );
    }

    #[test]
    fn pyyaml_reads_every_config_back_byte_for_byte() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        let entries = write_files(&parsed);
        let mut installed = 0;
        for (path, contents) in out.iter() {
            let Some(place) = mail_host::placement(path, contents) else {
                continue;
            };
            let e = entry(&entries, &place.path);
            assert_eq!(e["content"], contents, "{path}");
            assert_eq!(
                e["owner"],
                format!("{}:{}", place.owner, place.group),
                "{path}"
            );
            assert_eq!(e["permissions"], place.mode, "{path}");
            assert_eq!(e["defer"], true, "{path}");
            installed += 1;
        }
        assert_eq!(
            installed, 29,
            "postfix (12), dovecot (10: 2 + 8 app password slots), rspamd (5), postsrsd (1), nginx (1)"
        );
        let packages: Vec<&str> = parsed["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for package in [
            "postfix",
            "postfix-mysql",
            "dovecot-imapd",
            "dovecot-lmtpd",
            "dovecot-mysql",
            "rspamd",
            "certbot",
            "mariadb-server",
        ] {
            assert!(
                packages.contains(&package),
                "{package} missing from {packages:?}"
            );
        }
        assert_eq!(
            parsed["runcmd"],
            serde_json::json!([["/usr/local/sbin/mailops-firstboot"]])
        );
    }

    #[test]
    fn the_first_boot_script_parses_and_fills_the_password_placeholder_everywhere() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        let entries = write_files(&parsed);
        let script = entry(&entries, super::FIRSTBOOT_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(script.starts_with("#!/bin/sh\n# generated by mailops"));
        assert_shell_parses(&script);
        for e in &entries {
            let content = e["content"].as_str().unwrap();
            let path = e["path"].as_str().unwrap();
            if content.contains(mail_host::DB_PASSWORD_PLACEHOLDER)
                && path.starts_with("/etc/")
                && !path.ends_with(".sql")
            {
                assert!(
                    script.contains(&format!(" {path}")),
                    "{path} is not filled by the script"
                );
            }
        }
        // The selector map starts empty, as `mailops install` will write it.
        assert!(
            script
                .contains("install -o root -g root -m 0644 /dev/null \"$DKIM_DIR/selectors.map\"")
        );
        let sql = entry(&entries, super::BOOTSTRAP_SQL_PATH);
        assert_eq!(sql["permissions"], "0600");
        let sql = sql["content"].as_str().unwrap();
        assert!(
            sql.contains("GRANT SELECT ON `mailserver`.* TO 'mailuser'@'localhost';"),
            "{sql}"
        );
        assert!(
            sql.contains("IDENTIFIED BY '@@MAILOPS_DB_PASSWORD@@'"),
            "{sql}"
        );
        // The writer exists at localhost only, and its URL dials the socket.
        let writer: Vec<&str> = sql
            .lines()
            .filter(|l| l.starts_with("CREATE USER") && l.contains("'mailops'@"))
            .collect();
        assert_eq!(
            writer,
            [
                "CREATE USER IF NOT EXISTS 'mailops'@'localhost' IDENTIFIED BY '@@MAILOPS_WRITER_PASSWORD@@';"
            ],
            "{sql}"
        );
        assert!(
            sql.contains("DROP USER IF EXISTS 'mailops'@'127.0.0.1';"),
            "{sql}"
        );
        assert!(
            script.contains(
                "'database_url = \"mysql://mailops:@@MAILOPS_WRITER_PASSWORD@@@localhost:3306/mailserver?socket=/run/mysqld/mysqld.sock\"'"
            ),
            "{script}"
        );
    }

    #[test]
    fn sqlite_installs_its_drivers_and_no_mariadb() {
        let out = files("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"");
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        let packages = parsed["packages"].to_string();
        assert!(
            packages.contains("\"postfix-sqlite\"") && packages.contains("\"dovecot-sqlite\""),
            "{packages}"
        );
        assert!(
            !packages.contains("mysql") && !packages.contains("mariadb"),
            "{packages}"
        );
        let entries = write_files(&parsed);
        assert!(
            !entries
                .iter()
                .any(|e| e["path"] == super::BOOTSTRAP_SQL_PATH)
        );
        let script = entry(&entries, super::FIRSTBOOT_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            script.contains("install -d -o root -g mailops -m 0750 /var/lib/mailops\n"),
            "{script}"
        );
        assert!(!script.contains("openssl rand"), "{script}");
        assert_shell_parses(&script);
    }

    #[test]
    fn a_remote_database_is_not_installed_or_bootstrapped() {
        let out = files("driver = \"mysql\"\nhost = \"db.internal.example\"");
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        assert!(!parsed["packages"].to_string().contains("mariadb-server"));
        let script = entry(&write_files(&parsed), super::FIRSTBOOT_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!script.contains("mariadb"), "{script}");
        assert_shell_parses(&script);
    }

    fn first_boot_script(database: &str) -> String {
        let out = files(database);
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        entry(&write_files(&parsed), super::FIRSTBOOT_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// ShellCheck's findings on a script (empty: none); fails when it is missing.
    fn shellcheck(script: &str) -> String {
        let mut child = Command::new("shellcheck")
            .args(["--format=gcc", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("shellcheck runs (apt-get install shellcheck; .ci/run installs it)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn assert_bash_parses(script: &str) {
        let out = Command::new("bash")
            .args(["-n", "-c", script])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_first_boot_script_passes_bash_n_and_shellcheck_for_every_database() {
        for database in [
            "driver = \"mysql\"\nhost = \"127.0.0.1\"",
            "driver = \"mysql\"\nhost = \"db.internal.example\"",
            "driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"",
        ] {
            let script = first_boot_script(database);
            assert_bash_parses(&script);
            let findings = shellcheck(&script);
            assert!(findings.is_empty(), "{database}:\n{findings}");
        }
        // ShellCheck does look: an unquoted expansion is reported.
        let broken = first_boot_script("driver = \"mysql\"\nhost = \"127.0.0.1\"").replace(
            "install -d -o root -g root -m 0700 \"$(dirname \"$SECRETS\")\"",
            "install -d -m 0700 $(dirname $SECRETS)",
        );
        assert!(shellcheck(&broken).contains("SC2046"), "{broken}");
    }

    const TWO_HOSTS: &str = "\n[aws]\nprivate_cidr = \"10.20.0.0/16\"\n\n[[hosts]]\nname = \"mx1\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\n";

    /// The user data of the reference platform with two hosts (mx1, the
    /// primary, and mx2).
    fn two_hosts_user_data(database: &str) -> String {
        let platform = format!("{}{TWO_HOSTS}", test_repo::platform(database));
        test_repo::emit(
            &platform,
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        )
        .get(super::PATH)
        .unwrap()
        .to_string()
    }

    /// Several hosts (issue 18): every host boots with the same user data
    /// and finds out which host it is from its `mailops-host` tag, read over
    /// IMDSv2, through the name → hostname table that only a platform with
    /// `[[hosts]]` has; it then names itself, asks Let's Encrypt for its
    /// own hostname and writes `host` into host.toml. The mail services'
    /// configs (the primary's in generated/) are not in it: the first
    /// reconcile installs them for the host, and starts the services.
    #[test]
    fn two_hosts_user_data_has_the_host_table_and_one_host_has_none() {
        let database = "driver = \"mysql\"\nhost = \"127.0.0.1\"";
        let single = files(database);
        let single = single.get(super::PATH).unwrap();
        let two = two_hosts_user_data(database);
        let table =
            "case \"$NAME\" in\n  mx1) HOST=mx.webhizzy.in ;;\n  mx2) HOST=mx2.webhizzy.in ;;\n";
        let script_of = |text: &str| {
            entry(&write_files(&pyyaml(text)), super::FIRSTBOOT_PATH)["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (one_script, two_script) = (script_of(single), script_of(&two));
        assert!(two_script.contains(table), "{two_script}");
        assert!(two_script.contains("IMDS=http://169.254.169.254/latest\n"));
        assert!(two_script.contains("\"$IMDS/meta-data/tags/instance/mailops-host\""));
        assert!(two_script.contains("-X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300'"));
        assert!(two_script.contains("until [ -e \"/etc/letsencrypt/live/$HOST/fullchain.pem\" ]"));
        assert!(two_script.contains("printf 'host = \"%s\"\\n' \"$NAME\""));
        assert!(two_script.contains("postfix = \"systemctl reload-or-restart postfix\""));
        assert!(!two_script.contains("systemctl restart rspamd dovecot postfix"));
        for text in [&one_script, single] {
            assert!(!text.contains("case \"$NAME\""));
            assert!(!text.contains("mailops-host"));
            assert!(!text.contains("reload-or-restart"));
        }
        assert!(one_script.contains("systemctl restart rspamd dovecot postfix"));
        let parsed = pyyaml(&two);
        assert_eq!(parsed["preserve_hostname"], true);
        assert!(parsed.get("fqdn").is_none());
        let paths: Vec<String> = write_files(&parsed)
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_string())
            .collect();
        assert!(
            paths.iter().all(|p| !p.starts_with("/etc/postfix/")
                && !p.starts_with("/etc/dovecot/")
                && !p.starts_with("/etc/rspamd/")),
            "{paths:?}"
        );
        assert!(paths.iter().any(|p| p == "/etc/nginx/conf.d/mailops.conf"));
        // The Galera node's settings come with the host's own install, not
        // at boot (no cluster is formed at boot); its packages are there.
        assert!(
            paths.iter().all(|p| !p.starts_with("/etc/mysql/")),
            "{paths:?}"
        );
        assert!(!two.contains("galera_new_cluster"), "{two}");
        let packages = parsed["packages"].to_string();
        for package in ["\"galera-4\"", "\"rsync\"", "\"mariadb-server\""] {
            assert!(packages.contains(package), "{package} not in {packages}");
        }
        let single_packages = pyyaml(single)["packages"].to_string();
        assert!(!single_packages.contains("galera"), "{single_packages}");
        // The host file it writes is one the agent reads, with `host`.
        let platform = test_repo::compile(
            &format!("{}{TWO_HOSTS}", test_repo::platform(database)),
            &[],
        )
        .platform;
        let (head, tail) = super::host_config(&platform);
        let text = format!(
            "{head}\nrepo = \"git@forge.example:mail.git\"\nbranch = \"main\"\n{tail}\nhost = \"mx2\"\n"
        );
        let config = crate::reconcile::host_config::HostConfig::parse(
            std::path::Path::new("/etc/mailops/host.toml"),
            &text,
        )
        .unwrap();
        assert_eq!(config.host.unwrap().name, "mx2");
        assert_eq!(
            config.reload["postfix"],
            "systemctl reload-or-restart postfix"
        );
        assert_eq!(config.reload["postsrsd"], "systemctl restart postsrsd");
        assert_eq!(config.reload["nginx"], "systemctl reload nginx");
    }

    #[test]
    fn the_two_host_first_boot_script_passes_bash_n_and_shellcheck() {
        for database in [
            "driver = \"mysql\"\nhost = \"127.0.0.1\"",
            "driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"",
        ] {
            let two = two_hosts_user_data(database);
            let script = entry(&write_files(&pyyaml(&two)), super::FIRSTBOOT_PATH)["content"]
                .as_str()
                .unwrap()
                .to_string();
            assert_bash_parses(&script);
            let findings = shellcheck(&script);
            assert!(findings.is_empty(), "{database}:\n{findings}");
        }
    }

    /// The order of first boot: the binary is checked before anything runs
    /// it, the recipient is shown before the long wait for a certificate,
    /// the first reconcile runs once host.toml exists, then the timer.
    #[test]
    fn the_first_boot_installs_a_checked_binary_then_reconciles_and_enables_the_timer() {
        let script = first_boot_script("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let at = |needle: &str| {
            script
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in\n{script}"))
        };
        let check = at("sha256sum -c --status -;");
        assert!(
            at("curl --fail") < check
                && check < at("install -o root -g root -m 0755 \"$download\" \"$MAILOPS\"")
        );
        assert!(
            script.contains("fail \"refusing $RELEASE_URL: its SHA-256 is not $RELEASE_SHA256\"")
        );
        assert!(
            at("age-keygen -o \"$IDENTITY\"")
                < at("echo \"mailops-firstboot: the age recipient of $HOST is $RECIPIENT\"")
        );
        assert!(at("the age recipient of") < at("certbot certonly"));
        assert!(script.contains("aws ssm put-parameter --name \"$RECIPIENT_PARAMETER\""));
        assert!(
            script.contains(
                "aws ssm get-parameter --name \"$DEPLOY_KEY_PARAMETER\" --with-decryption"
            )
        );
        let reconcile = at("\"$MAILOPS\" reconcile --once --config \"$HOST_CONFIG\"");
        assert!(at("mv \"$HOST_CONFIG.new\" \"$HOST_CONFIG\"") < reconcile);
        assert!(reconcile < at("systemctl enable --now mailops-reconcile.timer"));
        assert!(script.ends_with(
            "systemctl enable --now mailops-reconcile.timer\n\
             systemctl enable --now mailops-web-certs.path mailops-web-certs.timer\n\
             systemctl start --no-block mailops-web-certs.service\n"
        ));
        // nginx serves the HTTP-01 challenge of the host's own certificate.
        assert!(at("systemctl restart nginx") < at("certbot certonly --webroot"));
        // The passwords are made on the host, into the secrets file (0600).
        assert!(script.contains("umask 077"), "{script}");
        assert_eq!(script.matches("$(openssl rand -hex 24)").count(), 2);
    }

    /// The first part of the boot script, run for real with its paths in a
    /// temp dir and stub `curl` and `aws` (and an `install` that ignores
    /// owners, so that it runs as any user): up to the identity and the
    /// recipient, before anything touches the system's accounts.
    fn run_first_steps(
        dir: &std::path::Path,
        settings: &str,
        download: &str,
    ) -> std::process::Output {
        use std::os::unix::fs::PermissionsExt;
        let script = first_boot_script("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let head = script
            .split("# The one system account")
            .next()
            .unwrap()
            .replace(
                "SECRETS=/etc/mailops/secrets.toml",
                &format!("SECRETS={}/etc/secrets.toml", dir.display()),
            )
            .replace(
                "SETTINGS=/etc/mailops/boot.env",
                &format!("SETTINGS={}/boot.env", dir.display()),
            )
            .replace(
                "IDENTITY=/etc/mailops/age-identity.txt",
                &format!("IDENTITY={}/etc/age-identity.txt", dir.display()),
            )
            .replace(
                "MAILOPS=/usr/local/bin/mailops",
                &format!("MAILOPS={}/mailops", dir.display()),
            );
        assert!(
            !head.contains("=/etc/mailops/secrets") && !head.contains("=/usr/local/bin"),
            "{head}"
        );
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let stubs = [
            ("curl", format!("#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = --output ]; then printf '%s' '{download}' >\"$2\"; shift; fi; shift; done\n")),
            ("aws", format!("#!/bin/sh\necho \"$AWS_DEFAULT_REGION $*\" >>{}/aws.log\n", dir.display())),
            ("install", "#!/bin/bash\nargs=()\nwhile [ $# -gt 0 ]; do case \"$1\" in -o|-g) shift 2 ;; *) args+=(\"$1\"); shift ;; esac; done\nexec /usr/bin/install \"${args[@]}\"\n".to_string()),
        ];
        for (name, text) in stubs {
            std::fs::write(bin.join(name), text).unwrap();
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        std::fs::write(dir.join("boot.env"), settings).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .args(["-c", &head])
            .env("PATH", path)
            .output()
            .expect("sh runs")
    }

    fn sha256_hex(text: &str) -> String {
        let out = Command::new("sh")
            .args(["-c", "printf '%s' \"$1\" | sha256sum", "sh", text])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)[..64].to_string()
    }

    fn settings(sha256: &str, repo_url: &str) -> String {
        format!(
            "region=eu-west-1\nrelease_url=https://example.com/mailops\nrelease_sha256={sha256}\n\
             repo_url={repo_url}\nrepo_branch=main\nrepo_known_hosts=\n\
             deploy_key_parameter=/mailops/deploy-key\nrecipient_parameter=/mailops/recipient\n"
        )
    }

    #[test]
    fn the_binary_is_installed_only_when_its_sha256_matches() {
        use std::os::unix::fs::PermissionsExt;
        assert!(
            Command::new("age-keygen").arg("--version").output().is_ok(),
            "age-keygen is missing (apt-get install age)"
        );
        let binary = "#!/bin/sh\necho mailops\n";
        // A tampered download: refused, nothing installed, no identity made.
        let dir = tempfile::tempdir().unwrap();
        let out = run_first_steps(
            dir.path(),
            &settings(&sha256_hex(binary), "git@github.com:o/r.git"),
            "tampered",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("refusing https://example.com/mailops: its SHA-256 is not "),
            "{stderr}"
        );
        assert!(!dir.path().join("mailops").exists());
        assert!(!dir.path().join("etc/age-identity.txt").exists());

        // The right one: installed (0755), an identity made (0600), its
        // recipient printed and published to the one parameter.
        let dir = tempfile::tempdir().unwrap();
        let out = run_first_steps(
            dir.path(),
            &settings(&sha256_hex(binary), "git@github.com:o/r.git"),
            binary,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("mailops")).unwrap(),
            binary
        );
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("mailops"), 0o755);
        assert_eq!(mode("etc/age-identity.txt"), 0o600);
        assert_eq!(mode("etc"), 0o700);
        let identity = std::fs::read_to_string(dir.path().join("etc/age-identity.txt")).unwrap();
        assert!(identity.contains("AGE-SECRET-KEY-1"));
        let recipient = stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("mailops-firstboot: the age recipient of mx.webhizzy.in is ")
            })
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(recipient.starts_with("age1"), "{recipient}");
        assert!(!stdout.contains("AGE-SECRET-KEY"), "{stdout}");
        let aws = std::fs::read_to_string(dir.path().join("aws.log")).unwrap();
        assert_eq!(
            aws,
            format!(
                "eu-west-1 ssm put-parameter --name /mailops/recipient --type String --value {recipient} --overwrite\n"
            )
        );
    }

    #[test]
    fn a_setting_with_an_unexpected_character_is_refused_on_the_host_too() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_first_steps(dir.path(), &settings(&"0".repeat(64), "x\"; reboot"), "x");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("repo_url: empty or an unexpected character"),
            "{stderr}"
        );
        let out = run_first_steps(dir.path(), &settings("abc", "git@github.com:o/r.git"), "x");
        assert!(String::from_utf8_lossy(&out.stderr).contains("release_sha256: not 64 hex digits"));
        assert!(!dir.path().join("mailops").exists());
    }

    /// host.toml as the script writes it, with these settings: valid TOML
    /// holding exactly the values.
    #[test]
    fn host_toml_is_toml_with_the_settings_and_paths() {
        let (head, tail) =
            super::host_config(&model("driver = \"mysql\"\nhost = \"127.0.0.1\"").platform);
        let text =
            format!("{head}\nrepo = \"git@github.com:o/r.git\"\nbranch = \"main\"\n{tail}\n");
        let table: toml::Table = toml::from_str(&text).expect("TOML");
        assert_eq!(table["database"].as_str(), Some(mail_host::SECRETS_FILE));
        assert_eq!(table["identity"].as_str(), Some(super::IDENTITY_PATH));
        assert_eq!(table["install_root"].as_str(), Some("/"));
        assert_eq!(table["version"].as_integer(), Some(1));
        assert_eq!(table["repo"].as_str(), Some("git@github.com:o/r.git"));
        let (_, tail) = super::host_config(
            &model("driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"").platform,
        );
        let table: toml::Table = toml::from_str(&tail).expect("TOML");
        assert_eq!(
            table["database"].as_str(),
            Some("sqlite:///var/lib/mailops/mail.sqlite")
        );
        for value in ["a\"b\\c", "line\nbreak", "'''", "plain /path"] {
            let table: toml::Table =
                toml::from_str(&format!("x = {}", super::toml_string(value))).expect("TOML");
            assert_eq!(table["x"].as_str(), Some(value));
        }
    }

    /// No secret in the user data: no private key, no identity, no password
    /// (each `IDENTIFIED BY` names a placeholder, filled on the host), and the
    /// writing account's URL carries a placeholder too.
    #[test]
    fn the_user_data_holds_no_secret() {
        for database in [
            "driver = \"mysql\"\nhost = \"127.0.0.1\"",
            "driver = \"sqlite\"\npath = \"/var/lib/mailops/mail.sqlite\"",
        ] {
            let out = files(database);
            let text = out.get(super::PATH).unwrap();
            for secret in ["PRIVATE KEY", "AGE-SECRET-KEY", "BEGIN OPENSSH"] {
                assert!(!text.contains(secret), "{secret} in the user data");
            }
            for line in text.lines().filter(|l| l.contains("IDENTIFIED BY")) {
                assert!(
                    line.contains("IDENTIFIED BY '@@MAILOPS_DB_PASSWORD@@'")
                        || line.contains("IDENTIFIED BY '@@MAILOPS_WRITER_PASSWORD@@'"),
                    "{line}"
                );
            }
            for line in text.lines().filter(|l| l.contains("database_url = ")) {
                assert!(
                    line.contains("database_url =") && !line.contains("mysql://")
                        || line.contains(":@@MAILOPS_WRITER_PASSWORD@@@"),
                    "{line}"
                );
            }
            // Nothing that looks like a key or a generated password: no run of
            // 32 or more base64 characters.
            let longest = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
                .map(str::len)
                .max()
                .unwrap_or(0);
            assert!(longest < 32, "a {longest}-character token in the user data");
            let parsed = pyyaml(text);
            let entries = write_files(&parsed);
            let settings = entry(&entries, super::SETTINGS_PATH);
            assert_eq!(settings["content"], super::BOOT_SETTINGS_PLACEHOLDER);
            // Terraform replaces every occurrence: there is exactly one.
            assert_eq!(text.matches(super::BOOT_SETTINGS_PLACEHOLDER).count(), 1);
            assert_eq!(settings["encoding"], "b64");
        }
    }

    #[test]
    fn systemd_units_of_generated_are_embedded_and_the_drop_in_gives_git_the_deploy_key() {
        let mut out = Artifacts::default();
        out.add(
            "systemd/mailops-reconcile.timer",
            "[Timer]\nOnCalendar=*:0/5\n".to_string(),
        );
        super::emit(
            &model("driver = \"mysql\"\nhost = \"127.0.0.1\"").platform,
            &mut out,
        );
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        let entries = write_files(&parsed);
        let timer = entry(&entries, "/etc/systemd/system/mailops-reconcile.timer");
        assert_eq!(timer["content"], "[Timer]\nOnCalendar=*:0/5\n");
        assert_eq!(timer["permissions"], "0644");
        let drop_in = entry(&entries, super::GIT_SSH_DROP_IN)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            drop_in.contains(
                "Environment=\"GIT_SSH_COMMAND=ssh -i /etc/mailops/deploy-key -o IdentitiesOnly=yes"
            ),
            "{drop_in}"
        );
    }

    /// Outbound DANE (issue 20): unbound and the root trust anchor are
    /// installed, its config is one unbound accepts, and the first boot
    /// restarts it with that config, then points resolv.conf at it (with
    /// `trust-ad`, so that glibc passes its AD bit on to every program)
    /// before the mail services start; dhclient is kept from rewriting it.
    #[test]
    fn the_host_resolves_through_its_own_validating_unbound() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let parsed = pyyaml(out.get(super::PATH).unwrap());
        let packages = parsed["packages"].to_string();
        for package in ["\"unbound\"", "\"dns-root-data\""] {
            assert!(packages.contains(package), "{package} not in {packages}");
        }
        let entries = write_files(&parsed);
        let conf = entry(&entries, super::UNBOUND_CONF_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(conf.contains("interface: 127.0.0.1\n"), "{conf}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailops.conf");
        std::fs::write(&path, &conf).unwrap();
        let checked = Command::new("unbound-checkconf")
            .arg(&path)
            .output()
            .expect("unbound-checkconf runs (scripts/install-mail-packages installs unbound)");
        assert!(
            checked.status.success(),
            "{}{conf}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let hook = entry(&entries, super::DHCLIENT_HOOK_PATH)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(hook.contains("make_resolv_conf() {\n  :\n}\n"), "{hook}");
        assert_shell_parses(&hook);

        let script = first_boot_script("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let at = |needle: &str| {
            script
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in\n{script}"))
        };
        let resolv =
            at("printf 'nameserver 127.0.0.1\\noptions edns0 trust-ad\\n' >/etc/resolv.conf");
        assert!(at("systemctl restart unbound") < at("until unbound-control status"));
        assert!(at("until unbound-control status") < resolv);
        assert!(at("systemctl disable --now systemd-resolved") < resolv);
        assert!(resolv < at("certbot certonly"));
        // Renewals keep the key, so a `3 1 1` TLSA record stays true.
        assert!(
            script.contains("--keep-until-expiring --reuse-key; do"),
            "{script}"
        );
        assert!(resolv < at("systemctl restart rspamd dovecot postfix"));
    }

    /// EC2 takes at most 16 KiB of user data. The file is larger than that as
    /// text, so main.tf passes it gzip-compressed (`base64gzip`), which
    /// cloud-init unpacks; this keeps the compressed form within the limit.
    #[test]
    fn compressed_user_data_fits_ec2s_16_kib() {
        let out = files("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let text = out.get(super::PATH).unwrap();
        let gzip_size = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 9).len() + 18;
        assert!(gzip_size < 16 * 1024, "{gzip_size} bytes compressed");
        let two = two_hosts_user_data("driver = \"mysql\"\nhost = \"127.0.0.1\"");
        let gzip_size = miniz_oxide::deflate::compress_to_vec(two.as_bytes(), 9).len() + 18;
        assert!(
            gzip_size < 16 * 1024,
            "two hosts: {gzip_size} bytes compressed"
        );
    }
}

#[cfg(test)]
mod web_certs_tests {
    use std::process::Command;

    use crate::emit::nginx::{CERT_DIR, CERT_LIST, CERTS_SCRIPT};
    use crate::emit::test_repo;

    /// The certificate script, run for real with its paths in a temp dir
    /// and a `certbot` that logs its arguments: one certificate per listed
    /// domain with its names, and the lineage of a domain no longer listed
    /// deleted (another folder of the live dir is left alone).
    #[test]
    fn web_certs_issues_one_certificate_per_domain_and_deletes_the_unlisted() {
        let out = test_repo::emit(&test_repo::platform("driver = \"sqlite\""), &[]);
        let parsed = crate::emit::yaml::tests::pyyaml(out.get(super::PATH).unwrap());
        let script = parsed["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == CERTS_SCRIPT)
            .expect("the certificate script")["content"]
            .as_str()
            .unwrap()
            .to_string();
        let dir = tempfile::tempdir().unwrap();
        let (live, list, bin) = (
            dir.path().join("live"),
            dir.path().join("certificates.list"),
            dir.path().join("bin"),
        );
        for lineage in [
            "mailops-gone.example",
            "mailops-acme.example",
            "mx.webhizzy.in",
        ] {
            std::fs::create_dir_all(live.join(lineage)).unwrap();
        }
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.path().join("certbot.log");
        let certbot = bin.join("certbot");
        std::fs::write(
            &certbot,
            format!("#!/bin/sh\necho \"$*\" >>'{}'\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&certbot, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            &list,
            "# a comment\nacme.example mta-sts.acme.example autoconfig.acme.example\nold.example autoconfig.old.example\n",
        )
        .unwrap();
        let script = script
            .replace(CERT_LIST, &list.display().to_string())
            .replace(CERT_DIR, &live.display().to_string());
        let status = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .status()
            .unwrap();
        assert!(status.success());
        let calls = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = calls.lines().collect();
        assert_eq!(lines.len(), 3, "{calls}");
        assert!(lines[0].starts_with("certonly --webroot --webroot-path /var/www/mailops-acme "));
        assert!(lines[0].ends_with(
            "--cert-name mailops-acme.example --expand --keep-until-expiring --domain mta-sts.acme.example --domain autoconfig.acme.example"
        ), "{calls}");
        assert!(lines[1].ends_with("--cert-name mailops-old.example --expand --keep-until-expiring --domain autoconfig.old.example"), "{calls}");
        assert_eq!(
            lines[2],
            "delete --non-interactive --cert-name mailops-gone.example"
        );
    }
}
