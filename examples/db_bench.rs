//! Database benchmark: `mailops apply` to MariaDB against a naive baseline.
//!
//! `scripts/bench-db [--tenants N] [--mailboxes M] [--aliases A]` builds the
//! release binaries and runs this. It needs MariaDB at 127.0.0.1:3306 (root,
//! empty password; override with `--server mysql://user@host:port`).
//!
//! 1. `synth` writes a mail repo of N tenants × M mailboxes × A aliases.
//! 2. Initial load: `mailops apply --yes` into an empty database (batched,
//!    multi-row statements in one transaction), wall time and rows per second.
//! 3. Baseline: the same rows into another empty database with one
//!    `INSERT` per row (bound parameters, one transaction, same driver).
//! 4. A one-mailbox change (one quota) in one tenant file: `mailops plan`
//!    and `mailops apply --yes` against the loaded database, wall times and
//!    rows written, and the database part of each (the sum of its
//!    `MAILOPS_TIMINGS` stages named `db …`).
//! 5. The drift check's per-domain query (rows and the sum of their change
//!    times, migration 0003) on the loaded database, beside a plain count.
//!
//! Figures only; nothing is asserted. The databases are dropped at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{Connection, MySqlConnection};

struct Args {
    tenants: usize,
    mailboxes: usize,
    aliases: usize,
    server: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tenants: 1000,
        mailboxes: 100,
        aliases: 20,
        server: "mysql://root@127.0.0.1:3306".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{value}` is not a number"))
        };
        match flag.as_str() {
            "--tenants" => args.tenants = number()?,
            "--mailboxes" => args.mailboxes = number()?,
            "--aliases" => args.aliases = number()?,
            "--server" => args.server = value.trim_end_matches('/').to_string(),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// The release binaries next to this example: `target/release/{mailops, examples/synth}`.
fn binaries() -> (PathBuf, PathBuf) {
    let me = std::env::current_exe().expect("own path");
    let examples = me.parent().expect("examples dir").to_path_buf();
    let release = examples.parent().expect("release dir").to_path_buf();
    (release.join("mailops"), examples.join("synth"))
}

fn timed(cmd: &mut Command) -> (Duration, String) {
    let start = Instant::now();
    let out = cmd.output().expect("command runs");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && out.status.code() != Some(2) {
        panic!("{cmd:?} failed ({}):\n{stderr}", out.status);
    }
    (took, stderr)
}

fn mailops(bin: &Path, repo: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("-C").arg(repo).args(args).env("NO_COLOR", "1");
    cmd.env_remove("MAILOPS_DATABASE_URL");
    cmd
}

/// The seconds of the `timing: db …` lines `MAILOPS_TIMINGS` prints.
fn database_part(stderr: &str) -> f64 {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("timing: db "))
        .filter_map(|l| l.split_whitespace().rev().nth(1)?.parse::<f64>().ok())
        .sum()
}

fn ms(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

fn rate(rows: u64, took: Duration) -> String {
    format!("{:.0} rows/s", rows as f64 / took.as_secs_f64())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!(
                "db_bench: {message}\nusage: db_bench [--tenants N] [--mailboxes M] [--aliases A] [--server URL]"
            );
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let (bin, synth) = binaries();
    let work = tempfile::tempdir().expect("temp dir");
    let repo = work.path().join("repo");
    let status = Command::new(&synth)
        .args(["--tenants", &args.tenants.to_string()])
        .args(["--mailboxes", &args.mailboxes.to_string()])
        .args(["--aliases", &args.aliases.to_string()])
        .arg("--out")
        .arg(&repo)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("synth runs");
    assert!(status.success(), "synth failed");

    let mut admin = MySqlConnection::connect(&format!("{}/mysql", args.server))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "MariaDB is not reachable at {}: {e}\nstart it with \
                 `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`",
                args.server
            )
        });
    let suffix = std::process::id();
    let batched = format!("mailops_bench_batched_{suffix}");
    let naive = format!("mailops_bench_naive_{suffix}");
    for db in [&batched, &naive] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}` CHARACTER SET utf8mb4"
        )))
        .execute(&mut admin)
        .await
        .expect("create database");
    }
    let batched_url = format!("{}/{batched}", args.server);
    let naive_url = format!("{}/{naive}", args.server);

    println!(
        "mailops database benchmark: {} tenants × {} mailboxes × {} aliases, MariaDB, {} cores",
        args.tenants,
        args.mailboxes,
        args.aliases,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Compile alone, for scale: what every plan and apply pays before touching the database.
    let (validate, _) = timed(&mut mailops(&bin, &repo, &["validate"]));
    println!(
        "\nvalidate (compile only):              {:>8.2} s",
        validate.as_secs_f64()
    );

    // 1. Initial load with mailops apply.
    let (apply, stderr) = timed(&mut mailops(
        &bin,
        &repo,
        &["apply", "--yes", "--database", &batched_url],
    ));
    let written = stderr
        .lines()
        .find(|l| l.starts_with("applied to"))
        .unwrap_or("")
        .to_string();
    let write_phase = written
        .rsplit_once("committed in ")
        .and_then(|(_, rest)| rest.trim_end_matches(" s)").parse::<f64>().ok())
        .map(Duration::from_secs_f64);
    let mut conn = MySqlConnection::connect(&batched_url)
        .await
        .expect("connect");
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut rows = 0u64;
    for table in ["virtual_domains", "virtual_users", "virtual_aliases"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count(table)))
            .fetch_one(&mut conn)
            .await
            .expect("count");
        rows += n as u64;
    }
    println!("initial apply (batched), {rows} rows:");
    println!(
        "  whole command (compile + plan + write + generated/): {:>8.2} s  {}",
        apply.as_secs_f64(),
        rate(rows, apply)
    );
    if let Some(w) = write_phase {
        println!(
            "  write phase (inserts + commit):                     {:>8.2} s  {}",
            w.as_secs_f64(),
            rate(rows, w)
        );
    }

    // 2. Naive baseline: the same rows, one INSERT per row, one transaction.
    let (_, _) = timed(&mut mailops(
        &bin,
        &repo,
        &["plan", "--database", &naive_url],
    )); // migrates
    let domains: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM virtual_domains")
        .fetch_all(&mut conn)
        .await
        .expect("read domains");
    let users: Vec<(String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT d.name, u.email, u.password, u.quota_bytes, u.name FROM virtual_users u \
         JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read users");
    let aliases: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT d.name, a.source, a.destination FROM virtual_aliases a \
         JOIN virtual_domains d ON d.id = a.domain_id ORDER BY a.id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read aliases");
    let mut naive_conn = MySqlConnection::connect(&naive_url).await.expect("connect");
    let start = Instant::now();
    let mut tx = naive_conn.begin().await.expect("begin");
    let mut ids = std::collections::HashMap::new();
    for (_, name) in &domains {
        let done = sqlx::query("INSERT INTO virtual_domains (name) VALUES (?)")
            .bind(name)
            .execute(&mut *tx)
            .await
            .expect("insert domain");
        ids.insert(name.clone(), done.last_insert_id() as i64);
    }
    for (domain, email, password, quota, name) in &users {
        sqlx::query("INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) VALUES (?, ?, ?, ?, ?)")
            .bind(ids[domain])
            .bind(email)
            .bind(password)
            .bind(quota)
            .bind(name)
            .execute(&mut *tx)
            .await
            .expect("insert user");
    }
    for (domain, source, destination) in &aliases {
        sqlx::query(
            "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (?, ?, ?)",
        )
        .bind(ids[domain])
        .bind(source)
        .bind(destination)
        .execute(&mut *tx)
        .await
        .expect("insert alias");
    }
    tx.commit().await.expect("commit");
    let baseline = start.elapsed();
    println!("naive baseline (one INSERT per row, one transaction):");
    println!(
        "  write phase (inserts + commit):                     {:>8.2} s  {}",
        baseline.as_secs_f64(),
        rate(rows, baseline)
    );
    if let Some(w) = write_phase {
        println!(
            "  batched write phase is {:.1}× the baseline's speed",
            baseline.as_secs_f64() / w.as_secs_f64()
        );
    }

    // 2b. Naive and autocommit: one INSERT per row, each its own transaction
    // (a sample of the mailbox rows; this is slow by nature).
    let sample = users.len().min(5000);
    let mut auto_conn = MySqlConnection::connect(&naive_url).await.expect("connect");
    sqlx::raw_sql("DELETE FROM virtual_aliases; DELETE FROM virtual_users")
        .execute(&mut auto_conn)
        .await
        .expect("empty the baseline tables");
    let start = Instant::now();
    for (domain, email, password, quota, name) in users.iter().take(sample) {
        sqlx::query("INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) VALUES (?, ?, ?, ?, ?)")
            .bind(ids[domain])
            .bind(email)
            .bind(password)
            .bind(quota)
            .bind(name)
            .execute(&mut auto_conn)
            .await
            .expect("insert user");
    }
    let autocommit = start.elapsed();
    println!(
        "naive baseline with autocommit (one INSERT and one commit per row), {sample} mailbox rows:"
    );
    println!(
        "  write phase:                                        {:>8.2} s  {}",
        autocommit.as_secs_f64(),
        rate(sample as u64, autocommit)
    );
    if let Some(w) = write_phase {
        println!(
            "  batched write phase is {:.1}× its speed",
            (rows as f64 / w.as_secs_f64()) / (sample as f64 / autocommit.as_secs_f64())
        );
    }

    // 3. A one-mailbox change.
    let tenant = repo.join("tenants/t0.example.toml");
    let text = std::fs::read_to_string(&tenant).expect("read t0");
    std::fs::write(
        &tenant,
        text.replacen("quota = \"1 GiB\"", "quota = \"3 GiB\"", 1),
    )
    .expect("write t0");
    let (plan, plan_out) = timed(
        mailops(&bin, &repo, &["plan", "--database", &batched_url]).env("MAILOPS_TIMINGS", "1"),
    );
    let (apply_one, stderr) = timed(
        mailops(&bin, &repo, &["apply", "--yes", "--database", &batched_url])
            .env("MAILOPS_TIMINGS", "1"),
    );
    let applied = stderr
        .lines()
        .find(|l| l.starts_with("applied to"))
        .unwrap_or("(nothing applied)");
    println!("one-mailbox change (user0@t0.example quota 1 GiB → 3 GiB):");
    println!(
        "  plan:  {:>8.2} s  (database part {:.2} s)",
        plan.as_secs_f64(),
        database_part(&plan_out)
    );
    println!(
        "  apply: {:>8.2} s  (database part {:.2} s)  — {}",
        apply_one.as_secs_f64(),
        database_part(&stderr),
        applied.trim()
    );
    let (again, again_out) = timed(
        mailops(
            &bin,
            &repo,
            &["plan", "--detailed-exitcode", "--database", &batched_url],
        )
        .env("MAILOPS_TIMINGS", "1"),
    );
    println!(
        "  plan afterwards (no changes): {:>8.2} s  (database part {:.2} s)",
        again.as_secs_f64(),
        database_part(&again_out)
    );

    // 4. The drift check's query on the loaded database: per domain, the rows
    // and the exact sum of their change times, one GROUP BY per table (what
    // every plan and apply runs before reading any row), beside the plain
    // per-domain count it replaced.
    println!(
        "per-domain tallies, both tables, {} domains (median of 5, warm):",
        domains.len()
    );
    let mut count_only = Duration::ZERO;
    for (label, expression) in [
        ("COUNT(*)", ""),
        (
            "COUNT(*) + SUM(change times)",
            ", CAST(SUM(TO_SECONDS(mailops_changed_at) * 1000000 \
             + MICROSECOND(mailops_changed_at)) AS CHAR)",
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            for table in ["virtual_users", "virtual_aliases"] {
                let sql = format!(
                    "SELECT domain_id, COUNT(*){expression} FROM {table} GROUP BY domain_id"
                );
                let groups = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await
                    .expect("tally");
                assert!(!groups.is_empty());
            }
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        if expression.is_empty() {
            count_only = median;
            println!(
                "  {label:<30} {:>7.1} ms  (min {:.1}, max {:.1})",
                ms(median),
                ms(times[0]),
                ms(times[times.len() - 1])
            );
        } else {
            println!(
                "  {label:<30} {:>7.1} ms  (min {:.1}, max {:.1}; {:.1}× the count alone)",
                ms(median),
                ms(times[0]),
                ms(times[times.len() - 1]),
                median.as_secs_f64() / count_only.as_secs_f64()
            );
        }
    }

    for db in [&batched, &naive] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{db}`"
        )))
        .execute(&mut admin)
        .await
        .expect("drop database");
    }
}
