//! `mailops plan --base REF`: a pull request's plan from two revisions, with
//! no database. Each test makes a git repository in a temp dir, commits a
//! base, changes the working tree, and reads the plan as CI would.

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use mailops::testkit::TenantText;
use support::*;

/// `git init` and a first commit of everything in `dir`.
fn init_and_commit(dir: &Path) -> String {
    git(dir, &["init", "-q"]);
    commit(dir, "base")
}

/// Commit everything; the commit's full name.
fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A tenant with alice (of `quota`, if given), postmaster@ and abuse@.
fn tenant(domain: &str, quota: Option<&str>) -> String {
    TenantText::new(domain)
        .dkim(TEST_KEY)
        .mailbox("alice", None, TEST_HASH, quota)
        .alias("postmaster", &["alice"])
        .alias("abuse", &["alice"])
        .to_string()
}

/// `mailops -C dir plan --base REF …`, with a database URL in the
/// environment that must never be opened or created (see `untouched`).
fn plan_base(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let mut args = vec!["plan", "--base", base];
    args.extend_from_slice(extra);
    run_env(
        dir,
        &args,
        &[("MAILOPS_DATABASE_URL", &format!("sqlite://{}", trap(dir)))],
    )
}

/// The database file `plan` would use if it used one.
fn trap(dir: &Path) -> String {
    dir.join("trap.db").display().to_string()
}

/// No database was made: neither the default one nor the one in the environment.
#[track_caller]
fn untouched(dir: &Path) {
    assert!(
        !dir.join(".mailops").exists(),
        "plan --base made .mailops/ (a database, or the compile cache)"
    );
    assert!(
        !Path::new(&trap(dir)).exists(),
        "plan --base made a database"
    );
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(output)))
}

/// Tenants a.example and b.example committed; then in the working tree
/// c.example added, alice of a.example given 3 GiB (not the default 2 GiB),
/// b.example removed.
fn pull_request() -> (Repo, String) {
    let repo = Repo::new()
        .file("tenants/a.example.toml", &tenant("a.example", None))
        .file("tenants/b.example.toml", &tenant("b.example", None));
    let base = init_and_commit(repo.path());
    let repo = repo
        .file(
            "tenants/a.example.toml",
            &tenant("a.example", Some("3 GiB")),
        )
        .file("tenants/c.example.toml", &tenant("c.example", None));
    repo.remove_tenant("b.example");
    (repo, base)
}

#[test]
fn a_pull_request_plan_shows_exactly_the_tenants_it_adds_changes_and_removes() {
    let (repo, base) = pull_request();
    let short = git(repo.path(), &["rev-parse", "--short", "HEAD"]);

    let output = plan_base(repo.path(), "main", &["--format", "json"]);
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains(&format!(
            "planning against main (commit {short}), no database"
        )),
        "{}",
        show(&output)
    );
    let plan = json(&output);
    let files: Vec<(String, String)> = plan["files"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |path: &str, status: &str| (format!("generated/{path}"), status.to_string());
    assert_eq!(
        files,
        vec![
            expect("sql/mysql/a.example.sql", "changed"),
            expect("sql/mysql/b.example.sql", "removed"),
            expect("sql/mysql/c.example.sql", "added"),
            expect("sql/sqlite/a.example.sql", "changed"),
            expect("sql/sqlite/b.example.sql", "removed"),
            expect("sql/sqlite/c.example.sql", "added"),
            expect(&dns_file("b.example"), "removed"),
            expect(&dns_file("c.example"), "added"),
        ],
        "{plan:#}"
    );

    let db = &plan["database"];
    assert_eq!(db["url"], serde_json::Value::Null);
    assert_eq!(db["base"]["ref"], "main");
    assert_eq!(db["base"]["commit"], base.as_str());
    // c: its domain, alice, postmaster and abuse; a: alice's quota; b: all of it.
    assert_eq!(
        db["summary"],
        serde_json::json!({ "insert": 4, "update": 1, "delete": 4 })
    );
    let changes: Vec<String> = db["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["changes"].as_array().unwrap().clone())
        .map(|c| format!("{} {} {}", c["op"], c["kind"], c["key"]).replace('"', ""))
        .collect();
    assert_eq!(
        changes,
        vec![
            "update mailbox alice@a.example",
            "delete alias abuse@b.example → alice@b.example",
            "delete alias postmaster@b.example → alice@b.example",
            "delete mailbox alice@b.example",
            "delete domain b.example",
            "insert domain c.example",
            "insert mailbox alice@c.example",
            "insert alias abuse@c.example → alice@c.example",
            "insert alias postmaster@c.example → alice@c.example",
        ],
        "{db:#}"
    );
    let update = &db["tenants"][0]["changes"][0]["columns"];
    assert_eq!(
        update,
        &serde_json::json!([{ "column": "quota_bytes", "old": 2u64 << 30, "new": 3u64 << 30 }]),
        "{db:#}"
    );
    assert_eq!(
        plan["files"]["tenants"]["c.example"]["mailboxes"]["insert"],
        1
    );
    assert_eq!(plan["changes"], true);

    let markdown = plan_text(repo.path(), "markdown");
    for line in [
        "## mailops plan",
        "generated/: 3 added, 2 changed, 3 removed",
        &format!("Rows against main (commit {short}): 4 to insert, 1 to update, 4 to delete"),
        "| `a.example` | – | +1 -1 | +0 ~1 -0 | – |",
        "| `b.example` | 0 | 0 | 4 |",
        "| `c.example` | 4 | 0 | 0 |",
        "~ mailbox alice@a.example: quota 2 GiB → 3 GiB",
        "- mailbox alice@b.example (its mail on disk is kept)",
        &format!("<code>generated/{}</code> (added", dns_file("c.example")),
    ] {
        assert!(markdown.contains(line), "no `{line}` in\n{markdown}");
    }
    let human = plan_text(repo.path(), "human");
    assert!(
        human.contains(&format!(
            "rows against main (commit {short}): 4 to insert, 1 to update, 4 to delete"
        )),
        "{human}"
    );
    for shown in [&markdown, &human, &stdout(&output)] {
        assert!(
            !shown.contains("argon2id"),
            "a password hash shown:\n{shown}"
        );
    }
    untouched(repo.path());
}

#[test]
fn a_base_plan_is_the_database_plan_against_the_base_applied() {
    // The base built and applied to a database, then the pull request's
    // change: the database plan and the base plan must say the same.
    let repo = Repo::new()
        .file("tenants/a.example.toml", &tenant("a.example", None))
        .file("tenants/b.example.toml", &tenant("b.example", None));
    init_and_commit(repo.path());
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db_dir.path().join("state.db").display());
    ok(repo.path(), &["apply", "--yes", "--database", &url]);
    let repo = repo
        .file(
            "tenants/a.example.toml",
            &tenant("a.example", Some("3 GiB")),
        )
        .file("tenants/c.example.toml", &tenant("c.example", None));
    repo.remove_tenant("b.example");

    let database = ok(
        repo.path(),
        &["plan", "--database", &url, "--format", "json"],
    );
    let database = json(&database);
    let base = json(&plan_base(repo.path(), "main", &["--format", "json"]));
    assert_eq!(base["files"], database["files"]);
    for key in [
        "summary",
        "tenants",
        "forwards_into_deleted_domains",
        "plan_hash",
    ] {
        assert_eq!(base["database"][key], database["database"][key], "{key}");
    }
    assert_eq!(base["database"]["summary"]["delete"], 4, "{base:#}");
}

/// The plan printed in `format`; it must succeed.
fn plan_text(dir: &Path, format: &str) -> String {
    let output = plan_base(dir, "main", &["--format", format]);
    assert_code(&output, 0);
    stdout(&output)
}

#[test]
fn detailed_exitcode_is_0_with_no_change_2_with_changes_1_on_error() {
    let (repo, _) = pull_request();
    assert_code(&plan_base(repo.path(), "main", &["--detailed-exitcode"]), 2);
    commit(repo.path(), "the pull request");
    let same = plan_base(
        repo.path(),
        "HEAD",
        &["--detailed-exitcode", "--format", "json"],
    );
    assert_code(&same, 0);
    assert_eq!(json(&same)["changes"], false);
    // Against the commit before: the pull request's change again.
    assert_code(
        &plan_base(repo.path(), "HEAD~1", &["--detailed-exitcode"]),
        2,
    );
    // A failure is 1, never 2.
    assert_code(
        &plan_base(repo.path(), "no-such-branch", &["--detailed-exitcode"]),
        1,
    );
    untouched(repo.path());
}

#[test]
fn base_and_database_are_exclusive_and_a_base_plan_is_not_saved() {
    let (repo, _) = pull_request();
    let both = run(
        repo.path(),
        &["plan", "--base", "main", "--database", "sqlite://x.db"],
    );
    assert_code(&both, 1);
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        show(&both)
    );
    let out = plan_base(repo.path(), "main", &["--out", "plan.json"]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("`--out` saves a plan for `mailops apply`"),
        "{}",
        show(&out)
    );
    assert!(!repo.path().join("plan.json").exists());
    untouched(repo.path());
}

#[test]
fn a_link_submodule_or_folder_in_the_base_is_refused_naming_ref_and_path() {
    let (outside, secret) = {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.toml");
        std::fs::write(&secret, "domain = \"SECRET-MARKER.example\"\n").unwrap();
        (dir, secret)
    };
    for (what, shown) in [
        ("link", "a symbolic link"),
        ("submodule", "a submodule"),
        ("folder", "a folder"),
    ] {
        let repo = Repo::new().file("tenants/a.example.toml", &tenant("a.example", None));
        git(repo.path(), &["init", "-q"]);
        let evil = repo.path().join("tenants/evil.example.toml");
        match what {
            "link" => symlink(&secret, &evil).unwrap(),
            "folder" => {
                std::fs::create_dir(&evil).unwrap();
                std::fs::write(evil.join("x.toml"), "x = 1\n").unwrap();
            }
            _ => {}
        }
        git(repo.path(), &["add", "-A"]);
        if what == "submodule" {
            // A gitlink: git never looks at the commit it names.
            let gitlink = format!("160000,{},tenants/evil.example.toml", "1".repeat(40));
            git(
                repo.path(),
                &["update-index", "--add", "--cacheinfo", &gitlink],
            );
        }
        git(repo.path(), &["commit", "-q", "-m", "evil"]);
        // The working tree is clean of it: only the base holds it.
        git(
            repo.path(),
            &["rm", "-q", "-r", "--cached", "tenants/evil.example.toml"],
        );
        if evil.is_dir() {
            std::fs::remove_dir_all(&evil).unwrap();
        } else if std::fs::symlink_metadata(&evil).is_ok() {
            std::fs::remove_file(&evil).unwrap();
        }
        assert_code(&run(repo.path(), &["validate"]), 0);

        let output = plan_base(repo.path(), "HEAD", &[]);
        assert_code(&output, 1);
        let all = text(&output);
        assert!(
            all.contains(&format!("HEAD:tenants/evil.example.toml is {shown}")),
            "{what}: {all}"
        );
        assert!(all.contains("mailops::load::not-a-regular-file"), "{all}");
        assert!(all.contains("the base, HEAD (commit "), "{all}");
        assert!(
            !all.contains("SECRET-MARKER"),
            "the link was followed: {all}"
        );
        assert_eq!(stdout(&output), "", "no plan is printed");
        untouched(repo.path());
    }
    drop(outside);
}

/// `git` in `dir` with `input` on its standard input; it must succeed.
fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    let output = output_with_stdin(&mut cmd, input).expect("git runs");
    assert!(output.status.success(), "git {args:?}:\n{}", show(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn a_hand_made_tree_entry_with_a_slash_in_its_name_is_refused() {
    let repo = Repo::new().file("tenants/a.example.toml", &tenant("a.example", None));
    init_and_commit(repo.path());
    let dir = repo.path();
    let blob = git(dir, &["rev-parse", "HEAD:tenants/a.example.toml"]);
    let platform = git(dir, &["rev-parse", "HEAD:mailops.toml"]);
    // A tree object git would never write: an entry named `x/a.example.toml`.
    let mut tree = b"100644 x/a.example.toml\0".to_vec();
    tree.extend(
        (0..blob.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&blob[i..i + 2], 16).expect("hex")),
    );
    let tenants = git_with_input(
        dir,
        &["hash-object", "-t", "tree", "--literally", "-w", "--stdin"],
        &tree,
    );
    let root = git_with_input(
        dir,
        &["mktree"],
        format!("100644 blob {platform}\tmailops.toml\n040000 tree {tenants}\ttenants\n")
            .as_bytes(),
    );
    let commit = git(dir, &["commit-tree", &root, "-m", "hand-made"]);
    git(dir, &["branch", "hand", &commit]);
    let output = plan_base(dir, "hand", &[]);
    assert_code(&output, 1);
    assert!(
        text(&output).contains("hand:tenants/x/a.example.toml is a tree entry with `/`"),
        "{}",
        show(&output)
    );
    untouched(dir);
}

#[test]
fn a_base_whose_files_have_problems_is_reported_as_the_bases() {
    let broken = tenant("a.example", None).replace("domain = ", "domian = ");
    let repo = Repo::new().file("tenants/a.example.toml", &broken);
    init_and_commit(repo.path());
    let repo = repo.file("tenants/a.example.toml", &tenant("a.example", None));
    assert_code(&run(repo.path(), &["validate"]), 0);
    let output = plan_base(repo.path(), "HEAD", &["--detailed-exitcode"]);
    assert_code(&output, 1);
    let all = text(&output);
    assert!(all.contains("the base, HEAD (commit "), "{all}");
    assert!(all.contains("tenants/a.example.toml:"), "{all}");
    assert!(all.contains("domian"), "{all}");
    assert!(all.contains("error: no plan: the base, HEAD"), "{all}");
    assert_eq!(stdout(&output), "", "no plan is printed");
    untouched(repo.path());
}

#[test]
fn unknown_ref_and_a_folder_outside_git_are_clear_errors() {
    let (repo, _) = pull_request();
    let output = plan_base(repo.path(), "origin/nope", &[]);
    assert_code(&output, 1);
    assert!(
        stderr(&output).contains("`origin/nope` is not a commit of the git repository"),
        "{}",
        show(&output)
    );
    let option = run(repo.path(), &["plan", "--base=--output=x"]);
    assert_code(&option, 1);
    assert!(
        stderr(&option).contains("is not a commit"),
        "{}",
        show(&option)
    );

    let plain = Repo::new().file("tenants/a.example.toml", &tenant("a.example", None));
    let ceiling = plain.path().parent().unwrap().display().to_string();
    let output = run_env(
        plain.path(),
        &["plan", "--base", "main"],
        &[("GIT_CEILING_DIRECTORIES", &ceiling)],
    );
    assert_code(&output, 1);
    assert!(
        stderr(&output).contains("is not in a git work tree"),
        "{}",
        show(&output)
    );
    untouched(plain.path());
}

#[test]
fn a_mail_repo_in_a_subfolder_of_the_work_tree_is_read_from_there() {
    let top = Repo::empty()
        .file("README.md", "the company's infrastructure\n")
        .file("mail/mailops.toml", MINIMAL_PLATFORM)
        .file("mail/tenants/a.example.toml", &tenant("a.example", None))
        // A decoy at the top: never read.
        .file("tenants/zz.example.toml", "not even TOML [[[\n");
    init_and_commit(top.path());
    let mail = top.path().join("mail");
    std::fs::write(
        mail.join("tenants/c.example.toml"),
        tenant("c.example", None),
    )
    .unwrap();
    let output = plan_base(&mail, "main", &["--format", "json"]);
    assert_code(&output, 0);
    let plan = json(&output);
    assert_eq!(
        plan["database"]["summary"],
        serde_json::json!({ "insert": 4, "update": 0, "delete": 0 }),
        "{plan:#}"
    );
    assert_eq!(plan["files"]["summary"]["added"], 3, "{plan:#}");
    assert_eq!(plan["files"]["summary"]["changed"], 0, "{plan:#}");
    untouched(&mail);

    // A link in the base named with its path in the work tree.
    symlink("/etc/passwd", mail.join("tenants/evil.example.toml")).unwrap();
    commit(top.path(), "a link");
    std::fs::remove_file(mail.join("tenants/evil.example.toml")).unwrap();
    let output = plan_base(&mail, "HEAD", &[]);
    assert_code(&output, 1);
    assert!(
        text(&output).contains("HEAD:mail/tenants/evil.example.toml is a symbolic link"),
        "{}",
        show(&output)
    );
    assert!(!text(&output).contains("root:"), "{}", show(&output));
}

#[test]
fn a_base_without_the_mail_repo_plans_everything_as_added() {
    let repo = Repo::empty().file("README.md", "soon: mail\n");
    init_and_commit(repo.path());
    let repo = repo
        .file("mailops.toml", MINIMAL_PLATFORM)
        .file("tenants/a.example.toml", &tenant("a.example", None));
    let output = plan_base(repo.path(), "main", &["--format", "json"]);
    assert_code(&output, 0);
    let plan = json(&output);
    let files = plan["files"]["files"].as_array().unwrap();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| f["status"] == "added"), "{plan:#}");
    assert_eq!(
        plan["database"]["summary"],
        serde_json::json!({ "insert": 4, "update": 0, "delete": 0 }),
        "{plan:#}"
    );
    let notes = plan["database"]["notes"].to_string();
    assert!(
        notes.contains("has no mail repo at the top of the repository"),
        "{notes}"
    );
    untouched(repo.path());
}
