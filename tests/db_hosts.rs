//! Several mail hosts against live databases, on SQLite and on MariaDB: plan
//! and apply write the platform's `mail_hosts` rows and each mailbox's
//! `virtual_users.home` (migration 0008) exactly as the generated SQL files
//! do; a home changed is a move in the plan, a host changed is an update;
//! hand edits of either are drift; a single-host platform writes neither.

mod support;

use support::*;

on_both_engines!(
    two_hosts_are_applied_as_the_generated_sql_writes_them_and_a_second_apply_changes_nothing,
    a_home_changed_is_planned_as_a_move_and_applied,
    hosts_changed_are_updated_and_may_swap_their_addresses,
    hand_edits_of_a_home_or_a_host_are_drift_and_apply_heals_them,
    a_single_host_platform_writes_no_host_and_no_home_until_it_declares_hosts,
    postfix_routes_each_mailbox_to_its_home_hosts_lmtp_with_the_generated_map,
);

/// The two-host fixture: mx1 (primary) and mx2; acme.example homed on mx2,
/// its bob on mx1.
fn two_hosts() -> Repo {
    let repo = Repo::empty();
    copy_tree(
        &root().join("tests/fixtures/valid/two-hosts"),
        repo.path(),
        &[],
    );
    repo
}

fn hosts(db: &TestDb) -> String {
    db.sql("SELECT name, hostname, private_ip FROM mail_hosts ORDER BY name")
}

fn homes(db: &TestDb) -> String {
    db.sql("SELECT email, COALESCE(home, 'NULL') FROM virtual_users ORDER BY email")
}

/// Replace text in the platform file.
fn edit_platform(repo: &Repo, from: &str, to: &str) {
    let text = repo.read("mailops.toml");
    assert!(text.contains(from), "mailops.toml has no {from:?}");
    std::fs::write(repo.path().join("mailops.toml"), text.replacen(from, to, 1)).unwrap();
}

/// `plan --format FORMAT` against the database: its stdout.
fn plan_as(repo: &Repo, db: &TestDb, format: &str) -> String {
    let out = run(
        repo.path(),
        &["plan", "--format", format, "--database", &db.url],
    );
    assert_code(&out, 0);
    stdout(&out)
}

/// `plan --out NAME` against the database: the saved plan's path.
fn save_plan(repo: &Repo, db: &TestDb, name: &str) -> std::path::PathBuf {
    let saved = repo.path().join(name);
    let out = run(
        repo.path(),
        &[
            "plan",
            "--database",
            &db.url,
            "--out",
            saved.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    saved
}

/// `apply --yes --no-move-mail SAVED` against the database (a move
/// switches the row only: there is no mail host here).
fn apply_saved(repo: &Repo, db: &TestDb, saved: &std::path::Path) -> std::process::Output {
    run(
        repo.path(),
        &[
            "apply",
            "--yes",
            "--no-move-mail",
            "--database",
            &db.url,
            saved.to_str().unwrap(),
        ],
    )
}

/// `apply --yes --no-move-mail` against the database.
fn apply_rows_only(repo: &Repo, db: &TestDb) -> std::process::Output {
    run(
        repo.path(),
        &["apply", "--yes", "--no-move-mail", "--database", &db.url],
    )
}

/// A plan that finds nothing to change.
#[track_caller]
fn assert_clean(repo: &Repo, db: &TestDb) {
    let out = repo.plan_against(db);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("no row changes"), "{}", stdout(&out));
}

fn two_hosts_are_applied_as_the_generated_sql_writes_them_and_a_second_apply_changes_nothing(
    engine: Engine,
) {
    let repo = two_hosts();
    let db = TestDb::new(engine);
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("  mail hosts\n"), "{text}");
    assert!(
        text.contains("+ host mx1 (mx1.webhizzy.in, 10.20.1.11)"),
        "{text}"
    );
    assert!(
        text.contains("+ host mx2 (mx2.webhizzy.in, 10.20.1.12)"),
        "{text}"
    );
    assert!(
        text.contains("+ mailbox alice@acme.example (quota 2 GiB, password set, home mx2)"),
        "{text}"
    );

    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        hosts(&db),
        "mx1\tmx1.webhizzy.in\t10.20.1.11\nmx2\tmx2.webhizzy.in\t10.20.1.12\n"
    );
    assert_eq!(
        homes(&db),
        "alice@acme.example\tmx2\nbob@acme.example\tmx1\n"
    );
    // The apply log counts the host rows too: 2 hosts, 1 domain, 2
    // mailboxes, 2 aliases.
    assert_eq!(
        db.sql("SELECT rows_inserted, rows_updated, rows_deleted FROM mailops_apply_log"),
        "7\t0\t0\n"
    );

    // The generated SQL files (apply wrote generated/) load the same rows.
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(hosts(&loaded), hosts(&db));
    assert_eq!(homes(&loaded), homes(&db));

    // Nothing more to do: no row read, nothing written, nothing logged.
    assert_clean(&repo, &db);
    let json: serde_json::Value = serde_json::from_str(&plan_as(&repo, &db, "json")).unwrap();
    assert_eq!(json["database"]["read"]["domains"], 0, "{json}");
    assert!(json["database"].get("hosts").is_none(), "{json}");
    let before = (db.snapshot(), hosts(&db), homes(&db));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!((db.snapshot(), hosts(&db), homes(&db)), before);
}

fn a_home_changed_is_planned_as_a_move_and_applied(engine: Engine) {
    let repo = two_hosts();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.replace("acme.example", "home = \"mx1\"", "home = \"mx2\"");

    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("0 to insert, 1 to update, 0 to delete"),
        "{text}"
    );
    assert!(
        text.contains("~ mailbox bob@acme.example: home mx1 → mx2 (move)"),
        "{text}"
    );
    let markdown = plan_as(&repo, &db, "markdown");
    assert!(
        markdown.contains("~ mailbox bob@acme.example: home mx1 → mx2 (move)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `acme.example` | 0 | 1 | 0 |"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_str(&plan_as(&repo, &db, "json")).unwrap();
    let change = &json["database"]["tenants"][0]["changes"][0];
    assert_eq!(change["key"], "bob@acme.example", "{json}");
    assert_eq!(change["move"], true, "{json}");
    assert_eq!(change["columns"][0]["column"], "home", "{json}");
    assert_eq!(change["columns"][0]["old"], "mx1", "{json}");
    assert_eq!(change["columns"][0]["new"], "mx2", "{json}");
    assert_eq!(change["steps"].as_array().map(Vec::len), Some(4), "{json}");
    assert_eq!(
        change["steps"][0],
        "1. copy: doveadm backup bob@acme.example from mx1 (10.20.1.11) to mx2 (10.20.1.12), mx1 still serving",
        "{json}"
    );
    assert!(
        text.contains(
            "        2. switch: home = mx2 (delivery and logins go to mx2)\n        3. final sync:"
        ),
        "{text}"
    );

    // Without --move-mail or --no-move-mail, apply refuses: nothing written.
    let before = homes(&db);
    let out = repo.apply_to(&db);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(
            "this plan moves 1 mailbox to another host:\n  bob@acme.example: home mx1 → mx2"
        ),
        "{err}"
    );
    assert!(
        err.contains("--move-mail") && err.contains("--no-move-mail"),
        "{err}"
    );
    assert_eq!(homes(&db), before);

    // A saved plan carries the move and applies it.
    let saved = save_plan(&repo, &db, "move.plan");
    let out = apply_saved(&repo, &db, &saved);
    assert_code(&out, 0);
    assert_eq!(
        homes(&db),
        "alice@acme.example\tmx2\nbob@acme.example\tmx2\n"
    );
    assert_clean(&repo, &db);
}

fn hosts_changed_are_updated_and_may_swap_their_addresses(engine: Engine) {
    let repo = two_hosts();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);

    // A host's private address changed: an update of its row.
    edit_platform(&repo, "10.20.1.12", "10.20.1.22");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("0 to insert, 1 to update, 0 to delete"),
        "{text}"
    );
    assert!(
        text.contains("~ host mx2: private_ip 10.20.1.12 → 10.20.1.22"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&plan_as(&repo, &db, "json")).unwrap();
    assert_eq!(json["database"]["hosts"][0]["op"], "update", "{json}");
    assert_eq!(
        json["database"]["hosts"][0]["table"], "mail_hosts",
        "{json}"
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        hosts(&db),
        "mx1\tmx1.webhizzy.in\t10.20.1.11\nmx2\tmx2.webhizzy.in\t10.20.1.22\n"
    );
    assert_clean(&repo, &db);

    // A third host added, then removed while mx1 and mx2 swap their
    // addresses (each unique in the table) in one apply.
    let text = repo.read("mailops.toml");
    std::fs::write(
        repo.path().join("mailops.toml"),
        format!(
            "{text}\n[[hosts]]\nname = \"mx3\"\nhostname = \"mx3.webhizzy.in\"\nprivate_ip = \"10.20.1.13\"\n"
        ),
    )
    .unwrap();
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("+ host mx3 (mx3.webhizzy.in, 10.20.1.13)"),
        "{}",
        stdout(&out)
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.count("mail_hosts"), 3);

    std::fs::write(repo.path().join("mailops.toml"), &text).unwrap();
    edit_platform(&repo, "10.20.1.11", "10.20.1.99");
    edit_platform(&repo, "10.20.1.22", "10.20.1.11");
    edit_platform(&repo, "10.20.1.99", "10.20.1.22");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("0 to insert, 2 to update, 1 to delete"),
        "{text}"
    );
    assert!(
        text.contains("~ host mx1: private_ip 10.20.1.11 → 10.20.1.22"),
        "{text}"
    );
    assert!(
        text.contains("- host mx3 (mx3.webhizzy.in, 10.20.1.13)"),
        "{text}"
    );
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert_eq!(
        hosts(&db),
        "mx1\tmx1.webhizzy.in\t10.20.1.22\nmx2\tmx2.webhizzy.in\t10.20.1.11\n"
    );
    // The generated SQL agrees.
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(hosts(&loaded), hosts(&db));
    assert_clean(&repo, &db);
}

fn hand_edits_of_a_home_or_a_host_are_drift_and_apply_heals_them(engine: Engine) {
    let repo = two_hosts();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let healthy = (hosts(&db), homes(&db));

    // A home edited by hand: the domain's mark moved, its rows are read.
    db.sql("UPDATE virtual_users SET home = 'mx1' WHERE email = 'alice@acme.example'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox alice@acme.example: home mx1 → mx2 (move)"),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&plan_as(&repo, &db, "json")).unwrap();
    assert_eq!(json["database"]["read"]["domains"], 1, "{json}");

    // A host row edited by hand: host rows are read whole at every plan.
    db.sql("UPDATE mail_hosts SET hostname = 'rogue.webhizzy.in' WHERE name = 'mx2'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("~ host mx2: hostname rogue.webhizzy.in → mx2.webhizzy.in"),
        "{text}"
    );
    assert!(
        text.contains("0 to insert, 2 to update, 0 to delete"),
        "{text}"
    );

    // A host row deleted by hand, another added.
    db.sql("DELETE FROM mail_hosts WHERE name = 'mx1'");
    db.sql("INSERT INTO mail_hosts (name, hostname, private_ip) VALUES ('old', 'old.webhizzy.in', '10.20.9.9')");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("+ host mx1 (mx1.webhizzy.in, 10.20.1.11)"),
        "{text}"
    );
    assert!(
        text.contains("- host old (old.webhizzy.in, 10.20.9.9)"),
        "{text}"
    );

    // A saved plan is refused once a host row changed after it.
    let saved = save_plan(&repo, &db, "heal.plan");
    db.sql("UPDATE mail_hosts SET private_ip = '10.20.9.8' WHERE name = 'old'");
    let out = apply_saved(&repo, &db, &saved);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(db.count("mail_hosts"), 2);

    // Healing the hand-edited home moves the mailbox back: rows only here.
    assert_code(&repo.apply_to(&db), 1);
    assert_code(&apply_rows_only(&repo, &db), 0);
    assert_eq!((hosts(&db), homes(&db)), healthy);
    assert_clean(&repo, &db);
}

fn a_single_host_platform_writes_no_host_and_no_home_until_it_declares_hosts(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.count("mail_hosts"), 0);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE home IS NOT NULL"),
        "0\n"
    );
    let out = repo.plan_against(&db);
    assert_code(&out, 0);
    assert!(!stdout(&out).contains("host"), "{}", stdout(&out));
    let json: serde_json::Value = serde_json::from_str(&plan_as(&repo, &db, "json")).unwrap();
    assert!(json["database"].get("hosts").is_none(), "{json}");

    // Growing to two hosts: the existing one first (it keeps the
    // hostname), every mailbox gets its first home there: no move.
    let text = repo.read("mailops.toml");
    std::fs::write(
        repo.path().join("mailops.toml"),
        format!(
            "{text}\n[[hosts]]\nname = \"mx\"\nhostname = \"mx.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\
             \n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\n"
        ),
    )
    .unwrap();
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("2 to insert, 4 to update, 0 to delete"),
        "{text}"
    );
    assert!(
        text.contains("~ mailbox alice@a.example: home none → mx\n"),
        "{text}"
    );
    assert!(!text.contains("(move)"), "{text}");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.count("mail_hosts"), 2);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE home = 'mx'"),
        "4\n"
    );
    assert_clean(&repo, &db);
}

/// Postfix itself (`postmap -q`, with the `mysql`/`sqlite` map of the engine)
/// reads the generated `home-transport.cf` against the applied rows: each
/// mailbox's next hop is LMTP at its home host's private address; an alias
/// or an unknown address gets no answer (its own transport applies).
fn postfix_routes_each_mailbox_to_its_home_hosts_lmtp_with_the_generated_map(engine: Engine) {
    let repo = two_hosts();
    if engine == Engine::Sqlite {
        let text = repo.read("mailops.toml");
        std::fs::write(
            repo.path().join("mailops.toml"),
            format!("{text}\n[database]\ndriver = \"sqlite\"\n"),
        )
        .unwrap();
    }
    assert_code(&run(repo.path(), &["build"]), 0);
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // The generated map, pointed at the test database (the rest as generated).
    let generated = repo.read("generated/postfix/home-transport.cf");
    let mut map = String::new();
    for line in generated.lines() {
        let keep = match engine {
            Engine::Sqlite => !line.starts_with("dbpath = "),
            Engine::Mariadb => !["hosts = ", "user = ", "password = ", "dbname = "]
                .iter()
                .any(|k| line.starts_with(k)),
        };
        if keep {
            map.push_str(line);
            map.push('\n');
        }
    }
    match engine {
        Engine::Sqlite => map.push_str(&format!("dbpath = {}\n", db.target)),
        Engine::Mariadb => map.push_str(&format!(
            "hosts = inet:127.0.0.1:3306\nuser = root\ndbname = {}\n",
            db.target
        )),
    }
    assert!(map.contains("result_format = lmtp:inet:[%s]:24\n"), "{map}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("home-transport.cf");
    std::fs::write(&file, &map).unwrap();
    // postmap reads a main.cf: an empty one of the test's own (not /etc/postfix's).
    std::fs::write(dir.path().join("main.cf"), "compatibility_level = 3.6\n").unwrap();
    let kind = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Mariadb => "mysql",
    };
    let lookup = |key: &str| {
        let out = std::process::Command::new("postmap")
            .arg("-c")
            .arg(dir.path())
            .args(["-q", key])
            .arg(format!("{kind}:{}", file.display()))
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run postmap ({e}): scripts/install-mail-packages installs Postfix")
            });
        // Exit 0: found; 1: not found, and nothing on stderr.
        assert!(
            out.status.code() == Some(0) || (out.status.code() == Some(1) && out.stderr.is_empty()),
            "postmap -q {key}: {:?} {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(lookup("alice@acme.example"), "lmtp:inet:[10.20.1.12]:24");
    assert_eq!(lookup("bob@acme.example"), "lmtp:inet:[10.20.1.11]:24");
    assert_eq!(lookup("acme.example"), "", "a domain is no mailbox");
    assert_eq!(lookup("nobody@acme.example"), "");
}
