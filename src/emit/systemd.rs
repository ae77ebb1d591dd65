//! `systemd/mailops-reconcile.service` and `.timer`: the reconcile agent
//! (`mailops reconcile --once`) run every few minutes on the mail host.
//!
//! The service is a hardened oneshot: the file system is read-only to it
//! (`ProtectSystem=strict`) but for the folders it installs into, its work
//! dir and the SQLite database's folder, so a bug or a hostile commit can
//! reach no other file. The folders come from the platform file, so they are
//! quoted for systemd here ([`unit_path`]).

use crate::emit::header::header;
use crate::emit::{Artifacts, engine, render};
use crate::model::{Driver, Platform};

const SERVICE: &str = include_str!("templates/systemd/mailops-reconcile.service");
const TIMER: &str = include_str!("templates/systemd/mailops-reconcile.timer");

/// Where the service and timer are emitted under generated/.
pub(crate) const SERVICE_PATH: &str = "systemd/mailops-reconcile.service";
pub(crate) const TIMER_PATH: &str = "systemd/mailops-reconcile.timer";

/// The binary and host file the first boot installs.
const MAILOPS_BIN: &str = "/usr/local/bin/mailops";
const HOST_CONFIG: &str = "/etc/mailops/host.toml";
/// The work dir the first boot writes into the host file.
const WORK_DIR: &str = "/var/lib/mailops";
/// Time between the end of one run and the start of the next.
const INTERVAL: &str = "5min";

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[("service", SERVICE), ("timer", TIMER)]);
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("mailops", MAILOPS_BIN);
    context.insert("host_config", HOST_CONFIG);
    context.insert("interval", INTERVAL);
    context.insert("work_dir", WORK_DIR);
    context.insert("write_paths", &write_paths(platform).join(" "));
    // Several hosts: the shared SRS secrets' folder, made (and writable) by
    // systemd; the rest of /etc stays read-only to the agent.
    context.insert(
        "shared_srs_secrets",
        &(platform.hosts_declared && platform.srs_domain.is_some()),
    );
    out.add(SERVICE_PATH, render(&tera, "service", &context));
    out.add(TIMER_PATH, render(&tera, "timer", &context));
}

/// The folders the agent writes: the services' configs, the DKIM key
/// folder, its work dir, and the SQLite database's folder (its journal goes
/// beside it). Each may be missing (`-`): the unit still starts, and a write
/// there fails naming the path, instead of the unit failing to set up.
/// No `StateDirectory=`: systemd would chmod the work dir, which may be the
/// SQLite folder the services' group reads.
fn write_paths(platform: &Platform) -> Vec<String> {
    let mut paths = vec![
        "/etc/postfix".to_string(),
        "/etc/dovecot".to_string(),
        "/etc/rspamd".to_string(),
        "/etc/nginx/conf.d".to_string(),
        crate::emit::nginx::WEB_ROOT.to_string(),
        platform.paths.dkim_key_dir.clone(),
        WORK_DIR.to_string(),
    ];
    if platform.srs_domain.is_some() {
        // postsrsd's settings (Debian's launcher reads /etc/default/postsrsd).
        paths.push("/etc/default".to_string());
    }
    if crate::emit::galera::has_nodes(platform) {
        // The host's Galera node settings (several hosts).
        paths.push("/etc/mysql/mariadb.conf.d".to_string());
    }
    if platform.database.driver == Driver::Sqlite {
        if let Some(dir) = std::path::Path::new(&platform.database.path).parent() {
            paths.push(dir.display().to_string());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths.iter().map(|p| format!("-{}", unit_path(p))).collect()
}

/// A path as one word of a unit file's path list: bare when it is plain,
/// else double-quoted with `\` and `"` escaped; `%` (a specifier) doubled.
/// A control character cannot be in a validated path.
pub(crate) fn unit_path(path: &str) -> String {
    assert!(
        !path.chars().any(char::is_control),
        "a validated path holds no control character: {path:?}"
    );
    let path = path.replace('%', "%%");
    if path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+@%,:".contains(c))
    {
        return path;
    }
    format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_paths_are_quoted_for_systemd() {
        assert_eq!(unit_path("/var/lib/rspamd/dkim"), "/var/lib/rspamd/dkim");
        assert_eq!(unit_path("/srv/mail keys"), "\"/srv/mail keys\"");
        assert_eq!(unit_path("/srv/a\"b\\c"), "\"/srv/a\\\"b\\\\c\"");
        assert_eq!(unit_path("/srv/100%"), "/srv/100%%");
    }

    #[test]
    fn the_service_is_a_hardened_oneshot_writing_only_what_it_installs() {
        let model = crate::emit::test_repo::compile(&crate::emit::test_repo::platform(""), &[]);
        let mut out = Artifacts::default();
        emit(&model.platform, &mut out);
        let service = out.get(SERVICE_PATH).unwrap();
        assert!(service.starts_with("# generated by mailops"), "{service}");
        for line in [
            "Type=oneshot",
            "ExecStart=/usr/local/bin/mailops reconcile --once --config /etc/mailops/host.toml",
            "ProtectSystem=strict",
            // /etc/default: postsrsd's settings (SRS is on by default).
            "ReadWritePaths=-/etc/postfix -/etc/dovecot -/etc/rspamd -/etc/nginx/conf.d -/var/www/mailops -/var/lib/rspamd/dkim -/var/lib/mailops -/etc/default\n",
            "NoNewPrivileges=yes",
        ] {
            assert!(service.contains(line), "{line}\n{service}");
        }
        let timer = out.get(TIMER_PATH).unwrap();
        assert!(timer.contains("OnUnitInactiveSec=5min"), "{timer}");
        assert!(timer.contains("WantedBy=timers.target"), "{timer}");
        assert!(!service.contains("StateDirectory"), "{service}");
        assert!(!service.contains("ConfigurationDirectory"), "{service}");
        // The default SQLite file is in the work dir: listed once.
        let model = crate::emit::test_repo::compile(
            &crate::emit::test_repo::platform("driver = \"sqlite\""),
            &[],
        );
        let mut out = Artifacts::default();
        emit(&model.platform, &mut out);
        assert_eq!(
            out.get(SERVICE_PATH)
                .unwrap()
                .matches("-/var/lib/mailops")
                .count(),
            1
        );
        // With SQLite, its folder is writable too (once).
        let model = crate::emit::test_repo::compile(
            &crate::emit::test_repo::platform(
                "driver = \"sqlite\"\npath = \"/srv/maildb/routing.db\"",
            ),
            &[],
        );
        let mut out = Artifacts::default();
        emit(&model.platform, &mut out);
        let service = out.get(SERVICE_PATH).unwrap();
        assert!(
            service.contains("-/var/lib/mailops -/etc/default -/srv/maildb\n"),
            "{service}"
        );
        assert!(!service.contains("/etc/mysql"), "{service}");
        // With several hosts on Galera: the node's settings folder too.
        let model = crate::emit::test_repo::compile(
            &format!(
                "{}\n[[hosts]]\nname = \"mx1\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n",
                crate::emit::test_repo::platform("driver = \"mysql\"")
            ),
            &[],
        );
        let mut out = Artifacts::default();
        emit(&model.platform, &mut out);
        let service = out.get(SERVICE_PATH).unwrap();
        assert!(
            service.contains("-/var/lib/mailops -/etc/default -/etc/mysql/mariadb.conf.d\n"),
            "{service}"
        );
        // And the shared SRS secrets' folder, made by systemd.
        assert!(
            service.contains("\nConfigurationDirectory=postsrsd\n"),
            "{service}"
        );
    }
}
