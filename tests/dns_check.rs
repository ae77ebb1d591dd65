//! `mailops dns records` and `mailops dns check` against a real authoritative
//! server: Knot DNS (Debian's `knot`), started by the test on 127.0.0.1 and a
//! port of its own, serving zones made from `dns records`' own output, some
//! with a planted mismatch of each kind. Knot missing fails the test (CI
//! installs it: scripts/install-mail-packages).

mod support;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Repo, dns_file, stdout};

/// A Knot DNS server for the test's zones; stopped when dropped.
struct Knot {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port on 127.0.0.1 (bound then released; Knot binds UDP and TCP).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

fn knotd() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/knotd");
    assert!(
        path.exists(),
        "knotd is missing: run scripts/install-mail-packages (Debian package knot)"
    );
    path
}

/// The SOA and NS a zone needs, then `body` (absolute names).
fn zone_text(origin: &str, body: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 3600\n@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 900 604800 300\n\
         @ NS ns.{origin}.\nns A 127.0.0.1\n{body}"
    )
}

impl Knot {
    /// Serve `zones` (origin, body) on a fresh port.
    fn serve(zones: &[(String, String)]) -> Knot {
        Knot::serve_signing(zones, &[])
    }

    /// Serve `zones`, those named in `signed` signed by Knot itself
    /// (`dnssec-signing: on`, its default policy: ECDSA P-256 keys).
    fn serve_signing(zones: &[(String, String)], signed: &[&str]) -> Knot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let mut conf = format!(
            "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
             database:\n  storage: \"{d}\"\n\
             log:\n  - target: stderr\n    any: warning\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    file: \"%s.zone\"\n    zonefile-sync: -1\n    journal-content: none\n\
             zone:\n",
            d = d.display()
        );
        for (origin, body) in zones {
            std::fs::write(d.join(format!("{origin}.zone")), zone_text(origin, body)).unwrap();
            conf.push_str(&format!("  - domain: {origin}.\n"));
            if signed.contains(&origin.as_str()) {
                conf.push_str("    dnssec-signing: on\n");
            }
        }
        std::fs::write(d.join("knot.conf"), &conf).unwrap();
        let check = Command::new("/usr/sbin/knotc")
            .args(["-c"])
            .arg(d.join("knot.conf"))
            .arg("conf-check")
            .output()
            .expect("knotc runs");
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(knotd())
            .arg("-c")
            .arg(d.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("knotd starts");
        let knot = Knot { child, port, dir };
        knot.wait_ready(&zones[0].0);
        knot
    }

    fn wait_ready(&self, origin: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if !self.dig("SOA", origin).is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not answer for {origin} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Replace a served zone's records (`serial` must grow) and reload it.
    fn reload(&self, origin: &str, serial: u32, body: &str) {
        let d = self.dir.path();
        let text = zone_text(origin, body).replacen(". 1 3600", &format!(". {serial} 3600"), 1);
        std::fs::write(d.join(format!("{origin}.zone")), text).unwrap();
        let out = Command::new("/usr/sbin/knotc")
            .arg("-c")
            .arg(d.join("knot.conf"))
            .args(["zone-reload", &format!("{origin}.")])
            .output()
            .expect("knotc runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.dig("SOA", origin).contains(&format!(" {serial} ")) {
            assert!(Instant::now() < deadline, "{origin} not reloaded");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kdig +short` of one name and type.
    fn dig(&self, rtype: &str, name: &str) -> String {
        let out = Command::new("/usr/bin/kdig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+short",
                rtype,
                name,
            ])
            .output()
            .expect("kdig runs (Debian package knot-dnsutils)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The DS records of a signed zone's key-signing key, as Knot's own
    /// `keymgr` computes them (`<tag> <algorithm> <digest type> <digest>`).
    fn keymgr_ds(&self, origin: &str) -> Vec<String> {
        let out = Command::new("/usr/sbin/keymgr")
            .arg("-c")
            .arg(self.dir.path().join("knot.conf"))
            .args([&format!("{origin}."), "ds"])
            .output()
            .expect("keymgr runs (Debian package knot)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(" DS ").map(|(_, rdata)| rdata.to_string()))
            .collect()
    }
}

/// `mailops dns records <domain>` (zone form): the lines without the comment.
fn records(repo: &Repo, domain: &str) -> String {
    let out = repo.ok(&["dns", "records", domain]);
    let text = stdout(&out);
    assert!(text.starts_with(&format!("; {domain}: ")), "{text}");
    text.lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn repo() -> Repo {
    let mut repo = Repo::new();
    for domain in [
        "good.example",
        "spf2.example",
        "cname.example",
        "elsewhere.example",
        "gone.example",
    ] {
        repo = repo.tenant(domain, "");
    }
    repo
}

/// The mail host's zone and its reverse zone: mx.webhizzy.in is 192.0.2.9
/// (not a loopback address: the resolver answers those itself, RFC 6761).
fn host_zones(ptr: &str) -> Vec<(String, String)> {
    vec![
        (
            "webhizzy.in".to_string(),
            "mx.webhizzy.in. 3600 IN A 192.0.2.9\n".to_string(),
        ),
        (
            "2.0.192.in-addr.arpa".to_string(),
            format!("9.2.0.192.in-addr.arpa. 3600 IN PTR {ptr}.\n"),
        ),
    ]
}

fn check_json(repo: &Repo, knot: &Knot, extra: &[&str]) -> (i32, serde_json::Value) {
    let address = knot.address();
    let mut args = vec!["dns", "check", "--nameserver", &address, "--format", "json"];
    args.extend_from_slice(extra);
    let out = repo.run(&args);
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    (out.code, json)
}

fn state_of(json: &serde_json::Value, name: &str, purpose: &str) -> String {
    json["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name && r["purpose"] == purpose)
        .unwrap_or_else(|| panic!("no {purpose} record {name} in {json}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn dns_check_passes_a_correct_zone_and_finds_every_planted_mismatch() {
    let repo = repo();
    let mut zones = host_zones("mx.webhizzy.in");
    let exact = |domain: &str| records(&repo, domain);
    zones.push(("good.example".into(), exact("good.example")));
    // A second SPF record beside the declared one.
    zones.push((
        "spf2.example".into(),
        format!(
            "{}spf2.example. 3600 IN TXT \"v=spf1 include:other.example -all\"\n",
            exact("spf2.example")
        ),
    ));
    // DMARC as a CNAME to a provider, and a DKIM key that is not the declared one.
    let cname = exact("cname.example")
        .lines()
        .filter(|l| !l.starts_with("_dmarc.") && !l.starts_with("dkim._domainkey."))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "_dmarc.cname.example. 3600 IN CNAME dmarc.provider.example.\n\
           dkim._domainkey.cname.example. 3600 IN TXT \"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong\"\n";
    zones.push(("cname.example".into(), cname));
    // An MX that points elsewhere beside the mail host's, and an SPF that differs.
    let elsewhere = exact("elsewhere.example")
        .replace("\"v=spf1 mx -all\"", "\"v=spf1 mx ~all\"")
        .replace("\"v=STSv1; id=", "\"v=STSv1; id=0")
        .replace(" 993 mx.webhizzy.in.", " 143 mx.webhizzy.in.")
        + "elsewhere.example. 3600 IN MX 20 backup.other-provider.example.\n";
    zones.push(("elsewhere.example".into(), elsewhere));
    // Nothing but SOA and NS: every record missing.
    zones.push(("gone.example".into(), String::new()));
    let knot = Knot::serve(&zones);

    // Only the correct tenant, with the host's address: all ok, exit 0.
    let out = repo
        .run(&[
            "dns",
            "check",
            "--nameserver",
            &knot.address(),
            "--expect-ip",
            "192.0.2.9",
            "good.example",
        ])
        .exits(0);
    let text = out.stdout;
    assert!(
        text.contains("ok          MX       good.example (MX)"),
        "{text}"
    );
    assert!(
        text.contains("ok          PTR      9.2.0.192.in-addr.arpa"),
        "{text}"
    );
    // MX, SPF, DMARC, DKIM, MTA-STS (TXT, CNAME), TLS-RPT, autoconfig, two
    // SRV; the host's A and PTR.
    assert!(text.contains("records checked: 12 ok"), "{text}");

    let (code, json) = check_json(&repo, &knot, &["--expect-ip", "192.0.2.9"]);
    assert_eq!(code, 1, "{json}");
    for (name, purpose) in [
        ("good.example", "MX"),
        ("good.example", "SPF"),
        ("_dmarc.good.example", "DMARC"),
        ("dkim._domainkey.good.example", "DKIM dkim"),
        ("_mta-sts.good.example", "MTA-STS"),
        ("mta-sts.good.example", "MTA-STS policy host"),
        ("_smtp._tls.good.example", "TLS-RPT"),
        ("autoconfig.good.example", "autoconfig host"),
        ("_submission._tcp.good.example", "SRV _submission._tcp"),
        ("_imaps._tcp.good.example", "SRV _imaps._tcp"),
    ] {
        assert_eq!(state_of(&json, name, purpose), "ok", "{name} {purpose}");
    }
    // A stale MTA-STS id (the policy changed, the record did not), and an
    // SRV record naming the wrong port.
    assert_eq!(
        state_of(&json, "_mta-sts.elsewhere.example", "MTA-STS"),
        "different"
    );
    assert_eq!(
        state_of(&json, "_imaps._tcp.elsewhere.example", "SRV _imaps._tcp"),
        "different"
    );
    assert_eq!(state_of(&json, "spf2.example", "SPF"), "conflicting");
    assert_eq!(state_of(&json, "spf2.example", "MX"), "ok");
    assert_eq!(
        state_of(&json, "_dmarc.cname.example", "DMARC"),
        "conflicting"
    );
    assert_eq!(
        state_of(&json, "dkim._domainkey.cname.example", "DKIM dkim"),
        "different"
    );
    assert_eq!(state_of(&json, "elsewhere.example", "MX"), "conflicting");
    assert_eq!(state_of(&json, "elsewhere.example", "SPF"), "different");
    for (name, purpose) in [
        ("gone.example", "MX"),
        ("gone.example", "SPF"),
        ("_dmarc.gone.example", "DMARC"),
        ("dkim._domainkey.gone.example", "DKIM dkim"),
    ] {
        assert_eq!(
            state_of(&json, name, purpose),
            "missing",
            "{name} {purpose}"
        );
    }
    let host = json["host"].as_array().unwrap();
    assert_eq!(host[0]["state"], "ok", "{json}");
    assert_eq!(host[1]["state"], "ok", "{json}");
    assert_eq!(json["summary"]["conflicting"], 3, "{json}");
    // gone.example's ten records.
    assert_eq!(json["summary"]["missing"], 10, "{json}");
    assert_eq!(json["summary"]["different"], 4, "{json}");

    // The human form shows both values of a difference and why a record conflicts.
    let out = repo
        .run(&[
            "dns",
            "check",
            "--nameserver",
            &knot.address(),
            "cname.example",
            "spf2.example",
        ])
        .exits(1);
    let text = out.stdout;
    assert!(
        text.contains("a CNAME where a TXT must be (CNAME dmarc.provider.example.)"),
        "{text}"
    );
    assert!(
        text.contains(
            "found:    v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong"
        ),
        "{text}"
    );
    assert!(
        text.contains("2 SPF records: receivers treat more than one as a permanent error"),
        "{text}"
    );
    // Markdown for a pull request: a table of the problems only.
    let out = repo
        .run(&[
            "dns",
            "check",
            "--nameserver",
            &knot.address(),
            "--format",
            "markdown",
            "spf2.example",
        ])
        .exits(1);
    let text = out.stdout;
    assert!(
        text.contains("| conflicting | TXT | spf2.example |"),
        "{text}"
    );
    assert!(!text.contains("| ok |"), "{text}");
}

#[test]
fn the_mail_host_address_and_reverse_dns_are_checked() {
    let repo = Repo::new().tenant("good.example", "");
    let mut zones = host_zones("other-host.example");
    zones.push(("good.example".into(), records(&repo, "good.example")));
    let knot = Knot::serve(&zones);
    // The name resolves to another address than the host's; the PTR names another host.
    let (code, json) = check_json(&repo, &knot, &["--expect-ip", "192.0.2.8"]);
    assert_eq!(code, 1, "{json}");
    let host = json["host"].as_array().unwrap();
    assert_eq!(host[0]["state"], "different", "{json}");
    assert_eq!(host[0]["found"][0], "192.0.2.9", "{json}");
    assert_eq!(host[1]["name"], "8.2.0.192.in-addr.arpa", "{json}");
    assert_eq!(host[1]["state"], "missing", "{json}");
    let (_, json) = check_json(&repo, &knot, &["--expect-ip", "192.0.2.9"]);
    let host = json["host"].as_array().unwrap();
    assert_eq!(host[0]["state"], "ok", "{json}");
    assert_eq!(host[1]["state"], "different", "{json}");
    assert_eq!(host[1]["found"][0], "other-host.example.", "{json}");
}

#[test]
fn an_unreachable_nameserver_is_exit_2_and_bad_arguments_exit_1() {
    let repo = Repo::new().tenant("good.example", "");
    let port = free_port();
    repo.run(&[
        "dns",
        "check",
        "--nameserver",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "1",
    ])
    .exits(2)
    .stdout_has("unresolved");
    repo.run(&["dns", "check", "--nameserver", "ns.example"])
        .exits(1)
        .stderr_has("is not an address");
    repo.run(&["dns", "records", "nobody.example"])
        .exits(1)
        .stderr_has("no tenant file declares nobody.example");
}

#[test]
fn dns_records_json_matches_the_zone_form() {
    let repo = Repo::new().tenant("good.example", "");
    let out = repo.ok(&["dns", "records", "good.example", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 10, "{json}");
    assert_eq!(list[0]["type"], "MX");
    assert_eq!(list[0]["value"], "10 mx.webhizzy.in.");
    assert_eq!(list[2]["name"], "_dmarc.good.example");
    let zone = records(&repo, "good.example");
    for record in list {
        assert!(
            zone.contains(&format!("{}. ", record["name"].as_str().unwrap())),
            "{zone}"
        );
    }
}

/// After a build the compile cache knows every tenant: `dns records` and
/// `dns check` still see them all (a cached compile leaves unchanged tenants
/// out of its model).
#[test]
fn dns_records_lists_every_tenant_after_a_cached_build() {
    let repo = Repo::new().tenant("a.example", "").tenant("b.example", "");
    repo.ok(&["build"]);
    repo.ok(&["build"]);
    let out = repo.ok(&["dns", "records", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let domains: std::collections::BTreeSet<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        domains.into_iter().collect::<Vec<_>>(),
        ["a.example", "b.example"]
    );
    repo.run(&["dns", "records", "b.example"]).exits(0);
}

/// `[dns] managed = false` (DNS hosted elsewhere): Terraform declares none
/// of the tenant's records, `dns records` still prints all ten (that is
/// what it is for), and `dns shards` names its root like any tenant's.
#[test]
fn an_unmanaged_tenant_has_records_to_publish_and_none_in_terraform() {
    let repo = Repo::new()
        .tenant("elsewhere.example", "\n[dns]\nmanaged = false\n")
        .tenant("managed.example", "");
    repo.ok(&["build"]);
    let zone = records(&repo, "elsewhere.example");
    assert_eq!(
        zone.lines().filter(|l| !l.starts_with(';')).count(),
        10,
        "{zone}"
    );
    let file = |domain: &str| {
        std::fs::read_to_string(repo.path().join("generated").join(dns_file(domain)))
            .expect("its DNS file")
    };
    let unmanaged = file("elsewhere.example");
    assert!(!unmanaged.contains("resource "), "{unmanaged}");
    assert!(unmanaged.contains("managed = false"), "{unmanaged}");
    assert_eq!(
        file("managed.example")
            .matches("resource \"aws_route53_record\"")
            .count(),
        10
    );
    let shards = stdout(&repo.ok(&["dns", "shards"]));
    let root = |domain: &str| {
        let path = dns_file(domain);
        let root = path.split('/').nth(1).expect("a root").to_string();
        format!("{root} {domain}")
    };
    let mut expected = vec![root("elsewhere.example"), root("managed.example")];
    expected.sort();
    assert_eq!(shards.lines().collect::<Vec<_>>(), expected);
    let moves = stdout(&repo.ok(&["dns", "shards", "--moves"]));
    assert!(!moves.contains("elsewhere_example"), "{moves}");
    assert!(moves.contains("mv_to dns-"), "{moves}");
    assert!(
        moves.contains("'aws_route53_record.managed_example_mx'"),
        "{moves}"
    );
}

/// `[dns] dnssec = true` (issue 20): `dns records` prints the DS of the
/// zone's live key-signing key (the one Knot's keymgr computes), and `dns
/// check` finds the DS at the parent missing, then different, then ok.
#[test]
fn a_signed_zones_ds_is_printed_from_its_dnskey_and_checked_at_the_parent() {
    let repo = Repo::new().tenant("signed.example", "\n[dns]\ndnssec = true\n");
    let delegation =
        "signed.example. 3600 IN NS ns.signed.example.\nns.signed.example. 3600 IN A 127.0.0.1\n";
    let knot = Knot::serve_signing(
        &[
            ("signed.example".to_string(), String::new()),
            ("example".to_string(), delegation.to_string()),
        ],
        &["signed.example"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !knot.dig("DNSKEY", "signed.example").contains("257 3 13") {
        assert!(
            Instant::now() < deadline,
            "Knot did not sign signed.example"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let keymgr: Vec<String> = knot
        .keymgr_ds("signed.example")
        .into_iter()
        .filter(|ds| ds.split(' ').nth(2) == Some("2"))
        .collect();
    assert_eq!(keymgr.len(), 1, "{keymgr:?}");

    let address = knot.address();
    let out = repo.ok(&["dns", "records", "signed.example", "--nameserver", &address]);
    let text = stdout(&out);
    let printed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" IN DS ").map(|(_, rdata)| rdata))
        .collect();
    assert_eq!(printed.len(), 1, "{text}");
    assert!(
        printed[0].eq_ignore_ascii_case(&keymgr[0]),
        "{text} vs keymgr {keymgr:?}"
    );
    assert!(
        text.contains("; DNSSEC: the registrar of signed.example must publish"),
        "{text}"
    );
    let json = stdout(&repo.ok(&[
        "dns",
        "records",
        "signed.example",
        "--nameserver",
        &address,
        "--format",
        "json",
    ]));
    assert!(json.contains("\"type\": \"DS\""), "{json}");

    let ds_state = |repo: &Repo| {
        let (code, json) = check_json(repo, &knot, &["signed.example"]);
        (code, state_of(&json, "signed.example", "DNSSEC"))
    };
    assert_eq!(ds_state(&repo).1, "missing");
    let wrong = format!(
        "{delegation}signed.example. 3600 IN DS {} 13 2 {}\n",
        keymgr[0].split(' ').next().unwrap(),
        "00".repeat(32)
    );
    knot.reload("example", 2, &wrong);
    assert_eq!(ds_state(&repo).1, "different");
    knot.reload(
        "example",
        3,
        &format!("{delegation}signed.example. 3600 IN DS {}\n", printed[0]),
    );
    assert_eq!(ds_state(&repo).1, "ok");

    // A zone that is not signed has no DS check.
    let plain = Repo::new().tenant("signed.example", "");
    let (_, json) = check_json(&plain, &knot, &["signed.example"]);
    assert!(!json.to_string().contains("DNSSEC"), "{json}");
}

/// Regression: in the host's own zone (a tenant there), Knot answers an SRV
/// query with the target's A record beside it (an additional record); only
/// the SRV records are compared, so the record is `ok`, not `different`.
#[test]
fn regression_srv_in_the_host_zone_ignores_the_targets_address() {
    let repo = Repo::new().tenant("webhizzy.in", "");
    let mut zones = host_zones("mx.webhizzy.in");
    zones[0].1.push_str(&records(&repo, "webhizzy.in"));
    let knot = Knot::serve(&zones);
    let (code, json) = check_json(&repo, &knot, &["--expect-ip", "192.0.2.9", "webhizzy.in"]);
    assert_eq!(code, 0, "{json}");
    for (name, purpose) in [
        ("_submission._tcp.webhizzy.in", "SRV _submission._tcp"),
        ("_imaps._tcp.webhizzy.in", "SRV _imaps._tcp"),
    ] {
        assert_eq!(state_of(&json, name, purpose), "ok", "{json}");
    }
}
