//! Properties of the whole compiler output, proven on copies of the example repo:
//! builds are byte-stable, `generated/` is current, onboarding touches only the SQL
//! and the new tenant's DNS file, a one-tenant change touches only lines about that
//! tenant, and hostile free text survives every format escaped.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Repo, dns_file, ok, root, tree};

/// Every file under `generated/`, by relative path.
fn generated(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(&dir.join("generated"))
}

/// Paths whose contents differ, were added or were removed.
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut paths: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Non-blank lines added or removed between two texts (a multiset difference, enough here).
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let mut old: BTreeMap<&str, i64> = BTreeMap::new();
    for line in before.lines() {
        *old.entry(line).or_default() += 1;
    }
    for line in after.lines() {
        *old.entry(line).or_default() -= 1;
    }
    old.into_iter()
        .filter(|(line, n)| *n != 0 && !line.trim().is_empty())
        .map(|(l, _)| l.to_string())
        .collect()
}

#[test]
fn committed_generated_matches_a_fresh_build() {
    ok(&root(), &["check"]);
}

#[test]
fn two_builds_are_byte_identical() {
    let dir = Repo::example();
    std::fs::remove_dir_all(dir.path().join("generated")).unwrap();
    ok(dir.path(), &["build"]);
    let first = generated(dir.path());
    std::fs::remove_dir_all(dir.path().join("generated")).unwrap();
    ok(dir.path(), &["build"]);
    assert_eq!(first, generated(dir.path()));
    assert_eq!(
        first,
        generated(&root()),
        "a build from scratch equals the committed generated/"
    );
}

#[test]
fn onboarding_a_tenant_adds_exactly_its_own_files() {
    let dir = Repo::example();
    let before = generated(dir.path());
    ok(
        dir.path(),
        &["new", "onboard.example", "--admin", "ops@webhizzy.in"],
    );
    ok(dir.path(), &["build"]);
    let after = generated(dir.path());
    let own = vec![
        "sql/mysql/onboard.example.sql".to_string(),
        "sql/sqlite/onboard.example.sql".to_string(),
        dns_file("onboard.example"),
    ];
    assert_eq!(
        changed(&before, &after),
        own,
        "no other file changes (no Postfix, Dovecot, Rspamd, cloud-init or main.tf change: \
         onboarding needs no reload; no other tenant's file)"
    );
    for path in &own {
        assert!(!before.contains_key(path), "{path} is new");
    }
    for sql in &own[..2] {
        let other = String::from_utf8_lossy(&after[&sql.replace("onboard.example", "webhizzy.in")])
            .into_owned();
        for line in String::from_utf8_lossy(&after[sql]).lines() {
            // Comments, and the head and tail lines of a multi-row
            // statement, hold no value (no literal) of any tenant; the
            // fixed lines every tenant's file has are in another's too.
            assert!(
                line.starts_with("--")
                    || line.contains("onboard.example")
                    || !line.contains('\'')
                    || other.lines().any(|l| l == line),
                "{sql}: a line is not about the new tenant: {line}"
            );
        }
    }
}

#[test]
fn changing_one_tenant_changes_only_lines_about_it() {
    let dir = Repo::example();
    let before = generated(dir.path());
    let file = dir.path().join("tenants/kaveri-foods.example.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let hash = text
        .lines()
        .find(|l| l.starts_with("password = "))
        .expect("a mailbox with a password")
        .to_string();
    std::fs::write(
        &file,
        format!("{text}\n[[mailbox]]\nuser = \"newhire\"\n{hash}\nquota = \"1 GiB\"\n"),
    )
    .unwrap();
    ok(dir.path(), &["build"]);
    let after = generated(dir.path());
    let paths = changed(&before, &after);
    assert_eq!(
        paths,
        vec![
            "sql/mysql/kaveri-foods.example.sql".to_string(),
            "sql/sqlite/kaveri-foods.example.sql".to_string()
        ]
    );
    for sql in paths {
        for line in changed_lines(
            &String::from_utf8_lossy(&before[&sql]),
            &String::from_utf8_lossy(&after[&sql]),
        ) {
            assert!(line.contains("kaveri-foods.example"), "{sql}: {line}");
        }
    }
}

/// Free text that tries to break out of every format mailops writes.
const HOSTILE: &str = "Robert'); DROP TABLE virtual_users;-- \\\" ${var.x} %{ if } \\n$(id) `id`";

#[test]
fn hostile_free_text_comes_out_escaped_in_every_format() {
    let dir = Repo::example();
    let file = dir.path().join("tenants/webhizzy.in.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let hostile_toml = HOSTILE.replace('\\', "\\\\").replace('"', "\\\"");
    let description = text
        .lines()
        .find(|l| l.starts_with("description = "))
        .expect("the example tenant has a description")
        .to_string();
    let text = text.replacen(
        &description,
        &format!("description = \"\"\"{hostile_toml}\nsecond line\"\"\""),
        1,
    );
    assert!(
        text.contains("name = \"Webhizzy Operations\""),
        "the example mailbox has a name"
    );
    let text = text.replacen(
        "name = \"Webhizzy Operations\"",
        &format!("name = \"{hostile_toml}\""),
        1,
    );
    std::fs::write(&file, text).unwrap();
    ok(dir.path(), &["build"]);
    let files = generated(dir.path());

    // SQL: the name goes in and comes back out unchanged (SQLite runs the file).
    let db = dir.path().join("hostile.db");
    let schema: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("migrations/sqlite"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        v.sort();
        v
    };
    let mut script = String::new();
    for path in schema {
        script.push_str(&std::fs::read_to_string(path).unwrap());
        script.push('\n');
    }
    // The whole load, as `generated/sql/sqlite-begin.sql` documents it.
    script.push_str(&String::from_utf8_lossy(&files["sql/sqlite-begin.sql"]));
    for (path, contents) in &files {
        if path.starts_with("sql/sqlite/") {
            script.push_str(&String::from_utf8_lossy(contents));
        }
    }
    script.push_str(&String::from_utf8_lossy(&files["sql/sqlite-end.sql"]));
    let output = Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sqlite3 runs (apt-get install sqlite3)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let name = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT name FROM virtual_users WHERE email = 'ops@webhizzy.in'")
        .output()
        .expect("sqlite3");
    assert_eq!(
        String::from_utf8_lossy(&name.stdout).trim_end_matches('\n'),
        HOSTILE
    );
    let count = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT count(*) FROM virtual_users")
        .output()
        .expect("sqlite3");
    assert_ne!(
        String::from_utf8_lossy(&count.stdout).trim(),
        "0",
        "the table survived"
    );

    // Terraform: the description is only ever a comment, one `#` per line.
    let tf = String::from_utf8_lossy(&files[&dns_file("webhizzy.in")]).to_string();
    for line in tf
        .lines()
        .filter(|l| l.contains("DROP TABLE") || l.contains("second line"))
    {
        assert!(
            line.trim_start().starts_with('#'),
            "free text outside a comment: {line}"
        );
    }
    assert!(!tf.contains("\n${var.x}"));

    // Mail-server configs and cloud-init never carry tenant free text.
    for (path, contents) in &files {
        if path.starts_with("sql/") || path.starts_with("terraform/") {
            continue;
        }
        let text = String::from_utf8_lossy(contents);
        assert!(
            !text.contains("DROP TABLE"),
            "{path} holds tenant free text"
        );
    }
}
