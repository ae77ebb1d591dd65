//! Relay domains and backup MX (`[relay]`, issue 15) against live databases,
//! on SQLite and on MariaDB: the tenant's `relay_domains` and
//! `relay_recipients` rows (migration 0006) are planned, applied and owned by
//! it like its other rows; a hand edit of them is drift; the SQL files load
//! the same rows as apply; and the DNS records follow `backup_mx`.

mod support;

use support::*;

on_both_engines!(
    relay_rows_are_planned_applied_changed_and_removed,
    a_hand_edited_relay_row_is_drift,
    the_generated_sql_files_load_the_same_relay_rows_as_apply,
);

fn relays(db: &TestDb) -> String {
    db.sql(
        "SELECT d.name, r.nexthop, r.backup_mx FROM relay_domains r \
         JOIN virtual_domains d ON d.id = r.domain_id ORDER BY d.name",
    )
}

fn recipients(db: &TestDb) -> String {
    db.sql(
        "SELECT d.name, r.address FROM relay_recipients r \
         JOIN virtual_domains d ON d.id = r.domain_id ORDER BY r.address",
    )
}

/// `mailops new` for the domain, its mailboxes and aliases cut off, and this `[relay]`.
fn relay_tenant(repo: &Repo, domain: &str, relay: &str) {
    assert_code(&run(repo.path(), &["new", domain]), 0);
    let path = repo.path().join("tenants").join(format!("{domain}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let head = match text.find("\n[[") {
        Some(cut) => &text[..=cut],
        None => &text,
    };
    std::fs::write(&path, format!("{head}\n[relay]\n{relay}")).unwrap();
}

const RELAY: &str =
    "to = \"[mail.onprem.example]:25\"\nrecipients = [\"alice\", \"postmaster\", \"abuse\"]\n";

fn relay_rows_are_planned_applied_changed_and_removed(engine: Engine) {
    let repo = Repo::two_tenants();
    relay_tenant(&repo, "r.example", RELAY);
    let db = TestDb::new(engine);
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "+ domain r.example\n",
        "+ relay r.example → [mail.onprem.example]:25\n",
        "+ relay recipient alice@r.example\n",
        "+ relay recipient postmaster@r.example\n",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(relays(&db), "r.example\t[mail.onprem.example]:25\t0\n");
    assert_eq!(
        recipients(&db),
        "r.example\tabuse@r.example\nr.example\talice@r.example\nr.example\tpostmaster@r.example\n"
    );
    assert_code(&repo.plan_against(&db), 0);

    // Another next hop, the backup MX on, bob instead of alice.
    let path = repo.path().join("tenants/r.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("[mail.onprem.example]:25", "[192.0.2.7]:2525")
            .replace("\"alice\"", "\"bob\"")
            + "backup_mx = true\nprimary_mx = \"mx1.onprem.example\"\n",
    )
    .unwrap();
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "+ relay recipient bob@r.example\n",
        "- relay recipient alice@r.example\n",
        "~ relay r.example → [192.0.2.7]:2525",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(text.contains("backup_mx"), "{text}");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(relays(&db), "r.example\t[192.0.2.7]:2525\t1\n");
    assert!(recipients(&db).contains("bob@r.example"));
    assert!(!recipients(&db).contains("alice@r.example"));
    assert_code(&repo.plan_against(&db), 0);

    // Its DNS: their server is MX 10, the mail host MX 20.
    let out = run(repo.path(), &["dns", "records", "r.example"]);
    assert_code(&out, 0);
    let zone = stdout(&out);
    assert!(zone.contains("MX  10 mx1.onprem.example.\n"), "{zone}");
    assert!(zone.contains("MX  20 "), "{zone}");
    // A backup MX's primary is an MX already: the SPF record needs no more.
    assert!(zone.contains("\"v=spf1 mx -all\""), "{zone}");

    // No longer a relay: its relay rows go, the domain stays (it hosts mailboxes now).
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("\n[relay]").unwrap();
    std::fs::write(
        &path,
        format!(
            "{}\n[[alias]]\naddress = \"postmaster\"\nto = [\"ops@elsewhere.example\"]\n\n[[alias]]\naddress = \"abuse\"\nto = [\"ops@elsewhere.example\"]\n",
            &text[..cut]
        ),
    )
    .unwrap();
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("- relay r.example"),
        "{}",
        stdout(&out)
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(relays(&db), "");
    assert_eq!(recipients(&db), "");
    assert_code(&repo.plan_against(&db), 0);

    // A relay tenant deleted: its domain goes, which needs --allow-destroy.
    relay_tenant(
        &repo,
        "gone.example",
        RELAY.replace("alice", "carol").as_str(),
    );
    assert_code(&repo.apply_to(&db), 0);
    repo.remove_tenant("gone.example");
    assert_code(&repo.apply_to(&db), 1);
    assert_code(
        &run(
            repo.path(),
            &["apply", "--yes", "--allow-destroy", "--database", &db.url],
        ),
        0,
    );
    assert_eq!(relays(&db), "");
    assert_eq!(recipients(&db), "");
}

fn a_hand_edited_relay_row_is_drift(engine: Engine) {
    let repo = Repo::two_tenants();
    relay_tenant(&repo, "r.example", RELAY);
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    db.sql("UPDATE relay_domains SET nexthop = '[evil.example]:25'");
    db.sql("DELETE FROM relay_recipients WHERE address = 'alice@r.example'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("~ relay r.example → [mail.onprem.example]:25"),
        "{text}"
    );
    assert!(text.contains("+ relay recipient alice@r.example"), "{text}");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(relays(&db), "r.example\t[mail.onprem.example]:25\t0\n");
    assert_code(&repo.plan_against(&db), 0);
}

fn the_generated_sql_files_load_the_same_relay_rows_as_apply(engine: Engine) {
    let repo = Repo::two_tenants();
    relay_tenant(&repo, "r.example", RELAY);
    assert_code(&run(repo.path(), &["build"]), 0);
    let applied = TestDb::new(engine);
    assert_code(&repo.apply_to(&applied), 0);
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(relays(&loaded), relays(&applied));
    assert_eq!(recipients(&loaded), recipients(&applied));
    assert!(relays(&loaded).contains("[mail.onprem.example]:25"));

    // The recipients change and the loads run again: the same rows as apply.
    let path = repo.path().join("tenants/r.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"alice\"", "\"bob\"")).unwrap();
    assert_code(&run(repo.path(), &["build"]), 0);
    loaded.script(&engine.whole_load(repo.path()), "the whole load again");
    assert_code(&repo.apply_to(&applied), 0);
    assert_eq!(recipients(&loaded), recipients(&applied));
    assert!(!recipients(&loaded).contains("alice@"));
}
