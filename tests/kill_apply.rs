//! SIGKILL at random points of an apply, on SQLite and on MariaDB: after each
//! kill the rows are entirely the old ones or entirely the new ones, the lock
//! is free (the next apply does not wait for it), and the next apply
//! converges. And applies started at once run one after the other, losing
//! nothing.
//!
//! The apply changes a few thousand rows (inserts, updates and deletes). Half
//! the kills land anywhere in the process's life (compiling, connecting,
//! reading), half in the window where it writes: after it printed the plan
//! (under the lock, just before writing) and before it would have committed.
//! On SQLite a plan (read-only) runs after each kill too. The RNG is seeded
//! from the clock and the seed printed; `MAILOPS_KILL_SEED` runs the same
//! kill times again.

mod support;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailops::testkit::TenantText;
use support::*;

on_both_engines!(
    kills_leave_rows_old_or_new_and_the_lock_free,
    concurrent_applies_are_serialized_and_lose_nothing,
);

/// Kills per engine: processes that died by SIGKILL (an apply that finished
/// before its kill time does not count, and is run again).
const KILLS: usize = 20;

/// At most this many attempts per engine to get `KILLS` kills.
const ATTEMPTS: usize = 60;

/// splitmix64: small, seedable, good enough to pick kill times.
struct Rng(u64);

impl Rng {
    fn seeded(engine: Engine) -> Rng {
        let seed = std::env::var("MAILOPS_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("kill_apply on {engine:?}: seed {seed} (MAILOPS_KILL_SEED={seed} repeats it)");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, max).
    fn below(&mut self, max: Duration) -> Duration {
        let nanos = max.as_nanos().max(1) as u64;
        Duration::from_nanos(self.next() % nanos)
    }
}

/// Two versions of one tenant's mailboxes and aliases: from `old` to `new`,
/// 500 mailboxes go, 500 come and 1,000 change quota; 750 aliases go, 750 come.
struct Versions {
    old: String,
    new: String,
}

/// A repo with the tenant `k.example` (made by `mailops new`), and its two versions.
fn k_example() -> (Repo, Versions) {
    let repo = Repo::example_platform();
    repo.add_tenant("k.example", &[]);
    let base = std::fs::read_to_string(repo.tenant_file("k.example")).unwrap();
    let hash = password_hash();
    let version = |users: std::ops::Range<usize>, quota: &str, alias_shift: usize| {
        let mut text = TenantText::blocks();
        text.raw(&base.replacen(
            "[limits]\n",
            "[limits]\nmax_mailboxes = 5000\nmax_aliases = 5000\n",
            1,
        ));
        for i in users.clone() {
            text.mailbox(&format!("u{i}"), None, hash, Some(quota));
        }
        for i in users.step_by(2) {
            text.alias(&format!("list{}", i + alias_shift), &[&format!("u{i}")]);
        }
        text.to_string()
    };
    let versions = Versions {
        old: version(0..1500, "1 GiB", 0),
        new: version(500..2000, "2 GiB", 1),
    };
    (repo, versions)
}

fn write_version(repo: &Repo, text: &str) {
    std::fs::write(repo.tenant_file("k.example"), text).unwrap();
}

fn apply_args(db: &TestDb) -> Vec<String> {
    ["apply", "--yes", "--allow-destroy", "--database", &db.url]
        .map(String::from)
        .to_vec()
}

/// An apply in the background; the receiver gets a message when the plan
/// appears on stdout (apply prints it under the lock, right before writing).
fn spawn_apply(repo: &Repo, db: &TestDb) -> (Child, mpsc::Receiver<()>) {
    let mut child = mailops()
        .arg("-C")
        .arg(repo.path())
        .args(apply_args(db))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailops starts");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        if matches!(out.read(&mut byte), Ok(1)) {
            let _ = tx.send(());
        }
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    (child, rx)
}

/// A converging apply: must not wait for a lock a killed apply left behind.
fn converge(repo: &Repo, db: &TestDb) -> std::process::Output {
    let args = apply_args(db);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_env(repo.path(), &args, &[("MAILOPS_LOCK_TIMEOUT", "10")])
}

fn kills_leave_rows_old_or_new_and_the_lock_free(engine: Engine) {
    let started = Instant::now();
    let mut rng = Rng::seeded(engine);
    let (repo, versions) = k_example();
    let db = TestDb::new(engine);

    // Both states once, timed: the snapshots to compare with, and how long
    // an apply takes and how long its writing takes.
    write_version(&repo, &versions.old);
    assert_code(&converge(&repo, &db), 0);
    let old = db.snapshot_rows();
    write_version(&repo, &versions.new);
    let t = Instant::now();
    let out = converge(&repo, &db);
    let whole = t.elapsed();
    assert_code(&out, 0);
    let new = db.snapshot_rows();
    assert_ne!(old, new);
    assert!(db.count("virtual_users") >= 1500);
    let written: f64 = stderr(&out)
        .split("written and committed in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("apply says how long it wrote");
    let write_window = Duration::from_secs_f64(written * 1.2 + 0.02);
    eprintln!(
        "{engine:?}: an apply takes {:.2} s, its writing {written:.2} s",
        whole.as_secs_f64()
    );

    // Each kill interrupts the change from the current state to the other.
    let mut at_new = true;
    let (mut seen_old, mut seen_new) = (0, 0);
    let mut kills = 0;
    for kill in 0..ATTEMPTS {
        if kills == KILLS {
            break;
        }
        let (target, from_rows, to_rows) = if at_new {
            (&versions.old, &new, &old)
        } else {
            (&versions.new, &old, &new)
        };
        write_version(&repo, target);
        let (mut child, printed) = spawn_apply(&repo, &db);
        let in_write = kill % 2 == 1;
        let delay = if in_write {
            // Wait for the plan (under the lock), then a random point of the write.
            let _ = printed.recv_timeout(whole * 4);
            rng.below(write_window)
        } else {
            rng.below(whole.mul_f64(0.9))
        };
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(9);
        kills += usize::from(killed);
        let rows = db.snapshot_rows();
        let outcome = if !killed {
            assert_eq!(rows, *to_rows, "an apply that finished converged");
            "new (it finished before the kill; not counted)"
        } else if rows == *from_rows {
            seen_old += 1;
            "old"
        } else if rows == *to_rows {
            seen_new += 1;
            "new"
        } else {
            panic!(
                "kill {kill} ({} after {:?}, {status}) left rows that are neither the old nor the new ones",
                if in_write { "in the write" } else { "anywhere" },
                delay
            );
        };
        eprintln!(
            "{engine:?}: kill {kill} {} after {delay:?}: {status}, rows {outcome}",
            if in_write { "in the write" } else { "anywhere" },
        );
        // SQLite: a read-only plan copes with what the kill left (a hot
        // journal it may not roll back) and sees the rows the kill left.
        if engine == Engine::Sqlite {
            let out = run(repo.path(), &["plan", "--database", &db.url]);
            let summary = stdout(&out)
                .lines()
                .find(|l| l.starts_with("database "))
                .map(str::to_string);
            assert_eq!(out.status.code(), Some(0), "kill {kill}: {}", stderr(&out));
            let current = summary
                .as_deref()
                .is_some_and(|l| l.ends_with("no row changes"));
            assert_eq!(current, rows == *to_rows, "kill {kill}: {summary:?}");
        }
        // The lock is free and the next apply converges.
        let out = converge(&repo, &db);
        assert_code(&out, 0);
        assert_eq!(
            db.snapshot_rows(),
            *to_rows,
            "kill {kill}: the next apply converges"
        );
        at_new = !at_new;
    }
    assert_eq!(kills, KILLS, "{KILLS} kills in {ATTEMPTS} attempts");
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
    eprintln!(
        "{engine:?}: {KILLS} kills: {seen_old} left the old rows, {seen_new} the new; {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(seen_old > 0, "no kill landed before the commit");
}

/// Applies started together: each waits for the lock, one writes, the others
/// find the database current; every row arrives once, one log entry.
fn concurrent_applies_are_serialized_and_lose_nothing(engine: Engine) {
    let (repo, versions) = k_example();
    let db = TestDb::new(engine);
    write_version(&repo, &versions.old);
    assert_code(&converge(&repo, &db), 0);
    write_version(&repo, &versions.new);
    let logs = db.count("mailops_apply_log");
    let children: Vec<Child> = (0..4)
        .map(|_| {
            mailops()
                .arg("-C")
                .arg(repo.path())
                .args(apply_args(&db))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<std::process::Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert_code(out, 0);
    }
    let messages: Vec<String> = outputs.iter().map(stderr).collect();
    let applied = messages.iter().filter(|m| m.contains("applied to")).count();
    assert_eq!(applied, 1, "{messages:#?}");
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("the database is current"))
            .count(),
        3,
        "{messages:#?}"
    );
    assert_eq!(db.count("mailops_apply_log"), logs + 1);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("1250 inserted, 1000 updated, 1250 deleted")),
        "{messages:#?}"
    );
    assert_eq!(db.count("virtual_users"), 1500);
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
}
