//! The generated SQL files (`generated/sql/<dialect>/<domain>.sql`, framed by
//! `generated/sql/<dialect>-begin.sql` and `-end.sql`): loaded by hand with
//! the command the begin file documents, they apply cleanly onto the
//! project's migrations, twice, leave exactly the rows `mailops apply` would
//! (a plan against the result is empty), remove rows no tenant declares, and
//! keep hostile free text intact; a tenant's file loads alone; adding a
//! tenant adds exactly its own files; and no file grows with the number of
//! tenants or past 5 MB for a 10,000-mailbox tenant.

mod support;

use std::path::PathBuf;

use support::*;

on_both_engines!(
    applies_twice_and_matches_what_apply_writes,
    more_rows_than_a_statement_holds,
    a_tenant_file_loads_alone,
    a_two_host_platform_loads_its_hosts_and_each_mailboxs_home,
);

/// The first migration: the routing tables, as the generated SQL files expect them.
/// Every migration of the engine: the schema the SQL files are written for
/// (migration 0004 added the mailbox state and the app password and grant
/// tables they fill).
fn migrate(db: &TestDb) {
    db.script(&db.engine.migrations_script(), "the migrations");
}

fn dialect(engine: Engine) -> &'static str {
    engine.dialect()
}

/// A tenant's SQL file under `generated/`.
fn tenant_sql(repo: &Repo, engine: Engine, domain: &str) -> PathBuf {
    repo.path()
        .join("generated/sql")
        .join(dialect(engine))
        .join(format!("{domain}.sql"))
}

/// The command that loads every SQL file by hand, exactly as the begin file
/// documents it, with `DATABASE` made this database's client arguments.
fn documented_load(repo: &Repo, engine: Engine) -> String {
    let begin = repo
        .path()
        .join(format!("generated/sql/{}-begin.sql", dialect(engine)));
    let text = std::fs::read_to_string(&begin).unwrap();
    let command = text
        .lines()
        .find_map(|line| line.strip_prefix("--   { cat "))
        .unwrap_or_else(|| panic!("{} documents no load command:\n{text}", begin.display()));
    format!("{{ cat {command}")
}

/// Run the documented load against `db`, in the repo; its output.
fn load_all(repo: &Repo, db: &TestDb) -> std::process::Output {
    let command = documented_load(repo, db.engine).replace("DATABASE", &db.client_args().join(" "));
    std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(repo.path())
        .output()
        .expect("sh runs")
}

/// Load every SQL file by hand; it must succeed.
fn load(repo: &Repo, db: &TestDb) {
    let out = load_all(repo, db);
    assert!(
        out.status.success(),
        "{}\nfailed: {}",
        documented_load(repo, db.engine),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `generated/`: path → contents.
fn generated(repo: &Repo) -> std::collections::BTreeMap<String, Vec<u8>> {
    tree(&repo.path().join("generated"))
}

fn build(repo: &Repo) {
    assert_code(&run(repo.path(), &["build"]), 0);
}

const HOSTILE: &str =
    "Zoë O'Brien \"Z\" \\ ${x} %{y} `tick`\n\tsecond line; DROP TABLE virtual_users; --";

fn applies_twice_and_matches_what_apply_writes(engine: Engine) {
    let repo = Repo::two_tenants();
    repo.add_mailbox("b.example", "zoe", Some(HOSTILE));
    build(&repo);
    let db = TestDb::new(engine);
    migrate(&db);
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

    load(&repo, &db);
    db.sql(
        "INSERT INTO virtual_aliases (domain_id, source, destination) \
         SELECT id, 'stray@a.example', 'alice@a.example' FROM virtual_domains WHERE name = 'a.example'",
    );
    db.sql(
        "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
         SELECT id, 'stray@a.example', 'x', 1, NULL FROM virtual_domains WHERE name = 'a.example'",
    );
    db.sql("UPDATE virtual_users SET quota_bytes = 3 WHERE email = 'alice@a.example'");
    load(&repo, &db);
    let once = db.sql(
        "SELECT d.name, u.email, u.password, u.quota_bytes, u.name FROM virtual_users u \
         JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email",
    );
    load(&repo, &db);
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
fn adding_a_tenant_adds_exactly_its_own_files() {
    let repo = Repo::two_tenants();
    build(&repo);
    let before = generated(&repo);
    repo.add_tenant("c.example", &["carla"]);
    build(&repo);
    let after = generated(&repo);
    let added: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert_eq!(
        added,
        [
            "sql/mysql/c.example.sql",
            "sql/sqlite/c.example.sql",
            &dns_file("c.example")
        ]
    );
    for (path, old) in &before {
        assert_eq!(after.get(path), Some(old), "{path} changed");
    }
    // Every line of the new SQL files is about c.example, holds no value,
    // or is a fixed line that every tenant's file has (as a.example's does).
    for path in &added[..2] {
        let other =
            String::from_utf8_lossy(&after[&path.replace("c.example", "a.example")]).into_owned();
        for line in String::from_utf8_lossy(&after[*path]).lines() {
            assert!(
                line.starts_with("--")
                    || line.contains("c.example")
                    || !line.contains('\'')
                    || other.lines().any(|l| l == line),
                "{path}: a line is not about c.example: {line}"
            );
        }
    }
}

#[test]
fn changing_a_tenant_changes_only_its_lines() {
    let repo = Repo::two_tenants();
    build(&repo);
    let before = generated(&repo);
    repo.replace("b.example", "quota = \"1 GiB\"", "quota = \"2 GiB\"");
    build(&repo);
    let after = generated(&repo);
    let changed: Vec<&String> = after
        .keys()
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert_eq!(
        changed,
        ["sql/mysql/b.example.sql", "sql/sqlite/b.example.sql"]
    );
    for path in changed {
        let (old, new) = (
            String::from_utf8_lossy(&before[path]),
            String::from_utf8_lossy(&after[path]),
        );
        let diff = similar::TextDiff::from_lines(&old, &new);
        let lines: Vec<String> = diff
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| c.value().to_string())
            .collect();
        assert_eq!(lines.len(), 2, "{path}: {lines:#?}");
        assert!(
            lines.iter().all(|l| l.contains("carol@b.example")),
            "{lines:#?}"
        );
    }
}

/// A tenant's file loads alone (its domain, mailboxes and aliases, nothing
/// else); the end file alone removes nothing and fails; the begin and end
/// files around no tenant file remove nothing.
fn a_tenant_file_loads_alone(engine: Engine) {
    let repo = Repo::two_tenants();
    build(&repo);
    let db = TestDb::new(engine);
    migrate(&db);
    db.sql_file(&tenant_sql(&repo, engine, "b.example"));
    assert_eq!(
        db.sql("SELECT name FROM virtual_domains ORDER BY name"),
        "b.example\n"
    );
    let b_users = db.count("virtual_users");
    assert!(b_users > 0);
    let frame = |part: &str| {
        repo.path()
            .join(format!("generated/sql/{}-{part}.sql", dialect(engine)))
    };
    // The end file alone fails (no declared domains were recorded) and removes nothing.
    let end = std::fs::read_to_string(frame("end")).unwrap();
    assert!(
        !db.try_script(&end).status.success(),
        "the end file alone must fail"
    );
    assert_eq!(db.count("virtual_domains"), 1);
    // Begin and end around no tenant file: nothing is declared, nothing removed.
    let begin = std::fs::read_to_string(frame("begin")).unwrap();
    let out = db.try_script(&format!("{begin}{end}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(db.count("virtual_domains"), 1);
    assert_eq!(db.count("virtual_users"), b_users);
    // The whole load then adds a.example and keeps b.example.
    load(&repo, &db);
    assert_eq!(
        db.sql("SELECT name FROM virtual_domains ORDER BY name"),
        "a.example\nb.example\n"
    );
}

/// The bound: no generated file exceeds 5 MB for a tenant of 10,000
/// mailboxes (with as many aliases), and the SQL of the other tenants does
/// not grow with it.
#[test]
fn no_generated_file_exceeds_5_mb_for_a_10000_mailbox_tenant() {
    let repo = Repo::two_tenants();
    repo.add_tenant("big.example", &[]);
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!(
            "\n[[mailbox]]\nuser = \"user{i:05}\"\npassword = \"{}\"\nquota = \"10 GiB\"\nname = \"Mailbox Owner {i:05}\"\n\n[[alias]]\naddress = \"alias{i:05}\"\nto = [\"user{i:05}\"]\n",
            password_hash()
        ));
    }
    repo.append("big.example", &text);
    build(&repo);
    let files = generated(&repo);
    let (largest, size) = files
        .iter()
        .map(|(path, bytes)| (path, bytes.len()))
        .max_by_key(|(_, len)| *len)
        .unwrap();
    assert!(
        largest.ends_with("/big.example.sql"),
        "the largest file is the big tenant's SQL: {largest}"
    );
    assert!(size > 1_000_000, "{largest} holds the rows: {size} bytes");
    assert!(size <= 5 * 1024 * 1024, "{largest} is {size} bytes");
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
    let text = std::fs::read_to_string(tenant_sql(&repo, engine, "big.example")).unwrap();
    assert_eq!(text.matches("INSERT INTO virtual_users ").count(), 2);

    let db = TestDb::new(engine);
    migrate(&db);
    load(&repo, &db);
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

/// Several mail hosts (issue 18): the begin file writes the `mail_hosts`
/// rows (migration 0008), replacing a stale row that holds a declared
/// host's hostname under another name, and each mailbox's row carries its
/// home: its own `home`, else its tenant's.
fn a_two_host_platform_loads_its_hosts_and_each_mailboxs_home(engine: Engine) {
    let fixture = root().join("tests/fixtures/valid/two-hosts");
    let read = |name: &str| std::fs::read_to_string(fixture.join(name)).unwrap();
    let repo = Repo::empty()
        .file("mailops.toml", &read("mailops.toml"))
        .file(
            "tenants/acme.example.toml",
            &read("tenants/acme.example.toml"),
        );
    build(&repo);
    let db = TestDb::new(engine);
    migrate(&db);
    db.sql(
        "INSERT INTO mail_hosts (name, hostname, private_ip) \
         VALUES ('old', 'mx1.webhizzy.in', '10.20.9.9')",
    );
    load(&repo, &db);
    load(&repo, &db);
    assert_eq!(
        db.sql("SELECT name, hostname, private_ip FROM mail_hosts ORDER BY name"),
        "mx1\tmx1.webhizzy.in\t10.20.1.11\nmx2\tmx2.webhizzy.in\t10.20.1.12\n"
    );
    assert_eq!(
        db.sql("SELECT email, home FROM virtual_users ORDER BY email"),
        "alice@acme.example\tmx2\nbob@acme.example\tmx1\n"
    );
}
