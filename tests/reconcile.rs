//! `mailops reconcile --once` and `mailops status` on a host that is a
//! directory tree: a bare git repo stands in for the forge, a working clone
//! is where the "operator" commits and pushes, and the agent pulls, checks,
//! applies rows, installs configs and decrypted keys, reloads what changed
//! (a reload command that appends to a file), heals drift, refuses what it
//! must, and says so in its status file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Engine, TestDb, assert_code, mailops, ok, on_both_engines, password_hash, show};

/// The forge, the operator's clone, the host (its files, work dir, root) and its database.
struct Host {
    dir: tempfile::TempDir,
    db: TestDb,
}

impl Host {
    fn new(engine: Engine) -> Host {
        let host = Host {
            dir: tempfile::tempdir().unwrap(),
            db: TestDb::new(engine),
        };
        let t = host.dir.path();
        git(
            t,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "forge.git",
            ],
        );
        // The host's age identity.
        use age::secrecy::ExposeSecret;
        let key = age::x25519::Identity::generate();
        let recipient = key.to_public().to_string();
        std::fs::create_dir_all(t.join("etc")).unwrap();
        private(
            &t.join("etc/age-identity.txt"),
            &format!("{}\n", key.to_string().expose_secret()),
        );
        // As the first boot makes it: the services' password and the URL mailops writes with.
        private(
            &t.join("etc/secrets.toml"),
            &format!(
                "db_password = \"services-password-1\"\ndatabase_url = \"{}\"\n",
                host.db.url
            ),
        );
        // The mail repo, as a new user makes it.
        ok(t, &["init", "work", "--domain", "acme.example"]);
        let work = host.work();
        let platform = std::fs::read_to_string(work.join("mailops.toml")).unwrap();
        std::fs::write(
            work.join("mailops.toml"),
            format!("{platform}\n[secrets]\nrecipients = [\"{recipient}\"]\n"),
        )
        .unwrap();
        let store = work.join(".mailops/keys");
        ok(
            &work,
            &["keys", "import", "--key-dir", store.to_str().unwrap()],
        );
        std::fs::remove_dir_all(work.join(".mailops")).unwrap();
        host.append(
            "acme.example",
            &format!(
                "\n[[mailbox]]\nuser = \"alice\"\npassword = \"{}\"\n",
                password_hash()
            ),
        );
        ok(&work, &["build"]);
        git(&work, &["init", "--quiet", "--initial-branch=main"]);
        git(&work, &["remote", "add", "origin", "../forge.git"]);
        host.commit("acme.example with alice");
        // The host file.
        let reload = |s: &str| format!("echo {s} >> '{}'", t.join("reloads").display());
        std::fs::write(
            host.config(),
            format!(
                "version = 1\nrepo = \"{forge}\"\nbranch = \"main\"\nwork_dir = \"{t}/var/lib/mailops\"\n\
                 identity = \"{t}/etc/age-identity.txt\"\n\
                 install_root = \"{t}/root\"\nstatus = \"{t}/run/status.json\"\n\
                 reload = {{ postfix = \"{p}\", dovecot = \"{d}\", rspamd = \"{r}\" }}\n\
                 database = \"{t}/etc/secrets.toml\"\n",
                forge = t.join("forge.git").display(),
                t = t.display(),
                p = reload("postfix"),
                d = reload("dovecot"),
                r = reload("rspamd"),
            ),
        )
        .unwrap();
        host
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("etc/host.toml")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn tenant(&self, domain: &str) -> PathBuf {
        self.work().join(format!("tenants/{domain}.toml"))
    }

    fn append(&self, domain: &str, text: &str) {
        let path = self.tenant(domain);
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{old}{text}")).unwrap();
    }

    /// Commit everything and push to the forge.
    fn commit(&self, message: &str) {
        let work = self.work();
        git(&work, &["add", "-A"]);
        git(
            &work,
            &[
                "-c",
                "user.name=Op",
                "-c",
                "user.email=op@example.test",
                "commit",
                "--quiet",
                "-m",
                message,
            ],
        );
        git(&work, &["push", "--quiet", "origin", "HEAD:main"]);
    }

    fn reconcile(&self) -> Output {
        mailops()
            .args(["reconcile", "--once", "--config"])
            .arg(self.config())
            .output()
            .unwrap()
    }

    fn status_json(&self) -> serde_json::Value {
        let out = mailops()
            .args(["status", "--format", "json", "--config"])
            .arg(self.config())
            .output()
            .unwrap();
        assert_code(&out, 0);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The reload commands run so far, one service a line.
    fn reloads(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("reloads")).unwrap_or_default()
    }

    fn head(&self) -> String {
        git(&self.work(), &["rev-parse", "HEAD"]).trim().to_string()
    }

    fn key_file(&self, domain: &str) -> PathBuf {
        self.root()
            .join(format!("var/lib/rspamd/dkim/{domain}.dkim.key"))
    }

    fn installed(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        support::tree(&self.root())
    }
}

fn private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[track_caller]
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn succeeds(out: &Output) {
    assert_code(out, 0);
}

fn first_run_applies_rows_and_installs_key_and_configs(engine: Engine) {
    let host = Host::new(engine);
    let out = host.reconcile();
    succeeds(&out);
    let status = host.status_json();
    assert_eq!(status["outcome"], "applied", "{status}");
    assert_eq!(status["commit"], host.head().as_str());
    assert!(
        status["rows_changed"]["insert"].as_u64().unwrap() >= 4,
        "{status}"
    );
    assert_eq!(
        host.db.sql("SELECT email FROM virtual_users").trim(),
        "alice@acme.example"
    );
    let key = std::fs::read_to_string(host.key_file("acme.example")).unwrap();
    assert!(key.contains("PRIVATE KEY"), "a decrypted key is installed");
    assert_eq!(support::mode(&host.key_file("acme.example")) & 0o777, 0o640);
    let main_cf = host.root().join("etc/postfix/main.cf");
    assert!(main_cf.is_file());
    let dovecot_sql =
        std::fs::read_to_string(host.root().join("etc/dovecot/dovecot-sql.conf.ext")).unwrap();
    assert!(
        dovecot_sql.contains("services-password-1"),
        "the secret is filled in"
    );
    assert_eq!(host.reloads(), "postfix\ndovecot\nrspamd\n");
    // No new commit, nothing drifted: nothing is written, nothing reloaded.
    let rows = host.db.snapshot();
    let files = host.installed();
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "unchanged");
    assert_eq!(host.db.snapshot(), rows);
    assert_eq!(host.installed(), files);
    assert_eq!(host.reloads(), "postfix\ndovecot\nrspamd\n");
    // A run that died during its install left its marker: every service is reloaded.
    std::fs::write(host.dir.path().join("var/lib/mailops/installing"), "x").unwrap();
    succeeds(&host.reconcile());
    assert_eq!(
        host.reloads(),
        "postfix\ndovecot\nrspamd\ndovecot\npostfix\nrspamd\n"
    );
    assert!(!host.dir.path().join("var/lib/mailops/installing").exists());
    // A new tenant is rows and a key: no reload.
    ok(&host.work(), &["new", "beta.example"]);
    ok(&host.work(), &["build"]);
    host.commit("beta.example");
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
    assert!(host.key_file("beta.example").is_file());
    assert_eq!(host.db.count("virtual_domains"), 2);
    assert_eq!(
        host.reloads(),
        "postfix\ndovecot\nrspamd\ndovecot\npostfix\nrspamd\n",
        "only tenants changed"
    );
}

fn a_hand_edited_row_is_healed(engine: Engine) {
    let host = Host::new(engine);
    succeeds(&host.reconcile());
    let rows = host.db.snapshot_rows();
    host.db.script(
        "UPDATE virtual_users SET quota_bytes = 1 WHERE email = 'alice@acme.example';\n\
         DELETE FROM virtual_aliases WHERE source = 'abuse@acme.example';",
        "a hand edit",
    );
    assert_ne!(host.db.snapshot_rows(), rows);
    let out = host.reconcile();
    succeeds(&out);
    assert_eq!(host.db.snapshot_rows(), rows, "{}", show(&out));
    let status = host.status_json();
    assert_eq!(status["outcome"], "healed", "{status}");
    let healed = status["drift_healed"].to_string();
    assert!(healed.contains("alice@acme.example"), "{healed}");
    assert!(healed.contains("abuse@acme.example"), "{healed}");
    assert!(support::stderr(&out).contains("healed: "), "{}", show(&out));
    // A file changed on the host is put back too, and its service reloaded.
    let main_cf = host.root().join("etc/postfix/main.cf");
    let good = std::fs::read(&main_cf).unwrap();
    std::fs::write(&main_cf, "smtpd_banner = hacked\n").unwrap();
    succeeds(&host.reconcile());
    assert_eq!(std::fs::read(&main_cf).unwrap(), good);
    assert_eq!(host.reloads(), "postfix\ndovecot\nrspamd\npostfix\n");
    // A domain added by hand is not deleted by healing: an operator looks first.
    host.db.script(
        "INSERT INTO virtual_domains (name) VALUES ('rogue.example');",
        "a domain added by hand",
    );
    let out = host.reconcile();
    assert_code(&out, 1);
    let status = host.status_json();
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("healing drift was stopped"), "{error}");
    assert!(error.contains("rogue.example"), "{error}");
    assert!(
        host.db
            .sql("SELECT name FROM virtual_domains")
            .contains("rogue.example")
    );
}

on_both_engines!(
    first_run_applies_rows_and_installs_key_and_configs,
    a_hand_edited_row_is_healed,
);

#[test]
fn a_commit_failing_check_is_refused_and_the_host_stays_on_the_last_good_commit() {
    let host = Host::new(Engine::Sqlite);
    succeeds(&host.reconcile());
    let good = host.head();
    let rows = host.db.snapshot();
    let files = host.installed();
    // A new mailbox without `mailops build`: generated/ is not current.
    host.append(
        "acme.example",
        &format!(
            "\n[[mailbox]]\nuser = \"bob\"\npassword = \"{}\"\n",
            password_hash()
        ),
    );
    host.commit("bob, not built");
    let bad = host.head();
    let out = host.reconcile();
    assert_code(&out, 1);
    assert!(
        support::stderr(&out).contains("generated/ is not current"),
        "{}",
        show(&out)
    );
    assert_eq!(host.db.snapshot(), rows);
    assert_eq!(host.installed(), files);
    let status = host.status_json();
    assert_eq!(status["outcome"], "refused");
    assert_eq!(status["commit"], good.as_str());
    assert_eq!(status["tried"], bad.as_str());
    assert!(
        status["error"].as_str().unwrap().contains("mailops build"),
        "{status}"
    );
    let human = mailops()
        .args(["status", "--config"])
        .arg(host.config())
        .output()
        .unwrap();
    assert_code(&human, 0);
    let human = support::stdout(&human);
    assert!(human.contains("outcome: refused"), "{human}");
    assert!(human.contains(&format!("commit:  {good}")), "{human}");
    // The refused commit is not tried again; the host stays healed on the
    // good one, and the status still says why the head is not applied.
    succeeds(&host.reconcile());
    let status = host.status_json();
    assert_eq!(status["commit"], good.as_str());
    assert_eq!(status["tried"], bad.as_str());
    assert!(
        status["error"].as_str().unwrap().contains("mailops build"),
        "{status}"
    );
    assert_eq!(host.db.snapshot(), rows);
    // A tenant file that does not compile is refused too, naming the file.
    host.append("acme.example", "\n[[mailbox]]\nuser = \"carol\"\n");
    host.commit("carol, no password");
    let out = host.reconcile();
    assert_code(&out, 1);
    assert!(
        support::stderr(&out).contains("tenants/acme.example.toml"),
        "{}",
        show(&out)
    );
    assert_eq!(host.db.snapshot(), rows);
    // The next new commit is tried normally.
    let text = std::fs::read_to_string(host.tenant("acme.example")).unwrap();
    std::fs::write(
        host.tenant("acme.example"),
        text.replace("\n[[mailbox]]\nuser = \"carol\"\n", ""),
    )
    .unwrap();
    ok(&host.work(), &["build"]);
    host.commit("bob, built");
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
    assert_eq!(host.db.count("virtual_users"), 2);
}

#[test]
fn removing_a_tenant_is_refused_without_the_trailer_and_applied_with_it() {
    let host = Host::new(Engine::Sqlite);
    ok(&host.work(), &["new", "beta.example"]);
    ok(&host.work(), &["build"]);
    host.commit("beta.example");
    succeeds(&host.reconcile());
    assert_eq!(host.db.count("virtual_domains"), 2);
    std::fs::remove_file(host.tenant("beta.example")).unwrap();
    std::fs::remove_file(host.work().join("keys/beta.example.dkim.key.age")).unwrap();
    ok(&host.work(), &["build"]);
    host.commit("remove beta.example");
    let out = host.reconcile();
    assert_code(&out, 1);
    let stderr = support::stderr(&out);
    assert!(
        stderr.contains("Mailops-Allow-Destroy: beta.example"),
        "{stderr}"
    );
    assert_eq!(host.db.count("virtual_domains"), 2);
    assert!(host.key_file("beta.example").is_file());
    assert_eq!(host.status_json()["outcome"], "refused");
    // The same change with the trailer.
    git(
        &host.work(),
        &[
            "-c",
            "user.name=Op",
            "-c",
            "user.email=op@example.test",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "remove beta.example\n\nMailops-Allow-Destroy: beta.example",
        ],
    );
    git(&host.work(), &["push", "--quiet", "origin", "HEAD:main"]);
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
    assert_eq!(
        host.db.sql("SELECT name FROM virtual_domains").trim(),
        "acme.example"
    );
    assert!(
        !host.key_file("beta.example").exists(),
        "the key is archived"
    );
}

#[test]
fn a_bad_host_file_is_named_with_its_line() {
    let host = Host::new(Engine::Sqlite);
    let text = std::fs::read_to_string(host.config()).unwrap();
    std::fs::write(
        host.config(),
        text.replace("version = 1", "version = 1\ncolour = \"red\""),
    )
    .unwrap();
    let out = host.reconcile();
    assert_code(&out, 1);
    let expected = format!("{}:2:1: unknown field `colour`", host.config().display());
    assert!(support::stderr(&out).contains(&expected), "{}", show(&out));
    assert!(!host.dir.path().join("run/status.json").exists());
}

/// The generated units are what systemd accepts (`systemd-analyze verify`),
/// with the binary they start put where it is on the host.
#[test]
fn the_generated_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo_bin!("mailops");
    for name in ["mailops-reconcile.service", "mailops-reconcile.timer"] {
        let text =
            std::fs::read_to_string(support::root().join("generated/systemd").join(name)).unwrap();
        assert!(text.contains("/usr/local/bin/mailops") || name.ends_with(".timer"));
        let text = text.replace("/usr/local/bin/mailops", binary.to_str().unwrap());
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("mailops-reconcile.service"))
        .arg(dir.path().join("mailops-reconcile.timer"))
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze is needed (apt-get install systemd; .ci/run installs it): {e}")
        });
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        show(&out)
    );
}

#[test]
fn an_install_that_fails_after_the_rows_puts_the_last_good_rows_back() {
    let host = Host::new(Engine::Sqlite);
    succeeds(&host.reconcile());
    let good = host.head();
    let rows = host.db.snapshot_rows();
    ok(&host.work(), &["new", "beta.example"]);
    ok(&host.work(), &["build"]);
    host.commit("beta.example");
    // Where beta's key goes, a folder: the install fails, after the rows were written.
    std::fs::create_dir(host.key_file("beta.example")).unwrap();
    let files = host.installed();
    let out = host.reconcile();
    assert_code(&out, 2);
    let stderr = support::stderr(&out);
    assert!(stderr.contains("installing the files under"), "{stderr}");
    assert!(stderr.contains("were written back"), "{stderr}");
    assert_eq!(
        host.db.snapshot_rows(),
        rows,
        "the rows of the last good commit"
    );
    assert_eq!(host.installed(), files);
    let status = host.status_json();
    assert_eq!(status["outcome"], "failed");
    assert_eq!(status["commit"], good.as_str());
    // An operational failure: the same commit is tried again, and now goes through.
    std::fs::remove_dir(host.key_file("beta.example")).unwrap();
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
    assert_eq!(host.db.count("virtual_domains"), 2);
}

#[test]
fn with_allowed_signers_only_a_signed_commit_is_applied() {
    let host = Host::new(Engine::Sqlite);
    let t = host.dir.path();
    let key = t.join("etc/signing-key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "op", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen is needed (openssh-client)");
    assert!(made.status.success(), "{}", show(&made));
    let public = std::fs::read_to_string(t.join("etc/signing-key.pub")).unwrap();
    std::fs::write(
        t.join("etc/allowed_signers"),
        format!("op@example.test {public}"),
    )
    .unwrap();
    let text = std::fs::read_to_string(host.config()).unwrap();
    std::fs::write(
        host.config(),
        format!(
            "{text}allowed_signers = \"{}\"\n",
            t.join("etc/allowed_signers").display()
        ),
    )
    .unwrap();
    // The first commit is not signed.
    let out = host.reconcile();
    assert_code(&out, 1);
    assert!(
        support::stderr(&out).contains("no good signature"),
        "{}",
        show(&out)
    );
    assert_eq!(host.status_json()["outcome"], "refused");
    assert!(!host.key_file("acme.example").exists(), "nothing installed");
    // Signed with the allowed key.
    git(
        &host.work(),
        &[
            "-c",
            "user.name=Op",
            "-c",
            "user.email=op@example.test",
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("user.signingkey={}", key.display()),
            "commit",
            "--quiet",
            "--allow-empty",
            "-S",
            "-m",
            "signed",
        ],
    );
    git(&host.work(), &["push", "--quiet", "origin", "HEAD:main"]);
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
    assert_eq!(host.db.count("virtual_domains"), 1);
}

#[test]
fn with_the_forge_out_of_reach_drift_is_healed_and_the_run_fails() {
    let host = Host::new(Engine::Sqlite);
    succeeds(&host.reconcile());
    let rows = host.db.snapshot_rows();
    let t = host.dir.path();
    std::fs::rename(t.join("forge.git"), t.join("forge.moved")).unwrap();
    host.db
        .script("UPDATE virtual_users SET quota_bytes = 1;", "a hand edit");
    let out = host.reconcile();
    assert_code(&out, 2);
    assert_eq!(host.db.snapshot_rows(), rows, "healed all the same");
    let status = host.status_json();
    assert_eq!(status["outcome"], "failed");
    assert!(
        status["error"].as_str().unwrap().contains("git fetch"),
        "{status}"
    );
    assert!(
        !status["drift_healed"].as_array().unwrap().is_empty(),
        "{status}"
    );
}

#[test]
fn a_problem_of_the_host_is_not_held_against_the_commit() {
    let host = Host::new(Engine::Sqlite);
    let identity = host.dir.path().join("etc/age-identity.txt");
    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = host.reconcile();
    assert_code(&out, 1);
    assert!(
        support::stderr(&out).contains("age-identity.txt"),
        "{}",
        show(&out)
    );
    assert_eq!(host.status_json()["outcome"], "failed");
    // Fixed on the host, the same commit goes through.
    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o600)).unwrap();
    succeeds(&host.reconcile());
    assert_eq!(host.status_json()["outcome"], "applied");
}

/// Without `--once` the agent keeps running: a commit pushed while it runs is
/// applied by a later run, and a row deleted by hand is put back, with no one
/// starting it again.
#[test]
fn the_loop_applies_a_new_commit_and_heals_without_being_restarted() {
    let host = Host::new(Engine::Sqlite);
    let mut agent = mailops()
        .args(["reconcile", "--interval", "1", "--config"])
        .arg(host.config())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mailops starts");
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent did not {what} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let commit_is = |commit: &str| {
        std::fs::read_to_string(host.dir.path().join("run/status.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|status| status["commit"] == commit)
    };
    let first = host.head();
    wait_for("apply the first commit", &|| commit_is(&first));
    ok(&host.work(), &["new", "beta.example"]);
    ok(&host.work(), &["build"]);
    host.commit("beta.example");
    let second = host.head();
    wait_for("apply the pushed commit", &|| commit_is(&second));
    assert!(host.key_file("beta.example").is_file());
    host.db
        .sql("DELETE FROM virtual_users WHERE email = 'alice@acme.example'");
    wait_for("heal the deleted row", &|| {
        host.db.count("virtual_users") == 1
    });
    assert!(
        agent.try_wait().unwrap().is_none(),
        "the agent is still running"
    );
    agent.kill().unwrap();
    let out = agent.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("healed: "), "{log}");
    assert!(log.contains("new commit"), "{log}");
}

/// Several mail hosts' agents apply the same commit to one Galera cluster at
/// about the same time, and all but the first lose the race
/// (`DbError::Conflict`). The agent plans again instead of failing the run.
/// Here the lost race is a deadlock with a hand session on a single MariaDB,
/// made as `db_apply`'s exit-3 test makes it: the agent's first attempt is
/// aborted, the second applies the commit.
#[test]
fn an_agent_that_loses_the_race_to_commit_plans_again_and_applies() {
    let host = Host::new(Engine::Mariadb);
    succeeds(&host.reconcile());
    host.append(
        "acme.example",
        "\n[[alias]]\naddress = \"raced\"\nto = [\"alice\"]\n",
    );
    ok(&host.work(), &["build"]);
    host.commit("an alias, applied while a hand session races the agent");
    let agent = mailops()
        .args(["reconcile", "--once", "--config"])
        .arg(host.config())
        .env("MAILOPS_TEST_HOLD_AFTER_READ_MS", "3000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    host.db.script(
        "START TRANSACTION; UPDATE virtual_aliases SET destination = destination; \
         UPDATE virtual_users SET name = 'Hand'; \
         UPDATE mailops_apply_lock SET holder = 'hand' WHERE id = 1; COMMIT;",
        "the hand session",
    );
    let out = agent.wait_with_output().unwrap();
    succeeds(&out);
    let log = support::stderr(&out);
    assert!(
        log.contains("(attempt 1 of 3); planning the rows again"),
        "{log}"
    );
    assert_eq!(
        host.db
            .sql("SELECT destination FROM virtual_aliases WHERE source = 'raced@acme.example'"),
        "alice@acme.example\n",
        "{log}"
    );
    assert_eq!(
        host.db
            .sql("SELECT COUNT(*) FROM virtual_users WHERE name = 'Hand'"),
        "0\n",
        "the agent's rows are the commit's: {log}"
    );
    assert_eq!(host.status_json()["outcome"], "applied");
}
