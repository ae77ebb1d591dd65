//! `mailops dkim rotate | promote | retire | status | purge` (issue 17): a
//! key walked from published to purged on a copy of the example repo, and
//! every refusal that keeps an operator from losing a key or signing early.

mod support;

use support::Repo;

const DOMAIN: &str = "kaveri-foods.example";
const FILE: &str = "tenants/kaveri-foods.example.toml";
const OLD_KEY: &str = ".mailops/keys/kaveri-foods.example.dkim.key";

/// The example repo with a private key for kaveri-foods' `dkim` key.
fn repo() -> Repo {
    let repo = Repo::example();
    repo.run(&["dkim", "keygen", DOMAIN]).exits(0);
    repo
}

/// Rotate and return the new selector.
fn rotate(repo: &Repo) -> String {
    let run = repo.run(&["dkim", "rotate", DOMAIN]).exits(0);
    let start = run.stderr.find("added key `").expect("the new selector") + "added key `".len();
    let len = run.stderr[start..].find('`').unwrap();
    run.stderr[start..start + len].to_string()
}

/// `(selector, state)` of each key, from `dkim status --format json`.
fn states(repo: &Repo) -> Vec<(String, String)> {
    let run = repo
        .run(&["dkim", "status", DOMAIN, "--format", "json"])
        .exits(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["selector"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn dkim_names(repo: &Repo) -> Vec<String> {
    let run = repo
        .run(&["dns", "records", DOMAIN, "--format", "json"])
        .exits(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .filter(|n| n.contains("._domainkey."))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_key_walks_from_published_to_purged() {
    let repo = repo();
    let before = repo.read(FILE);
    let new = rotate(&repo);
    assert!(new.starts_with('s') && new.len() == 9, "{new}");
    let after = repo.read(FILE);
    // Every line of the file is kept (comments too); the key is added.
    let mut kept = after.lines();
    for line in before.lines().filter(|l| *l != "[dkim]") {
        assert!(kept.any(|l| l == line), "lost {line:?}:\n{after}");
    }
    assert!(
        after.contains("state = \"published\"\npublished = \"20"),
        "{after}"
    );
    assert!(
        repo.path()
            .join(format!(".mailops/keys/{DOMAIN}.{new}.key"))
            .is_file()
    );
    repo.run(&["validate"]).exits(0);
    assert_eq!(
        states(&repo),
        [
            ("dkim".into(), "active".into()),
            (new.clone(), "published".into())
        ]
    );
    // Published: in DNS, not signing (install's selector map names the old key).
    assert_eq!(
        dkim_names(&repo),
        [
            format!("dkim._domainkey.{DOMAIN}"),
            format!("{new}._domainkey.{DOMAIN}")
        ]
    );
    repo.run(&["dkim", "status", DOMAIN])
        .exits(0)
        .stdout_has("then `mailops dkim promote kaveri-foods.example s");

    repo.run(&["dkim", "rotate", DOMAIN])
        .exits(1)
        .stderr_has("is a published rsa key of kaveri-foods.example that is not active yet");
    repo.run(&["dkim", "promote", DOMAIN, &new])
        .exits(1)
        .stderr_has("promote it after")
        .stderr_has("plus a margin of 1h 0m");
    assert_eq!(
        repo.read(FILE),
        after,
        "a refused promotion changes nothing"
    );

    repo.run(&["dkim", "promote", DOMAIN, &new, "--force"])
        .exits(0)
        .stderr_has("`dkim` is retiring");
    repo.run(&["validate"]).exits(0);
    assert_eq!(
        states(&repo),
        [
            ("dkim".into(), "retiring".into()),
            (new.clone(), "active".into())
        ]
    );
    assert_eq!(dkim_names(&repo).len(), 2, "a retiring key stays in DNS");
    let stamped = repo.read(FILE);
    assert!(
        stamped.contains("state = \"retiring\"\nretiring = \"20"),
        "promote stamps when the key stopped signing:\n{stamped}"
    );
    repo.run(&["dkim", "status", DOMAIN])
        .exits(0)
        .stdout_has("(a week after it stopped signing, until ")
        .stdout_has("then `mailops dkim retire kaveri-foods.example dkim`");

    repo.run(&["dkim", "retire", DOMAIN, &new])
        .exits(1)
        .stderr_has("is active");
    repo.run(&["dkim", "retire", DOMAIN, "dkim"])
        .exits(1)
        .stderr_has("`dkim` stopped signing ")
        .stderr_has("retire it after")
        .stderr_has("pass --force");
    assert_eq!(
        repo.read(FILE),
        stamped,
        "a refused retirement changes nothing"
    );
    // A week later (the stamp moved back): status says to retire, and retire does.
    let week_ago = regex_replace_retiring(&stamped, "2020-01-01T00:00:00Z");
    std::fs::write(repo.path().join(FILE), &week_ago).unwrap();
    repo.run(&["dkim", "status", DOMAIN])
        .exits(0)
        .stdout_has("retire: `mailops dkim retire kaveri-foods.example dkim`");
    repo.run(&["dkim", "retire", DOMAIN, "dkim"]).exits(0);
    repo.run(&["validate"]).exits(0);
    assert_eq!(
        dkim_names(&repo),
        [format!("{new}._domainkey.{DOMAIN}")],
        "a retired key leaves DNS"
    );
    repo.run(&["build"]).exits(0);
    let tf = std::fs::read_to_string(
        walk(&repo.path().join("generated/terraform"))
            .into_iter()
            .find(|p| p.ends_with(format!("dns_{DOMAIN}.tf")))
            .unwrap(),
    )
    .unwrap();
    assert!(
        !tf.contains(&format!("\"dkim._domainkey.{DOMAIN}\"")),
        "{tf}"
    );
    assert!(
        tf.contains(&format!("\"{new}._domainkey.{DOMAIN}\"")),
        "{tf}"
    );
    repo.run(&["dkim", "status", DOMAIN])
        .exits(0)
        .stdout_has("purge its private key");

    repo.run(&["dkim", "purge", DOMAIN])
        .exits(0)
        .stderr_has("(retired key `dkim`)");
    assert!(!repo.path().join(OLD_KEY).exists());
    assert!(
        repo.path()
            .join(format!(".mailops/keys/{DOMAIN}.{new}.key"))
            .is_file(),
        "the active key is kept"
    );
    repo.run(&["dkim", "purge", DOMAIN])
        .exits(0)
        .stderr_has("no retired key has a private key left");
    repo.run(&["check"]).exits(0);
}

/// The tenant file with its `retiring = "…"` time replaced by `at`.
fn regex_replace_retiring(text: &str, at: &str) -> String {
    let start = text.find("retiring = \"").expect("a retiring time") + "retiring = \"".len();
    let end = start + text[start..].find('"').unwrap();
    format!("{}{at}{}", &text[..start], &text[end..])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Retire the example's `dkim` key of kaveri-foods after a forced rotation.
fn retired(repo: &Repo) -> String {
    let new = rotate(repo);
    repo.run(&["dkim", "promote", DOMAIN, &new, "--force"])
        .exits(0);
    repo.run(&["dkim", "retire", DOMAIN, "dkim", "--force"])
        .exits(0);
    new
}

#[test]
fn purge_keeps_a_file_that_is_not_the_retired_private_key() {
    let repo = repo();
    let new = retired(&repo);
    let other = repo
        .path()
        .join(format!(".mailops/keys/{DOMAIN}.{new}.key"));
    let old = repo.path().join(OLD_KEY);
    std::fs::copy(&other, &old).unwrap();
    repo.run(&["dkim", "purge", DOMAIN])
        .exits(1)
        .stderr_has("is not the private key of the retired key `dkim`");
    assert!(old.is_file());
}

#[test]
fn purge_never_follows_a_link() {
    let repo = repo();
    retired(&repo);
    let old = repo.path().join(OLD_KEY);
    let target = repo.path().join("elsewhere.key");
    std::fs::rename(&old, &target).unwrap();
    std::os::unix::fs::symlink(&target, &old).unwrap();
    repo.run(&["dkim", "purge", DOMAIN])
        .exits(1)
        .stderr_has("not a regular file");
    assert!(target.is_file() && old.is_symlink());
}

#[test]
fn rotate_never_reuses_a_selector() {
    let repo = repo();
    let before = repo.read(FILE);
    repo.run(&["dkim", "rotate", DOMAIN, "--selector", "dkim"])
        .exits(1)
        .stderr_has("a selector is never reused");
    assert_eq!(repo.read(FILE), before);
}

#[test]
fn rotate_leaves_an_existing_key_file_alone() {
    let repo = repo();
    let stray = repo.path().join(format!(".mailops/keys/{DOMAIN}.next.key"));
    std::fs::write(&stray, "mine").unwrap();
    repo.run(&["dkim", "rotate", DOMAIN, "--selector", "next"])
        .exits(1)
        .stderr_has("exists already");
    assert_eq!(std::fs::read_to_string(&stray).unwrap(), "mine");
}

#[test]
fn only_a_published_key_is_promoted_and_a_retired_one_is_not_retired_again() {
    let repo = repo();
    repo.run(&["dkim", "promote", DOMAIN, "dkim"])
        .exits(1)
        .stderr_has("`dkim` is active already");
    repo.run(&["dkim", "promote", DOMAIN, "nope"])
        .exits(1)
        .stderr_has("has no DKIM key `nope`; its selectors: dkim");
    retired(&repo);
    repo.run(&["dkim", "retire", DOMAIN, "dkim"])
        .exits(1)
        .stderr_has("retired already");
    repo.run(&["dkim", "promote", DOMAIN, "dkim"])
        .exits(1)
        .stderr_has("`dkim` is retired: only a published key is promoted");
}
