//! A tenant's `state` (active | suspended | disabled) against live databases,
//! on SQLite and on MariaDB: it is the `state` column of the domain's
//! `virtual_domains` row (migration 0005), which plan shows as an update of
//! the domain and apply writes; a hand edit of it is drift; a saved plan is
//! refused once it moved; the SQL files load the same column; and a
//! database of the schema before it (migration 0004, with mailbox states)
//! is read as it is and adopted in place, every row kept.

mod support;

use support::*;

on_both_engines!(
    tenant_states_are_planned_and_applied,
    a_hand_edited_tenant_state_is_drift_and_a_saved_plan_is_refused,
    a_database_at_version_4_is_read_as_it_is_and_adopted_in_place,
    the_generated_sql_files_load_the_same_tenant_states_as_apply,
);

fn states(db: &TestDb) -> String {
    db.sql("SELECT name, state FROM virtual_domains ORDER BY name")
}

fn set_state(repo: &Repo, domain: &str, state: &str) {
    let path = repo.path().join("tenants").join(format!("{domain}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .filter(|line| !line.starts_with("state = "))
        .map(|line| format!("{line}\n"))
        .collect();
    let from = format!("domain = \"{domain}\"\n");
    assert!(text.contains(&from), "{text}");
    let to = format!("{from}state = \"{state}\"\n");
    std::fs::write(&path, text.replacen(&from, &to, 1)).unwrap();
}

fn tenant_states_are_planned_and_applied(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    // A new tenant that is not active shows its state on the insert; an
    // active one reads as before.
    set_state(&repo, "b.example", "disabled");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("+ domain a.example\n"), "{text}");
    assert!(
        text.contains("+ domain b.example (state disabled)"),
        "{text}"
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(states(&db), "a.example\tactive\nb.example\tdisabled\n");
    assert_code(&repo.plan_against(&db), 0);

    // Suspend a, re-activate b: two updates of domain rows, nothing else.
    set_state(&repo, "a.example", "suspended");
    set_state(&repo, "b.example", "active");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "~ domain a.example: state active → suspended",
        "~ domain b.example: state disabled → active",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let rows_before = db.snapshot_rows();
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("2 updated"), "{}", stderr(&out));
    assert_eq!(states(&db), "a.example\tsuspended\nb.example\tactive\n");
    // Suspending deletes nothing: every mailbox and alias row is kept.
    assert_eq!(db.snapshot_rows(), rows_before);
    assert_code(&repo.plan_against(&db), 0);

    // Back to active by removing the key: the default.
    let path = repo.path().join("tenants/a.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("state = \"suspended\"\n", "")).unwrap();
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(states(&db), "a.example\tactive\nb.example\tactive\n");
    assert_code(&repo.plan_against(&db), 0);
}

fn a_hand_edited_tenant_state_is_drift_and_a_saved_plan_is_refused(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    db.sql("UPDATE virtual_domains SET state = 'disabled' WHERE name = 'b.example'");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("~ domain b.example: state disabled → active"),
        "{}",
        stdout(&out)
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(states(&db), "a.example\tactive\nb.example\tactive\n");

    // A plan saved, then the state edited by hand: the live state it was
    // made from is gone, so apply refuses it and writes nothing.
    set_state(&repo, "a.example", "suspended");
    let plan_file = repo.path().join("plan.json");
    let out = run(
        repo.path(),
        &[
            "plan",
            "--database",
            &db.url,
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    db.sql("UPDATE virtual_domains SET state = 'suspended' WHERE name = 'b.example'");
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
    assert_code(&out, 1);
    assert_eq!(states(&db), "a.example\tactive\nb.example\tsuspended\n");
    // Without the hand edit, the saved plan applies as reviewed.
    db.sql("UPDATE virtual_domains SET state = 'active' WHERE name = 'b.example'");
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
    assert_eq!(states(&db), "a.example\tsuspended\nb.example\tactive\n");
}

fn a_database_at_version_4_is_read_as_it_is_and_adopted_in_place(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.replace(
        "b.example",
        "[[mailbox]]\nuser = \"dave\"",
        "[[mailbox]]\nuser = \"dave\"\nstate = \"locked\"",
    );
    // The rows the files ask for, as a mailops of schema 4 wrote them: a
    // locked mailbox among them.
    let reference = TestDb::new(engine);
    assert_code(&repo.apply_to(&reference), 0);
    let db = TestDb::new(engine);
    for migration in &engine.migrations()[..4] {
        db.sql_file(migration);
    }
    db.load_rows_of(&reference);
    db.sql("UPDATE virtual_users SET state = 'locked' WHERE email = 'dave@b.example'");
    let before = db.snapshot();
    let rows_before = db.snapshot_rows();

    // The plan reads schema 4's mailbox columns as they are: the locked
    // mailbox is no change (it was read as active before).
    let out = repo.plan_against(&db);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("apply will migrate from version 4 to 8"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "4\n"
    );

    // Apply migrates in place: every row and id kept, every domain active.
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "8\n"
    );
    assert_eq!(db.snapshot(), before, "{}", stderr(&out));
    assert_eq!(db.snapshot_rows(), rows_before);
    assert_eq!(states(&db), "a.example\tactive\nb.example\tactive\n");
    assert_eq!(
        db.sql("SELECT state FROM virtual_users WHERE email = 'dave@b.example'"),
        "locked\n"
    );
    assert_code(&repo.plan_against(&db), 0);

    set_state(&repo, "a.example", "disabled");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(states(&db), "a.example\tdisabled\nb.example\tactive\n");
}

/// The SQL files give the very domain states apply writes, and move a
/// domain's state when loaded again.
fn the_generated_sql_files_load_the_same_tenant_states_as_apply(engine: Engine) {
    let repo = Repo::two_tenants();
    set_state(&repo, "a.example", "suspended");
    assert_code(&run(repo.path(), &["build"]), 0);
    let applied = TestDb::new(engine);
    assert_code(&repo.apply_to(&applied), 0);
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(states(&loaded), states(&applied));
    assert_eq!(states(&loaded), "a.example\tsuspended\nb.example\tactive\n");

    set_state(&repo, "a.example", "active");
    set_state(&repo, "b.example", "disabled");
    assert_code(&run(repo.path(), &["build"]), 0);
    loaded.script(&engine.whole_load(repo.path()), "the whole load again");
    assert_code(&repo.apply_to(&applied), 0);
    assert_eq!(states(&loaded), states(&applied));
    assert_eq!(states(&loaded), "a.example\tactive\nb.example\tdisabled\n");
}
