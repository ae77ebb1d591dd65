//! Everyday mailbox operations against live databases, on SQLite and on
//! MariaDB: a mailbox's `state` and `protocols`, its app passwords and the
//! send-as grants are rows that plan shows (app passwords by name, never by
//! hash) and apply writes; hand edits of the new tables are drift like any
//! other; and a database of the schema before them (migration 0003) is
//! adopted in place, every row kept.

mod support;

use support::*;

on_both_engines!(
    a_database_at_version_3_is_adopted_in_place_with_every_row_kept,
    state_protocols_app_passwords_and_grants_are_planned_and_applied,
    hand_edits_of_app_passwords_and_grants_are_drift_and_apply_heals_them,
    the_generated_sql_files_load_the_same_rows_as_apply,
);

/// What a plan read: (domains whose rows were read, rows read).
fn read_by_plan(repo: &Repo, db: &TestDb) -> (u64, u64) {
    let out = run(
        repo.path(),
        &["plan", "--format", "json", "--database", &db.url],
    );
    assert_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let read = &doc["database"]["read"];
    (
        read["domains"].as_u64().unwrap(),
        read["rows"].as_u64().unwrap(),
    )
}

/// The rows of the new columns and tables, by natural key.
fn mailbox_rows(db: &TestDb) -> String {
    [
        "SELECT email, state, protocols FROM virtual_users ORDER BY email",
        "SELECT d.name, p.email, p.name, p.protocols FROM virtual_app_passwords p \
         JOIN virtual_domains d ON d.id = p.domain_id ORDER BY p.email, p.name",
        "SELECT d.name, g.sender, g.login FROM virtual_sender_grants g \
         JOIN virtual_domains d ON d.id = g.domain_id ORDER BY g.sender, g.login",
    ]
    .iter()
    .map(|q| db.sql(q))
    .collect::<Vec<_>>()
    .join("--\n")
}

/// `two_tenants` with every new field: alice locked to IMAP and submission,
/// sending as team@; bob with an app password; b.example granting
/// alice@a.example its carol@ address.
fn operations_repo() -> Repo {
    let repo = Repo::two_tenants();
    repo.replace(
        "a.example",
        "[[mailbox]]\nuser = \"alice\"",
        "[[mailbox]]\nuser = \"alice\"\nprotocols = [\"imap\", \"smtp\"]\nsend_as = [\"team\", \"carol@b.example\"]",
    );
    // An `[[mailbox.app_password]]` belongs to the last `[[mailbox]]` above
    // it, wherever it is in the file: here bob, a.example's last mailbox.
    repo.append(
        "a.example",
        &format!(
            "\n[[mailbox.app_password]]\nname = \"phone\"\npassword = \"{}\"\nprotocols = [\"imap\"]\n",
            other_password_hash()
        ),
    );
    repo.replace(
        "b.example",
        "[[mailbox]]\nuser = \"carol\"",
        "[[mailbox]]\nuser = \"carol\"\nallow_send_as = [\"alice@a.example\"]",
    );
    repo
}

fn state_protocols_app_passwords_and_grants_are_planned_and_applied(engine: Engine) {
    let repo = operations_repo();
    let db = TestDb::new(engine);
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "+ mailbox alice@a.example (quota 1 GiB, password set, name \"alice of a.example\", protocols imap,smtp)",
        "+ app password phone for bob@a.example (protocols imap, password set)",
        "+ send-as alice@a.example as team@a.example",
        "+ send-as alice@a.example as carol@b.example",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // Never a hash, of a mailbox or of an app password.
    assert!(!text.contains("$argon2id$"), "{text}");
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        mailbox_rows(&db),
        "alice@a.example\tactive\timap,smtp\n\
         bob@a.example\tactive\timap,pop3,smtp\n\
         carol@b.example\tactive\timap,pop3,smtp\n\
         dave@b.example\tactive\timap,pop3,smtp\n\
         --\n\
         a.example\tbob@a.example\tphone\timap\n\
         --\n\
         b.example\tcarol@b.example\talice@a.example\n\
         a.example\tteam@a.example\talice@a.example\n"
    );
    assert_eq!(
        db.sql("SELECT password FROM virtual_app_passwords"),
        format!("{}\n", other_password_hash())
    );
    assert_code(&repo.plan_against(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0), "every domain is clean");

    // Lock alice, rename bob's app password: a state change and a revocation.
    repo.replace(
        "a.example",
        "[[mailbox]]\nuser = \"alice\"",
        "[[mailbox]]\nuser = \"alice\"\nstate = \"locked\"",
    );
    repo.replace("a.example", "name = \"phone\"", "name = \"tablet\"");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "~ mailbox alice@a.example: state active → locked",
        "+ app password tablet for bob@a.example (protocols imap, password set)",
        "- app password phone for bob@a.example",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        db.sql("SELECT state FROM virtual_users WHERE email = 'alice@a.example'"),
        "locked\n"
    );
    assert_eq!(db.sql("SELECT name FROM virtual_app_passwords"), "tablet\n");
    assert_code(&repo.plan_against(&db), 0);

    // The grant withdrawn by its owner: alice's send_as is now an error, and
    // nothing is applied until the files agree.
    repo.replace(
        "b.example",
        "allow_send_as = [\"alice@a.example\"]",
        "allow_send_as = []",
    );
    let out = repo.plan_against(&db);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("mailops::send-as::not-granted"),
        "{}",
        stderr(&out)
    );
    repo.replace("a.example", ", \"carol@b.example\"]", "]");
    let out = repo.plan_against(&db);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("- send-as alice@a.example as carol@b.example"),
        "{}",
        stdout(&out)
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        db.sql("SELECT sender, login FROM virtual_sender_grants"),
        "team@a.example\talice@a.example\n"
    );
}

fn hand_edits_of_app_passwords_and_grants_are_drift_and_apply_heals_them(engine: Engine) {
    let repo = operations_repo();
    let db = TestDb::new(engine);
    assert_code(&repo.apply_to(&db), 0);
    let applied = mailbox_rows(&db);
    assert_eq!(read_by_plan(&repo, &db), (0, 0));
    for edit in [
        "DELETE FROM virtual_app_passwords",
        "UPDATE virtual_app_passwords SET protocols = 'imap,pop3,smtp'",
        "INSERT INTO virtual_sender_grants (domain_id, sender, login) \
         SELECT id, 'bob@a.example', 'dave@b.example' FROM virtual_domains WHERE name = 'a.example'",
        "DELETE FROM virtual_sender_grants WHERE sender = 'carol@b.example'",
        "UPDATE virtual_users SET state = 'disabled' WHERE email = 'bob@a.example'",
    ] {
        db.sql(edit);
        let out = repo.plan_against(&db);
        assert_code(&out, 2);
        assert_ne!(read_by_plan(&repo, &db), (0, 0), "{edit}: no domain read");
        assert_code(&repo.apply_to(&db), 0);
        assert_eq!(mailbox_rows(&db), applied, "{edit}");
        assert_code(&repo.plan_against(&db), 0);
    }
}

fn a_database_at_version_3_is_adopted_in_place_with_every_row_kept(engine: Engine) {
    let repo = Repo::two_tenants();
    // The rows the files ask for, as a mailops of schema 3 wrote them.
    let reference = TestDb::new(engine);
    assert_code(&repo.apply_to(&reference), 0);
    let db = TestDb::new(engine);
    for migration in &engine.migrations()[..3] {
        db.sql_file(migration);
    }
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "3\n"
    );
    db.load_rows_of(&reference);
    let before = db.snapshot();
    let rows_before = db.snapshot_rows();

    // A plan reads the old schema as it is, migrates nothing, changes nothing.
    let out = repo.plan_against(&db);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("apply will migrate from version 3 to 8"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "3\n"
    );

    // Apply migrates in place: every row (and id) kept, each mailbox active
    // with every protocol, no row written but the bookkeeping.
    let out = repo.apply_to(&db);
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT MAX(version) FROM mailops_schema_migrations"),
        "8\n"
    );
    assert_eq!(db.snapshot(), before, "{}", stderr(&out));
    assert_eq!(db.snapshot_rows(), rows_before);
    assert_eq!(
        db.sql("SELECT DISTINCT state, protocols FROM virtual_users"),
        "active\timap,pop3,smtp\n"
    );
    assert_eq!(db.count("virtual_app_passwords"), 0);
    assert_eq!(db.count("virtual_sender_grants"), 0);
    assert_code(&repo.plan_against(&db), 0);
    assert_eq!(read_by_plan(&repo, &db), (0, 0));

    // From there on the new fields apply like any other.
    repo.replace(
        "b.example",
        "[[mailbox]]\nuser = \"dave\"",
        "[[mailbox]]\nuser = \"dave\"\nstate = \"disabled\"",
    );
    assert_code(&repo.apply_to(&db), 0);
    assert_eq!(
        db.sql("SELECT state FROM virtual_users WHERE email = 'dave@b.example'"),
        "disabled\n"
    );
}

/// The SQL files under generated/sql/ are for loading by hand: they must
/// give the very rows apply writes, new tables included, and remove the
/// app passwords and grants a file no longer lists.
fn the_generated_sql_files_load_the_same_rows_as_apply(engine: Engine) {
    let repo = operations_repo();
    assert_code(&run(repo.path(), &["build"]), 0);
    let applied = TestDb::new(engine);
    assert_code(&repo.apply_to(&applied), 0);
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(mailbox_rows(&loaded), mailbox_rows(&applied));

    // Revoke the app password and the cross-tenant grant, load again.
    repo.replace(
        "a.example",
        &format!(
            "\n[[mailbox.app_password]]\nname = \"phone\"\npassword = \"{}\"\nprotocols = [\"imap\"]\n",
            other_password_hash()
        ),
        "\n",
    );
    repo.replace(
        "b.example",
        "allow_send_as = [\"alice@a.example\"]",
        "allow_send_as = []",
    );
    repo.replace("a.example", ", \"carol@b.example\"]", "]");
    assert_code(&run(repo.path(), &["build"]), 0);
    loaded.script(&engine.whole_load(repo.path()), "the whole load again");
    assert_code(&repo.apply_to(&applied), 0);
    assert_eq!(mailbox_rows(&loaded), mailbox_rows(&applied));
    assert_eq!(loaded.count("virtual_app_passwords"), 0);
    assert_eq!(
        loaded.sql("SELECT sender, login FROM virtual_sender_grants"),
        "team@a.example\talice@a.example\n"
    );
}

/// The compile cache parses only the changed files; a grant withdrawn in
/// one file makes another file's `send_as` an error, which `build` (cached)
/// must report just as `validate` (always full) does.
#[test]
fn a_withdrawn_grant_is_an_error_with_the_compile_cache_too() {
    let repo = operations_repo();
    assert_code(&run(repo.path(), &["build"]), 0);
    repo.replace(
        "b.example",
        "allow_send_as = [\"alice@a.example\"]",
        "allow_send_as = []",
    );
    for command in ["build", "validate"] {
        let out = run(repo.path(), &[command]);
        assert_code(&out, 1);
        assert!(
            stderr(&out).contains("mailops::send-as::not-granted"),
            "{command}: {}",
            stderr(&out)
        );
    }
}
