//! `mailops plan` and `mailops apply` against live databases: the same suite
//! on a fresh SQLite file and on a fresh MariaDB database (127.0.0.1:3306,
//! root, empty password; each test makes and drops its own database, and
//! fails with how to start MariaDB when it is not running).

mod support;

use support::*;

on_both_engines!(
    first_apply_creates_everything_and_a_second_plan_is_empty,
    hand_edits_show_as_drift_and_apply_heals_them,
    a_saved_plan_is_applied_as_reviewed_and_refused_after_a_concurrent_change,
    a_failure_in_the_middle_of_an_apply_leaves_the_database_unchanged,
    two_applies_at_once_both_finish_one_after_the_other,
    a_held_lock_makes_the_second_apply_fail_after_its_wait,
    the_delete_guard_refuses_and_allow_destroy_proceeds,
    apply_refuses_to_run_unattended_without_yes,
    a_schema_newer_than_mailops_is_refused,
    a_plan_after_apply_reads_no_rows_and_a_changed_file_reads_only_its_domain,
    a_hand_edit_in_a_domain_whose_file_did_not_change_is_found_by_its_mark,
    deleting_every_mailbox_of_a_domain_by_hand_is_found,
    moving_a_mailbox_to_another_domain_by_hand_is_found,
    the_state_of_a_domain_is_recorded_on_apply_and_goes_with_its_domain,
    a_database_without_recorded_state_is_read_whole_once_then_recorded,
    with_the_mark_evaded_counts_still_catch_deletes_and_full_reads_every_row,
    a_delete_and_insert_that_keep_the_counts_are_found,
    a_database_migrated_from_0002_reads_its_domains_once_then_records_them,
    a_saved_plan_is_refused_after_a_hand_edit_in_a_domain_it_does_not_change,
    a_failure_while_recording_the_state_leaves_the_database_unchanged,
    forged_saved_plan_is_refused,
    plan_never_creates_a_database,
    plan_reads_an_older_schema_as_it_is_and_never_migrates,
    destroy_refusal_lists_forwards_into_the_domain,
    a_hand_edit_that_keeps_the_change_times_is_caught_only_by_full_plans,
    every_plan_error_exits_1_with_detailed_exitcode,
    the_apply_lock_row_exists_after_migrate_and_counts_the_applies_that_commit,
    an_apply_without_its_lock_row_fails_and_says_how_to_restore_it,
);

#[test]
fn mariadb_an_apply_aborted_for_a_conflicting_write_says_plan_again_and_exits_3() {
    an_apply_aborted_for_a_conflicting_write_says_plan_again_and_exits_3(Engine::Mariadb);
}

#[test]
fn mariadb_a_hand_edit_committed_while_apply_runs_shows_in_the_next_plan() {
    a_hand_edit_committed_while_apply_runs_shows_in_the_next_plan(Engine::Mariadb);
}

/// `apply --yes` started in the background, with one debug-build test hook
/// (`MAILOPS_TEST_HOLD_…`) set.
fn spawn_apply(repo: &Repo, db: &TestDb, hook: (&str, &str)) -> std::process::Child {
    mailops()
        .arg("-C")
        .arg(repo.path())
        .args(["apply", "--yes", "--database", &db.url])
        .env(hook.0, hook.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mailops starts")
}

/// `plan --format json`'s database section.
fn plan_json(repo: &Repo, db: &TestDb, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--format", "json", "--database", &db.url];
    args.extend_from_slice(extra);
    let out = run(repo.path(), &args);
    assert_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    doc["database"].clone()
}

/// What a plan read: (domains whose rows were read, rows read, every row).
fn read_by_plan(repo: &Repo, db: &TestDb) -> (u64, u64, bool) {
    let read = &plan_json(repo, db, &[])["read"];
    (
        read["domains"].as_u64().unwrap(),
        read["rows"].as_u64().unwrap(),
        read["full"].as_bool().unwrap(),
    )
}

/// The sum of the change times of a domain's rows in `table`, as mailops
/// tallies it (MariaDB), with `d` the domain; 0 without rows.
fn changed_sum(table: &str) -> String {
    format!(
        "(SELECT COALESCE(SUM(TO_SECONDS(t.mailops_changed_at) * 1000000 \
         + MICROSECOND(t.mailops_changed_at)), 0) FROM {table} t WHERE t.domain_id = d.id)"
    )
}

/// The recorded state: domain, whether the mark says nobody wrote to it since
/// (SQLite: edits == applied_edits; MariaDB: the recorded counts and sums of
/// change times are the live ones), digest length.
fn recorded_state(db: &TestDb) -> String {
    let untouched = match db.engine {
        Engine::Sqlite => "s.edits = s.applied_edits".to_string(),
        Engine::Mariadb => format!(
            "s.user_rows = (SELECT COUNT(*) FROM virtual_users u WHERE u.domain_id = d.id) \
             AND s.user_changed = {} \
             AND s.alias_rows = (SELECT COUNT(*) FROM virtual_aliases a WHERE a.domain_id = d.id) \
             AND s.alias_changed = {}",
            changed_sum("virtual_users"),
            changed_sum("virtual_aliases")
        ),
    };
    db.sql(&format!(
        "SELECT d.name, {untouched}, LENGTH(s.digest) FROM mailops_domain_state s \
         JOIN virtual_domains d ON d.id = s.domain_id ORDER BY d.name"
    ))
}

/// Every column of mailops_domain_state, in a stable order.
fn state_rows(db: &TestDb) -> String {
    db.sql(match db.engine {
        Engine::Sqlite => {
            "SELECT domain_id, digest, edits, applied_edits FROM mailops_domain_state ORDER BY domain_id"
        }
        Engine::Mariadb => {
            "SELECT domain_id, digest, user_rows, user_changed, alias_rows, alias_changed \
             FROM mailops_domain_state ORDER BY domain_id"
        }
    })
}

/// The number of triggers in the database.
fn triggers(db: &TestDb) -> usize {
    db.sql(match db.engine {
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
        Engine::Mariadb => {
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
        }
    })
    .trim()
    .parse()
    .unwrap()
}

fn first_apply_creates_everything_and_a_second_plan_is_empty(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.add_mailbox("b.example", "erin", Some("O'Brien \"Erin\" \\ back\nslash"));
    let db = TestDb::new(engine);

    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("+ mailbox alice@a.example"),
        "{}",
        stdout(&out)
    );

    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("applied to"), "{}", stderr(&out));
    assert_eq!(
        db.sql("SELECT name FROM virtual_domains ORDER BY name"),
        "a.example\nb.example\n"
    );
    assert_eq!(
        db.sql("SELECT email FROM virtual_users ORDER BY email"),
        "alice@a.example\nbob@a.example\ncarol@b.example\ndave@b.example\nerin@b.example\n"
    );
    // The catch-all's source is `@domain`; each destination is a row.
    assert_eq!(
        db.sql("SELECT source, destination FROM virtual_aliases WHERE source LIKE '%@a.example' ORDER BY source, destination"),
        "@a.example\talice@a.example\n\
         abuse@a.example\tpostmaster@webhizzy.in\n\
         postmaster@a.example\tpostmaster@webhizzy.in\n\
         team@a.example\talice@a.example\n\
         team@a.example\tbob@a.example\n"
    );
    // Mailboxes point at their own domain's row.
    assert_eq!(
        db.sql("SELECT u.email, d.name FROM virtual_users u JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email"),
        "alice@a.example\ta.example\nbob@a.example\ta.example\ncarol@b.example\tb.example\n\
         dave@b.example\tb.example\nerin@b.example\tb.example\n"
    );
    assert_eq!(
        db.sql("SELECT password, quota_bytes FROM virtual_users WHERE email = 'alice@a.example'"),
        format!("{}\t1073741824\n", password_hash())
    );
    // Free text arrives byte for byte (hex, so the client's escaping cannot hide a difference).
    let hex = if engine == Engine::Sqlite {
        "hex(name)"
    } else {
        "HEX(name)"
    };
    let stored = db.sql(&format!(
        "SELECT {hex} FROM virtual_users WHERE email = 'erin@b.example'"
    ));
    let expected: String = "O'Brien \"Erin\" \\ back\nslash"
        .bytes()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(stored.trim(), expected);
    assert_eq!(
        db.sql("SELECT rows_inserted, rows_updated, rows_deleted FROM mailops_apply_log"),
        "14\t0\t0\n"
    );
    // apply wrote generated/.
    assert!(
        repo.path()
            .join("generated/sql/sqlite/a.example.sql")
            .is_file()
    );

    let out = repo.plan_against(&db);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("no row changes"), "{}", stdout(&out));
    // Applying again changes nothing and logs nothing.
    let before = db.snapshot();
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.snapshot(), before);
}

fn hand_edits_show_as_drift_and_apply_heals_them(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let healthy =
        db.sql("SELECT email, password, quota_bytes, name FROM virtual_users ORDER BY email");

    db.sql("DELETE FROM virtual_aliases WHERE source = 'team@a.example' AND destination = 'bob@a.example'");
    db.sql(
        "UPDATE virtual_users SET quota_bytes = 5, name = 'Hacked' WHERE email = 'carol@b.example'",
    );
    db.sql(&format!(
        "UPDATE virtual_users SET password = '{}' WHERE email = 'dave@b.example'",
        other_password_hash()
    ));

    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("2 to update"), "{text}");
    assert!(
        text.contains("+ alias team@a.example → bob@a.example"),
        "{text}"
    );
    assert!(
        text.contains(
            "~ mailbox carol@b.example: quota 5 B → 1 GiB, name \"Hacked\" → \"carol of b.example\""
        ),
        "{text}"
    );
    assert!(
        text.contains("~ mailbox dave@b.example: password changed"),
        "{text}"
    );
    // Never a hash, old or new.
    assert!(!text.contains("argon2id"), "{text}");
    for format in ["markdown", "json"] {
        let out = run(
            repo.path(),
            &["plan", "--format", format, "--database", &db.url],
        );
        assert_code(&out, 0);
        assert!(!stdout(&out).contains("argon2id"), "{}", stdout(&out));
        assert!(stdout(&out).contains("carol@b.example"), "{}", stdout(&out));
    }

    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT email, password, quota_bytes, name FROM virtual_users ORDER BY email"),
        healthy
    );
    assert_eq!(db.count("virtual_aliases"), 7);
    assert_code(&repo.plan_against(&db), 0);
}

fn a_saved_plan_is_applied_as_reviewed_and_refused_after_a_concurrent_change(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    let plan_file = repo.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();

    let out = run(
        repo.path(),
        &["plan", "--database", &db.url, "--out", plan_path],
    );
    assert_code(&out, 0);
    // Someone changes the database between review and apply.
    db.sql("UPDATE virtual_users SET quota_bytes = 7 WHERE email = 'bob@a.example'");
    let before = db.snapshot();
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("the database changed since this plan was made; plan again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.snapshot(), before);

    // Planned again, the saved plan applies exactly what it shows.
    let out = run(
        repo.path(),
        &["plan", "--database", &db.url, "--out", plan_path],
    );
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("+ mailbox frank@a.example"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("~ mailbox bob@a.example: quota 7 B → 1 GiB"),
        "{}",
        stdout(&out)
    );
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 0);
    assert_eq!(db.count("virtual_users"), 5);
    assert_code(&repo.plan_against(&db), 0);

    // A plan is tied to its database, not to how its URL is written; another database refuses it.
    repo.add_mailbox("b.example", "gina", None);
    let same_database = db.url.replace(":3306/", "/");
    let out = run(
        repo.path(),
        &["plan", "--database", &same_database, "--out", plan_path],
    );
    assert_code(&out, 0);
    let other = TestDb::new(engine);
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &other.url, plan_path],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("this plan was made for"),
        "{}",
        stderr(&out)
    );
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 0);
    assert_eq!(db.count("virtual_users"), 6);

    // A plan is also refused when the tenant files moved on since it was made.
    let out = run(
        repo.path(),
        &["plan", "--database", &db.url, "--out", plan_path],
    );
    assert_code(&out, 0);
    repo.add_mailbox("a.example", "hugo", None);
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("tenant or platform files changed"),
        "{}",
        stderr(&out)
    );
}

fn a_failure_in_the_middle_of_an_apply_leaves_the_database_unchanged(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);

    // On an empty database: the domains are written, then the failure hits.
    let out = run_env(
        repo.path(),
        &["apply", "--yes", "--database", &db.url],
        &[("MAILOPS_TEST_FAIL_AFTER", "2")],
    );
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("injected failure"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
    for table in [
        "virtual_domains",
        "virtual_users",
        "virtual_aliases",
        "mailops_apply_log",
    ] {
        assert_eq!(db.count(table), 0, "{table}");
    }
    assert!(
        !repo.path().join("generated").exists(),
        "generated/ is written only after a commit"
    );

    // On a populated database, with inserts, an update and a delete in flight.
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    repo.replace("b.example", "quota = \"1 GiB\"", "quota = \"2 GiB\"");
    repo.replace("a.example", "to = [\"alice\", \"bob\"]", "to = [\"alice\"]");
    let before = db.snapshot();
    for fail_after in ["1", "2", "3"] {
        let out = run_env(
            repo.path(),
            &["apply", "--yes", "--database", &db.url],
            &[("MAILOPS_TEST_FAIL_AFTER", fail_after)],
        );
        assert_code(&out, 2);
        assert_eq!(
            db.snapshot(),
            before,
            "after failing at statement {fail_after}"
        );
    }
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("1 inserted, 1 updated, 1 deleted"),
        "{}",
        stderr(&out)
    );
}

fn two_applies_at_once_both_finish_one_after_the_other(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    // Each holds the lock a while, so that the other must wait for it.
    let first = spawn_apply(&repo, &db, ("MAILOPS_TEST_HOLD_LOCK_MS", "1500"));
    let second = spawn_apply(&repo, &db, ("MAILOPS_TEST_HOLD_LOCK_MS", "1500"));
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    for out in &outputs {
        assert_code(out, 0);
    }
    let messages: Vec<String> = outputs.iter().map(stderr).collect();
    let applied = messages.iter().filter(|m| m.contains("applied to")).count();
    let current = messages
        .iter()
        .filter(|m| m.contains("the database is current"))
        .count();
    assert_eq!((applied, current), (1, 1), "{messages:#?}");
    assert_eq!(db.count("mailops_apply_log"), 1);
    assert_eq!(db.count("virtual_users"), 4);
    assert_code(&repo.plan_against(&db), 0);
}

fn a_held_lock_makes_the_second_apply_fail_after_its_wait(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    let holder = spawn_apply(&repo, &db, ("MAILOPS_TEST_HOLD_LOCK_MS", "4000"));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let out = run_env(
        repo.path(),
        &["apply", "--yes", "--database", &db.url],
        &[("MAILOPS_LOCK_TIMEOUT", "1")],
    );
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("another mailops apply is running on this database; waited 1 s"),
        "{}",
        stderr(&out)
    );
    let held = holder.wait_with_output().unwrap();
    assert_code(&held, 0);
    assert_eq!(db.count("virtual_users"), 5);
}

fn the_delete_guard_refuses_and_allow_destroy_proceeds(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.remove_tenant("b.example");
    let before = db.snapshot();

    let out = repo.apply_to(&db);
    assert_code(&out, 1);
    let message = stderr(&out);
    assert!(
        message.contains("this apply needs --allow-destroy: it deletes 1 whole domain"),
        "{message}"
    );
    assert!(message.contains("  - domain b.example"), "{message}");
    assert!(message.contains("  - mailbox carol@b.example"), "{message}");
    assert!(message.contains("  - mailbox dave@b.example"), "{message}");
    assert!(
        stdout(&out).contains("never deletes mail on disk"),
        "{}",
        stdout(&out)
    );
    assert_eq!(db.snapshot(), before);

    let out = run(
        repo.path(),
        &["apply", "--yes", "--allow-destroy", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert_eq!(db.sql("SELECT name FROM virtual_domains"), "a.example\n");
    assert_eq!(db.count("virtual_users"), 2);
    assert_eq!(
        db.sql("SELECT rows_deleted FROM mailops_apply_log ORDER BY id DESC LIMIT 1"),
        "5\n"
    );

    // More than a quarter of a table is guarded too, even within one domain.
    repo.replace("a.example", "user = \"bob\"", "user = \"bobby\"");
    let out = repo.apply_to(&db);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("deletes 1 of the 2 rows of virtual_users"),
        "{}",
        stderr(&out)
    );
}

fn apply_refuses_to_run_unattended_without_yes(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    let out = run(repo.path(), &["apply", "--database", &db.url]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(db.count("virtual_domains"), 0);
}

fn a_schema_newer_than_mailops_is_refused(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0); // migrates
    let before = db.snapshot();
    db.sql("INSERT INTO mailops_schema_migrations (version, name) VALUES (999, 'from_the_future')");
    let out = run(repo.path(), &["plan", "--database", &db.url]);
    assert_code(&out, 1);
    assert!(
        stderr(&out)
            .contains("the database schema is at version 999, newer than this mailops knows"),
        "{}",
        stderr(&out)
    );
    repo.add_mailbox("a.example", "frank", None);
    let out = repo.apply_to(&db);
    assert_code(&out, 1);
    assert_eq!(db.snapshot(), before);
}

#[test]
fn passwords_in_database_urls_are_never_printed() {
    mariadb_reachable();
    let repo = Repo::two_tenants();
    let url = "mysql://root:hunter2-secret@127.0.0.1:3306/mailops_no_such_db";
    for args in [
        vec!["plan", "--database", url],
        vec!["apply", "--yes", "--database", url],
    ] {
        let out = run(repo.path(), &args);
        assert_code(&out, 2);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains("hunter2"), "{all}");
        assert!(
            all.contains("mysql://root:***@127.0.0.1:3306/mailops_no_such_db"),
            "{all}"
        );
    }
    let out = run_env(repo.path(), &["plan"], &[("MAILOPS_DATABASE_URL", url)]);
    assert_code(&out, 2);
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

/// `?socket=`: the connection goes through MariaDB's Unix socket (the first
/// boot's writer account exists at `localhost` only). A socket path that is
/// not the server's fails, naming the URL as given.
#[test]
fn mariadb_through_its_socket() {
    let db = TestDb::new(Engine::Mariadb);
    let repo = Repo::two_tenants();
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let socket = format!("mysql://root@localhost/{name}?socket=/run/mysqld/mysqld.sock");
    let out = run(repo.path(), &["apply", "--yes", "--database", &socket]);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "mysql://root@localhost:3306/{name}?socket=/run/mysqld/mysqld.sock"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        db.sql("SELECT name FROM virtual_domains ORDER BY name"),
        "a.example\nb.example\n"
    );
    let wrong = format!("mysql://root@localhost/{name}?socket=/nonexistent/mysqld.sock");
    let out = run(repo.path(), &["plan", "--database", &wrong]);
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("/nonexistent/mysqld.sock"),
        "{}",
        stderr(&out)
    );
    // A parameter mailops does not know is a usage error, not ignored.
    let out = run(
        repo.path(),
        &["plan", "--database", &format!("{socket}&ssl=off")],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("`ssl` is not known"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_default_database_is_sqlite_in_the_mail_repo() {
    let repo = Repo::two_tenants();
    // mailops.toml names no URL; neither do the flag and the environment.
    let out = run(repo.path(), &["apply", "--yes"]);
    assert_code(&out, 0);
    assert!(repo.path().join(".mailops/state.db").is_file());
    let out = run(repo.path(), &["plan", "--detailed-exitcode"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("database sqlite://.mailops/state.db: no row changes"),
        "{}",
        stdout(&out)
    );
}

fn a_plan_after_apply_reads_no_rows_and_a_changed_file_reads_only_its_domain(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    // Nothing recorded yet: an empty database has no row to read.
    assert_eq!(read_by_plan(&repo, &db), (0, 0, true));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));

    // b.example: carol, dave, postmaster@ and abuse@ → 4 rows.
    repo.replace("b.example", "quota = \"1 GiB\"", "quota = \"2 GiB\"");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox carol@b.example: quota 1 GiB → 2 GiB"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
    assert_code(&repo.plan_against(&db), 0);

    // --full reads every row, and finds nothing more.
    let full = plan_json(&repo, &db, &["--full"]);
    assert_eq!(full["read"]["full"], true);
    assert_eq!(full["read"]["rows"], 11);
    assert_eq!(full["summary"]["update"], 0);

    // A new tenant is recorded as written (on MariaDB its tallies are
    // counted from the plan, not read back): nothing is read afterwards.
    repo.add_tenant("c.example", &["erin"]);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
    assert_eq!(
        recorded_state(&db),
        "a.example\t1\t71\nb.example\t1\t71\nc.example\t1\t71\n"
    );
}

fn a_hand_edit_in_a_domain_whose_file_did_not_change_is_found_by_its_mark(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // Same number of rows: only the mark can tell (SQLite: a trigger raises
    // `edits`; MariaDB: the server moves the row's change time).
    db.sql("UPDATE virtual_users SET name = 'Hand' WHERE email = 'dave@b.example'");

    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox dave@b.example: name \"Hand\" → \"dave of b.example\""),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        db.sql("SELECT name FROM virtual_users WHERE email = 'dave@b.example'"),
        "dave of b.example\n"
    );
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));

    // An edit undone by hand leaves no change, but the domain is read until
    // an apply records it again (without a log entry: no row changed).
    db.sql("UPDATE virtual_users SET quota_bytes = 1 WHERE email = 'dave@b.example'");
    db.sql("UPDATE virtual_users SET quota_bytes = 1073741824 WHERE email = 'dave@b.example'");
    assert_code(&repo.plan_against(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
    let logged = db.count("mailops_apply_log");
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(
        stderr(&out)
            .contains("the database is current: no row changes (recorded the state of 1 domain)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.count("mailops_apply_log"), logged);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

fn deleting_every_mailbox_of_a_domain_by_hand_is_found(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let healthy = db.snapshot_rows();

    db.sql(
        "DELETE FROM virtual_users WHERE domain_id = \
         (SELECT id FROM virtual_domains WHERE name = 'b.example')",
    );
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("+ mailbox carol@b.example"), "{text}");
    assert!(text.contains("+ mailbox dave@b.example"), "{text}");
    assert!(!text.contains("a.example"), "{text}");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.snapshot_rows(), healthy);
    assert_code(&repo.plan_against(&db), 0);

    // TRUNCATE fires no trigger (SQLite has none); the row counts catch it.
    if engine == Engine::Mariadb {
        db.sql("TRUNCATE TABLE virtual_users");
        let out = repo.plan_against(&db);
        assert_code(&out, 2);
        let text = stdout(&out);
        assert!(text.contains("4 to insert"), "{text}");
        assert!(text.contains("+ mailbox alice@a.example"), "{text}");
        assert!(text.contains("+ mailbox dave@b.example"), "{text}");
        assert_code(&repo.apply_to(&db), 0);
        assert_eq!(db.snapshot_rows(), healthy);
        assert_code(&repo.plan_against(&db), 0);
    }
}

fn moving_a_mailbox_to_another_domain_by_hand_is_found(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    db.sql(
        "UPDATE virtual_users SET domain_id = \
         (SELECT id FROM virtual_domains WHERE name = 'b.example') WHERE email = 'alice@a.example'",
    );
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox alice@a.example: domain \"b.example\" → \"a.example\""),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_by_plan(&repo, &db).0, 2);
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        db.sql(
            "SELECT d.name FROM virtual_users u JOIN virtual_domains d ON d.id = u.domain_id \
             WHERE u.email = 'alice@a.example'"
        ),
        "a.example\n"
    );
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

fn the_state_of_a_domain_is_recorded_on_apply_and_goes_with_its_domain(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // A digest is `sha256:` and 64 hex digits.
    assert_eq!(recorded_state(&db), "a.example\t1\t71\nb.example\t1\t71\n");
    let digest_of = |domain: &str| {
        db.sql(&format!(
            "SELECT s.digest FROM mailops_domain_state s JOIN virtual_domains d \
             ON d.id = s.domain_id WHERE d.name = '{domain}'"
        ))
    };
    let a_before = digest_of("a.example");
    let b_before = digest_of("b.example");

    // A change records the new digest of its domain only.
    repo.add_mailbox("a.example", "frank", None);
    assert_code(&repo.apply_to(&db), 0);
    assert_ne!(digest_of("a.example"), a_before);
    assert_eq!(digest_of("b.example"), b_before);
    assert_eq!(recorded_state(&db), "a.example\t1\t71\nb.example\t1\t71\n");

    repo.remove_tenant("b.example");
    let out = run(
        repo.path(),
        &["apply", "--yes", "--allow-destroy", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert_eq!(recorded_state(&db), "a.example\t1\t71\n");
    assert_eq!(db.count("mailops_domain_state"), 1);
}

fn a_database_without_recorded_state_is_read_whole_once_then_recorded(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // As a database migrated from before the bookkeeping.
    db.sql("DELETE FROM mailops_domain_state");
    assert_code(&repo.plan_against(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (2, 11, true));
    let before = db.snapshot();
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("no row changes (recorded the state of 2 domains)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.snapshot(), before, "only the bookkeeping was written");
    assert_eq!(recorded_state(&db), "a.example\t1\t71\nb.example\t1\t71\n");
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

/// The mark evaded: SQLite's triggers dropped; on MariaDB a hand edit that
/// sets the change time back to what it was.
fn with_the_mark_evaded_counts_still_catch_deletes_and_full_reads_every_row(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let keep_time = match engine {
        Engine::Sqlite => {
            for table in [
                "virtual_users",
                "virtual_aliases",
                "virtual_app_passwords",
                "virtual_sender_grants",
                "relay_domains",
                "relay_recipients",
            ] {
                for event in ["insert", "update", "delete"] {
                    db.sql(&format!("DROP TRIGGER {table}_edited_{event}"));
                }
            }
            assert_eq!(triggers(&db), 0);
            ""
        }
        Engine::Mariadb => ", mailops_changed_at = mailops_changed_at",
    };
    db.sql("DELETE FROM virtual_users WHERE email = 'carol@b.example'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("+ mailbox carol@b.example"),
        "{}",
        stdout(&out)
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_code(&repo.plan_against(&db), 0);

    // An edit that keeps the counts is then seen only by reading every row.
    db.sql(&format!(
        "UPDATE virtual_users SET name = 'Hand'{keep_time} WHERE email = 'dave@b.example'"
    ));
    assert_code(&repo.plan_against(&db), 0);
    let out = run(
        repo.path(),
        &[
            "plan",
            "--full",
            "--detailed-exitcode",
            "--database",
            &db.url,
        ],
    );
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox dave@b.example: name \"Hand\" → \"dave of b.example\""),
        "{}",
        stdout(&out)
    );
    let out = run(
        repo.path(),
        &["apply", "--yes", "--full", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT name FROM virtual_users WHERE email = 'dave@b.example'"),
        "dave of b.example\n"
    );
}

fn a_saved_plan_is_refused_after_a_hand_edit_in_a_domain_it_does_not_change(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    let plan_file = repo.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    for full in [false, true] {
        let mut args = vec!["plan", "--database", &db.url, "--out", plan_path];
        if full {
            args.push("--full");
        }
        assert_code(&run(repo.path(), &args), 0);
        // b.example is clean: its rows are not part of the plan, only its bookkeeping.
        db.sql("UPDATE virtual_users SET name = 'Hand' WHERE email = 'dave@b.example'");
        let out = run(
            repo.path(),
            &["apply", "--yes", "--database", &db.url, plan_path],
        );
        assert_code(&out, 1);
        assert!(
            stderr(&out).contains("the database changed since this plan was made; plan again"),
            "{}",
            stderr(&out)
        );
        db.sql(
            "UPDATE virtual_users SET name = 'dave of b.example' WHERE email = 'dave@b.example'",
        );
    }
    // A plan made with --full applies without it: the fingerprint does not depend on it.
    let out = run(
        repo.path(),
        &["plan", "--full", "--database", &db.url, "--out", plan_path],
    );
    assert_code(&out, 0);
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 0);
    assert_eq!(db.count("virtual_users"), 5);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

fn a_failure_while_recording_the_state_leaves_the_database_unchanged(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    let before = db.snapshot();
    let state = state_rows(&db);
    // Statement 1 inserts frank; 2 and 3 record the state of a.example.
    for fail_after in ["2", "3"] {
        let out = run_env(
            repo.path(),
            &["apply", "--yes", "--database", &db.url],
            &[("MAILOPS_TEST_FAIL_AFTER", fail_after)],
        );
        assert_code(&out, 2);
        assert!(
            stderr(&out).contains("injected failure"),
            "{}",
            stderr(&out)
        );
        assert_eq!(db.snapshot(), before);
        assert_eq!(state_rows(&db), state);
    }
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

/// MariaDB only: SQLite lets one writer at a time, so no edit can be made
/// while apply runs. On MariaDB nothing holds a hand edit back: it commits
/// while apply waits between its reads and its writes, unseen by apply's
/// snapshot, so the state apply records cannot include it.
fn a_hand_edit_committed_while_apply_runs_shows_in_the_next_plan(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // Apply writes a.example (frank) and records its state; meanwhile someone
    // edits alice, in the same domain, and dave, in a domain apply does not
    // read, keeping every count.
    repo.add_mailbox("a.example", "frank", None);
    let mut applying = spawn_apply(&repo, &db, ("MAILOPS_TEST_HOLD_AFTER_READ_MS", "3000"));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    db.sql("UPDATE virtual_users SET name = 'Hand' WHERE email = 'alice@a.example'");
    db.sql("UPDATE virtual_users SET name = 'Hand' WHERE email = 'dave@b.example'");
    assert!(
        applying.try_wait().unwrap().is_none(),
        "the hand edits committed while apply was running"
    );
    let applied = applying.wait_with_output().unwrap();
    assert_code(&applied, 0);
    assert!(
        stderr(&applied).contains("1 inserted, 0 updated, 0 deleted"),
        "{}",
        stderr(&applied)
    );
    assert_eq!(db.count("virtual_users"), 5);

    // Not absorbed into what apply recorded: both show, and only their domains are read.
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    for mailbox in ["alice@a.example", "dave@b.example"] {
        let domain = mailbox.split('@').nth(1).unwrap();
        let user = mailbox.split('@').next().unwrap();
        assert!(
            stdout(&out).contains(&format!(
                "~ mailbox {mailbox}: name \"Hand\" → \"{user} of {domain}\""
            )),
            "{}",
            stdout(&out)
        );
    }
    assert!(stdout(&out).contains("2 to update"), "{}", stdout(&out));
    assert_eq!(read_by_plan(&repo, &db), (2, 12, true));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
    assert_eq!(recorded_state(&db), "a.example\t1\t71\nb.example\t1\t71\n");
}

fn a_delete_and_insert_that_keep_the_counts_are_found(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let healthy = db.snapshot_rows();
    let reinsert = |email: &str, name: &str| {
        db.sql(&format!(
            "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
             SELECT id, '{email}', '{}', 1073741824, '{name}' FROM virtual_domains \
             WHERE name = 'b.example'",
            password_hash()
        ))
    };

    // Another mailbox in place of one: the counts stay.
    db.sql("DELETE FROM virtual_users WHERE email = 'dave@b.example'");
    reinsert("eve@b.example", "eve");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("+ mailbox dave@b.example"), "{text}");
    assert!(text.contains("- mailbox eve@b.example"), "{text}");
    assert!(!text.contains("a.example"), "{text}");
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.snapshot_rows(), healthy);
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));

    // The same row deleted and inserted again: nothing to change, but the
    // domain is read until an apply records it again.
    db.sql("DELETE FROM virtual_users WHERE email = 'dave@b.example'");
    reinsert("dave@b.example", "dave of b.example");
    assert_eq!(db.snapshot_rows(), healthy);
    assert_code(&repo.plan_against(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("no row changes (recorded the state of 1 domain)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));
}

/// A database migrated by the mailops of migration 0002, with its rows and
/// its state rows: on MariaDB, migration 0003 drops the triggers and the
/// state rows have no tallies, so each domain is read once and recorded
/// again; SQLite keeps the triggers and edit counters of 0002, and reads
/// nothing.
fn a_database_migrated_from_0002_reads_its_domains_once_then_records_them(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    let dialect = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Mariadb => "mysql",
    };
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    db.sql_file(&migrations.join("0001_routing_tables.sql"));
    db.sql_file(&migrations.join("0002_domain_state.sql"));
    assert_eq!(triggers(&db), 6);
    // The rows the files ask for, as that mailops wrote them.
    let reference = TestDb::new(engine);
    assert_code(&repo.apply_to(&reference), 0);
    db.load_rows_of(&reference);
    // The state rows 0002's apply recorded: the digests of the same rows
    // (a digest depends on the rows only), and no edit since.
    for (domain, digest) in reference
        .sql(
            "SELECT d.name, s.digest FROM mailops_domain_state s \
             JOIN virtual_domains d ON d.id = s.domain_id ORDER BY d.name",
        )
        .lines()
        .map(|l| l.split_once('\t').unwrap())
    {
        db.sql(&format!(
            "INSERT INTO mailops_domain_state (domain_id, digest, edits, applied_edits) \
             SELECT id, '{digest}', 3, 3 FROM virtual_domains WHERE name = '{domain}'"
        ));
    }
    let before = db.snapshot();

    // A plan reads the older schema as it is (every row) and migrates
    // nothing; nothing to change.
    let out = repo.plan_against(&db);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("apply will migrate from version 2 to 8"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_by_plan(&repo, &db), (2, 11, true));
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "2\n"
    );
    assert_eq!(triggers(&db), 6);
    assert_eq!(db.snapshot(), before);

    // Apply migrates.
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "8\n"
    );
    match engine {
        Engine::Mariadb => {
            assert_eq!(triggers(&db), 0, "0003 drops the triggers of 0002");
            assert!(
                stderr(&out).contains("no row changes (recorded the state of 2 domains)"),
                "{}",
                stderr(&out)
            );
        }
        Engine::Sqlite => {
            assert_eq!(
                triggers(&db),
                18,
                "SQLite keeps its triggers, and 0004 and 0006 add those of their two tables each"
            );
            assert!(
                stderr(&out).contains("the database is current: no row changes\n"),
                "{}",
                stderr(&out)
            );
        }
    }
    assert_eq!(db.snapshot(), before, "only the bookkeeping was written");
    assert_eq!(recorded_state(&db), "a.example\t1\t71\nb.example\t1\t71\n");
    assert_eq!(read_by_plan(&repo, &db), (0, 0, false));

    // And the mark works from there on.
    db.sql("UPDATE virtual_users SET quota_bytes = 5 WHERE email = 'carol@b.example'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ mailbox carol@b.example: quota 5 B → 1 GiB"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_by_plan(&repo, &db), (1, 4, false));
}

/// `sha256:<hex>` of the canonical JSON of a saved plan's rows, as mailops
/// computes `plan_hash` (serde_json keeps the file's key order).
fn rows_hash(rows: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(serde_json::to_vec(rows).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn forged_saved_plan_is_refused(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.add_mailbox("a.example", "frank", None);
    let plan_file = repo.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    assert_code(
        &run(
            repo.path(),
            &["plan", "--database", &db.url, "--out", plan_path],
        ),
        0,
    );
    let honest = std::fs::read_to_string(&plan_file).unwrap();

    // Forged: an alias to an outside address, a {PLAIN} mailbox (validation
    // forbids it), a password replaced; the plan hash recomputed to match.
    let forgeries: [&dyn Fn(&mut serde_json::Value); 5] = [
        &|doc| {
            doc["rows"]["aliases"]["insert"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "source": "team@a.example",
                    "destination": "thief@outside.example",
                    "domain": "a.example"
                }))
        },
        &|doc| {
            doc["rows"]["users"]["insert"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "email": "mallory@a.example",
                    "domain": "a.example",
                    "password": "{PLAIN}letmein",
                    "quota_bytes": 1,
                    "name": null,
                    "state": "active",
                    "protocols": "imap,pop3,smtp"
                }))
        },
        &|doc| doc["rows"]["users"]["insert"][0]["password"] = "{PLAIN}letmein".into(),
        // A row twice (the set of changes unchanged), and a quota one byte up.
        &|doc| {
            let users = doc["rows"]["users"]["insert"].as_array_mut().unwrap();
            users.push(users[0].clone());
        },
        &|doc| {
            let quota = &mut doc["rows"]["users"]["insert"][0]["quota_bytes"];
            *quota = (quota.as_u64().unwrap() + 1).into();
        },
    ];
    let before = db.snapshot();
    for (i, forge) in forgeries.iter().enumerate() {
        let mut doc: serde_json::Value = serde_json::from_str(&honest).unwrap();
        forge(&mut doc);
        doc["plan_hash"] = rows_hash(&doc["rows"]).into();
        std::fs::write(&plan_file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let out = run(
            repo.path(),
            &["apply", "--yes", "--database", &db.url, plan_path],
        );
        assert_code(&out, 1);
        let message = stderr(&out);
        assert!(
            message.contains(
                "the saved plan is not the plan that the tenant files and the database give now"
            ),
            "forgery {i}: {message}"
        );
        assert!(!message.contains("letmein"), "{message}");
        match i {
            0 => assert!(
                message.contains("+ alias team@a.example → thief@outside.example"),
                "{message}"
            ),
            1 => assert!(message.contains("+ mailbox mallory@a.example"), "{message}"),
            3 => assert!(
                message.contains("the saved plan lists a change more than once"),
                "{message}"
            ),
            4 => assert!(message.contains("quota 1073741825 B"), "{message}"),
            _ => assert!(message.contains("a password hash"), "{message}"),
        }
        assert_eq!(db.snapshot(), before, "forgery {i} wrote nothing");
    }

    // The plan as made still applies, and writes exactly that.
    std::fs::write(&plan_file, &honest).unwrap();
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("1 inserted, 0 updated, 0 deleted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE password LIKE '{PLAIN}%'"),
        "0\n"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_aliases WHERE destination LIKE '%outside.example'"),
        "0\n"
    );
}

#[test]
fn plan_out_in_current_directory() {
    let repo = Repo::two_tenants();
    let db = TestDb::new(Engine::Sqlite);
    // The README's own command, run in the mail repo: a bare file name.
    let out = mailops()
        .current_dir(repo.path())
        .args(["plan", "--database", &db.url, "--out", "plan.json"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_code(&out, 0);
    let saved = repo.path().join("plan.json");
    assert!(saved.is_file());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = mailops()
        .current_dir(repo.path())
        .args(["apply", "--yes", "--database", &db.url, "plan.json"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(db.count("virtual_users"), 4);
}

#[test]
fn plan_hides_password_hashes_in_file_diffs() {
    let repo = Repo::two_tenants();
    let db = TestDb::new(Engine::Sqlite);
    assert_code(&repo.apply_to(&db), 0);
    // The marker: alice's hash changes; every mailbox has one of the two.
    repo.replace("a.example", password_hash(), other_password_hash());
    let secret = |hash: &str| hash.rsplit('$').next().unwrap().to_string();
    for format in ["human", "markdown", "json"] {
        let out = run(
            repo.path(),
            &["plan", "--format", format, "--database", &db.url],
        );
        assert_code(&out, 0);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            all.contains("generated/sql/sqlite/a.example.sql"),
            "{format}: {all}"
        );
        assert!(
            all.contains("generated/sql/mysql/a.example.sql"),
            "{format}: {all}"
        );
        for hash in [password_hash(), other_password_hash()] {
            assert!(
                !all.contains(&secret(hash)),
                "{format}: a hash leaked:\n{all}"
            );
        }
        assert!(!all.contains("$argon2id$"), "{format}: {all}");
        assert!(
            all.contains("'alice@a.example', '{ARGON2ID}…(hash changed)', 1073741824"),
            "{format}: {all}"
        );
        // Rows whose hash did not change show the scheme alone.
        assert!(
            all.contains("'bob@a.example', '{ARGON2ID}…', 1073741824"),
            "{format}: {all}"
        );
    }
}

/// The files in a SQLite test database's folder, and its bytes.
fn sqlite_state(db: &TestDb) -> (Vec<String>, Option<Vec<u8>>) {
    let path = std::path::PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    let mut files: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    (files, std::fs::read(&path).ok())
}

/// The tables of a test database.
fn tables(db: &TestDb) -> String {
    db.sql(match db.engine {
        Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        Engine::Mariadb => {
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() ORDER BY table_name"
        }
    })
}

fn plan_never_creates_a_database(engine: Engine) {
    let repo = Repo::two_tenants();
    // A database that does not exist: planned against as empty, and still
    // not there afterwards.
    let nowhere = tempfile::tempdir().unwrap();
    let (url, missing) = match engine {
        Engine::Sqlite => (
            format!("sqlite://{}/typo/x.db", nowhere.path().display()),
            "does not exist yet: planned against an empty database (apply creates it)",
        ),
        Engine::Mariadb => (
            format!(
                "mysql://root@127.0.0.1:3306/mailops_never_created_{}",
                std::process::id()
            ),
            "does not exist on the server: planned against an empty database",
        ),
    };
    for format in ["human", "json"] {
        let out = run(
            repo.path(),
            &[
                "plan",
                "--detailed-exitcode",
                "--format",
                format,
                "--database",
                &url,
            ],
        );
        assert_code(&out, 2);
        assert!(stdout(&out).contains(missing), "{}", stdout(&out));
        assert!(stdout(&out).contains("alice@a.example"), "{}", stdout(&out));
    }
    match engine {
        Engine::Sqlite => assert!(!nowhere.path().join("typo").exists()),
        Engine::Mariadb => {
            let name = url.rsplit('/').next().unwrap();
            let out = std::process::Command::new("mysql")
                .args(["-uroot", "-h127.0.0.1", "-P3306", "-N", "-B", "-e"])
                .arg(format!("SHOW DATABASES LIKE '{name}'"))
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "",
                "{name} was created"
            );
        }
    }

    // A database without tables: no table is created, nothing written.
    let db = TestDb::new(engine);
    if engine == Engine::Sqlite {
        let path = db.url.strip_prefix("sqlite://").unwrap();
        std::fs::write(path, b"").unwrap();
    }
    let before = (
        tables(&db),
        (engine == Engine::Sqlite).then(|| sqlite_state(&db)),
    );
    let plan_file = repo.path().join("plan.json");
    let out = run(
        repo.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--database",
            &db.url,
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("has no mailops tables yet: planned against empty tables"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("+ domain a.example"),
        "{}",
        stdout(&out)
    );
    let after = (
        tables(&db),
        (engine == Engine::Sqlite).then(|| sqlite_state(&db)),
    );
    assert_eq!(before, after, "the plan wrote to the database");
    // Apply creates the tables, derives the same plan and applies it.
    let out = run(
        repo.path(),
        &[
            "apply",
            "--yes",
            "--database",
            &db.url,
            plan_file.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    assert_eq!(db.count("virtual_users"), 4);
    assert_code(&repo.plan_against(&db), 0);
}

fn plan_reads_an_older_schema_as_it_is_and_never_migrates(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    db.sql_file(
        &migrations
            .join(engine.dialect())
            .join("0001_routing_tables.sql"),
    );
    // Rows an older mailops wrote: a.example with an outdated alice.
    db.sql("INSERT INTO virtual_domains (name) VALUES ('a.example')");
    db.sql(
        "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
         SELECT id, 'alice@a.example', 'old', 1, NULL FROM virtual_domains WHERE name = 'a.example'",
    );
    let snapshot = |db: &TestDb| {
        format!(
            "{}{}{}",
            tables(db),
            db.sql("SELECT version FROM mailops_schema_migrations ORDER BY version"),
            db.snapshot()
        )
    };
    let before = snapshot(&db);
    let sqlite_before = (engine == Engine::Sqlite).then(|| sqlite_state(&db));
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("the database schema is at version 1: read as it is, every row; apply will migrate from version 1 to 8"),
        "{text}"
    );
    assert!(text.contains("~ mailbox alice@a.example"), "{text}");
    assert!(text.contains("+ mailbox bob@a.example"), "{text}");
    assert!(!text.contains("+ domain a.example"), "{text}");
    assert!(text.contains("+ domain b.example"), "{text}");
    assert_eq!(snapshot(&db), before, "the plan migrated or wrote");
    if let Some(state) = sqlite_before {
        assert_eq!(sqlite_state(&db), state);
    }

    // A plan saved against the old schema: apply migrates, derives the same
    // plan, and applies it.
    let plan_file = repo.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    assert_code(
        &run(
            repo.path(),
            &["plan", "--database", &db.url, "--out", plan_path],
        ),
        0,
    );
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT version FROM mailops_schema_migrations ORDER BY version"),
        "1\n2\n3\n4\n5\n6\n7\n8\n"
    );
    assert_code(&repo.plan_against(&db), 0);
}

fn destroy_refusal_lists_forwards_into_the_domain(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.add_tenant("c.example", &["erin"]);
    repo.append(
        "c.example",
        "\n[[alias]]\naddress = \"books\"\nto = [\"carol@b.example\", \"erin\"]\n",
    );
    repo.append(
        "a.example",
        "\n[[alias]]\naddress = \"accounts\"\nto = [\"dave@b.example\"]\n",
    );
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    // b.example goes; a.example and c.example still forward into it.
    repo.remove_tenant("b.example");
    let before = db.snapshot();
    let forwards = [
        "- alias accounts@a.example → dave@b.example",
        "- alias books@c.example → carol@b.example",
    ];
    let heading = "2 aliases that the tenant files keep forward into a domain this apply deletes";

    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    for line in forwards.iter().chain([&heading]) {
        assert!(stdout(&out).contains(line), "{line}: {}", stdout(&out));
    }
    let json = plan_json(&repo, &db, &[]);
    assert_eq!(
        json["forwards_into_deleted_domains"],
        serde_json::json!([
            { "source": "accounts@a.example", "destination": "dave@b.example" },
            { "source": "books@c.example", "destination": "carol@b.example" },
        ])
    );

    let out = repo.apply_to(&db);
    assert_code(&out, 1);
    let message = stderr(&out);
    assert!(
        message.contains("this apply needs --allow-destroy"),
        "{message}"
    );
    for line in forwards.iter().chain([&heading]) {
        assert!(message.contains(line), "{line}: {message}");
    }
    assert_eq!(db.snapshot(), before);
}

fn a_hand_edit_that_keeps_the_change_times_is_caught_only_by_full_plans(engine: Engine) {
    // What the README promises of the fingerprints: a write that keeps the
    // bookkeeping (MariaDB: sets mailops_changed_at itself; SQLite: with the
    // triggers dropped) and the row counts is seen by plans made with --full,
    // and by nothing else.
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let keep_time = match engine {
        Engine::Sqlite => {
            for table in [
                "virtual_users",
                "virtual_aliases",
                "virtual_app_passwords",
                "virtual_sender_grants",
                "relay_domains",
                "relay_recipients",
            ] {
                for event in ["insert", "update", "delete"] {
                    db.sql(&format!("DROP TRIGGER {table}_edited_{event}"));
                }
            }
            ""
        }
        Engine::Mariadb => ", mailops_changed_at = mailops_changed_at",
    };
    let hand_edit =
        format!("UPDATE virtual_users SET name = 'Hand'{keep_time} WHERE email = 'dave@b.example'");
    repo.add_mailbox("a.example", "frank", None);
    let plan_file = repo.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();

    // Saved with --full: apply derives it again from every row, and refuses.
    assert_code(
        &run(
            repo.path(),
            &["plan", "--full", "--database", &db.url, "--out", plan_path],
        ),
        0,
    );
    db.sql(&hand_edit);
    let before = db.snapshot();
    let out = run(
        repo.path(),
        &["apply", "--yes", "--database", &db.url, plan_path],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("~ mailbox dave@b.example: name \"Hand\" → \"dave of b.example\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.snapshot(), before);

    // Without --full neither the plan nor the saved plan's check sees it.
    let out = run(
        repo.path(),
        &["plan", "--database", &db.url, "--out", plan_path],
    );
    assert_code(&out, 0);
    assert!(
        !stdout(&out).contains("~ mailbox dave@b.example"),
        "{}",
        stdout(&out)
    );
    assert_code(
        &run(
            repo.path(),
            &["apply", "--yes", "--database", &db.url, plan_path],
        ),
        0,
    );
    assert_eq!(
        db.sql("SELECT name FROM virtual_users WHERE email = 'dave@b.example'"),
        "Hand\n"
    );
    // --full finds and heals it.
    assert_code(
        &run(
            repo.path(),
            &["apply", "--yes", "--full", "--database", &db.url],
        ),
        0,
    );
    assert_eq!(
        db.sql("SELECT name FROM virtual_users WHERE email = 'dave@b.example'"),
        "dave of b.example\n"
    );
}

fn every_plan_error_exits_1_with_detailed_exitcode(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    // An operational failure: 2 without the flag, 1 with it (2 means "changes").
    let broken = match engine {
        Engine::Sqlite => {
            // A directory where the database file should be.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.db");
            std::fs::create_dir(&path).unwrap();
            (format!("sqlite://{}", path.display()), Some(dir))
        }
        Engine::Mariadb => ("mysql://root@127.0.0.1:1/nothing_listens".to_string(), None),
    };
    let out = run(repo.path(), &["plan", "--database", &broken.0]);
    assert_code(&out, 2);
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &broken.0],
    );
    assert_code(&out, 1);
    // A schema from a newer mailops: refused, 1 either way.
    assert_code(&repo.apply_to(&db), 0);
    db.sql("INSERT INTO mailops_schema_migrations (version, name) VALUES (999, 'from_the_future')");
    let out = repo.plan_against(&db);
    assert_code(&out, 1);
}

/// The lock row of migration 0007 (the cluster-wide half of the apply lock,
/// see `db::lock`): `generation, holder`.
fn lock_row(db: &TestDb) -> String {
    db.sql("SELECT generation, COALESCE(holder, '-') FROM mailops_apply_lock ORDER BY id")
}

fn the_apply_lock_row_exists_after_migrate_and_counts_the_applies_that_commit(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    for migration in engine.migrations() {
        db.sql_file(&migration);
    }
    assert_eq!(lock_row(&db), "0\t-\n", "migration 0007 makes the one row");
    assert_code(&repo.apply_to(&db), 0);
    let taken = lock_row(&db);
    assert!(
        taken.starts_with("1\tmailops ") && taken.contains(" pid "),
        "{taken}"
    );
    // Nothing to change: the transaction is rolled back, and the row with it.
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(lock_row(&db), taken);
    // A failed apply rolls its increment back too.
    repo.add_mailbox("a.example", "frank", None);
    let out = run_env(
        repo.path(),
        &["apply", "--yes", "--database", &db.url],
        &[("MAILOPS_TEST_FAIL_AFTER", "1")],
    );
    assert_code(&out, 2);
    assert_eq!(lock_row(&db), taken);
    assert_code(&repo.apply_to(&db), 0);
    assert!(lock_row(&db).starts_with("2\t"), "{}", lock_row(&db));
    assert_eq!(db.count("mailops_apply_lock"), 1);
}

fn an_apply_without_its_lock_row_fails_and_says_how_to_restore_it(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    db.sql("DELETE FROM mailops_apply_lock");
    repo.add_mailbox("a.example", "frank", None);
    let before = db.snapshot();
    let out = repo.apply_to(&db);
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("mailops_apply_lock has no row (id 1)")
            && stderr(&out)
                .contains("INSERT INTO mailops_apply_lock (id, generation) VALUES (1, 0)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.snapshot(), before);
    db.sql("INSERT INTO mailops_apply_lock (id, generation) VALUES (1, 0)");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(db.count("virtual_users"), 5);
}

/// MariaDB without Galera: a hand session that writes a row the apply is
/// about to update and then waits for the apply's lock row makes a deadlock;
/// InnoDB aborts the lighter transaction, the apply (one row written so far).
/// It ends with the conflict's message and exit code 3, nothing written, and
/// the hand edit commits. (On a Galera cluster the same error comes from
/// another apply on another node: `scripts/e2e_galera.py`.)
fn an_apply_aborted_for_a_conflicting_write_says_plan_again_and_exits_3(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    repo.replace("b.example", "quota = \"1 GiB\"", "quota = \"2 GiB\"");
    let quotas = "SELECT email, quota_bytes FROM virtual_users ORDER BY email";
    let before = db.sql(quotas);
    let log = db.count("mailops_apply_log");
    let apply = spawn_apply(&repo, &db, ("MAILOPS_TEST_HOLD_AFTER_READ_MS", "3000"));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    db.script(
        "START TRANSACTION; UPDATE virtual_users SET name = 'Hand'; \
         UPDATE mailops_apply_lock SET holder = 'hand' WHERE id = 1; COMMIT;",
        "the hand session",
    );
    let out = apply.wait_with_output().unwrap();
    assert_code(&out, 3);
    let message = stderr(&out);
    assert!(
        message.contains(
            "error: the database aborted this apply for a conflicting write by another session \
             (a deadlock); nothing of this apply was written. Run `mailops plan` again"
        ),
        "{message}"
    );
    assert!(message.contains("Deadlock found"), "{message}");
    assert!(
        !message.contains("hint:"),
        "the message names the command: {message}"
    );
    assert_eq!(db.sql(quotas), before, "nothing of the apply was written");
    assert_eq!(db.count("mailops_apply_log"), log);
    assert_eq!(
        db.sql("SELECT DISTINCT name FROM virtual_users"),
        "Hand\n",
        "the hand edit committed"
    );
    assert!(lock_row(&db).ends_with("\thand\n"), "{}", lock_row(&db));
}
