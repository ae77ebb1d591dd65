//! A mail repo from a hostile pull request: symbolic links, FIFOs and
//! folders where files are expected, a missing `tenants/`. mailops reads no
//! file through a link (so no secret of the CI machine reaches a log), says
//! which path it refused, and never builds, and so never removes an output,
//! from a repo it could not read whole.

mod support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Repo, dns_file, run_env, text};

/// What a secret of the machine looks like; it must never be printed.
const MARKER: &str = "MARKER-SECRET-a9f3c1";

/// `mailops -C <dir> <args>` with the marker in its environment (read
/// through `/proc/self/environ`, it must not be printed either).
fn mailops(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[("MAILOPS_TEST_MARKER", MARKER)])
}

/// A file outside the repo holding the marker, as `/etc/shadow` would.
fn secret_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.toml");
    std::fs::write(&path, format!("domain = \"{MARKER}\"\n{MARKER} = 1\n")).unwrap();
    (dir, path)
}

fn assert_refused(output: &Output, path: &str, what: &str) {
    let all = text(output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        !all.contains(MARKER),
        "the target of a link is never read:\n{all}"
    );
    assert!(
        all.contains(path) && all.contains(what),
        "names {path} as {what}:\n{all}"
    );
}

#[test]
fn symlinked_tenant_file_is_refused_and_never_read() {
    let repo = Repo::example_built();
    let (_outside, secret) = secret_file();
    symlink(&secret, repo.path().join("tenants/env.example.toml")).unwrap();
    for command in [
        &["validate"][..],
        &["validate", "--format", "json"],
        &["build"],
        &["check"],
    ] {
        let output = mailops(repo.path(), command);
        assert_refused(&output, "tenants/env.example.toml", "symbolic link");
        assert!(text(&output).contains("mailops::load::not-a-regular-file"));
    }
    // The environment, as in the report: /proc/self/environ holds the marker.
    std::fs::remove_file(repo.path().join("tenants/env.example.toml")).unwrap();
    symlink(
        "/proc/self/environ",
        repo.path().join("tenants/env.example.toml"),
    )
    .unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert_refused(&output, "tenants/env.example.toml", "symbolic link");
}

#[test]
fn symlinked_platform_file_is_refused_and_never_read() {
    let repo = Repo::example_built();
    let (_outside, secret) = secret_file();
    std::fs::remove_file(repo.path().join("mailops.toml")).unwrap();
    symlink(&secret, repo.path().join("mailops.toml")).unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert_refused(&output, "mailops.toml", "symbolic link");
}

#[test]
fn fifo_folder_and_link_named_toml_are_refused_without_blocking() {
    let repo = Repo::example_built();
    let fifo = repo.path().join("tenants/pipe.example.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::fs::create_dir(repo.path().join("tenants/folder.example.toml")).unwrap();
    // Without O_NONBLOCK and the lstat first, opening the FIFO would hang here.
    let output = mailops(repo.path(), &["validate"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("tenants/pipe.example.toml is a FIFO"), "{all}");
    assert!(
        all.contains("tenants/folder.example.toml is a folder"),
        "{all}"
    );
}

#[test]
fn dangling_symlink_does_not_let_build_remove_outputs() {
    let repo = Repo::example_built();
    let dns = repo
        .path()
        .join("generated")
        .join(dns_file("kaveri-foods.example"));
    let before = std::fs::read(&dns).expect("the build made it");
    let tenant = repo.path().join("tenants/kaveri-foods.example.toml");
    // Twice: with the compile cache the first build left, and without it.
    for cache in ["on", "off"] {
        std::fs::rename(&tenant, repo.path().join("kaveri.saved")).unwrap();
        symlink("/nonexistent/kaveri-foods.example.toml", &tenant).unwrap();
        let validate = run_env(repo.path(), &["validate"], &[("MAILOPS_CACHE", cache)]);
        assert_eq!(validate.status.code(), Some(1), "{}", text(&validate));
        assert!(!text(&validate).contains("ok:"), "{}", text(&validate));
        let build = run_env(repo.path(), &["build"], &[("MAILOPS_CACHE", cache)]);
        assert_refused(&build, "tenants/kaveri-foods.example.toml", "symbolic link");
        assert!(text(&build).contains("nothing was written"));
        assert_eq!(
            std::fs::read(&dns).ok(),
            Some(before.clone()),
            "build removed an output of a tenant it could not read (cache {cache})"
        );
        std::fs::remove_file(&tenant).unwrap();
        std::fs::rename(repo.path().join("kaveri.saved"), &tenant).unwrap();
    }
}

#[test]
fn missing_tenants_dir_is_an_error() {
    let repo = Repo::example_built();
    std::fs::remove_dir_all(repo.path().join("tenants")).unwrap();
    let validate = mailops(repo.path(), &["validate"]);
    assert_eq!(validate.status.code(), Some(1), "{}", text(&validate));
    assert!(
        text(&validate).contains("mailops::load::no-tenants-folder")
            && !text(&validate).contains("ok: 0 tenants"),
        "{}",
        text(&validate)
    );
    let build = mailops(repo.path(), &["build"]);
    assert_eq!(build.status.code(), Some(1), "{}", text(&build));
    assert!(
        repo.path()
            .join("generated")
            .join(dns_file("webhizzy.in"))
            .is_file(),
        "build removed outputs without a tenants/ folder"
    );
}

#[test]
fn symlinked_tenants_dir_is_refused_and_never_read() {
    let repo = Repo::example_built();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("leak.example.toml"),
        format!("{MARKER} = \n"),
    )
    .unwrap();
    std::fs::remove_dir_all(repo.path().join("tenants")).unwrap();
    symlink(outside.path(), repo.path().join("tenants")).unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert_refused(&output, "tenants/", "symbolic link");
    assert!(text(&output).contains("mailops::load::not-a-folder"));
}

#[test]
fn symlinked_generated_dir_is_neither_read_nor_written() {
    let repo = Repo::example_built();
    let outside = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(repo.path().join("generated")).unwrap();
    symlink(outside.path(), repo.path().join("generated")).unwrap();
    for command in ["build", "check"] {
        let output = mailops(repo.path(), &[command]);
        assert!(!output.status.success(), "{command}: {}", text(&output));
        assert!(
            text(&output).contains("generated is a symbolic link"),
            "{command}: {}",
            text(&output)
        );
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "build wrote through the link"
    );
}

#[test]
fn symlinked_file_in_generated_is_refused() {
    let repo = Repo::example_built();
    let (_outside, secret) = secret_file();
    let main_cf = repo.path().join("generated/postfix/main.cf");
    std::fs::remove_file(&main_cf).unwrap();
    symlink(&secret, &main_cf).unwrap();
    for command in ["build", "check"] {
        let output = mailops(repo.path(), &[command]);
        assert!(!output.status.success(), "{command}: {}", text(&output));
        assert!(!text(&output).contains(MARKER), "{}", text(&output));
        assert!(
            text(&output).contains("generated/postfix/main.cf is a symbolic link"),
            "{command}: {}",
            text(&output)
        );
    }
    assert!(
        std::fs::read_to_string(&secret).unwrap().contains(MARKER),
        "build never writes through a link"
    );
}

#[test]
fn symlinked_mailops_folder_is_not_written_through() {
    let repo = Repo::example_built();
    let outside = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(repo.path().join(".mailops")).ok();
    symlink(outside.path(), repo.path().join(".mailops")).unwrap();
    // The key store and the compile cache live there: both are refused.
    let output = mailops(repo.path(), &["build"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(".mailops is a symbolic link"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

/// A repo with one tenant and its private key in the key store.
fn repo_with_a_key() -> (Repo, PathBuf) {
    let repo = Repo::example_platform();
    repo.ok(&["new", "keyed.example", "--admin", "ops@webhizzy.in"]);
    let key = repo.path().join(".mailops/keys/keyed.example.dkim.key");
    assert!(key.is_file(), "`mailops new` made the key");
    (repo, key)
}

#[test]
fn world_readable_key_store_is_refused_with_chmod() {
    let (repo, key) = repo_with_a_key();
    let ok = mailops(repo.path(), &["validate"]);
    assert!(ok.status.success(), "{}", text(&ok));

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("chmod 600 {}", key.display())),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains("PRIVATE KEY"));

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let store = key.parent().unwrap();
    std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("chmod 700 {}", store.display())),
        "{}",
        text(&output)
    );
}

#[test]
fn symlinked_key_file_is_refused_and_never_read() {
    let (repo, key) = repo_with_a_key();
    let (_outside, secret) = secret_file();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&key).unwrap();
    symlink(&secret, &key).unwrap();
    let output = mailops(repo.path(), &["validate"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(MARKER), "{}", text(&output));
    assert!(
        text(&output).contains("keyed.example.dkim.key is a symbolic link"),
        "{}",
        text(&output)
    );
}

#[test]
fn tenant_file_with_a_name_that_is_not_utf8_is_an_error_not_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::example_built();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.example.toml");
    std::fs::write(repo.path().join("tenants").join(name), "domain = \"x\"\n").unwrap();
    let output = mailops(repo.path(), &["validate"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("tenants/caf\u{FFFD}.example.toml has a file name that is not UTF-8"),
        "{all}"
    );
}

#[test]
fn new_and_keygen_never_write_through_a_link_in_the_repo() {
    for linked in [".mailops", ".mailops/keys", "tenants"] {
        let repo = Repo::example_platform().folder(".mailops");
        let outside = tempfile::tempdir().unwrap();
        let link = repo.path().join(linked);
        std::fs::remove_dir_all(&link).ok();
        symlink(outside.path(), &link).unwrap();
        let new = mailops(
            repo.path(),
            &["new", "linked.example", "--admin", "ops@webhizzy.in"],
        );
        assert!(!new.status.success(), "{linked}: {}", text(&new));
        assert!(
            text(&new).contains("is a symbolic link"),
            "{linked}: {}",
            text(&new)
        );
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "`mailops new` wrote through {linked}"
        );
    }
}
