//! `mysql/mariadb.conf.d/60-mailops-galera.cnf`: a mail host's node of the
//! MariaDB Galera cluster (several hosts only).
//!
//! With `[[hosts]]` and the routing database on each host's own MariaDB,
//! every host runs one node of one cluster. The settings that make it one
//! (the cluster's name and every node's private address) come from the
//! platform file, and the node's own name and address from the host it is
//! installed on: like Postfix's `main.cf`, the file carries the host's
//! identity, so `generated/` holds the primary's and `mailops install --host`
//! renders the host's (`emit::host_files`). A platform without `[[hosts]]`
//! has no such file at all (its `generated/` is unchanged).
//!
//! Debian 12's MariaDB reads `/etc/mysql/mariadb.conf.d/*.cnf` in name order,
//! later settings winning: `60-mailops-galera.cnf` comes after the package's
//! own `60-galera.cnf` (every line of which is commented out). Its `[galera]`
//! group is read by a Galera-capable `mariadbd` only, not by the clients.
//! MariaDB reads the file when it starts; install never restarts it.

use crate::emit::header::header;
use crate::emit::mail_host::{self, LOOPBACK};
use crate::emit::{Artifacts, engine, render};
use crate::model::{HostIdentity, Platform};

const TEMPLATE: &str = include_str!("templates/mariadb/60-mailops-galera.cnf");

/// Where the file is under `generated/` (and so, through install's
/// `mysql/` → `/etc/mysql/`, on the host).
pub(crate) const PATH: &str = "mysql/mariadb.conf.d/60-mailops-galera.cnf";

/// Debian's `galera-4` package's provider library.
pub(crate) const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// The longest cluster name written as `mailops-<zone>`. Galera's group
/// communication carries the name in a small fixed-size field of its
/// handshake; a cautious 32 bytes keeps every name well inside it.
const CLUSTER_NAME_MAX: usize = 32;

/// Whether the platform's hosts run a Galera node each: several hosts
/// (`[[hosts]]`) reading a MariaDB on the host itself.
pub(crate) fn has_nodes(platform: &Platform) -> bool {
    platform.hosts_declared && mail_host::local_mariadb(platform)
}

/// The cluster's name, the same on every node: `mailops-<the platform's
/// zone>` (`mailops-webhizzy.in`), or, for a zone too long for that,
/// `mailops-` and the first 16 hex digits of the zone's SHA-256. A zone is
/// a validated DNS name: letters, digits, `-` and `.` only.
pub(crate) fn cluster_name(platform: &Platform) -> String {
    let name = format!("mailops-{}", platform.zone);
    if name.len() <= CLUSTER_NAME_MAX {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(platform.zone.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("mailops-{hex}")
}

/// The node settings of `host`, when the platform has Galera nodes.
pub(crate) fn emit(platform: &Platform, host: &HostIdentity, out: &mut Artifacts) {
    if !has_nodes(platform) {
        return;
    }
    // Every declared host has a private address (validation refuses one
    // without); a model that still lacks one has errors, and gets no file.
    let Some(node_address) = platform.host(&host.name).and_then(|h| h.private_ip) else {
        return;
    };
    let Some(members) = platform
        .hosts
        .iter()
        .map(|h| h.private_ip.map(|ip| ip.to_string()))
        .collect::<Option<Vec<String>>>()
    else {
        return;
    };
    let tera = engine(&[("galera", TEMPLATE)]);
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert(
        "installed_as",
        &mail_host::placement(PATH, "").map_or_else(String::new, |p| p.path),
    );
    context.insert("provider", PROVIDER);
    context.insert("cluster_name", &cluster_name(platform));
    context.insert("cluster_address", &format!("gcomm://{}", members.join(",")));
    context.insert("node_name", &host.name);
    context.insert("node_address", &node_address.to_string());
    context.insert("loopback", LOOPBACK);
    out.add(PATH, render(&tera, "galera", &context));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo;

    const TWO_HOSTS: &str = "[[hosts]]\nname = \"mx1\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\n";

    fn platform(database: &str, extra: &str) -> Platform {
        let text = format!("{}\n{extra}", test_repo::platform(database));
        test_repo::compile(&text, &[]).platform
    }

    fn rendered(platform: &Platform, host: &str) -> Option<String> {
        let identity = HostIdentity::of(platform, host).unwrap();
        let mut out = Artifacts::default();
        emit(platform, &identity, &mut out);
        out.get(PATH).map(str::to_string)
    }

    fn setting<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines()
            .filter_map(|line| line.strip_prefix(&format!("{key} = ")))
            .collect()
    }

    #[test]
    fn each_host_gets_its_own_node_of_one_cluster() {
        let platform = platform("driver = \"mysql\"", TWO_HOSTS);
        let mx1 = rendered(&platform, "mx1").unwrap();
        let mx2 = rendered(&platform, "mx2").unwrap();
        for text in [&mx1, &mx2] {
            assert!(text.starts_with("# generated by mailops"), "{text}");
            assert!(text.contains("\n[galera]\n"), "{text}");
            for (key, value) in [
                ("wsrep_on", "ON"),
                ("wsrep_provider", "/usr/lib/galera/libgalera_smm.so"),
                ("wsrep_cluster_name", "mailops-webhizzy.in"),
                ("wsrep_cluster_address", "gcomm://10.20.1.11,10.20.1.12"),
                ("wsrep_sst_method", "rsync"),
                ("binlog_format", "ROW"),
                ("default_storage_engine", "InnoDB"),
                ("innodb_autoinc_lock_mode", "2"),
                ("log_bin_trust_function_creators", "1"),
                ("bind-address", "127.0.0.1"),
            ] {
                assert_eq!(setting(text, key), [value], "{key}\n{text}");
            }
        }
        assert_eq!(setting(&mx1, "wsrep_node_name"), ["mx1"]);
        assert_eq!(setting(&mx1, "wsrep_node_address"), ["10.20.1.11"]);
        assert_eq!(setting(&mx2, "wsrep_node_name"), ["mx2"]);
        assert_eq!(setting(&mx2, "wsrep_node_address"), ["10.20.1.12"]);
        // The primary's is the one generated/ holds.
        let primary = HostIdentity::primary(&platform);
        let mut out = Artifacts::default();
        emit(&platform, &primary, &mut out);
        assert_eq!(out.get(PATH), Some(mx1.as_str()));
        assert!(
            mx1.contains("Installed as\n#   /etc/mysql/mariadb.conf.d/60-mailops-galera.cnf\n"),
            "{mx1}"
        );
    }

    #[test]
    fn a_single_host_or_a_database_elsewhere_has_no_node_file() {
        let single = platform("driver = \"mysql\"", "");
        assert_eq!(rendered(&single, "mx"), None);
        let elsewhere = platform("driver = \"mysql\"\nhost = \"db.internal\"", TWO_HOSTS);
        assert_eq!(rendered(&elsewhere, "mx2"), None);
        let sqlite = platform("driver = \"sqlite\"", TWO_HOSTS);
        assert_eq!(rendered(&sqlite, "mx2"), None);
    }

    #[test]
    fn the_cluster_name_is_the_zones_or_its_digest_when_long() {
        let mut platform = platform("driver = \"mysql\"", TWO_HOSTS);
        assert_eq!(cluster_name(&platform), "mailops-webhizzy.in");
        platform.zone = "a-rather-long-operator-zone.example.com".to_string();
        let name = cluster_name(&platform);
        assert_eq!(name.len(), "mailops-".len() + 16, "{name}");
        assert!(name.starts_with("mailops-"), "{name}");
        assert_eq!(name, cluster_name(&platform));
    }

    /// MariaDB itself reads the file as meant: every setting in the
    /// `[galera]` group.
    #[test]
    fn mariadb_reads_the_settings_back() {
        let platform = platform("driver = \"mysql\"", TWO_HOSTS);
        let text = rendered(&platform, "mx2").unwrap();
        let read = crate::emit::conf::tests::mariadb_reads(&text, "galera");
        for line in [
            "--wsrep_cluster_address=gcomm://10.20.1.11,10.20.1.12\n",
            "--wsrep_node_name=mx2\n",
            "--wsrep_node_address=10.20.1.12\n",
            "--bind-address=127.0.0.1\n",
        ] {
            assert!(read.contains(line), "{line}\n{read}");
        }
    }
}
