//! The generated SQL files (`generated/sql/sqlite.sql`, `generated/sql/mysql.sql`):
//! they apply cleanly onto the project's migrations, twice, leave exactly the
//! rows `mailops apply` would (a plan against the result is empty), remove
//! rows no tenant declares, keep hostile free text intact, and adding a
//! tenant only adds lines about it.

mod support;

use std::path::PathBuf;

use support::*;

on_both_engines!(
    applies_twice_and_matches_what_apply_writes,
    more_rows_than_a_statement_holds,
);

/// The first migration: the routing tables, as the generated SQL files expect them.
fn migrations(engine: Engine) -> PathBuf {
    root()
        .join("migrations")
        .join(engine.dialect())
        .join("0001_routing_tables.sql")
}

fn generated_sql(repo: &Repo, engine: Engine) -> PathBuf {
    let name = match engine {
        Engine::Sqlite => "sqlite.sql",
        Engine::Mariadb => "mysql.sql",
    };
    repo.path().join("generated/sql").join(name)
}

fn build(repo: &Repo) {
    repo.ok(&["build"]);
}

const HOSTILE: &str =
    "Zoë O'Brien \"Z\" \\ ${x} %{y} `tick`\n\tsecond line; DROP TABLE virtual_users; --";

fn applies_twice_and_matches_what_apply_writes(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.add_mailbox("b.example", "zoe", Some(HOSTILE));
    build(&repo);
    let db = TestDb::new(engine);
    db.sql_file(&migrations(engine));
    // Rows no tenant declares: a whole domain with a mailbox and an alias,
    // and a stray alias and mailbox inside a declared domain.
    db.sql("INSERT INTO virtual_domains (name) VALUES ('gone.example')");
    db.sql(
        "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
         SELECT id, 'old@gone.example', 'x', 1, NULL FROM virtual_domains WHERE name = 'gone.example'",
    );
    db.sql(
        "INSERT INTO virtual_aliases (domain_id, source, destination) \
         SELECT id, 'a@gone.example', 'old@gone.example' FROM virtual_domains WHERE name = 'gone.example'",
    );

    let file = generated_sql(&repo, engine);
    db.sql_file(&file);
    db.sql(
        "INSERT INTO virtual_aliases (domain_id, source, destination) \
         SELECT id, 'stray@a.example', 'alice@a.example' FROM virtual_domains WHERE name = 'a.example'",
    );
    db.sql(
        "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
         SELECT id, 'stray@a.example', 'x', 1, NULL FROM virtual_domains WHERE name = 'a.example'",
    );
    db.sql("UPDATE virtual_users SET quota_bytes = 3 WHERE email = 'alice@a.example'");
    db.sql_file(&file);
    let once = db.sql(
        "SELECT d.name, u.email, u.password, u.quota_bytes, u.name FROM virtual_users u \
         JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email",
    );
    db.sql_file(&file);
    let twice = db.sql(
        "SELECT d.name, u.email, u.password, u.quota_bytes, u.name FROM virtual_users u \
         JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email",
    );
    assert_eq!(once, twice);
    assert_eq!(
        db.sql("SELECT name FROM virtual_domains ORDER BY name"),
        "a.example\nb.example\n"
    );
    assert_eq!(db.count("virtual_users"), 5);
    assert_eq!(db.count("virtual_aliases"), 7);
    assert_eq!(
        db.sql("SELECT quota_bytes FROM virtual_users WHERE email = 'alice@a.example'"),
        "1073741824\n"
    );
    let hex = if engine == Engine::Sqlite {
        "hex(name)"
    } else {
        "HEX(name)"
    };
    let stored = db.sql(&format!(
        "SELECT {hex} FROM virtual_users WHERE email = 'zoe@b.example'"
    ));
    let expected: String = HOSTILE.bytes().map(|b| format!("{b:02X}")).collect();
    assert_eq!(stored.trim(), expected);

    // What the file leaves is exactly what apply wants: its plan is empty.
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert!(stdout(&out).contains("no row changes"), "{}", stdout(&out));
}

#[test]
fn adding_a_tenant_only_adds_lines_about_it() {
    let repo = Repo::two_tenants();
    build(&repo);
    let read = |engine| std::fs::read_to_string(generated_sql(&repo, engine)).unwrap();
    let before = [read(Engine::Sqlite), read(Engine::Mariadb)];
    repo.add_tenant("c.example", &["carla"]);
    build(&repo);
    let after = [read(Engine::Sqlite), read(Engine::Mariadb)];
    // Comment, domain, (MySQL: its id), the mailbox statement (head, row, tail),
    // the alias statement (head, two rows, tail), a blank line, two deletes, one list entry.
    let expected = [13, 14];
    for ((old, new), expected) in before.iter().zip(&after).zip(expected) {
        let diff = similar::TextDiff::from_lines(old, new);
        let mut added = 0;
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Equal => {}
                similar::ChangeTag::Delete => panic!("a line was removed: {change}"),
                similar::ChangeTag::Insert => {
                    let line = change.value();
                    // The head and tail lines of a multi-row statement hold
                    // no value (no literal) of any tenant.
                    assert!(
                        line.contains("c.example") || !line.contains('\''),
                        "an added line is not about c.example: {line}"
                    );
                    added += 1;
                }
            }
        }
        assert_eq!(added, expected, "{new}");
    }
}

#[test]
fn changing_a_tenant_changes_only_its_lines() {
    let repo = Repo::two_tenants();
    build(&repo);
    let before = std::fs::read_to_string(generated_sql(&repo, Engine::Mariadb)).unwrap();
    repo.replace("b.example", "quota = \"1 GiB\"", "quota = \"2 GiB\"");
    build(&repo);
    let after = std::fs::read_to_string(generated_sql(&repo, Engine::Mariadb)).unwrap();
    let diff = similar::TextDiff::from_lines(&before, &after);
    let changed: Vec<String> = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| c.value().to_string())
        .collect();
    assert_eq!(changed.len(), 2, "{changed:#?}");
    assert!(
        changed.iter().all(|l| l.contains("carol@b.example")),
        "{changed:#?}"
    );
}

/// More mailboxes than one statement holds: the rows are split over several
/// multi-row statements, and the file still leaves exactly the declared rows.
fn more_rows_than_a_statement_holds(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.add_tenant("big.example", &[]);
    let mut mailboxes = String::new();
    for i in 0..1001 {
        mailboxes.push_str(&format!(
            "\n[[mailbox]]\nuser = \"u{i}\"\npassword = \"{}\"\nquota = \"1 GiB\"\n",
            password_hash()
        ));
    }
    repo.append("big.example", &mailboxes);
    build(&repo);
    let file = generated_sql(&repo, engine);
    let text = std::fs::read_to_string(&file).unwrap();
    let block = &text[text.find("-- big.example").unwrap()..];
    let block = &block[..block.find("\n\n").unwrap()];
    assert_eq!(block.matches("INSERT INTO virtual_users ").count(), 2);

    let db = TestDb::new(engine);
    db.sql_file(&migrations(engine));
    db.sql_file(&file);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE email LIKE '%@big.example'"),
        "1001\n"
    );
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
}
