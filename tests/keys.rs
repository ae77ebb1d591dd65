//! DKIM private keys in the repo, encrypted with age (`[secrets] recipients`):
//! `mailops new` and `dkim keygen` write `keys/<domain>.<selector>.key.age`
//! and never the plaintext; `keys reencrypt` follows a change of recipients;
//! `keys import` migrates a plaintext key store; `check --identity` decrypts
//! every key and matches it against its tenant's public key; and every bad
//! input (wrong identity, stale recipients, a damaged file, a link, a
//! readable identity) is refused naming the file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{MINIMAL_PLATFORM, Repo};

/// An age identity in a private file of its own temp dir.
struct Id {
    _dir: tempfile::TempDir,
    path: PathBuf,
    recipient: String,
    key: age::x25519::Identity,
}

impl Id {
    fn new() -> Id {
        use age::secrecy::ExposeSecret;
        let key = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.txt");
        let recipient = key.to_public().to_string();
        std::fs::write(
            &path,
            format!(
                "# public key: {recipient}\n{}\n",
                key.to_string().expose_secret()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Id {
            _dir: dir,
            path,
            recipient,
            key,
        }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Decrypt an age file with this identity (the test's own use of age).
    fn decrypt(&self, bytes: &[u8]) -> Result<Vec<u8>, age::DecryptError> {
        use std::io::Read;
        let decryptor = age::Decryptor::new_buffered(bytes)?;
        let mut reader = decryptor.decrypt(std::iter::once(&self.key as &dyn age::Identity))?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        Ok(out)
    }
}

fn secrets_block(recipients: &[&Id]) -> String {
    let list: Vec<String> = recipients
        .iter()
        .map(|id| format!("\"{}\"", id.recipient))
        .collect();
    format!("\n[secrets]\nrecipients = [{}]\n", list.join(", "))
}

/// A repo whose platform file encrypts to `recipients`.
fn repo_for(recipients: &[&Id]) -> Repo {
    Repo::new().file(
        "mailops.toml",
        &format!("{MINIMAL_PLATFORM}{}", secrets_block(recipients)),
    )
}

/// Set the recipients of the repo's platform file.
fn set_recipients(repo: &Repo, recipients: &[&Id]) {
    std::fs::write(
        repo.path().join("mailops.toml"),
        format!("{MINIMAL_PLATFORM}{}", secrets_block(recipients)),
    )
    .unwrap();
}

const KEY: &str = "keys/acme.example.dkim.key.age";

fn key_bytes(repo: &Repo) -> Vec<u8> {
    std::fs::read(repo.path().join(KEY)).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file below `dir` (not `.git/`), for "no plaintext key anywhere".
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if path.is_dir() {
            files.extend(all_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn new_writes_the_private_key_encrypted_to_every_recipient_and_no_plaintext() {
    let (host, operator) = (Id::new(), Id::new());
    let repo = repo_for(&[&host, &operator]);
    let out = repo.ok(&["new", "acme.example"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("encrypted to 2 recipients"), "{stderr}");

    let sealed = key_bytes(&repo);
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!contains(&sealed, b"PRIVATE KEY"));
    assert!(
        !repo.path().join(".mailops/keys").exists(),
        "no plaintext key store"
    );
    for file in all_files(repo.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, b"PRIVATE KEY"),
            "{} holds a plaintext key",
            file.display()
        );
    }
    for id in [&host, &operator] {
        let pem = id.decrypt(&sealed).expect("each recipient can decrypt");
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    }
    assert!(Id::new().decrypt(&sealed).is_err());

    repo.ok(&["build"]);
    repo.run(&["check", "--identity", host.arg()])
        .exits(0)
        .stderr_has("1 DKIM private key in keys/ decrypt and match");
    // The identity may come from the environment instead.
    repo.run_with_identity_env(&operator, &["check"]).exits(0);
}

trait RunWithEnv {
    fn run_with_identity_env(&self, id: &Id, args: &[&str]) -> support::Run;
}

impl RunWithEnv for Repo {
    fn run_with_identity_env(&self, id: &Id, args: &[&str]) -> support::Run {
        support::Run::of(
            self.mailops()
                .args(args)
                .env("MAILOPS_AGE_IDENTITY", id.arg()),
        )
    }
}

#[test]
fn git_log_of_a_repo_with_a_new_tenant_holds_no_private_key() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(repo.path())
            .output()
            .expect("git is installed (the tests need it)");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    // As `mailops init` writes it: the compile cache and local state stay out.
    std::fs::write(repo.path().join(".gitignore"), ".mailops/\n").unwrap();
    repo.ok(&["new", "acme.example"]);
    repo.ok(&[
        "dkim",
        "keygen",
        "acme.example",
        "--selector",
        "ed",
        "--algorithm",
        "ed25519",
    ]);
    repo.ok(&["build"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "acme.example"]);
    let files = git(&["ls-files"]);
    for key in [KEY, "keys/acme.example.ed.key.age"] {
        assert!(files.contains(key), "{key} is committed:\n{files}");
    }
    let history = git(&["log", "-p", "--all", "--binary"]);
    assert!(
        history.contains("acme.example"),
        "the history has the tenant"
    );
    assert!(
        !history.contains("PRIVATE KEY"),
        "git log -p holds a private key"
    );
}

#[test]
fn dkim_keygen_writes_encrypted_keys_and_refuses_a_plaintext_key_dir() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    let before = key_bytes(&repo);
    repo.run(&["dkim", "keygen", "acme.example"])
        .exits(1)
        .stderr_has("already exists; pass --force");
    repo.ok(&["dkim", "keygen", "acme.example", "--force"]);
    assert_ne!(key_bytes(&repo), before, "a new key");
    let dir = tempfile::tempdir().unwrap();
    repo.run(&[
        "dkim",
        "keygen",
        "acme.example",
        "--force",
        "--key-dir",
        dir.path().to_str().unwrap(),
    ])
    .exits(1)
    .stderr_has("--key-dir")
    .stderr_has("[secrets]");
    repo.ok(&["build"]);
    repo.run(&["check", "--identity", host.arg()]).exits(0);
}

#[test]
fn adding_a_recipient_needs_reencrypt_and_then_the_new_recipient_can_decrypt() {
    let (host, operator) = (Id::new(), Id::new());
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["build"]);
    set_recipients(&repo, &[&host, &operator]);
    let run = repo.run(&["validate", "--format", "json"]).exits(1);
    assert_eq!(run.codes(), ["mailops::dkim::stale-recipients"]);
    repo.run(&["validate"])
        .exits(1)
        .stderr_has("keys/acme.example.dkim.key.age is encrypted to 1 recipient, but `[secrets] recipients` lists 2")
        .stderr_has("mailops keys reencrypt");
    // Without an identity: refused, nothing written.
    repo.run(&["keys", "reencrypt"])
        .exits(1)
        .stderr_has("--identity FILE or set MAILOPS_AGE_IDENTITY");
    repo.ok(&["keys", "reencrypt", "--identity", host.arg()]);
    repo.ok(&["validate"]);
    operator
        .decrypt(&key_bytes(&repo))
        .expect("the new recipient can decrypt");
    repo.run(&["check", "--identity", operator.arg()]).exits(0);
}

#[test]
fn a_key_encrypted_to_no_current_recipient_is_named_with_reencrypt() {
    let (old, new) = (Id::new(), Id::new());
    let repo = repo_for(&[&old]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["build"]);
    // One recipient replaced by another: the count is the same, so only
    // decrypting can tell.
    set_recipients(&repo, &[&new]);
    repo.ok(&["validate"]);
    repo.run(&["check", "--identity", new.arg()])
        .exits(1)
        .stderr_has(KEY)
        .stderr_has("encrypted to old recipients")
        .stderr_has("mailops keys reencrypt");
    // The old identity can still decrypt the file as it is (it is no current
    // recipient, which reencrypt allows).
    repo.ok(&["keys", "reencrypt", "--identity", old.arg()]);
    repo.run(&["check", "--identity", new.arg()]).exits(0);
    assert!(
        old.decrypt(&key_bytes(&repo)).is_err(),
        "the old recipient is out"
    );
}

#[test]
fn a_wrong_identity_is_refused() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["build"]);
    let stranger = Id::new();
    repo.run(&["check", "--identity", stranger.arg()])
        .exits(1)
        .stderr_has("is not one of the `[secrets] recipients`")
        .stderr_has(&stranger.recipient);
    let garbage = tempfile::tempdir().unwrap();
    let path = garbage.path().join("id");
    std::fs::write(&path, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    repo.run(&["check", "--identity", path.to_str().unwrap()])
        .exits(1)
        .stderr_has(":1: not an age X25519 identity")
        .stderr_lacks("NOTAKEY");
}

#[test]
fn an_identity_file_readable_by_others_is_refused_with_the_chmod() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["build"]);
    std::fs::set_permissions(&host.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    repo.run(&["check", "--identity", host.arg()])
        .exits(1)
        .stderr_has(&format!("run `chmod 600 {}`", host.arg()));
    // A link to the identity is not followed.
    std::fs::set_permissions(&host.path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = host.path.with_file_name("link");
    std::os::unix::fs::symlink(&host.path, &link).unwrap();
    repo.run(&["check", "--identity", link.to_str().unwrap()])
        .exits(1)
        .stderr_has("symbolic link");
}

#[test]
fn a_damaged_key_file_is_named() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["new", "other.example"]);
    repo.ok(&["build"]);
    let other = repo.path().join("keys/other.example.dkim.key.age");
    let other_before = std::fs::read(&other).unwrap();

    // The payload altered: only decrypting finds it.
    let mut sealed = key_bytes(&repo);
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    std::fs::write(repo.path().join(KEY), &sealed).unwrap();
    repo.ok(&["validate"]);
    repo.run(&["check", "--identity", host.arg()])
        .exits(1)
        .stderr_has(&format!("{KEY}: a damaged age file"));
    // reencrypt decrypts every key before it writes any.
    repo.run(&["keys", "reencrypt", "--identity", host.arg()])
        .exits(1)
        .stderr_has(KEY)
        .stderr_has("nothing was re-encrypted");
    assert_eq!(std::fs::read(&other).unwrap(), other_before);

    // Not an age file at all: the compile says so.
    std::fs::write(repo.path().join(KEY), "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let run = repo.run(&["validate", "--format", "json"]).exits(1);
    assert_eq!(run.codes(), ["mailops::dkim::bad-encrypted-key"]);
    repo.run(&["validate"])
        .exits(1)
        .stderr_has("not an age file");
}

#[test]
fn a_link_or_a_missing_file_where_a_key_should_be_is_refused() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("key.age");
    std::fs::rename(repo.path().join(KEY), &target).unwrap();
    let run = repo.run(&["validate", "--format", "json"]).exits(1);
    assert_eq!(run.codes(), ["mailops::dkim::missing-encrypted-key"]);

    std::os::unix::fs::symlink(&target, repo.path().join(KEY)).unwrap();
    let run = repo.run(&["validate", "--format", "json"]).exits(1);
    assert_eq!(run.codes(), ["mailops::dkim::bad-encrypted-key"]);
    repo.run(&["validate"])
        .exits(1)
        .stderr_has("it is a symbolic")
        .stderr_has("never follows links");
    repo.run(&["check", "--identity", host.arg()])
        .exits(1)
        .stderr_has("mailops::dkim::bad-encrypted-key");
}

#[test]
fn import_encrypts_a_plaintext_key_store_and_says_to_delete_it() {
    let host = Id::new();
    // Today's repo: no [secrets], keys in the plaintext key store.
    let repo = Repo::new();
    repo.ok(&["new", "acme.example"]);
    let plain = repo.path().join(".mailops/keys/acme.example.dkim.key");
    assert!(
        plain.is_file(),
        "without [secrets], the plaintext key store"
    );
    repo.ok(&["build"]);

    set_recipients(&repo, &[&host]);
    let run = repo.run(&["validate", "--format", "json"]).exits(1);
    assert_eq!(run.codes(), ["mailops::dkim::missing-encrypted-key"]);
    repo.run(&["keys", "import", "--key-dir", ".mailops/keys"])
        .exits(0)
        .stderr_has("imported 1 key into keys/")
        .stderr_has("now delete the plaintext keys: `rm -r .mailops/keys`");
    assert_eq!(
        host.decrypt(&key_bytes(&repo)).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    repo.run(&["check", "--identity", host.arg()]).exits(0);
    // Run again: the key is there already, nothing is replaced.
    let before = key_bytes(&repo);
    repo.run(&["keys", "import", "--key-dir", ".mailops/keys"])
        .exits(0)
        .stderr_has("imported 0 keys into keys/ (1 already there)");
    assert_eq!(key_bytes(&repo), before);
}

#[test]
fn import_refuses_a_key_of_another_tenant_and_writes_nothing() {
    let host = Id::new();
    let repo = Repo::new();
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["new", "other.example"]);
    let keys = repo.path().join(".mailops/keys");
    std::fs::copy(
        keys.join("other.example.dkim.key"),
        keys.join("acme.example.dkim.key"),
    )
    .unwrap();
    set_recipients(&repo, &[&host]);
    repo.run(&["keys", "import", "--key-dir", ".mailops/keys"])
        .exits(1)
        .stderr_has("acme.example.dkim.key: not the private key")
        .stderr_has("nothing was imported");
    assert!(!repo.path().join("keys").exists());
}

#[test]
fn without_secrets_the_key_commands_say_what_is_missing() {
    let host = Id::new();
    let repo = Repo::new();
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["build"]);
    repo.run(&["keys", "reencrypt", "--identity", host.arg()])
        .exits(1)
        .stderr_has("no `[secrets] recipients`");
    repo.run(&["check", "--identity", host.arg()])
        .exits(1)
        .stderr_has("no `[secrets]`");
}

#[test]
fn new_refuses_to_encrypt_to_a_list_with_a_bad_recipient() {
    let host = Id::new();
    let repo = Repo::new().file(
        "mailops.toml",
        &format!(
            "{MINIMAL_PLATFORM}\n[secrets]\nrecipients = [\"{}\", \"age1nope\"]\n",
            host.recipient
        ),
    );
    repo.run(&["new", "acme.example"])
        .exits(1)
        .stderr_has("`[secrets] recipients` in mailops.toml has a problem");
    assert!(!repo.path().join("keys").exists());
    assert!(!repo.path().join(".mailops/keys").exists());
    assert!(!repo.tenant_file("acme.example").exists());
}

#[test]
fn the_compile_cache_sees_a_key_removed_or_reencrypted_in_keys() {
    let (host, operator) = (Id::new(), Id::new());
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["new", "other.example"]);
    repo.ok(&["build"]);
    // From the cache: nothing changed.
    let cached =
        support::Run::of(repo.mailops().args(["build"]).env("MAILOPS_TIMINGS", "1")).exits(0);
    assert!(
        cached.stderr.contains("compile: incremental"),
        "{}",
        cached.stderr
    );
    // A key gone from keys/: the cache is not used, the key is missed.
    let sealed = key_bytes(&repo);
    std::fs::remove_file(repo.path().join(KEY)).unwrap();
    let run = repo.run(&["build"]).exits(1);
    assert!(
        run.stderr.contains("mailops::dkim::missing-encrypted-key"),
        "{}",
        run.stderr
    );
    std::fs::write(repo.path().join(KEY), &sealed).unwrap();
    repo.ok(&["build"]);
    // A recipient added and the keys re-encrypted: each step is seen.
    set_recipients(&repo, &[&host, &operator]);
    repo.run(&["build"])
        .exits(1)
        .stderr_has("mailops::dkim::stale-recipients");
    repo.ok(&["keys", "reencrypt", "--identity", host.arg()]);
    repo.ok(&["build"]);
    repo.run(&["check", "--identity", operator.arg()]).exits(0);
}

#[test]
fn a_key_of_another_tenant_is_caught_by_check_identity() {
    let host = Id::new();
    let repo = repo_for(&[&host]);
    repo.ok(&["new", "acme.example"]);
    repo.ok(&["new", "other.example"]);
    repo.ok(&["build"]);
    std::fs::copy(
        repo.path().join("keys/other.example.dkim.key.age"),
        repo.path().join(KEY),
    )
    .unwrap();
    // Without an identity nothing can tell; with one, the file is named.
    repo.ok(&["check"]);
    repo.run(&["check", "--identity", host.arg()])
        .exits(1)
        .stderr_has(&format!(
            "{KEY}: its private key does not belong to the public key of selector `dkim`"
        ));
}
