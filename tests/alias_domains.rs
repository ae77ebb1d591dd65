//! Alias domains (issue 15) against live databases, on SQLite and MariaDB:
//! an alias domain is a `virtual_domains` row in its tenant's state, and its
//! addresses are expanded `virtual_aliases` rows `x@alias → x@tenant` under
//! the tenant's `domain_id` (so a catch-all there only when the tenant has
//! one). Plan shows them, apply writes them once, the SQL files load the
//! same rows, and removing an alias domain is a domain deletion.

mod support;

use support::*;

on_both_engines!(
    alias_domains_are_planned_applied_and_removed,
    the_generated_sql_files_load_the_same_alias_domain_rows_as_apply,
);

fn apply(repo: &Repo, db: &TestDb, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["apply", "--yes", "--database", &db.url];
    args.extend_from_slice(extra);
    run(repo.path(), &args)
}

fn plan(repo: &Repo, db: &TestDb) -> std::process::Output {
    run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    )
}

/// a.example has a catch-all (to alice) and `team`; b.example has none.
fn with_alias_domains(repo: &Repo, a: &[&str], b: &[&str]) {
    for (domain, aliases) in [("a.example", a), ("b.example", b)] {
        let path = repo.path().join("tenants").join(format!("{domain}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String = text
            .lines()
            .filter(|line| !line.starts_with("alias_domains = "))
            .map(|line| format!("{line}\n"))
            .collect();
        let from = format!("domain = \"{domain}\"\n");
        assert!(text.contains(&from), "{text}");
        let list: Vec<String> = aliases.iter().map(|a| format!("\"{a}\"")).collect();
        let to = format!("{from}alias_domains = [{}]\n", list.join(", "));
        std::fs::write(&path, text.replacen(&from, &to, 1)).unwrap();
    }
}

fn domains(db: &TestDb) -> String {
    db.sql("SELECT name, state FROM virtual_domains ORDER BY name")
}

/// Alias rows at alias domains, with the domain their `domain_id` names.
fn alias_domain_rows(db: &TestDb, alias_domain: &str) -> String {
    db.sql(&format!(
        "SELECT a.source, a.destination, d.name FROM virtual_aliases a \
         JOIN virtual_domains d ON d.id = a.domain_id \
         WHERE a.source LIKE '%@{alias_domain}' ORDER BY a.source, a.destination"
    ))
}

fn alias_domains_are_planned_applied_and_removed(engine: Engine) {
    let repo = Repo::two_tenants();
    let db = TestDb::new(engine);
    assert_code(&apply(&repo, &db, &[]), 0);
    with_alias_domains(&repo, &["a-old.example"], &["b-old.example"]);

    let out = plan(&repo, &db);
    assert_code(&out, 2);
    let text = stdout(&out);
    for line in [
        "+ domain a-old.example",
        "+ domain b-old.example",
        "+ alias carol@b-old.example → carol@b.example",
        "+ alias @a-old.example → alice@a.example",
        "+ alias team@a-old.example → team@a.example",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // No catch-all at b's alias domain: b has none.
    assert!(!text.contains("+ alias @b-old.example →"), "{text}");
    let out = apply(&repo, &db, &[]);
    assert_code(&out, 0);
    assert_eq!(
        domains(&db),
        "a-old.example\tactive\na.example\tactive\nb-old.example\tactive\nb.example\tactive\n"
    );
    let b_rows = alias_domain_rows(&db, "b-old.example");
    for row in [
        "carol@b-old.example\tcarol@b.example\tb.example\n",
        "dave@b-old.example\tdave@b.example\tb.example\n",
        "postmaster@b-old.example\tpostmaster@b.example\tb.example\n",
    ] {
        assert!(b_rows.contains(row), "{row}\n{b_rows}");
    }
    assert!(
        alias_domain_rows(&db, "a-old.example")
            .contains("@a-old.example\talice@a.example\ta.example\n")
    );
    // Applied once: nothing left to change.
    assert_code(&plan(&repo, &db), 0);

    // The tenant's state is its alias domains' state.
    let path = repo.path().join("tenants/b.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "domain = \"b.example\"\n",
            "domain = \"b.example\"\nstate = \"disabled\"\n",
            1,
        ),
    )
    .unwrap();
    assert_code(&apply(&repo, &db, &[]), 0);
    assert!(domains(&db).contains("b-old.example\tdisabled\n"));
    assert_code(&plan(&repo, &db), 0);
    std::fs::write(&path, text).unwrap();
    assert_code(&apply(&repo, &db, &[]), 0);

    // Removing an alias domain deletes a domain: refused without
    // --allow-destroy, then its row and its rows go.
    with_alias_domains(&repo, &["a-old.example"], &[]);
    let out = apply(&repo, &db, &[]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(domains(&db).contains("b-old.example"));
    assert_code(&apply(&repo, &db, &["--allow-destroy"]), 0);
    assert!(!domains(&db).contains("b-old.example"));
    assert_eq!(alias_domain_rows(&db, "b-old.example"), "");
    assert_code(&plan(&repo, &db), 0);
}

fn the_generated_sql_files_load_the_same_alias_domain_rows_as_apply(engine: Engine) {
    let repo = Repo::two_tenants();
    with_alias_domains(&repo, &["a-old.example"], &["b-old.example"]);
    assert_code(&run(repo.path(), &["build"]), 0);
    let applied = TestDb::new(engine);
    assert_code(&apply(&repo, &applied, &[]), 0);
    let loaded = TestDb::new(engine);
    loaded.script(&engine.migrations_script(), "the migrations");
    loaded.script(&engine.whole_load(repo.path()), "the whole load");
    assert_eq!(domains(&loaded), domains(&applied));
    for alias_domain in ["a-old.example", "b-old.example"] {
        assert_eq!(
            alias_domain_rows(&loaded, alias_domain),
            alias_domain_rows(&applied, alias_domain)
        );
        assert_ne!(alias_domain_rows(&loaded, alias_domain), "");
    }
}

/// A repo with alias domains compiles in full every time: the incremental
/// compile's cache does not record alias domains, so none is kept (an old
/// one is removed), and it is back once no tenant has alias domains.
#[test]
fn a_repo_with_alias_domains_keeps_no_compile_cache() {
    let repo = Repo::two_tenants();
    let cache = repo.path().join(".mailops/cache/compile.bin");
    assert_code(&run(repo.path(), &["build"]), 0);
    assert!(
        cache.exists(),
        "a repo without alias domains keeps its cache"
    );
    with_alias_domains(&repo, &["a-old.example"], &[]);
    assert_code(&run(repo.path(), &["build"]), 0);
    assert!(!cache.exists(), "the old cache is removed");
    let out = run(repo.path(), &["check"]);
    assert_code(&out, 0);
    with_alias_domains(&repo, &[], &[]);
    assert_code(&run(repo.path(), &["build"]), 0);
    assert!(cache.exists());
}

/// `mailops dns records` names an alias domain's records: a tenant brings
/// its alias domains along, an alias domain alone only its own.
#[test]
fn dns_records_cover_alias_domains() {
    let repo = Repo::two_tenants();
    with_alias_domains(&repo, &["a-old.example"], &[]);
    let out = run(repo.path(), &["dns", "records", "a.example"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    for owner in [
        "a.example. ",
        "a-old.example. ",
        "_dmarc.a-old.example. ",
        "._domainkey.a-old.example. ",
    ] {
        assert!(text.contains(owner), "{owner}\n{text}");
    }
    let out = run(repo.path(), &["dns", "records", "a-old.example"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("a-old.example. "), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("a.example.")), "{text}");
    let out = run(repo.path(), &["dns", "records", "b-old.example"]);
    assert_code(&out, 1);
}
