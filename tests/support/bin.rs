//! Running the built `mailops` binary: one way to start it, with an
//! environment that no variable of the developer's shell can change, and
//! what one run did.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The project root (the example mail repo).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Variables mailops reads that a test sets itself when it wants them: the
/// database and its password, the age identity, the compile cache and timings, the lock wait,
/// and the debug build's test hooks.
const CLEARED: &[&str] = &[
    "MAILOPS_DATABASE_URL",
    "MAILOPS_DB_PASSWORD",
    "MAILOPS_AGE_IDENTITY",
    "MAILOPS_CACHE",
    "MAILOPS_TIMINGS",
    "MAILOPS_LOCK_TIMEOUT",
    "MAILOPS_TEST_FAIL_AFTER",
    "MAILOPS_TEST_HOLD_LOCK_MS",
    "MAILOPS_TEST_HOLD_AFTER_READ_MS",
    "CLICOLOR_FORCE",
];

/// `mailops`, run from the project root (so that paths it prints are
/// relative), without colour and with none of the [`CLEARED`] variables.
pub fn mailops() -> Mailops {
    let mut cmd = Command::new(assert_cmd::cargo_bin!("mailops"));
    cmd.current_dir(root()).env("NO_COLOR", "1");
    for name in CLEARED {
        cmd.env_remove(name);
    }
    Mailops { cmd, stdin: None }
}

/// A `mailops` command line being put together: a [`Command`] that can also
/// be given its standard input as text ([`Mailops::write_stdin`]). Without
/// one, `output` runs it with an empty stdin.
#[derive(Debug)]
pub struct Mailops {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Mailops {
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(&mut self, stdin: Stdio) -> &mut Self {
        self.cmd.stdin(stdin);
        self
    }

    pub fn stdout(&mut self, stdout: Stdio) -> &mut Self {
        self.cmd.stdout(stdout);
        self
    }

    pub fn stderr(&mut self, stderr: Stdio) -> &mut Self {
        self.cmd.stderr(stderr);
        self
    }

    /// What `output` writes to the process's standard input.
    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(input.into());
        self
    }

    /// Start it in the background (stdin, stdout and stderr as set).
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.cmd.spawn()
    }

    /// Run it to the end, capturing stdout and stderr.
    pub fn output(&mut self) -> io::Result<Output> {
        match &self.stdin {
            Some(input) => output_with_stdin(&mut self.cmd, input),
            None => self.cmd.output(),
        }
    }
}

/// Run a command to the end with `input` on its standard input, capturing
/// stdout and stderr. The command may exit without reading all of it.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("a piped stdin");
    let input = input.to_vec();
    // A thread, so that a child that writes before it reads cannot block us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output()?;
    match writer.join().expect("the stdin writer does not panic") {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(output),
    }
}

/// `mailops -C <dir> <args>`; stdin is empty (not a terminal).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[])
}

/// [`run`] with environment variables set.
pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = mailops();
    cmd.arg("-C").arg(dir).args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("mailops runs")
}

/// [`run`], which must succeed.
#[track_caller]
pub fn ok(dir: &Path, args: &[&str]) -> Output {
    let output = run(dir, args);
    assert!(
        output.status.success(),
        "mailops {args:?} failed\n{}",
        show(&output)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Everything a run printed: stdout, then stderr.
pub fn text(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// A process's exit status and both of its streams, for failure messages.
pub fn show(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        stdout(output),
        stderr(output)
    )
}

/// Assert an exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// `mailops hash-password` of `password`: a `{ARGON2ID}` hash.
pub fn hash_password(password: &str) -> String {
    let output = mailops()
        .arg("hash-password")
        .write_stdin(format!("{password}\n"))
        .output()
        .expect("mailops hash-password runs");
    assert!(
        output.status.success(),
        "hash-password failed\n{}",
        show(&output)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 stdout")
        .trim()
        .to_string()
}

/// One `{ARGON2ID}` hash for every mailbox of every test (hashing is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("correct horse"))
}

/// A second valid hash, for "password changed".
pub fn other_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("battery staple"))
}

/// What one run of the binary did, checked in a chain:
/// `repo.run(&["validate"]).exits(1).stderr_has("…")`.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(cmd: &mut Mailops) -> Run {
        let output = cmd.output().expect("mailops runs");
        Run {
            code: output.status.code().expect("an exit code"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }

    /// Assert the exit code; returns self for more checks.
    pub fn exits(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stderr_lacks(self, text: &str) -> Self {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// The codes of `--format json` output, in order.
    pub fn codes(&self) -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&self.stdout).expect("JSON on stdout");
        doc["diagnostics"]
            .as_array()
            .expect("a diagnostics list")
            .iter()
            .map(|d| d["code"].as_str().expect("a code").to_string())
            .collect()
    }
}

/// `git` in `dir`, with a fixed identity and none of the user's or the
/// system's configuration; it must succeed (a machine without git fails
/// here, loudly). Its standard output, trimmed.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git is installed");
    assert!(
        output.status.success(),
        "git {args:?} failed:\n{}",
        show(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
