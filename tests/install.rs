//! `mailops install`: configs and DKIM keys land under the root with the right
//! modes and owners, secrets are filled, nothing is written without them, and
//! onboarding a tenant asks for no reload.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{Repo, example_tenants, files_under, mode, run_env, text};

/// `mailops -C <dir> <args>`, with `MAILOPS_DB_PASSWORD` set when a password is given.
fn mailops(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    run_env(
        dir,
        args,
        password.map(|p| ("MAILOPS_DB_PASSWORD", p)).as_slice(),
    )
}

/// A copy of the example repo with a private key in the key store for every tenant, built.
fn repo_with_keys() -> Repo {
    let repo = Repo::example();
    for tenant in example_tenants() {
        // One key per `[dkim]` / `[[dkim]]` entry, of the entry's algorithm.
        let entries = match &tenant.toml["dkim"] {
            toml::Value::Array(keys) => keys.clone(),
            one => vec![one.clone()],
        };
        for key in entries {
            let selector = key
                .get("selector")
                .and_then(|s| s.as_str())
                .unwrap_or("dkim");
            let ed25519 = key["public_key"]
                .as_str()
                .unwrap()
                .starts_with("MCowBQYDK2Vw");
            let algorithm = if ed25519 { "ed25519" } else { "rsa2048" };
            repo.ok(&[
                "dkim",
                "keygen",
                &tenant.domain,
                "--selector",
                selector,
                "--algorithm",
                algorithm,
                "--force",
            ]);
        }
    }
    repo.ok(&["build"]);
    repo
}

fn group_id(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|line| {
            let mut parts = line.split(':');
            (parts.next()? == name).then_some(())?;
            parts.next()?;
            parts.next()?.parse().ok()
        })
}

#[test]
fn install_refuses_without_the_database_password_and_writes_nothing() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("MAILOPS_DB_PASSWORD"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[test]
fn install_refuses_a_password_that_would_break_a_config_file() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some("two words"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        !text(&output).contains("two words"),
        "the password is never echoed"
    );
}

#[test]
fn install_places_configs_and_keys_with_owners_and_modes() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let secret = "s3cret-for-the-test";
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some(secret),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !text(&output).contains(secret),
        "the password is never printed"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("reload: postfix dovecot rspamd"),
        "a first install changes every service's files: {}",
        text(&output)
    );

    let lookup = root.path().join("etc/postfix/virtual-domains.cf");
    let lookup_text = std::fs::read_to_string(&lookup).unwrap();
    assert!(lookup_text.contains(secret) && !lookup_text.contains("@@MAILOPS_DB_PASSWORD@@"));
    assert_eq!(mode(&lookup), 0o640);
    assert_eq!(mode(&root.path().join("etc/postfix/main.cf")), 0o644);
    assert_eq!(
        mode(&root.path().join("etc/dovecot/dovecot-sql.conf.ext")),
        0o640
    );
    let key = root.path().join("var/lib/rspamd/dkim/webhizzy.in.dkim.key");
    assert_eq!(mode(&key), 0o640);

    // Owners: mailops sets them when it runs as root, as it does on the mail host and in CI.
    let running_as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    assert!(
        running_as_root,
        "run the tests as root (as CI does): this test checks file owners"
    );
    let postfix = group_id("postfix").expect("the postfix group (scripts/install-mail-packages)");
    let rspamd = group_id("_rspamd").expect("the _rspamd group (scripts/install-mail-packages)");
    assert_eq!(std::fs::metadata(&lookup).unwrap().gid(), postfix);
    assert_eq!(std::fs::metadata(&key).unwrap().gid(), rspamd);
    assert_eq!(std::fs::metadata(&key).unwrap().uid(), 0);
    for entry in files_under(root.path()) {
        let contents = std::fs::read(&entry).unwrap();
        let holds_secret = String::from_utf8_lossy(&contents).contains(secret)
            || entry.extension().is_some_and(|e| e == "key");
        if holds_secret {
            assert_eq!(
                mode(&entry) & 0o007,
                0,
                "{} is world-readable",
                entry.display()
            );
        }
    }

    // Installing again changes nothing and asks for no reload.
    let again = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some(secret),
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("reload: none"),
        "{}",
        text(&again)
    );
}

#[test]
fn onboarding_a_tenant_installs_its_key_and_asks_for_no_reload() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_string();
    let first = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
    assert!(first.status.success(), "{}", text(&first));

    let new = mailops(
        repo.path(),
        &["new", "onboard.example", "--admin", "ops@webhizzy.in"],
        None,
    );
    assert!(new.status.success(), "{}", text(&new));
    let build = mailops(repo.path(), &["build"], None);
    assert!(build.status.success(), "{}", text(&build));
    let second = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("reload: none"),
        "{}",
        text(&second)
    );
    assert!(
        root.path()
            .join("var/lib/rspamd/dkim/onboard.example.dkim.key")
            .is_file()
    );
}

#[test]
fn install_refuses_a_generated_folder_that_is_not_current() {
    let repo = repo_with_keys();
    let main_cf = repo.path().join("generated/postfix/main.cf");
    let edited = std::fs::read_to_string(&main_cf).unwrap() + "# hand edit\n";
    std::fs::write(&main_cf, edited).unwrap();
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some("pw"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("mailops build"), "{}", text(&output));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

/// Every path under a folder (links not followed) with its contents (a
/// link's target, a folder's "dir") and mode.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
            };
            out.push((path, what, meta.permissions().mode() & 0o7777));
        }
    }
    out.sort();
    out
}

#[test]
fn install_refuses_symlinked_directory_under_root() {
    let repo = repo_with_keys();
    for (linked, mode) in [("etc/postfix", 0o755), ("var/lib/rspamd/dkim", 0o777)] {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let link = root.path().join(linked);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let before = snapshot(root.path());
        let output = mailops(
            repo.path(),
            &["install", "--root", root.path().to_str().unwrap()],
            Some("pw-for-the-test"),
        );
        assert!(!output.status.success(), "{}", text(&output));
        assert!(
            text(&output).contains(&format!("{} is a symbolic link", link.display())),
            "{}",
            text(&output)
        );
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing was written through {linked}"
        );
        assert_eq!(
            snapshot(root.path()),
            before,
            "nothing under the root changed"
        );
    }
}

#[test]
fn install_refuses_a_folder_writable_by_others() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some("pw"),
    );
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("chmod go-w {}", etc.display())),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_dir(&etc).unwrap().count(), 0);

    // Root's, with the sticky bit (like /tmp): nobody can swap another's file.
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some("pw"),
    );
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn install_is_all_or_nothing() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_string();
    let first = mailops(
        repo.path(),
        &["install", "--root", &root_arg],
        Some("old-pw"),
    );
    assert!(first.status.success(), "{}", text(&first));

    // The next install would rewrite every file holding the password; the
    // last file it writes (a key) cannot be, as a folder stands there.
    let blocker = root
        .path()
        .join("var/lib/rspamd/dkim/xn--11bg9a6av5ff.example.dkim.key");
    std::fs::remove_file(&blocker).unwrap();
    std::fs::create_dir(&blocker).unwrap();
    let before = snapshot(root.path());
    let failed = mailops(
        repo.path(),
        &["install", "--root", &root_arg],
        Some("new-pw"),
    );
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(text(&failed).contains("is a folder"), "{}", text(&failed));
    assert_eq!(
        snapshot(root.path()),
        before,
        "a failed install changed nothing (no file replaced, nothing staged left)"
    );

    // Into an empty root: the folders it made are gone again too.
    let empty = tempfile::tempdir().unwrap();
    let blocker = empty
        .path()
        .join("var/lib/rspamd/dkim/webhizzy.in.dkim.key");
    std::fs::create_dir_all(&blocker).unwrap();
    let before = snapshot(empty.path());
    let failed = mailops(
        repo.path(),
        &["install", "--root", empty.path().to_str().unwrap()],
        Some("pw"),
    );
    assert!(!failed.status.success(), "{}", text(&failed));
    assert_eq!(snapshot(empty.path()), before);
    assert!(!empty.path().join("etc").exists());
}

#[test]
fn install_removes_keys_of_undeclared_tenants() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_string();
    let first = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
    assert!(first.status.success(), "{}", text(&first));
    let key_dir = root.path().join("var/lib/rspamd/dkim");
    let key = key_dir.join("kaveri-foods.example.dkim.key");
    let pem = std::fs::read(&key).unwrap();
    // A key mailops did not install (not in its selector map) is not its to move.
    let foreign = key_dir.join("operator.example.manual.key");
    std::fs::write(&foreign, "the operator's").unwrap();
    // The tenant's MTA-STS policy and autoconfig file, served by nginx.
    let web = root.path().join("var/www/mailops");
    let policy = web.join("mta-sts/kaveri-foods.example.txt");
    let autoconfig = web.join("autoconfig/kaveri-foods.example.xml");
    assert!(policy.is_file() && autoconfig.is_file());
    let notes = web.join("mta-sts/NOTES");
    std::fs::write(&notes, "the operator's").unwrap();

    // The tenant leaves; its file goes, generated/ follows.
    std::fs::remove_file(repo.path().join("tenants/kaveri-foods.example.toml")).unwrap();
    let build = mailops(repo.path(), &["build"], None);
    assert!(build.status.success(), "{}", text(&build));
    let second = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        !key.exists(),
        "the key of a tenant no longer declared stays in Rspamd's folder"
    );
    assert!(
        text(&second).contains(&format!("archived {}", key.display())),
        "install says what it archived: {}",
        text(&second)
    );
    let archive = key_dir.join("archived");
    assert_eq!(mode(&archive), 0o700);
    let archived: Vec<PathBuf> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert!(
        archived[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("kaveri-foods.example.dkim.key.")
    );
    assert_eq!(std::fs::read(&archived[0]).unwrap(), pem);
    assert!(
        key_dir.join("webhizzy.in.dkim.key").is_file(),
        "declared keys stay"
    );
    assert!(foreign.is_file(), "a key mailops never installed stays");
    // nginx no longer serves the departed tenant's policy or autoconfig file:
    // both are archived, the others' stay, and a file of another kind too.
    assert!(!policy.exists() && !autoconfig.exists());
    let mut web_archived: Vec<String> = std::fs::read_dir(web.join("archived"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    web_archived.sort();
    assert_eq!(web_archived.len(), 2, "{web_archived:?}");
    assert!(web_archived[0].starts_with("autoconfig-kaveri-foods.example.xml."));
    assert!(web_archived[1].starts_with("mta-sts-kaveri-foods.example.txt."));
    assert!(web.join("mta-sts/webhizzy.in.txt").is_file());
    assert!(notes.is_file());
    assert!(
        text(&second).contains(&format!("archived {}", policy.display())),
        "{}",
        text(&second)
    );

    // Nothing more to archive the next time.
    let third = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
    assert!(third.status.success(), "{}", text(&third));
    assert!(!text(&third).contains("archived /"), "{}", text(&third));
}

#[test]
fn world_readable_secrets_file_is_refused_with_chmod() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let secrets_dir = tempfile::tempdir().unwrap();
    let secrets = secrets_dir.path().join("secrets.toml");
    std::fs::write(&secrets, "db_password = \"pw-from-the-file\"\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let install = |secrets: &Path| {
        mailops(
            repo.path(),
            &[
                "install",
                "--root",
                root.path().to_str().unwrap(),
                "--secrets",
                secrets.to_str().unwrap(),
            ],
            None,
        )
    };
    let output = install(&secrets);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("chmod 600 {}", secrets.display())),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains("pw-from-the-file"));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);

    // A link to the secrets file is refused too: name the file itself.
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = secrets_dir.path().join("link.toml");
    std::os::unix::fs::symlink(&secrets, &link).unwrap();
    let output = install(&link);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("symbolic link"), "{}", text(&output));

    let output = install(&secrets);
    assert!(output.status.success(), "{}", text(&output));
}

/// The secrets file as cloud-init's first boot writes it: the services'
/// password, and the writing account's URL for the reconcile agent (no
/// concern of install, but no reason to refuse the file). Any other key is
/// still refused, and its value never shown.
#[test]
fn the_first_boots_secrets_file_is_accepted() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let secrets_dir = tempfile::tempdir().unwrap();
    let secrets = secrets_dir.path().join("secrets.toml");
    let install = |contents: &str| {
        std::fs::write(&secrets, contents).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        mailops(
            repo.path(),
            &[
                "install",
                "--root",
                root.path().to_str().unwrap(),
                "--secrets",
                secrets.to_str().unwrap(),
            ],
            None,
        )
    };
    let output = install(
        "db_password = \"0123abcd\"\ndatabase_url = \"mysql://mailops:9876fedc@127.0.0.1:3306/mailserver\"\n",
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains("9876fedc"), "{}", text(&output));
    let output = install("db_password = \"0123abcd\"\ndb_pasword = \"typo-secret\"\n");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("unknown key `db_pasword`"),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains("typo-secret"), "{}", text(&output));
}

/// An age identity in a private file (mode 0600), and its recipient.
fn age_identity(dir: &Path, name: &str) -> (PathBuf, String) {
    use age::secrecy::ExposeSecret;
    let key = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", key.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (path, key.to_public().to_string())
}

/// The example platform with `[secrets]` encrypting to `recipients`, two
/// tenants made by `mailops new` (keys encrypted in keys/), built.
fn repo_with_encrypted_keys(recipients: &[&str]) -> Repo {
    let repo = Repo::example_platform();
    let platform = repo.path().join("mailops.toml");
    let platform_text = std::fs::read_to_string(&platform)
        .unwrap()
        .replace("key_store = \".mailops/keys\"\n", "");
    let list: Vec<String> = recipients.iter().map(|r| format!("\"{r}\"")).collect();
    std::fs::write(
        &platform,
        format!(
            "{platform_text}\n[secrets]\nrecipients = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    for domain in ["a.example", "b.example"] {
        let made = mailops(
            repo.path(),
            &["new", domain, "--admin", "ops@webhizzy.in"],
            None,
        );
        assert!(made.status.success(), "{}", text(&made));
    }
    assert!(!repo.path().join(".mailops/keys").exists());
    let build = mailops(repo.path(), &["build"], None);
    assert!(build.status.success(), "{}", text(&build));
    repo
}

#[test]
fn install_decrypts_encrypted_keys_with_the_identity() {
    let ids = tempfile::tempdir().unwrap();
    let (host, host_recipient) = age_identity(ids.path(), "host");
    let (_, operator) = age_identity(ids.path(), "operator");
    let repo = repo_with_encrypted_keys(&[&host_recipient, &operator]);
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &[
            "install",
            "--root",
            root.path().to_str().unwrap(),
            "--identity",
            host.to_str().unwrap(),
        ],
        Some("pw"),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains("PRIVATE KEY"), "no key is printed");
    for domain in ["a.example", "b.example"] {
        let key = root
            .path()
            .join(format!("var/lib/rspamd/dkim/{domain}.dkim.key"));
        let pem = std::fs::read_to_string(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{domain}");
        assert_eq!(mode(&key), 0o640);
    }
    // The identity may come from MAILOPS_AGE_IDENTITY; a second install changes nothing.
    let again = run_env(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        &[
            ("MAILOPS_DB_PASSWORD", "pw"),
            ("MAILOPS_AGE_IDENTITY", host.to_str().unwrap()),
        ],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        stdout_of(&again).contains("reload: none"),
        "{}",
        text(&again)
    );
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn install_with_encrypted_keys_and_no_identity_installs_nothing() {
    let ids = tempfile::tempdir().unwrap();
    let (_, host) = age_identity(ids.path(), "host");
    let repo = repo_with_encrypted_keys(&[&host]);
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some("pw"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("--identity FILE or set MAILOPS_AGE_IDENTITY"));
    assert!(text(&output).contains("nothing was installed"));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn install_refuses_a_key_for_no_current_recipient_and_installs_nothing() {
    let ids = tempfile::tempdir().unwrap();
    let (old, old_recipient) = age_identity(ids.path(), "old");
    let (new, new_recipient) = age_identity(ids.path(), "new");
    let repo = repo_with_encrypted_keys(&[&old_recipient]);
    // The host's key replaced in mailops.toml without `keys reencrypt`.
    let platform = repo.path().join("mailops.toml");
    let text_before = std::fs::read_to_string(&platform).unwrap();
    std::fs::write(
        &platform,
        text_before.replace(&old_recipient, &new_recipient),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let install = |identity: &Path| {
        mailops(
            repo.path(),
            &[
                "install",
                "--root",
                root.path().to_str().unwrap(),
                "--identity",
                identity.to_str().unwrap(),
            ],
            Some("pw"),
        )
    };
    let output = install(&new);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = text(&output);
    for needed in [
        "keys/a.example.dkim.key.age",
        "keys/b.example.dkim.key.age",
        "mailops keys reencrypt",
        "nothing was installed",
    ] {
        assert!(said.contains(needed), "{needed}:\n{said}");
    }
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    // The old identity is no current recipient: the wrong identity.
    let output = install(&old);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("is not one of the `[secrets] recipients`"));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn install_refuses_a_damaged_key_and_installs_nothing() {
    let ids = tempfile::tempdir().unwrap();
    let (host, recipient) = age_identity(ids.path(), "host");
    let repo = repo_with_encrypted_keys(&[&recipient]);
    let key = repo.path().join("keys/b.example.dkim.key.age");
    let mut bytes = std::fs::read(&key).unwrap();
    let middle = bytes.len() - 40;
    bytes[middle] ^= 0x55;
    std::fs::write(&key, bytes).unwrap();
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        repo.path(),
        &[
            "install",
            "--root",
            root.path().to_str().unwrap(),
            "--identity",
            host.to_str().unwrap(),
        ],
        Some("pw"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("keys/b.example.dkim.key.age: a damaged age file"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

/// Issue 17: a published key is on the host before it signs (the selector
/// map still names the active key); after promotion the map names it; a
/// retired key is archived from the host folder by the next install.
#[test]
fn install_puts_published_and_retiring_keys_on_the_host_and_archives_retired_ones() {
    let repo = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_string();
    let key_dir = root.path().join("var/lib/rspamd/dkim");
    let d = "kaveri-foods.example";
    let install = || {
        let build = mailops(repo.path(), &["build"], None);
        assert!(build.status.success(), "{}", text(&build));
        let out = mailops(repo.path(), &["install", "--root", &root_arg], Some("pw"));
        assert!(out.status.success(), "{}", text(&out));
        (
            text(&out),
            std::fs::read_to_string(key_dir.join("selectors.map")).unwrap(),
        )
    };
    install();
    let rotated = mailops(
        repo.path(),
        &["dkim", "rotate", d, "--selector", "next"],
        None,
    );
    assert!(rotated.status.success(), "{}", text(&rotated));
    let (_, map) = install();
    assert!(key_dir.join(format!("{d}.next.key")).is_file());
    assert!(map.contains(&format!("\n{d} dkim\n#+ {d} next\n")), "{map}");

    let promoted = mailops(
        repo.path(),
        &["dkim", "promote", d, "next", "--force"],
        None,
    );
    assert!(promoted.status.success(), "{}", text(&promoted));
    let (_, map) = install();
    assert!(map.contains(&format!("\n{d} next\n#+ {d} dkim\n")), "{map}");
    assert!(
        key_dir.join(format!("{d}.dkim.key")).is_file(),
        "retiring: still there"
    );

    let retired = mailops(repo.path(), &["dkim", "retire", d, "dkim", "--force"], None);
    assert!(retired.status.success(), "{}", text(&retired));
    let (out, map) = install();
    assert!(
        map.contains(&format!("\n{d} next\n")) && !map.contains(&format!("{d} dkim")),
        "{map}"
    );
    assert!(
        !key_dir.join(format!("{d}.dkim.key")).exists(),
        "retired: off the host"
    );
    assert!(
        out.contains(&format!("{d}.dkim.key")),
        "install says it archived it: {out}"
    );
}

/// Issue 17 with `[secrets]`: `dkim rotate` encrypts the new private key to
/// keys/ like keygen; install decrypts and installs it while published; a
/// retired key needs no age file (validate and install pass without it) and
/// `dkim purge` deletes its age file.
#[test]
fn rotation_with_encrypted_keys() {
    let ids = tempfile::tempdir().unwrap();
    let (host, host_recipient) = age_identity(ids.path(), "host");
    let repo = repo_with_encrypted_keys(&[&host_recipient]);
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = mailops(repo.path(), args, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        text(&out)
    };
    let install = || {
        run(&["build"]);
        let out = mailops(
            repo.path(),
            &[
                "install",
                "--root",
                &root_arg,
                "--identity",
                host.to_str().unwrap(),
            ],
            Some("pw"),
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    let wrote = run(&["dkim", "rotate", "a.example", "--selector", "next"]);
    assert!(wrote.contains("encrypted to 1 recipient"), "{wrote}");
    let new_age = repo.path().join("keys/a.example.next.key.age");
    let old_age = repo.path().join("keys/a.example.dkim.key.age");
    assert!(new_age.is_file() && !repo.path().join(".mailops/keys").exists());
    install();
    let host_key = |s: &str| {
        root.path()
            .join(format!("var/lib/rspamd/dkim/a.example.{s}.key"))
    };
    assert!(host_key("next").is_file(), "the published key is installed");

    run(&["dkim", "promote", "a.example", "next", "--force"]);
    run(&["dkim", "retire", "a.example", "dkim", "--force"]);
    run(&["dkim", "purge", "a.example"]);
    assert!(
        !old_age.exists(),
        "purge deletes the retired key's age file"
    );
    assert!(new_age.is_file());
    run(&["validate"]);
    install();
    assert!(!host_key("dkim").exists() && host_key("next").is_file());
}

/// The two-host fixture (tests/fixtures/valid/two-hosts) with a DKIM key
/// made here, built.
fn two_hosts_repo() -> Repo {
    let repo = Repo::empty();
    support::copy_tree(
        &support::root().join("tests/fixtures/valid/two-hosts"),
        repo.path(),
        &[],
    );
    repo.ok(&["dkim", "keygen", "acme.example", "--force"]);
    repo.ok(&["build"]);
    repo
}

/// Several mail hosts (issue 18): `--host mx2` installs the Postfix and
/// Dovecot configs rendered for mx2 (its hostname, its Let's Encrypt
/// lineage), every other file as generated; the default is the primary,
/// exactly `generated/`; an unknown host is refused, naming the hosts.
#[test]
fn install_renders_each_hosts_identity_for_that_host() {
    let repo = two_hosts_repo();
    let dir = repo.path().to_path_buf();
    let install = |host: Option<&str>| {
        let root = tempfile::tempdir().unwrap();
        let mut args = vec!["install", "--root", root.path().to_str().unwrap()];
        args.extend(host.map(|h| ["--host", h]).iter().flatten());
        let output = mailops(&dir, &args, Some("pw"));
        (root, output)
    };
    let (primary, output) = install(None);
    assert!(output.status.success(), "{}", text(&output));
    for file in [
        "postfix/main.cf",
        "dovecot/dovecot.conf",
        "postfix/master.cf",
    ] {
        assert_eq!(
            std::fs::read_to_string(primary.path().join("etc").join(file)).unwrap(),
            std::fs::read_to_string(dir.join("generated").join(file)).unwrap(),
            "{file}"
        );
    }
    let (mx2, output) = install(Some("mx2"));
    assert!(output.status.success(), "{}", text(&output));
    let main = std::fs::read_to_string(mx2.path().join("etc/postfix/main.cf")).unwrap();
    assert!(main.contains("\nmyhostname = mx2.webhizzy.in\n"), "{main}");
    assert!(
        main.contains(
            "\nsmtpd_tls_cert_file = /etc/letsencrypt/live/mx2.webhizzy.in/fullchain.pem\n"
        ),
        "{main}"
    );
    assert!(
        main.contains("\nsmtpd_tls_key_file = /etc/letsencrypt/live/mx2.webhizzy.in/privkey.pem\n"),
        "{main}"
    );
    assert!(!main.contains("mx1.webhizzy.in/"), "{main}");
    let dovecot = std::fs::read_to_string(mx2.path().join("etc/dovecot/dovecot.conf")).unwrap();
    assert!(
        dovecot.contains("\nhostname = mx2.webhizzy.in\n"),
        "{dovecot}"
    );
    assert!(
        dovecot.contains("\nssl_cert = </etc/letsencrypt/live/mx2.webhizzy.in/fullchain.pem\n"),
        "{dovecot}"
    );
    // The SRS domain stays the platform's: any host can take its bounces.
    let postsrsd = std::fs::read_to_string(mx2.path().join("etc/default/postsrsd")).unwrap();
    assert_eq!(
        postsrsd,
        std::fs::read_to_string(dir.join("generated/postsrsd/postsrsd")).unwrap()
    );
    // mx2's Galera node: its own name and address, in the one cluster; the
    // primary's install is generated/'s. Never a reload: restarting a node
    // is the operator's decision, and install says so.
    let galera = "etc/mysql/mariadb.conf.d/60-mailops-galera.cnf";
    assert_eq!(
        std::fs::read_to_string(primary.path().join(galera)).unwrap(),
        std::fs::read_to_string(dir.join("generated/mysql/mariadb.conf.d/60-mailops-galera.cnf"))
            .unwrap()
    );
    let node = std::fs::read_to_string(mx2.path().join(galera)).unwrap();
    for line in [
        "\n[galera]\n",
        "\nwsrep_cluster_address = gcomm://10.20.1.11,10.20.1.12\n",
        "\nwsrep_node_name = mx2\n",
        "\nwsrep_node_address = 10.20.1.12\n",
        "\nwsrep_cluster_name = mailops-webhizzy.in\n",
    ] {
        assert!(node.contains(line), "{line}\n{node}");
    }
    assert!(!node.contains("10.20.1.11\nwsrep_sst"), "{node}");
    assert_eq!(mode(&mx2.path().join(galera)), 0o644);
    assert!(
        text(&output).contains("60-mailops-galera.cnf changed: MariaDB reads it when it starts, and mailops does not restart it"),
        "{}",
        text(&output)
    );
    assert!(!stdout_of(&output).contains("mariadb"), "{}", text(&output));
    let (_, output) = install(Some("mx3"));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output)
            .contains("no mail host `mx3`; the hosts mailops.toml declares ([[hosts]]): mx1, mx2"),
        "{}",
        text(&output)
    );
}

/// The doveadm server's password (several hosts): derived one-way from the
/// database password, 0640 root:dovecot, never printed; a single host has none.
#[test]
fn two_hosts_get_the_doveadm_password_derived_from_the_database_password() {
    let repo = two_hosts_repo();
    let root = tempfile::tempdir().unwrap();
    let secret = "db-secret";
    let output = mailops(
        repo.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some(secret),
    );
    assert!(output.status.success(), "{}", text(&output));
    let file = root.path().join("etc/dovecot/private/doveadm-password");
    let password = std::fs::read_to_string(&file).unwrap();
    // HMAC-SHA256(key = the database password, "mailops doveadm"), hex.
    assert_eq!(
        password,
        "1d8407b0980d1859011dc5336c205db90865096fb372e5a9a4d0462f2128716b"
    );
    assert!(!text(&output).contains(&password), "{}", text(&output));
    assert_eq!(mode(&file), 0o640);
    let dovecot = group_id("dovecot").expect("the dovecot group (scripts/install-mail-packages)");
    assert_eq!(std::fs::metadata(&file).unwrap().gid(), dovecot);
    let conf = std::fs::read_to_string(root.path().join("etc/dovecot/dovecot.conf")).unwrap();
    assert!(
        conf.contains("doveadm_password = </etc/dovecot/private/doveadm-password\n"),
        "{conf}"
    );
    assert!(!conf.contains(&password));

    // postsrsd's secrets (/etc/postsrsd/secrets, the file postsrsd's settings
    // name): the shared one (HMAC-SHA256 of "mailops postsrsd") first.
    let srs = root.path().join("etc/postsrsd/secrets");
    let shared = "b72c7f295ee9aa499ee5b5a76d3b310d461139995141a77d6dadb56a1e8a301b";
    assert_eq!(
        std::fs::read_to_string(&srs).unwrap(),
        format!("{shared}\n")
    );
    assert!(!text(&output).contains(shared), "{}", text(&output));
    assert_eq!(mode(&srs), 0o640);
    let postsrsd =
        group_id("postsrsd").expect("the postsrsd group (scripts/install-mail-packages)");
    assert_eq!(std::fs::metadata(&srs).unwrap().gid(), postsrsd);
    let settings = std::fs::read_to_string(root.path().join("etc/default/postsrsd")).unwrap();
    assert!(
        settings.contains("\nSRS_SECRET=/etc/postsrsd/secrets\n"),
        "{settings}"
    );
    // A host that signed with the secret Debian's package made: that one
    // stays after the shared one, so what it signed still verifies;
    // installing again changes nothing.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/postsrsd.secret"),
        "debian-made-secret\n",
    )
    .unwrap();
    let srs = root.path().join("etc/postsrsd/secrets");
    let install_again = || {
        let output = mailops(
            repo.path(),
            &["install", "--root", root.path().to_str().unwrap()],
            Some(secret),
        );
        assert!(output.status.success(), "{}", text(&output));
        text(&output)
    };
    let first = install_again();
    assert_eq!(
        std::fs::read_to_string(&srs).unwrap(),
        format!("{shared}\ndebian-made-secret\n")
    );
    assert!(first.contains("postsrsd"), "{first}");
    let again = install_again();
    assert!(!again.contains("postsrsd"), "{again}");
    assert_eq!(
        std::fs::read_to_string(&srs).unwrap(),
        format!("{shared}\ndebian-made-secret\n")
    );

    // A single host: no doveadm server, no password file.
    let single = repo_with_keys();
    let root = tempfile::tempdir().unwrap();
    let output = mailops(
        single.path(),
        &["install", "--root", root.path().to_str().unwrap()],
        Some(secret),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(!root.path().join("etc/dovecot/private").exists());
    assert!(!root.path().join("etc/postsrsd.secret").exists());
    // Nor a Galera node.
    assert!(!root.path().join("etc/mysql").exists());
}
