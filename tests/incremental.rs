//! The incremental compile of `plan`, `apply` and `build` (the per-repo cache in
//! `.mailops/cache/`) gives exactly the results of a cold run.
//!
//! Every scenario keeps two copies of the same mail repo: copy A always runs
//! with the cache (warmed by a first `apply --yes`), copy B always runs with
//! `MAILOPS_CACHE=off` (a cold, full compile). The same edits are made to both
//! and the same commands run in both, and each run is compared: exit code,
//! stdout, and stderr without its `timing:` lines, with each copy's temp paths
//! replaced by placeholders (and wall-clock seconds such as "committed in
//! 0.02 s" by `<secs>`). After applies and builds the `generated/` trees
//! and the rows of the two SQLite databases (each copy has its own, passed
//! with `--database`) must be equal too, and A's rows must equal those of a
//! fresh database that a cold apply of the same files fills.
//!
//! Both copies run with `MAILOPS_TIMINGS=1`, whose stderr must hold exactly one
//! `timing: compile: …` line: `incremental, parsed N of M tenant files` when
//! the cache was used, `full (<reason>)` otherwise. What the line must say in
//! each step is checked too, but those checks (the cache's own contract, not
//! the equality of results) are collected and reported together when the
//! scenario ends, so that every equality check runs first. The counts are
//! bounds, not exact numbers (see `Want`): an implementation may parse more
//! than the edited files when it must (the tenants an edited tenant's aliases
//! point into, or a tenant whose generated file was edited by hand), and may
//! fall back to a full compile to report errors.
//!
//! The databases are read with sqlx (a dependency of the crate), not through
//! mailops and not through an external `sqlite3` client.

mod support;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use mailops::testkit::TenantText;
use support::{Repo, TEST_HASH, copy_tree, dns_file, files_under, mailops, tree};

const FORMATS: [&str; 3] = ["human", "markdown", "json"];

/// What a copy's `timing: compile:` line said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Compile {
    Incremental { parsed: usize, total: usize },
    Full(String),
}

impl Compile {
    fn parse(line: &str) -> Option<Compile> {
        let rest = line.strip_prefix("timing: compile: ")?;
        if let Some(reason) = rest.strip_prefix("full (") {
            let reason = reason.strip_suffix(')')?;
            return (!reason.is_empty()).then(|| Compile::Full(reason.to_string()));
        }
        let rest = rest.strip_prefix("incremental, parsed ")?;
        let (parsed, rest) = rest.split_once(" of ")?;
        let total = rest.strip_suffix(" tenant files")?;
        Some(Compile::Incremental {
            parsed: parsed.parse().ok()?,
            total: total.parse().ok()?,
        })
    }
}

/// What a step expects copy A's compile to have been.
///
/// How many files an incremental compile parses beyond the edited ones is
/// its own business (it may parse the tenants that an edited tenant's aliases
/// point into, say), so the counts asked for are bounds: an edit of `k` files
/// parses at least those `k` and not every file; a run after nothing changed
/// parses no more than the run before it; a run right after a successful
/// apply or build with no edit since parses nothing.
#[derive(Debug, Clone)]
enum Want {
    /// No cache could be used.
    Full,
    /// The cache was used, and this many tenant files were parsed.
    Incremental(RangeInclusive<usize>),
    /// The cache was used after the content of this many tenant files changed
    /// (or none, when files were only removed or put back as they were cached):
    /// at least these were parsed, and fewer than all.
    Edited(usize),
    /// Nothing changed since A's previous run: when that run was incremental,
    /// this one is too and parses no more files; after a full one, either.
    Again,
    /// Either (the line must still be there, exactly once, and well formed):
    /// for runs whose files have errors (a compile may fall back to a full
    /// one to report them), and for edits outside tenants/ that the contract
    /// does not pin down.
    Any,
}

/// `Want::Incremental` with exactly `n` files parsed.
fn parsed(n: usize) -> Want {
    Want::Incremental(n..=n)
}

/// `Want::Incremental` with at most `n` files parsed.
fn parsed_at_most(n: usize) -> Want {
    Want::Incremental(0..=n)
}

/// One run of the binary, normalised for comparison.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    /// Without `timing:` lines.
    stderr: String,
    /// The `timing: compile:` lines, as printed.
    compile_lines: Vec<String>,
    /// Every `timing:` line, as printed.
    timings: Vec<String>,
}

/// One copy of the mail repo, with its own database in its own temp dir.
struct Copy {
    label: &'static str,
    repo: tempfile::TempDir,
    db: tempfile::TempDir,
    cached: bool,
}

impl Copy {
    fn new(label: &'static str, template: &Path, cached: bool) -> Copy {
        let repo = tempfile::tempdir().expect("a temp dir");
        copy_tree(template, repo.path(), &[]);
        // A template that ran mailops must not hand its cache on.
        let _ = std::fs::remove_dir_all(repo.path().join(".mailops/cache"));
        Copy {
            label,
            repo,
            db: tempfile::tempdir().expect("a temp dir"),
            cached,
        }
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    fn url(&self) -> String {
        db_url(&self.db.path().join("x.db"))
    }

    /// `mailops <args>` in this copy, `--database` added to plan and apply.
    fn exec(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        self.exec_against(args, env, &self.url())
    }

    fn exec_against(&self, args: &[&str], env: &[(&str, &str)], url: &str) -> Outcome {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if matches!(args.first(), Some(&"plan") | Some(&"apply")) {
            full.insert(1, "--database".into());
            full.insert(2, url.to_string());
        }
        let mut cmd = mailops();
        cmd.current_dir(self.path())
            .args(&full)
            .stdin(Stdio::null())
            .env("MAILOPS_TIMINGS", "1");
        if !self.cached {
            cmd.env("MAILOPS_CACHE", "off");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("mailops runs");
        let code = output.status.code().unwrap_or_else(|| {
            panic!(
                "copy {}: `mailops {}` died by a signal; stderr:\n{}",
                self.label,
                full.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
        let stderr = String::from_utf8(output.stderr).expect("UTF-8 stderr");
        let compile_lines = stderr
            .lines()
            .filter(|l| l.starts_with("timing: compile:"))
            .map(str::to_string)
            .collect();
        let timings = stderr
            .lines()
            .filter(|l| l.starts_with("timing:"))
            .map(str::to_string)
            .collect();
        let stderr: String = stderr
            .lines()
            .filter(|l| !l.starts_with("timing:"))
            .map(|l| format!("{l}\n"))
            .collect();
        Outcome {
            code,
            stdout: self.normalise(&stdout),
            stderr: self.normalise(&stderr),
            compile_lines,
            timings,
        }
    }

    /// This copy's temp paths replaced by placeholders, and durations by `<secs>`.
    fn normalise(&self, text: &str) -> String {
        let text = text
            .replace(&self.db.path().display().to_string(), "<DB>")
            .replace(&self.path().display().to_string(), "<REPO>");
        without_durations(&text)
    }

    /// The tenant files on disk now.
    fn tenant_files(&self) -> usize {
        std::fs::read_dir(self.path().join("tenants"))
            .expect("tenants/ exists")
            .filter(|e| {
                e.as_ref()
                    .expect("a dir entry")
                    .path()
                    .extension()
                    .is_some_and(|x| x == "toml")
            })
            .count()
    }

    fn generated(&self) -> BTreeMap<String, Vec<u8>> {
        tree(&self.path().join("generated"))
    }

    /// The files under `.mailops/cache/` (empty when there is none).
    fn cache_files(&self) -> Vec<PathBuf> {
        let dir = self.path().join(".mailops/cache");
        let mut out = if dir.is_dir() {
            files_under(&dir)
        } else {
            Vec::new()
        };
        out.sort();
        out
    }
}

/// Every decimal number of seconds (`0.02 s`, as in "committed in 0.02 s")
/// replaced by `<secs> s`: wall times differ from run to run.
fn without_durations(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let starts_number =
            bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if starts_number {
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
                let mut k = j + 1;
                while k < bytes.len() && bytes[k].is_ascii_digit() {
                    k += 1;
                }
                let unit = &text[k..];
                if unit.starts_with(" s") && !unit[2..].starts_with(|c: char| c.is_alphanumeric()) {
                    out.push_str("<secs>");
                    i = k;
                    continue;
                }
            }
        }
        let c = text[i..].chars().next().expect("a char");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn db_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A unified diff of two texts, for failure messages.
fn diff(a: &str, b: &str) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(3)
        .header("A (cache)", "B (cold)")
        .to_string()
}

/// The rows of a SQLite database, read with sqlx: by natural keys, sorted.
/// `history` adds what depends on the order of applies (the per-domain
/// recorded state and the apply log), for comparing copies with the same history.
fn dump(db: &Path, history: bool) -> String {
    let mut queries = vec![
        "SELECT 'domain ' || quote(name) FROM virtual_domains ORDER BY name",
        "SELECT 'mailbox ' || quote(u.email) || ' ' || quote(d.name) || ' ' || quote(u.password) \
         || ' ' || quote(u.quota_bytes) || ' ' || quote(u.name) \
         FROM virtual_users u JOIN virtual_domains d ON d.id = u.domain_id ORDER BY u.email",
        "SELECT 'alias ' || quote(a.source) || ' ' || quote(a.destination) || ' ' || quote(d.name) \
         FROM virtual_aliases a JOIN virtual_domains d ON d.id = a.domain_id \
         ORDER BY a.source, a.destination",
    ];
    if history {
        queries.extend([
            "SELECT 'state ' || quote(d.name) || ' ' || quote(s.digest) || ' ' || quote(s.edits) \
             || ' ' || quote(s.applied_edits) \
             FROM mailops_domain_state s JOIN virtual_domains d ON d.id = s.domain_id ORDER BY d.name",
            "SELECT 'applied ' || quote(rows_inserted) || ' ' || quote(rows_updated) || ' ' \
             || quote(rows_deleted) FROM mailops_apply_log ORDER BY id",
        ]);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        use sqlx::{ConnectOptions, Connection, Row};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .create_if_missing(false)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
        let mut out = String::new();
        for query in queries {
            let rows = sqlx::query(query)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            for row in rows {
                let line: String = row.try_get(0).expect("a text column");
                out.push_str(&line);
                out.push('\n');
            }
        }
        conn.close().await.expect("close the database");
        out
    })
}

/// Both copies, and the cache-contract problems found so far.
struct Pair {
    a: Copy,
    b: Copy,
    problems: RefCell<Vec<String>>,
    /// What A's last checked compile line said (`None`: missing or malformed).
    last_a: RefCell<Option<Compile>>,
    /// Runs so far, to name them in problems.
    step: Cell<usize>,
    finished: Cell<bool>,
}

impl Pair {
    fn from_template(template: &Path) -> Pair {
        Pair {
            a: Copy::new("A", template, true),
            b: Copy::new("B", template, false),
            problems: RefCell::new(Vec::new()),
            last_a: RefCell::new(None),
            step: Cell::new(0),
            finished: Cell::new(false),
        }
    }

    /// The example repo plus three small tenants (8 tenant files):
    /// alpha.example (alice, bob; alias x → carol@beta.example),
    /// beta.example (alice, carol, dave), gamma.example (alice).
    fn example() -> Pair {
        let template = example_plus();
        Pair::from_template(template.path())
    }

    fn problem(&self, text: String) {
        self.problems.borrow_mut().push(text);
    }

    /// Run `mailops <args>` in both copies, assert that they did the same, check
    /// the compile lines (B: full; A: as `want`), and return A's outcome.
    #[track_caller]
    fn run(&self, args: &[&str], want: Want) -> Outcome {
        self.run_env(args, &[], want)
    }

    #[track_caller]
    fn run_env(&self, args: &[&str], env: &[(&str, &str)], want: Want) -> Outcome {
        let a = self.a.exec(args, env);
        let b = self.b.exec(args, env);
        self.step.set(self.step.get() + 1);
        let shown = format!("step {}: `mailops {}`", self.step.get(), args.join(" "));
        assert_eq!(
            a.code, b.code,
            "{shown}: exit codes differ (A with the cache, B cold)\nA stderr:\n{}\nB stderr:\n{}\nA stdout:\n{}\nB stdout:\n{}",
            a.stderr, b.stderr, a.stdout, b.stdout
        );
        assert!(
            a.stdout == b.stdout,
            "{shown}: stdout differs (A with the cache, B cold):\n{}",
            diff(&a.stdout, &b.stdout)
        );
        assert!(
            a.stderr == b.stderr,
            "{shown}: stderr (without timing: lines) differs (A with the cache, B cold):\n{}",
            diff(&a.stderr, &b.stderr)
        );
        if matches!(
            args.first(),
            Some(&"plan") | Some(&"apply") | Some(&"build")
        ) {
            let (in_a, in_b) = (format!("A, {shown}"), format!("B, {shown}"));
            self.check_compile_line(&in_b, &b, &Want::Full, self.b.tenant_files());
            let got = self.check_compile_line(&in_a, &a, &want, self.a.tenant_files());
            *self.last_a.borrow_mut() = got;
        }
        a
    }

    /// Check a run's compile line against `want`; what it said, if well formed.
    fn check_compile_line(
        &self,
        shown: &str,
        out: &Outcome,
        want: &Want,
        files: usize,
    ) -> Option<Compile> {
        let [line] = out.compile_lines.as_slice() else {
            self.problem(format!(
                "{shown}: expected exactly one `timing: compile:` line on stderr, found {}: {:?}",
                out.compile_lines.len(),
                out.compile_lines
            ));
            return None;
        };
        let Some(got) = Compile::parse(line) else {
            self.problem(format!("{shown}: malformed line {line:?}"));
            return None;
        };
        let want = match want {
            Want::Edited(k) => Want::Incremental(*k..=files.saturating_sub(1)),
            Want::Again => match &*self.last_a.borrow() {
                Some(Compile::Incremental { parsed, .. }) => Want::Incremental(0..=*parsed),
                _ => Want::Any,
            },
            other => other.clone(),
        };
        let ok = match (&want, &got) {
            (Want::Full, Compile::Full(_)) => true,
            (Want::Any, Compile::Full(_)) => true,
            (Want::Incremental(range), Compile::Incremental { parsed, total }) => {
                range.contains(parsed) && *total == files
            }
            (Want::Any, Compile::Incremental { parsed, total }) => {
                *parsed <= *total && *total == files
            }
            _ => false,
        };
        if !ok {
            self.problem(format!(
                "{shown}: expected {want:?} (with {files} tenant files on disk), got {line:?}"
            ));
        }
        Some(got)
    }

    /// Report every cache-contract problem found; every test ends with this.
    fn finish(&self) {
        self.finished.set(true);
        if !self.b.cache_files().is_empty() {
            self.problem(format!(
                "copy B ran with MAILOPS_CACHE=off but has cache files: {:?}",
                self.b.cache_files()
            ));
        }
        let problems = self.problems.borrow();
        assert!(
            problems.is_empty(),
            "the results were equal, but the cache broke its contract {} time(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }

    // Edits, made the same way to both copies.

    /// Rewrite a file; the edit must change it.
    #[track_caller]
    fn edit(&self, rel: &str, f: impl Fn(&str) -> String) {
        for copy in [&self.a, &self.b] {
            let path = copy.path().join(rel);
            let before = std::fs::read_to_string(&path).expect("a readable file");
            let after = f(&before);
            assert_ne!(before, after, "the edit of {rel} changed nothing");
            std::fs::write(&path, after).expect("write the file");
        }
    }

    /// Replace `from` (which must occur) by `to` in a file.
    #[track_caller]
    fn replace(&self, rel: &str, from: &str, to: &str) {
        self.edit(rel, |text| {
            assert!(text.contains(from), "{rel} lacks {from:?}");
            text.replacen(from, to, 1)
        });
    }

    fn write(&self, rel: &str, text: &str) {
        for copy in [&self.a, &self.b] {
            let path = copy.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
            std::fs::write(&path, text).expect("write the file");
            if rel.ends_with(".key") {
                // mailops refuses a key that others may read.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("make the key private");
            }
        }
    }

    fn read(&self, rel: &str) -> String {
        let a = std::fs::read_to_string(self.a.path().join(rel)).expect("a readable file");
        let b = std::fs::read_to_string(self.b.path().join(rel)).expect("a readable file");
        assert_eq!(a, b, "{rel} differs between the copies");
        a
    }

    fn remove(&self, rel: &str) {
        for copy in [&self.a, &self.b] {
            std::fs::remove_file(copy.path().join(rel)).expect("remove the file");
        }
    }

    fn rename(&self, from: &str, to: &str) {
        for copy in [&self.a, &self.b] {
            std::fs::rename(copy.path().join(from), copy.path().join(to)).expect("rename");
        }
    }

    /// Change the content of a file but keep its size and its modification
    /// time (as `cp -p`, `rsync -t` or `tar x` of another version can).
    #[track_caller]
    fn edit_keeping_size_and_mtime(&self, rel: &str, f: impl Fn(&[u8]) -> Vec<u8>) {
        for copy in [&self.a, &self.b] {
            let path = copy.path().join(rel);
            let mtime = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("an mtime");
            let before = std::fs::read(&path).expect("a readable file");
            let after = f(&before);
            assert_eq!(
                before.len(),
                after.len(),
                "the edit of {rel} keeps its size"
            );
            assert_ne!(before, after, "the edit of {rel} changed nothing");
            std::fs::write(&path, &after).expect("write the file");
            set_mtime(&path, mtime);
            assert_eq!(
                std::fs::metadata(&path).unwrap().modified().unwrap(),
                mtime,
                "{rel}: the mtime was restored"
            );
        }
    }

    /// Change one character of a file, keeping its size (the mtime moves).
    fn edit_one_char(&self, rel: &str) {
        for copy in [&self.a, &self.b] {
            let path = copy.path().join(rel);
            let before = std::fs::read(&path).expect("a readable file");
            let after = flip_one_char(&before);
            std::fs::write(&path, after).expect("write the file");
        }
    }

    /// Set a file's mtime to now, its content unchanged.
    fn touch(&self, rel: &str) {
        for copy in [&self.a, &self.b] {
            let path = copy.path().join(rel);
            let before = std::fs::metadata(&path).unwrap().modified().unwrap();
            let now = SystemTime::now().max(before + Duration::from_millis(1));
            set_mtime(&path, now);
            assert_ne!(
                std::fs::metadata(&path).unwrap().modified().unwrap(),
                before,
                "touch moved the mtime of {rel}"
            );
        }
    }

    // Checks.

    fn same_generated(&self) {
        let (a, b) = (self.a.generated(), self.b.generated());
        assert!(!a.is_empty(), "generated/ was written");
        let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b), "the files under generated/ differ");
        for (rel, bytes) in &a {
            assert!(
                *bytes == b[rel],
                "generated/{rel} differs (A with the cache, B cold):\n{}",
                diff(
                    &String::from_utf8_lossy(bytes),
                    &String::from_utf8_lossy(&b[rel])
                )
            );
        }
    }

    fn same_rows(&self) {
        let a = dump(&self.a.db.path().join("x.db"), true);
        let b = dump(&self.b.db.path().join("x.db"), true);
        assert!(a.contains("domain "), "the database has rows:\n{a}");
        assert!(
            a == b,
            "the databases differ (A with the cache, B cold):\n{}",
            diff(&a, &b)
        );
    }

    /// A's routing rows equal what a cold apply of the same files writes into
    /// a fresh database.
    fn rows_match_a_fresh_cold_apply(&self) {
        let fresh = tempfile::tempdir().expect("a temp dir");
        let path = fresh.path().join("fresh.db");
        let out = self
            .b
            .exec_against(&["apply", "--yes", "--allow-destroy"], &[], &db_url(&path));
        assert_eq!(
            out.code, 0,
            "a cold apply to a fresh database:\n{}",
            out.stderr
        );
        let a = dump(&self.a.db.path().join("x.db"), false);
        let truth = dump(&path, false);
        assert!(
            a == truth,
            "A's rows differ from a fresh cold apply (A, fresh):\n{}",
            diff(&a, &truth)
        );
    }

    // Steps.

    /// The first apply (no cache yet: full), then a plan with nothing to do.
    fn warm(&self) {
        assert!(self.a.cache_files().is_empty(), "A starts without a cache");
        let out = self.run(&["apply", "--yes"], Want::Full);
        assert_eq!(out.code, 0, "the warm-up apply:\n{}", out.stderr);
        if self.a.cache_files().is_empty() {
            self.problem("the warm-up apply left no file under .mailops/cache/ in A".into());
        }
        self.plan_is_empty(parsed(0), parsed(0));
        self.same_generated();
        self.same_rows();
    }

    /// `plan --detailed-exitcode` in every format: exit 0, nothing to do.
    /// A's first plan is as `first`, the next ones as `again`.
    fn plan_is_empty(&self, first: Want, again: Want) {
        self.plan_every_format(false, first, again);
    }

    /// `plan --detailed-exitcode` in every format after tenant files changed:
    /// A's first plan parses `first`, the next ones at most `again` files.
    fn plan_has_changes(&self, first: Want, again: Want) -> Vec<Outcome> {
        self.plan_every_format(true, first, again)
    }

    /// `plan --detailed-exitcode` in every format, expecting `changes` (exit
    /// 2 and `"changes": true`) or none (exit 0 and `false`).
    fn plan_every_format(&self, changes: bool, first: Want, again: Want) -> Vec<Outcome> {
        let mut want = first;
        let mut outs = Vec::new();
        for format in FORMATS {
            let out = self.run(&["plan", "--detailed-exitcode", "--format", format], want);
            let (code, what) = if changes {
                (2, "the plan has changes")
            } else {
                (0, "nothing to plan")
            };
            assert_eq!(out.code, code, "{what}:\n{}\n{}", out.stdout, out.stderr);
            if format == "json" {
                let doc: serde_json::Value =
                    serde_json::from_str(&out.stdout).expect("JSON on stdout");
                assert_eq!(doc["changes"], changes, "{}", out.stdout);
            }
            outs.push(out);
            want = again.clone();
        }
        outs
    }

    /// After `edited` tenant files changed: plan (three formats) shows changes,
    /// apply applies them, and the next plan is empty; copies and rows agree.
    fn change_cycle(&self, edited: usize) -> Vec<Outcome> {
        let outs = self.plan_has_changes(Want::Edited(edited), Want::Again);
        let out = self.run(&["apply", "--yes"], Want::Again);
        assert_eq!(out.code, 0, "apply:\n{}", out.stderr);
        self.plan_is_empty(parsed(0), parsed(0));
        self.same_generated();
        self.same_rows();
        self.rows_match_a_fresh_cold_apply();
        outs
    }

    /// A plan that fails on user errors, in every format, with `--detailed-exitcode`
    /// and without; and `validate`. Returns A's human plan.
    fn plan_fails(&self, first: Want, again: Want) -> Outcome {
        let human = self.run(&["plan", "--detailed-exitcode"], first);
        assert_eq!(human.code, 1, "the plan fails:\n{}", human.stderr);
        for format in FORMATS {
            let out = self.run(&["plan", "--format", format], again.clone());
            assert_eq!(out.code, 1, "the plan fails:\n{}", out.stderr);
        }
        let out = self.run(&["validate"], Want::Any);
        assert_eq!(out.code, 1);
        let out = self.run(&["validate", "--format", "json"], Want::Any);
        assert_eq!(out.code, 1);
        human
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if !self.finished.get() && !std::thread::panicking() {
            panic!("a scenario must end with Pair::finish()");
        }
    }
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .expect("set the mtime");
}

/// Change one ASCII letter or digit in the middle of the text to another of its kind.
fn flip_one_char(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let start = bytes.len() / 2;
    let at = (start..bytes.len())
        .chain(0..start)
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .expect("a letter or digit to change");
    out[at] = match bytes[at] {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        c => c + 1,
    };
    out
}

/// A mailbox block for a tenant file.
fn mailbox(user: &str, name: &str, quota: &str) -> String {
    TenantText::blocks()
        .mailbox(user, Some(name), TEST_HASH, Some(quota))
        .to_string()
}

/// An alias block for a tenant file.
fn alias(address: &str, to: &[&str]) -> String {
    TenantText::blocks().alias(address, to).to_string()
}

/// The example repo and three small tenants.
fn example_plus() -> Repo {
    Repo::example()
        .tenant(
            "alpha.example",
            &format!(
                "{}{}",
                mailbox("bob", "Bob", "1 GiB"),
                alias("x", &["carol@beta.example"])
            ),
        )
        .tenant(
            "beta.example",
            &format!(
                "{}{}",
                mailbox("carol", "Carol", "1 GiB"),
                mailbox("dave", "Dave", "2 GiB")
            ),
        )
        .tenant("gamma.example", "")
}

const KAVERI: &str = "tenants/kaveri-foods.example.toml";
const MEHTA: &str = "tenants/mehta-associates.example.toml";
const SHARMA: &str = "tenants/sharma-textiles.example.toml";
const ALPHA: &str = "tenants/alpha.example.toml";
const BETA: &str = "tenants/beta.example.toml";
const GAMMA: &str = "tenants/gamma.example.toml";

/// Remove the `[[mailbox]]` block of `user` (up to the next blank line).
fn without_mailbox(text: &str, user: &str) -> String {
    without_block(text, "[[mailbox]]", &format!("user = \"{user}\""))
}

/// Remove the `[[alias]]` block of `address` (up to the next blank line).
fn without_alias(text: &str, address: &str) -> String {
    without_block(text, "[[alias]]", &format!("address = \"{address}\""))
}

fn without_block(text: &str, header: &str, key_line: &str) -> String {
    let needle = format!("{header}\n{key_line}\n");
    let start = text
        .find(&needle)
        .unwrap_or_else(|| panic!("no block {needle:?} in:\n{text}"));
    let end = text[start..]
        .find("\n\n")
        .map(|i| start + i + 2)
        .unwrap_or(text.len());
    format!("{}{}", &text[..start], &text[end..])
}

// The scenarios.

#[test]
fn a_changed_quota_and_name_plan_and_apply_as_cold() {
    let pair = Pair::example();
    pair.warm();
    // anil's quota (not the max_quota line above it) and rohan's name, in one file.
    pair.replace(MEHTA, "\nquota = \"25 GiB\"", "\nquota = \"20 GiB\"");
    pair.replace(
        MEHTA,
        "name = \"Rohan D'Souza\"",
        "name = \"Rohan D'Souza (audit)\"",
    );
    let outs = pair.change_cycle(1);
    let human = &outs[0].stdout;
    assert!(human.contains("anil@mehta-associates.example"), "{human}");
    assert!(human.contains("rohan@mehta-associates.example"), "{human}");

    // Another tenant's change, built first and applied afterwards.
    pair.replace(KAVERI, "name = \"Suresh Rao\"", "name = \"Suresh R.\"");
    pair.plan_has_changes(Want::Edited(1), Want::Again);
    let out = pair.run(&["build"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.same_generated();
    // generated/ is current now; the database is not.
    let out = pair.run(
        &["plan", "--detailed-exitcode", "--format", "json"],
        parsed(0),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["database"]["summary"]["update"], 1, "{}", out.stdout);
    let out = pair.run(&["apply", "--yes"], parsed(0));
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();
    pair.finish();
}

#[test]
fn added_and_removed_mailboxes_and_an_added_alias_plan_and_apply_as_cold() {
    let pair = Pair::example();
    pair.warm();

    pair.edit(BETA, |t| format!("{t}{}", mailbox("erin", "Erin", "3 GiB")));
    let outs = pair.change_cycle(1);
    assert!(
        outs[0].stdout.contains("erin@beta.example"),
        "{}",
        outs[0].stdout
    );

    pair.edit(BETA, |t| without_mailbox(t, "dave"));
    let outs = pair.change_cycle(1);
    assert!(
        outs[0].stdout.contains("dave@beta.example"),
        "{}",
        outs[0].stdout
    );

    pair.edit(SHARMA, |t| {
        format!(
            "{t}{}",
            alias("invoices", &["accounts", "meera@mehta-associates.example"])
        )
    });
    let outs = pair.change_cycle(1);
    assert!(
        outs[0].stdout.contains("invoices@sharma-textiles.example"),
        "{}",
        outs[0].stdout
    );

    // All three kinds at once, in three files.
    pair.edit(ALPHA, |t| without_mailbox(t, "bob"));
    pair.edit(GAMMA, |t| {
        format!("{t}{}", mailbox("frank", "Frank", "1 GiB"))
    });
    pair.edit(KAVERI, |t| {
        format!("{t}{}", alias("orders", &["suresh", "info"]))
    });
    pair.change_cycle(3);
    pair.finish();
}

#[test]
fn an_added_and_a_removed_tenant_file_plan_and_apply_as_cold() {
    let pair = Pair::example();
    pair.warm();

    let text = pair.read(GAMMA).replace("gamma.example", "delta.example");
    pair.write("tenants/delta.example.toml", &text);
    let outs = pair.change_cycle(1);
    assert!(
        outs[0].stdout.contains("delta.example"),
        "{}",
        outs[0].stdout
    );
    assert!(
        pair.a.generated().contains_key(&dns_file("delta.example")),
        "the new tenant's Terraform file was written"
    );

    // Removing a tenant deletes its domain: refused without --allow-destroy.
    pair.remove(GAMMA);
    pair.plan_has_changes(Want::Edited(0), Want::Again);
    let before = dump(&pair.a.db.path().join("x.db"), true);
    let out = pair.run(&["apply", "--yes"], Want::Again);
    assert_ne!(out.code, 0, "deleting a domain needs --allow-destroy");
    assert!(out.stderr.contains("--allow-destroy"), "{}", out.stderr);
    assert_eq!(
        dump(&pair.a.db.path().join("x.db"), true),
        before,
        "a refused apply changes no row"
    );
    pair.same_rows();
    pair.same_generated();
    let out = pair.run(&["apply", "--yes", "--allow-destroy"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    assert!(
        !pair.a.generated().contains_key(&dns_file("gamma.example")),
        "the removed tenant's Terraform file is gone"
    );
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();

    // Removed and added at once: a tenant renamed to another domain.
    let text = pair
        .read("tenants/delta.example.toml")
        .replace("delta.example", "epsilon.example");
    pair.remove("tenants/delta.example.toml");
    pair.write("tenants/epsilon.example.toml", &text);
    pair.plan_has_changes(Want::Edited(1), Want::Again);
    let out = pair.run(&["apply", "--yes", "--allow-destroy"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();
    pair.finish();
}

#[test]
fn an_error_in_one_tenant_is_reported_as_cold_and_its_fix_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();
    let kaveri = pair.read(KAVERI);
    let beta = pair.read(BETA);

    // An invalid local part.
    pair.replace(KAVERI, "user = \"suresh\"", "user = \"su..resh\"");
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::mailbox::invalid-user"),
        "{}",
        out.stderr
    );
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 1, "{}", out.stderr);
    pair.same_rows();
    pair.same_generated();

    // And unknown keys, in that file and in another.
    pair.replace(KAVERI, "description = ", "descripton = ");
    pair.replace(
        BETA,
        "user = \"carol\"\n",
        "user = \"carol\"\nqouta = \"1 GiB\"\n",
    );
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::parse::unknown-key"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(BETA), "{}", out.stderr);
    assert!(out.stderr.contains(KAVERI), "{}", out.stderr);

    // Fixed: back to the applied files, so nothing to do (the cache may
    // still know them).
    pair.write(KAVERI, &kaveri);
    pair.write(BETA, &beta);
    pair.plan_is_empty(Want::Edited(0), Want::Again);

    // Broken again, then fixed into a new state.
    pair.replace(KAVERI, "user = \"suresh\"", "user = \"-suresh-@\"");
    pair.plan_fails(Want::Any, Want::Any);
    pair.replace(KAVERI, "user = \"-suresh-@\"", "user = \"suresh.rao\"");
    pair.replace(KAVERI, "to = [\"suresh\",", "to = [\"suresh.rao\",");
    pair.change_cycle(1);

    // Malformed TOML.
    let beta = pair.read(BETA);
    pair.edit(BETA, |t| format!("{t}\n[[mailbox]\nuser = \"x\"\n"));
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(out.stderr.contains(BETA), "{}", out.stderr);
    pair.write(BETA, &beta);
    pair.plan_is_empty(Want::Edited(0), Want::Again);
    pair.finish();
}

#[test]
fn removing_a_destination_in_one_tenant_makes_another_tenants_alias_dangle_as_cold() {
    let pair = Pair::example();
    pair.warm();
    let mehta = pair.read(MEHTA);

    // kaveri's accounts@ → accounts@mehta-associates.example; only mehta changes.
    pair.edit(MEHTA, |t| without_alias(t, "accounts"));
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::alias::dangling"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(KAVERI), "{}", out.stderr);
    assert!(
        out.stderr.contains("accounts@mehta-associates.example"),
        "{}",
        out.stderr
    );
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 1, "{}", out.stderr);
    pair.same_rows();

    pair.write(MEHTA, &mehta);
    pair.plan_is_empty(Want::Edited(0), Want::Again);

    // sharma's gst@ → rohan@mehta-associates.example, a mailbox; mehta drops rohan.
    pair.edit(MEHTA, |t| {
        without_mailbox(t, "rohan").replace(
            "to = [\"anil\", \"rohan\", \"meera\"]",
            "to = [\"anil\", \"meera\"]",
        )
    });
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::alias::dangling"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(SHARMA), "{}", out.stderr);
    assert!(
        out.stderr.contains("rohan@mehta-associates.example"),
        "{}",
        out.stderr
    );
    // The destination comes back as an alias instead of a mailbox: valid again.
    pair.edit(MEHTA, |t| format!("{t}{}", alias("rohan", &["anil"])));
    pair.change_cycle(1);

    // alpha's x@ → carol@beta.example; beta renames carol.
    pair.replace(BETA, "user = \"carol\"", "user = \"caroline\"");
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(out.stderr.contains(ALPHA), "{}", out.stderr);
    assert!(out.stderr.contains("carol@beta.example"), "{}", out.stderr);
    pair.replace(BETA, "user = \"caroline\"", "user = \"carol\"");
    pair.plan_is_empty(Want::Edited(0), Want::Again);
    pair.finish();
}

#[test]
fn a_cross_tenant_cycle_made_by_editing_one_file_is_reported_as_cold() {
    let pair = Pair::example();
    pair.warm();
    let beta = pair.read(BETA);

    // alpha has x → carol@beta.example. Only beta changes: carol becomes an
    // alias → x@alpha.example, and the two aliases form a cycle.
    pair.edit(BETA, |t| {
        format!(
            "{}{}",
            without_mailbox(t, "carol"),
            alias("carol", &["x@alpha.example"])
        )
    });
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::alias::cycle"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("x@alpha.example"), "{}", out.stderr);
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 1, "{}", out.stderr);
    pair.same_rows();
    pair.write(BETA, &beta);
    pair.plan_is_empty(Want::Edited(0), Want::Again);

    // A chain through three tenants, built valid one file at a time:
    // x@alpha → carol@beta → y@gamma → alice@gamma.
    pair.edit(GAMMA, |t| format!("{t}{}", alias("y", &["alice"])));
    pair.change_cycle(1);
    pair.edit(BETA, |t| {
        format!(
            "{}{}",
            without_mailbox(t, "carol"),
            alias("carol", &["y@gamma.example"])
        )
    });
    pair.change_cycle(1);
    // Then only gamma changes, and closes the cycle: y → x@alpha.example.
    pair.replace(
        GAMMA,
        "address = \"y\"\nto = [\"alice\"]",
        "address = \"y\"\nto = [\"x@alpha.example\"]",
    );
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::alias::cycle"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("carol@beta.example"), "{}", out.stderr);
    pair.finish();
}

/// Issue 22: a mailbox's `forward` (keeping a copy: a row to itself)
/// compiles incrementally, and the plan lists its new forward off the
/// platform as a cold one does (from rows: the incremental model lacks the
/// other tenants). Then a forward that closes a loop across two files is
/// reported as cold.
#[test]
fn a_mailbox_forward_plans_as_cold_and_its_loop_is_reported_as_cold() {
    let pair = Pair::example();
    pair.warm();
    pair.replace(
        BETA,
        "user = \"carol\"\n",
        "user = \"carol\"\nforward = [\"desk@outside.example\", \"dave\"]\n",
    );
    let outs = pair.change_cycle(1);
    let human = &outs[0].stdout;
    assert!(
        human.contains(
            "  external forwards: 1 new, their mail leaves the platform:\n    + carol@beta.example → desk@outside.example\n"
        ),
        "{human}"
    );
    assert!(
        human.contains("+ alias carol@beta.example → carol@beta.example"),
        "{human}"
    );
    let doc: serde_json::Value = serde_json::from_str(&outs[2].stdout).unwrap();
    assert_eq!(
        doc["database"]["external_forwards"],
        serde_json::json!([{ "source": "carol@beta.example", "destination": "desk@outside.example" }]),
        "{}",
        outs[2].stdout
    );

    // alpha has x → carol@beta.example; carol now forwards to x as well.
    pair.replace(
        BETA,
        "forward = [\"desk@outside.example\", \"dave\"]",
        "forward = [\"x@alpha.example\"]",
    );
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::alias::cycle"),
        "{}",
        out.stderr
    );
    pair.finish();
}

#[test]
fn a_hand_edit_of_a_generated_file_of_the_same_size_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();

    for rel in [
        &format!("generated/{}", dns_file("kaveri-foods.example")),
        "generated/sql/mysql/kaveri-foods.example.sql",
    ] {
        let name = rel.strip_prefix("generated/").unwrap();
        let before = pair.read(rel);
        pair.edit_one_char(rel);
        assert_eq!(pair.read(rel).len(), before.len());
        assert_ne!(pair.read(rel), before);
        let outs = pair.plan_has_changes(Want::Any, Want::Again);
        assert!(outs[0].stdout.contains(name), "{}", outs[0].stdout);
        let out = pair.run(&["build"], Want::Any);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(pair.read(rel), before, "build restores {rel}");
        pair.plan_is_empty(parsed(0), parsed(0));
        pair.same_generated();

        // The same with the mtime put back too.
        pair.edit_keeping_size_and_mtime(rel, flip_one_char);
        let outs = pair.plan_has_changes(Want::Any, Want::Again);
        assert!(outs[0].stdout.contains(name), "{}", outs[0].stdout);
        let out = pair.run(&["apply", "--yes"], Want::Any);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(pair.read(rel), before, "apply restores {rel}");
        pair.plan_is_empty(parsed(0), parsed(0));
        pair.same_generated();
    }
    pair.same_rows();
    pair.finish();
}

/// The folders of the tenants' files: the 16 DNS roots
/// (`generated/terraform/dns-<shard>`) and the two SQL folders.
const FOLDERS: usize = 18;

/// A cached build knows the entries of the folders of the tenants' files
/// from the cache (at 10,000 tenants, listing them took the kernel tens of
/// milliseconds) and still removes exactly what a cold build removes: the
/// files of a removed tenant, an owned file put there by hand; and it keeps
/// a file that is not mailops's.
#[test]
fn a_cached_build_removes_stale_files_as_cold() {
    let pair = Pair::example();
    pair.warm();
    let known = |out: &Outcome, n: usize| {
        let line =
            format!("timing: generated: {n} of {FOLDERS} tenant folders known from the cache");
        assert!(
            out.timings.contains(&line),
            "expected {line:?} in {:?}",
            out.timings
        );
    };
    let build = |want: Want| {
        // A clock tick after the last change: a folder's stat is recorded
        // only once it cannot be told apart from a later change.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let out = pair.run(&["build"], want);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out
    };
    build(Want::Again);
    known(&build(Want::Again), FOLDERS);

    pair.remove(GAMMA);
    let out = build(Want::Edited(0));
    known(&out, FOLDERS);
    for rel in [
        &dns_file("gamma.example"),
        "sql/mysql/gamma.example.sql",
        "sql/sqlite/gamma.example.sql",
    ] {
        assert!(
            out.stderr.contains(&format!("removed  generated/{rel}")),
            "{}",
            out.stderr
        );
        assert!(!pair.a.generated().contains_key(rel), "{rel} is gone");
    }
    pair.same_generated();
    // The folders changed: listed once more, then known again.
    build(Want::Again);
    known(&build(Want::Again), FOLDERS);

    // A plan between the removal and the build: the tenant leaves the cache
    // while its files stay, so the folders are not known any more, and the
    // build finds those files by listing them.
    pair.remove(SHARMA);
    pair.plan_has_changes(Want::Edited(0), Want::Again);
    let out = build(Want::Again);
    known(&out, 0);
    assert!(
        out.stderr
            .contains("removed  generated/sql/mysql/sharma-textiles.example.sql"),
        "{}",
        out.stderr
    );
    pair.same_generated();
    build(Want::Again);
    known(&build(Want::Again), FOLDERS);

    // Put there by hand: the folders' stats changed, so they are listed.
    let owned = pair.read("generated/sql/mysql/kaveri-foods.example.sql");
    pair.write("generated/sql/mysql/ghost.example.sql", &owned);
    pair.write("generated/sql/sqlite/notes.txt", "mine\n");
    let out = build(Want::Again);
    known(&out, FOLDERS - 2);
    assert!(
        out.stderr
            .contains("removed  generated/sql/mysql/ghost.example.sql"),
        "{}",
        out.stderr
    );
    assert!(pair.a.generated().contains_key("sql/sqlite/notes.txt"));
    pair.same_generated();
    // The folder with a file that is not mailops's is listed every time.
    build(Want::Again);
    known(&build(Want::Again), FOLDERS - 1);
    pair.finish();
}

/// A cached plan knows the entries of the tenants' folders from the cache,
/// as a cached build does (at 10,000 tenants a plan after a one-mailbox
/// change listed 30,000 files), and still shows exactly what a cold plan's
/// full walk of `generated/` shows: a changed tenant, a generated file
/// edited by hand (its stat changed, its folder's did not), an owned file
/// put there by hand, and the files of a removed tenant.
#[test]
fn a_cached_plan_knows_the_tenant_folders_and_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();
    let known = |outs: &[Outcome], n: usize| {
        let line =
            format!("timing: generated: {n} of {FOLDERS} tenant folders known from the cache");
        for out in outs {
            assert!(
                out.timings.contains(&line),
                "expected {line:?} in {:?}",
                out.timings
            );
        }
    };
    let shows = |outs: &[Outcome], rel: &str, status: &str| {
        let json: serde_json::Value = serde_json::from_str(&outs[2].stdout).expect("JSON");
        let found = json["files"]["files"]
            .as_array()
            .expect("a files list")
            .iter()
            .any(|f| f["path"] == rel && f["status"] == status);
        assert!(found, "{rel} {status} in the plan:\n{}", outs[2].stdout);
        assert!(outs[0].stdout.contains(rel), "{}", outs[0].stdout);
    };
    // A build records the folders' stats (a clock tick after the last change).
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let out = pair.run(&["build"], Want::Again);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    known(
        &pair.plan_every_format(false, parsed(0), parsed(0)),
        FOLDERS,
    );

    pair.replace(KAVERI, "name = \"Suresh Rao\"", "name = \"Suresh R.\"");
    let outs = pair.plan_has_changes(Want::Edited(1), Want::Again);
    known(&outs, FOLDERS);
    shows(
        &outs,
        "generated/sql/mysql/kaveri-foods.example.sql",
        "changed",
    );

    // Edited in place: the file's stat changes, its folder's does not.
    let rel = "generated/sql/sqlite/mehta-associates.example.sql";
    pair.edit(rel, |text| format!("{text}-- edited by hand\n"));
    let outs = pair.plan_has_changes(Want::Any, Want::Again);
    known(&outs, FOLDERS);
    shows(&outs, rel, "changed");

    // An owned file put there by hand: that folder is listed again.
    let owned = pair.read("generated/sql/mysql/kaveri-foods.example.sql");
    pair.write("generated/sql/mysql/ghost.example.sql", &owned);
    let outs = pair.plan_has_changes(Want::Again, Want::Again);
    known(&outs, FOLDERS - 1);
    shows(&outs, "generated/sql/mysql/ghost.example.sql", "removed");

    // A removed tenant: its files in the folders still known are looked
    // up by name (and in the one listed, found by the listing).
    pair.remove(GAMMA);
    let outs = pair.plan_has_changes(Want::Edited(0), Want::Again);
    known(&outs[..1], FOLDERS - 1);
    for rel in [
        &format!("generated/{}", dns_file("gamma.example")),
        "generated/sql/mysql/gamma.example.sql",
        "generated/sql/sqlite/gamma.example.sql",
    ] {
        shows(&outs, rel, "removed");
    }
    // A build makes generated/ what the plans showed, in both copies.
    let out = pair.run(&["build"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.same_generated();
    assert!(
        !pair
            .a
            .generated()
            .contains_key("sql/mysql/ghost.example.sql")
    );
    pair.finish();
}

#[test]
fn a_touched_tenant_file_is_incremental_and_plans_nothing() {
    let pair = Pair::example();
    pair.warm();
    pair.touch(KAVERI);
    pair.plan_is_empty(parsed_at_most(1), Want::Again);
    pair.touch(MEHTA);
    pair.touch(ALPHA);
    let out = pair.run(&["apply", "--yes"], parsed_at_most(3));
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    // Rewritten with the same bytes.
    let text = pair.read(BETA);
    pair.write(BETA, &text);
    pair.plan_is_empty(parsed_at_most(1), Want::Again);
    let out = pair.run(&["build"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.finish();
}

#[test]
fn a_tenant_edit_that_keeps_size_and_mtime_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();
    // 25 → 24 GiB: the same number of bytes, and the mtime put back (as
    // `cp -p`, `rsync -t` or `tar x` of another version of the file do).
    pair.edit_keeping_size_and_mtime(MEHTA, |bytes| {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .replacen("\nquota = \"25 GiB\"", "\nquota = \"24 GiB\"", 1)
            .into_bytes()
    });
    pair.change_cycle(1);
    // A mailbox renamed, with the alias that names it: same size, same mtime.
    pair.edit_keeping_size_and_mtime(MEHTA, |bytes| {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .replacen("user = \"meera\"", "user = \"meena\"", 1)
            .replacen("\"rohan\", \"meera\"]", "\"rohan\", \"meena\"]", 1)
            .into_bytes()
    });
    let outs = pair.change_cycle(1);
    assert!(
        outs[0].stdout.contains("meena@mehta-associates.example"),
        "{}",
        outs[0].stdout
    );
    pair.finish();
}

#[test]
fn an_edited_platform_file_compiles_full_and_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();

    // The platform's default quota changes mailboxes in tenant files that did not change.
    pair.replace("mailops.toml", "quota = \"2 GiB\"", "quota = \"3 GiB\"");
    let outs = pair.plan_has_changes(Want::Full, Want::Any);
    assert!(
        outs[0].stdout.contains("alice@alpha.example"),
        "{}",
        outs[0].stdout
    );
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();

    // A platform change that makes unedited tenants invalid…
    let schemes = "password_schemes = [\"ARGON2ID\", \"BLF-CRYPT\", \"SHA512-CRYPT\"]";
    pair.replace(
        "mailops.toml",
        schemes,
        "password_schemes = [\"ARGON2ID\", \"BLF-CRYPT\"]",
    );
    let out = pair.plan_fails(Want::Full, Want::Any);
    assert!(
        out.stderr.contains("mailops::password::scheme-not-allowed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(KAVERI), "{}", out.stderr);
    // …and valid again (the platform the cache was made with: either is right).
    pair.replace(
        "mailops.toml",
        "password_schemes = [\"ARGON2ID\", \"BLF-CRYPT\"]",
        schemes,
    );
    pair.plan_is_empty(Want::Any, Want::Any);

    // A platform edit and a tenant edit together.
    pair.replace("mailops.toml", "ttl = 3600", "ttl = 1200");
    pair.replace(BETA, "name = \"Dave\"", "name = \"David\"");
    pair.plan_has_changes(Want::Full, Want::Any);
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();
    pair.finish();
}

#[test]
fn a_corrupted_cache_is_not_trusted_and_plans_as_cold() {
    let pair = Pair::example();
    pair.warm();

    type Corrupt = fn(&[u8]) -> Vec<u8>;
    // (what, how, whether A's next compile must be full)
    let corruptions: [(&str, Corrupt, bool); 4] = [
        ("every cache file emptied", |_| Vec::new(), true),
        (
            "every cache file truncated to half",
            |b| b[..b.len() / 2].to_vec(),
            true,
        ),
        (
            "every cache file overwritten with garbage of the same size",
            |b| (0..b.len()).map(|i| (i * 131 + 7) as u8).collect(),
            true,
        ),
        (
            "one byte flipped in the middle of every cache file",
            |b| {
                let mut b = b.to_vec();
                if !b.is_empty() {
                    let mid = b.len() / 2;
                    b[mid] ^= 0x20;
                }
                b
            },
            false,
        ),
    ];
    for (i, (what, corrupt, must_be_full)) in corruptions.iter().enumerate() {
        let files = pair.a.cache_files();
        if files.is_empty() {
            pair.problem(format!("no cache files to corrupt ({what})"));
        }
        for file in &files {
            let bytes = std::fs::read(file).expect("a readable cache file");
            std::fs::write(file, corrupt(&bytes)).expect("write the cache file");
        }
        // A tenant edit at the same time, so that stale data would show.
        let quota = format!("quota = \"{} GiB\"", 3 + i);
        pair.edit(BETA, |t| {
            let at = t.find("user = \"dave\"").expect("dave");
            let (head, tail) = t.split_at(at);
            let q = tail.find("quota = \"").expect("a quota");
            let end = tail[q..].find('\n').expect("a line end") + q;
            format!("{head}{}{quota}{}", &tail[..q], &tail[end..])
        });
        let want = if *must_be_full && !files.is_empty() {
            Want::Full
        } else {
            Want::Any
        };
        let outs = pair.plan_has_changes(want, Want::Any);
        assert!(
            outs[0].stdout.contains("dave@beta.example"),
            "{what}:\n{}",
            outs[0].stdout
        );
        let out = pair.run(&["apply", "--yes"], Want::Any);
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
        pair.plan_is_empty(parsed(0), parsed(0));
        pair.same_generated();
        pair.same_rows();
    }

    // The cache directory removed.
    let dir = pair.a.path().join(".mailops/cache");
    let _ = std::fs::remove_dir_all(&dir);
    pair.replace(BETA, "name = \"Dave\"", "name = \"Dave B.\"");
    pair.plan_has_changes(Want::Full, Want::Any);
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));

    // A file where the cache directory belongs: no cache, and no failure (a
    // note about the cache on stderr is allowed here, nothing else may differ).
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();
    pair.replace(BETA, "name = \"Dave B.\"", "name = \"Dave C.\"");
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["plan", "--format", "json"][..],
        &["apply", "--yes"][..],
        &["plan", "--detailed-exitcode", "--format", "markdown"][..],
    ] {
        let a = pair.a.exec(args, &[]);
        let b = pair.b.exec(args, &[]);
        assert_eq!(a.code, b.code, "{args:?}:\n{}\n{}", a.stderr, b.stderr);
        assert!(
            a.stdout == b.stdout,
            "{args:?}:\n{}",
            diff(&a.stdout, &b.stdout)
        );
        let without_cache_notes = |s: &str| -> String {
            s.lines()
                .filter(|l| !l.contains("cache"))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let (sa, sb) = (
            without_cache_notes(&a.stderr),
            without_cache_notes(&b.stderr),
        );
        assert!(sa == sb, "{args:?}:\n{}", diff(&sa, &sb));
        pair.check_compile_line(
            &format!("{args:?} with a file at .mailops/cache"),
            &a,
            &Want::Full,
            pair.a.tenant_files(),
        );
    }
    assert!(
        dir.is_file(),
        "the file in the cache's place was left alone"
    );
    std::fs::remove_file(&dir).unwrap();
    pair.plan_is_empty(Want::Full, Want::Any);
    pair.same_generated();
    pair.same_rows();
    pair.rows_match_a_fresh_cold_apply();
    pair.finish();
}

#[test]
fn with_the_cache_off_a_warm_cache_is_neither_read_nor_written() {
    let pair = Pair::example();
    pair.warm();
    let snapshot = |p: &Pair| -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
        p.a.cache_files()
            .into_iter()
            .map(|f| {
                let m = std::fs::metadata(&f).unwrap().modified().unwrap();
                let bytes = std::fs::read(&f).unwrap();
                (f, bytes, m)
            })
            .collect()
    };
    let before = snapshot(&pair);
    // A tenant edit that keeps size and mtime: a run that trusted the cache could miss it.
    pair.edit_keeping_size_and_mtime(BETA, |b| {
        String::from_utf8(b.to_vec())
            .unwrap()
            .replacen("name = \"Dave\"", "name = \"Dove\"", 1)
            .into_bytes()
    });
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["plan", "--format", "json"][..],
        &["build"][..],
        &["plan", "--detailed-exitcode", "--format", "markdown"][..],
    ] {
        let a = pair.a.exec(args, &[("MAILOPS_CACHE", "off")]);
        let b = pair.b.exec(args, &[]);
        assert_eq!(a.code, b.code, "{args:?}: {}\n{}", a.stderr, b.stderr);
        assert!(
            a.stdout == b.stdout,
            "{args:?}:\n{}",
            diff(&a.stdout, &b.stdout)
        );
        assert!(
            a.stderr == b.stderr,
            "{args:?}:\n{}",
            diff(&a.stderr, &b.stderr)
        );
        pair.check_compile_line(
            &format!("{args:?} with MAILOPS_CACHE=off in A"),
            &a,
            &Want::Full,
            pair.a.tenant_files(),
        );
        assert_eq!(
            a.code,
            if args.len() > 1 && args[1] == "--detailed-exitcode" {
                2
            } else {
                0
            }
        );
    }
    if before != snapshot(&pair) {
        pair.problem("a run with MAILOPS_CACHE=off changed .mailops/cache/".into());
    }
    pair.same_generated();
    // With the cache back on, the edit is seen (the database still has Dave).
    let outs = pair.plan_has_changes(Want::Any, Want::Again);
    assert!(
        outs[0].stdout.contains("dave@beta.example"),
        "{}",
        outs[0].stdout
    );
    let out = pair.run(&["apply", "--yes"], Want::Again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_rows();
    pair.finish();
}

#[test]
fn a_key_store_change_is_reported_as_cold() {
    // A tenant with its private key in the key store (made by `mailops new`).
    let template = example_plus();
    template
        .run(&["new", "delta.example"])
        .exits(0)
        .stderr_has("created tenants/delta.example.toml");
    let pair = Pair::from_template(template.path());
    let keys = ".mailops/keys";
    let delta_key = format!("{keys}/delta.example.dkim.key");
    let moved_key = format!("{keys}/delta.example.old.key");
    let kaveri_key = format!("{keys}/kaveri-foods.example.dkim.key");
    let mehta_key = format!("{keys}/mehta-associates.example.mail2026.key");
    assert!(pair.a.path().join(&delta_key).is_file());
    pair.warm();

    // Renamed away: no key to check, nothing to do.
    pair.rename(&delta_key, &moved_key);
    pair.plan_is_empty(Want::Any, Want::Any);

    // Renamed to another domain's name: it does not match that domain's public key.
    pair.rename(&moved_key, &kaveri_key);
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::dkim::key-mismatch"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("kaveri-foods.example.dkim.key"),
        "{}",
        out.stderr
    );

    // Back where it belongs.
    pair.rename(&kaveri_key, &delta_key);
    pair.plan_is_empty(Want::Any, Want::Any);

    // The tenant moves to another selector; then its key file follows.
    pair.replace(
        "tenants/delta.example.toml",
        "selector = \"dkim\"",
        "selector = \"mail2\"",
    );
    let out = pair.run(&["plan", "--detailed-exitcode"], Want::Edited(1));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let delta_key2 = format!("{keys}/delta.example.mail2.key");
    pair.rename(&delta_key, &delta_key2);
    let out = pair.run(&["plan", "--detailed-exitcode"], Want::Any);
    assert_eq!(out.code, 2, "{}", out.stderr);

    // An unreadable key in the store, for a domain whose file did not change.
    pair.write(
        &mehta_key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    );
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::dkim::bad-private-key"),
        "{}",
        out.stderr
    );
    // Replaced by a readable key of another domain: a mismatch instead.
    let delta = pair.read(&delta_key2);
    pair.write(&mehta_key, &delta);
    let out = pair.plan_fails(Want::Any, Want::Any);
    assert!(
        out.stderr.contains("mailops::dkim::key-mismatch"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("mailops::dkim::bad-private-key"),
        "{}",
        out.stderr
    );
    pair.remove(&mehta_key);
    let out = pair.run(&["apply", "--yes"], Want::Any);
    assert_eq!(out.code, 0, "{}", out.stderr);
    pair.plan_is_empty(parsed(0), parsed(0));
    pair.same_generated();
    pair.same_rows();
    pair.finish();
}
