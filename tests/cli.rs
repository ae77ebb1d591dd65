//! The command line, run as a user runs it: each test sets up a mail repo,
//! runs the built binary, and states what it must print and how it exits.

mod support;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use support::{Repo, Run, mailops, mode, root};

/// The `public_key = "…"` value of a tenant file.
fn public_key(tenant_text: &str) -> String {
    let table: toml::Table = tenant_text.parse().expect("the tenant file is TOML");
    table["dkim"]["public_key"]
        .as_str()
        .expect("a public key")
        .to_string()
}

/// The base64 SPKI public key of a PKCS#8 PEM private key, RSA or Ed25519.
fn public_key_of(pem: &str) -> String {
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        return STANDARD.encode(key.to_public_key().to_public_key_der().unwrap().as_bytes());
    }
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).expect("an RSA or Ed25519 PKCS#8 key");
    STANDARD.encode(key.verifying_key().to_public_key_der().unwrap().as_bytes())
}

/// The lines of `after` that differ from `before` (which must have as many lines).
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len(), "the number of lines changed:\n{after}");
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.to_string())
        .collect()
}

// validate

#[test]
fn validate_passes_the_examples() {
    Run::of(mailops().arg("validate"))
        .exits(0)
        .stderr_has("ok: 5 tenants, 12 mailboxes, 19 aliases")
        .stderr_lacks("warning");
}

#[test]
fn validate_without_mailops_toml_says_so_and_exits_1() {
    Repo::empty()
        .run(&["validate"])
        .exits(1)
        .stderr_has("mailops::load::no-platform-file")
        .stderr_has("no mailops.toml in .")
        .stderr_has("or name one with")
        .stderr_has("-C DIR");
}

#[test]
fn validate_of_a_directory_that_does_not_exist_exits_1() {
    Run::of(mailops().args(["-C", "does/not/exist", "validate"]))
        .exits(1)
        .stderr_has("no mailops.toml in does/not/exist");
}

#[test]
fn dash_c_runs_in_the_named_directory() {
    let elsewhere = Repo::empty();
    let repo = root();
    for flag in ["-C", "--directory"] {
        Run::of(mailops().current_dir(elsewhere.path()).args([
            flag,
            repo.to_str().unwrap(),
            "validate",
        ]))
        .exits(0)
        .stderr_has("ok: 5 tenants");
    }
    // -C after the subcommand works too (a global flag).
    Run::of(mailops().current_dir(elsewhere.path()).args([
        "validate",
        "-C",
        repo.to_str().unwrap(),
    ]))
    .exits(0);
}

#[test]
fn a_repo_with_no_tenants_is_valid() {
    Repo::new()
        .run(&["validate"])
        .exits(0)
        .stderr_has("ok: 0 tenants, 0 mailboxes, 0 aliases");
}

#[test]
fn validate_json_goes_to_stdout_and_exits_like_human() {
    let run = Repo::new()
        .tenant(
            "acme.example",
            "\n[[alias]]\naddress = \"sales\"\nto = [\"bob\"]\n",
        )
        .run(&["validate", "--format", "json"])
        .exits(1);
    assert_eq!(run.codes(), ["mailops::alias::dangling"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], "tenants/acme.example.toml");
    assert_eq!(d["line"], 20);
    assert_eq!(d["column"], 7);
    assert_eq!(d["severity"], "error");
    assert_eq!(
        d["message"],
        "the alias destination `bob@acme.example` does not exist"
    );
    assert!(
        d["help"]
            .as_str()
            .unwrap()
            .contains("add a [[mailbox]] or [[alias]]")
    );
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["warnings"], 0);
}

#[test]
fn color_is_off_with_no_color_and_off_the_terminal() {
    let run = Repo::new()
        .tenant(
            "acme.example",
            "\n[[alias]]\naddress = \"sales\"\nto = [\"bob\"]\n",
        )
        .run(&["validate"])
        .exits(1);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no escape codes:\n{}",
        run.stderr
    );
}

// new

#[test]
fn new_then_validate_passes_in_a_copy_of_the_repo() {
    let repo = Repo::example();
    repo.run(&["new", "x.example"]).exits(0).stderr_has(
        "created tenants/x.example.toml (postmaster@ and abuse@ forward to postmaster@webhizzy.in)",
    );
    let text = repo.read("tenants/x.example.toml");
    assert!(text.starts_with("#:schema ../schema/tenant.schema.json\ndomain = \"x.example\"\n"));
    let key = repo.path().join(".mailops/keys/x.example.dkim.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(
        public_key_of(&std::fs::read_to_string(&key).unwrap()),
        public_key(&text)
    );
    repo.run(&["validate"])
        .exits(0)
        .stderr_has("ok: 6 tenants")
        .stderr_lacks("warning");
}

/// An argument echoed in an error never reaches the terminal as a raw
/// escape sequence (an ESC could clear the screen or hide the message).
#[test]
fn control_characters_in_arguments_are_shown_escaped_in_errors() {
    let repo = Repo::example();
    let run = repo
        .run(&["new", "ev\u{1b}[2Jil.example"])
        .exits(1)
        .stderr_has("ev\\u{1b}[2Jil.example");
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    repo.run(&["new", "x.example", "--selector", "s\u{7}"])
        .exits(1)
        .stderr_has("`s\\u{7}` is not a valid DKIM selector");
}

/// A tenant file that is not UTF-8 is the user's problem (exit 1), not an
/// operational failure.
#[test]
fn dkim_keygen_of_a_tenant_file_that_is_not_utf8_exits_1() {
    let repo = Repo::example();
    std::fs::write(
        repo.path().join("tenants/bad.example.toml"),
        b"domain = \"\xff\"\n",
    )
    .unwrap();
    repo.run(&["dkim", "keygen", "bad.example"])
        .exits(1)
        .stderr_has("bad.example.toml is not UTF-8 text");
}

#[test]
fn new_with_a_unicode_domain_names_the_file_by_its_a_label() {
    let repo = Repo::example();
    repo.run(&["new", "bücher.example", "--admin", "ops@webhizzy.in"])
        .exits(0);
    let text = repo.read("tenants/xn--bcher-kva.example.toml");
    assert!(text.contains("domain = \"bücher.example\""));
    assert!(text.contains("to = [\"ops@webhizzy.in\"]"));
    assert!(
        repo.path()
            .join(".mailops/keys/xn--bcher-kva.example.dkim.key")
            .is_file()
    );
    repo.run(&["validate"]).exits(0).stderr_lacks("warning");
}

#[test]
fn new_refuses_a_domain_that_has_a_tenant_file() {
    let repo = Repo::example();
    let before = repo.read("tenants/kaveri-foods.example.toml");
    repo.run(&["new", "kaveri-foods.example"])
        .exits(1)
        .stderr_has("already exists");
    assert_eq!(repo.read("tenants/kaveri-foods.example.toml"), before);
}

#[test]
fn new_refuses_an_invalid_domain() {
    Repo::new()
        .run(&["new", "not a domain"])
        .exits(1)
        .stderr_has("is not a valid domain");
}

// dkim keygen

#[test]
fn dkim_keygen_writes_a_0600_pkcs8_key_and_only_the_public_key_line() {
    let repo = Repo::example();
    let file = "tenants/sharma-textiles.example.toml";
    let before = repo.read(file);
    repo.run(&["dkim", "keygen", "sharma-textiles.example"])
        .exits(0)
        .stderr_has("mode 0600; never commit it")
        .stderr_has("wrote public key to tenants/sharma-textiles.example.toml (selector `dkim`)");

    let key = repo
        .path()
        .join(".mailops/keys/sharma-textiles.example.dkim.key");
    assert_eq!(mode(&key), 0o600);
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "PKCS#8 PEM:\n{pem}"
    );
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("an RSA PKCS#8 key (the default rsa2048)");

    let after = repo.read(file);
    let new_key = public_key(&after);
    assert_ne!(new_key, public_key(&before));
    assert_eq!(new_key, public_key_of(&pem));
    // Comments, blank lines and every other value stay as they were.
    assert_eq!(
        changed_lines(&before, &after),
        [format!("public_key = \"{new_key}\"")]
    );
    repo.run(&["validate"]).exits(0);
}

#[test]
fn dkim_keygen_keeps_a_comment_after_the_key() {
    let repo = Repo::new().tenant("acme.example", "");
    let file = "tenants/acme.example.toml";
    let text = repo.read(file).replace(
        &format!("[dkim]\npublic_key = \"{}\"", support::TEST_KEY),
        &format!(
            "[dkim]\nselector = \"dkim\"\npublic_key = \"{}\"   # rotated yearly",
            support::TEST_KEY
        ),
    );
    let repo = repo.file(file, &text);
    repo.run(&["dkim", "keygen", "acme.example", "--algorithm", "rsa2048"])
        .exits(0);
    let after = repo.read(file);
    let changed = changed_lines(&text, &after);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].ends_with("\"   # rotated yearly"), "{changed:?}");
}

/// The key store file is named after the selector, so keygen writes the
/// selector it used into a file that named none: a later change of the
/// platform's default selector cannot separate the pair.
#[test]
fn dkim_keygen_pins_the_default_selector_when_the_file_names_none() {
    let repo = Repo::new().tenant("acme.example", "");
    let file = "tenants/acme.example.toml";
    let before = repo.read(file);
    repo.run(&["dkim", "keygen", "acme.example", "--algorithm", "rsa4096"])
        .exits(0);
    let after = repo.read(file);
    assert!(after.contains("selector = \"dkim\"\n"), "{after}");
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    assert!(
        repo.path()
            .join(".mailops/keys/acme.example.dkim.key")
            .is_file()
    );
    repo.run(&["validate"]).exits(0);
}

#[test]
fn dkim_keygen_refuses_to_overwrite_a_key_without_force() {
    let repo = Repo::example();
    let file = "tenants/kaveri-foods.example.toml";
    repo.run(&["dkim", "keygen", "kaveri-foods.example"])
        .exits(0);
    let key = repo
        .path()
        .join(".mailops/keys/kaveri-foods.example.dkim.key");
    let (pem, text) = (std::fs::read_to_string(&key).unwrap(), repo.read(file));

    repo.run(&["dkim", "keygen", "kaveri-foods.example"])
        .exits(1)
        .stderr_has("already exists; pass --force to replace it");
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        pem,
        "the key is kept"
    );
    assert_eq!(repo.read(file), text, "the tenant file is kept");

    repo.run(&["dkim", "keygen", "kaveri-foods.example", "--force"])
        .exits(0);
    let new_pem = std::fs::read_to_string(&key).unwrap();
    assert_ne!(new_pem, pem);
    assert_eq!(public_key(&repo.read(file)), public_key_of(&new_pem));
    repo.run(&["validate"]).exits(0);
}

/// The `[[dkim]]` entries of a tenant file: (selector, public key).
fn dkim_entries(tenant_text: &str) -> Vec<(String, String)> {
    let table: toml::Table = tenant_text.parse().expect("the tenant file is TOML");
    let entries = match &table["dkim"] {
        toml::Value::Array(keys) => keys.clone(),
        one => vec![one.clone()],
    };
    entries
        .iter()
        .map(|e| {
            (
                e.get("selector")
                    .and_then(|s| s.as_str())
                    .unwrap_or("dkim")
                    .to_string(),
                e["public_key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A new selector names a new key: it is added beside the tenant's RSA key
/// (`[dkim]` becomes `[[dkim]]`), and mail is signed with both.
#[test]
fn dkim_keygen_ed25519_with_a_new_selector_adds_a_second_key() {
    let repo = Repo::example();
    let file = "tenants/kaveri-foods.example.toml";
    let before = dkim_entries(&repo.read(file));
    repo.run(&[
        "dkim",
        "keygen",
        "kaveri-foods.example",
        "--selector",
        "ed2026",
        "--algorithm",
        "ed25519",
    ])
    .exits(0)
    .stderr_has("(selector `ed2026`)");
    let key = repo
        .path()
        .join(".mailops/keys/kaveri-foods.example.ed2026.key");
    let pem = std::fs::read_to_string(&key).unwrap();
    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).expect("an Ed25519 PKCS#8 key");
    let after = repo.read(file);
    let entries = dkim_entries(&after);
    assert_eq!(entries.len(), 2, "{after}");
    assert_eq!(entries[0], before[0], "the RSA key is kept, first");
    assert_eq!(entries[1].0, "ed2026");
    assert_eq!(entries[1].1, public_key_of(&pem));
    assert!(after.contains("[[dkim]]\nselector = \"ed2026\""), "{after}");
    repo.run(&["validate"]).exits(0);
}

/// Replacing a tenant's only RSA key with an Ed25519 key would leave it
/// Ed25519-only, which validate refuses: keygen makes an RSA key beside it.
#[test]
fn dkim_keygen_ed25519_on_a_tenant_without_another_rsa_key_adds_an_rsa_companion() {
    let repo = Repo::new().tenant("acme.example", "");
    let file = "tenants/acme.example.toml";
    repo.run(&["dkim", "keygen", "acme.example", "--algorithm", "ed25519"])
        .exits(0)
        .stderr_has("made one under selector `dkim-rsa`");
    let entries = dkim_entries(&repo.read(file));
    let selectors: Vec<&str> = entries.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(selectors, ["dkim", "dkim-rsa"]);
    let keys = repo.path().join(".mailops/keys");
    let ed = std::fs::read_to_string(keys.join("acme.example.dkim.key")).unwrap();
    ed25519_dalek::SigningKey::from_pkcs8_pem(&ed).expect("an Ed25519 key");
    let rsa = std::fs::read_to_string(keys.join("acme.example.dkim-rsa.key")).unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&rsa).expect("an RSA key");
    assert_eq!(entries[1].1, public_key_of(&rsa));
    repo.run(&["validate"]).exits(0);
}

#[test]
fn dkim_keygen_on_a_tenant_with_several_keys_needs_a_selector() {
    let repo = Repo::new().tenant("acme.example", "");
    repo.run(&["dkim", "keygen", "acme.example", "--algorithm", "ed25519"])
        .exits(0);
    let text = repo.read("tenants/acme.example.toml");
    repo.run(&["dkim", "keygen", "acme.example", "--force"])
        .exits(1)
        .stderr_has("has 2 DKIM keys; pass --selector");
    assert_eq!(repo.read("tenants/acme.example.toml"), text);
    repo.run(&[
        "dkim",
        "keygen",
        "acme.example",
        "--selector",
        "dkim",
        "--algorithm",
        "ed25519",
        "--force",
    ])
    .exits(0);
    assert_eq!(
        dkim_entries(&repo.read("tenants/acme.example.toml")).len(),
        2,
        "no third key: the RSA one stays"
    );
}

/// The key store check covers every selector of a tenant with several keys.
#[test]
fn validate_checks_the_private_key_of_each_selector() {
    let repo = Repo::new().tenant("acme.example", "");
    repo.run(&["dkim", "keygen", "acme.example", "--algorithm", "ed25519"])
        .exits(0);
    repo.run(&["validate"]).exits(0);
    let keys = repo.path().join(".mailops/keys");
    let (ed, rsa) = (
        keys.join("acme.example.dkim.key"),
        keys.join("acme.example.dkim-rsa.key"),
    );
    let (ed_pem, rsa_pem) = (std::fs::read(&ed).unwrap(), std::fs::read(&rsa).unwrap());
    std::fs::write(&ed, rsa_pem).unwrap();
    std::fs::write(&rsa, ed_pem).unwrap();
    repo.run(&["validate"])
        .exits(1)
        .stderr_has("acme.example.dkim.key")
        .stderr_has("acme.example.dkim-rsa.key");
}

#[test]
fn new_with_ed25519_scaffolds_an_rsa_key_beside_it() {
    let repo = Repo::example();
    repo.run(&[
        "new",
        "fresh.example",
        "--algorithm",
        "ed25519",
        "--selector",
        "ed",
    ])
    .exits(0);
    let text = repo.read("tenants/fresh.example.toml");
    let entries = dkim_entries(&text);
    let selectors: Vec<&str> = entries.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(selectors, ["ed", "ed-rsa"], "{text}");
    assert!(entries[0].1.starts_with("MCowBQYDK2VwAyEA"), "{text}");
    for (selector, public) in &entries {
        let pem = std::fs::read_to_string(
            repo.path()
                .join(format!(".mailops/keys/fresh.example.{selector}.key")),
        )
        .unwrap();
        assert_eq!(&public_key_of(&pem), public);
    }
    repo.run(&["validate"]).exits(0);
}

#[test]
fn dkim_keygen_finds_an_idn_tenant_by_its_unicode_name() {
    let repo = Repo::example();
    repo.run(&["dkim", "keygen", "किताबघर.example"]).exits(0);
    assert!(
        repo.path()
            .join(".mailops/keys/xn--11bg9a6av5ff.example.dkim.key")
            .is_file()
    );
    repo.run(&["validate"]).exits(0);
}

#[test]
fn dkim_keygen_key_dir_puts_the_key_elsewhere() {
    let repo = Repo::example();
    let elsewhere = Repo::empty();
    let dir = elsewhere.path().join("keys");
    repo.run(&[
        "dkim",
        "keygen",
        "kaveri-foods.example",
        "--key-dir",
        dir.to_str().unwrap(),
    ])
    .exits(0);
    let key = dir.join("kaveri-foods.example.dkim.key");
    assert_eq!(mode(&key), 0o600);
    assert!(
        !repo
            .path()
            .join(".mailops/keys/kaveri-foods.example.dkim.key")
            .exists()
    );
    assert_eq!(
        public_key(&repo.read("tenants/kaveri-foods.example.toml")),
        public_key_of(&std::fs::read_to_string(&key).unwrap())
    );
}

#[test]
fn dkim_keygen_for_a_domain_without_a_tenant_file_points_at_new() {
    Repo::new()
        .run(&["dkim", "keygen", "nobody.example"])
        .exits(1)
        .stderr_has("no tenant file for `nobody.example`")
        .stderr_has("mailops new nobody.example");
}

#[test]
fn a_key_store_key_that_does_not_match_fails_validation() {
    let repo = Repo::example();
    repo.run(&["dkim", "keygen", "kaveri-foods.example"])
        .exits(0);
    // Put the old public key back: the private key no longer matches it.
    repo.file(
        "tenants/kaveri-foods.example.toml",
        &std::fs::read_to_string(root().join("tenants/kaveri-foods.example.toml")).unwrap(),
    )
    .run(&["validate"])
    .exits(1)
    .stderr_has("mailops::dkim::key-mismatch")
    .stderr_has(".mailops/keys/kaveri-foods.example.dkim.key");
}

// hash-password

#[test]
fn hash_password_from_stdin_prints_a_dovecot_argon2id_hash_that_verifies() {
    let run = Run::of(
        mailops()
            .arg("hash-password")
            .write_stdin("Correct-Horse-9\n"),
    )
    .exits(0);
    let line = run.stdout.strip_suffix('\n').expect("one line");
    assert!(!line.contains('\n'), "one line: {:?}", run.stdout);
    let phc = line
        .strip_prefix("{ARGON2ID}")
        .expect("the Dovecot scheme prefix");
    assert!(phc.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{phc}");
    let parsed = PasswordHash::new(phc).unwrap();
    assert!(
        Argon2::default()
            .verify_password(b"Correct-Horse-9", &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"Correct-Horse-8", &parsed)
            .is_err()
    );
    assert!(!run.stdout.contains("Correct-Horse") && !run.stderr.contains("Correct-Horse"));
}

#[test]
fn hash_password_salts_every_hash() {
    let first = Run::of(mailops().arg("hash-password").write_stdin("same\n")).exits(0);
    let second = Run::of(mailops().arg("hash-password").write_stdin("same\n")).exits(0);
    assert_ne!(first.stdout, second.stdout);
}

#[test]
fn hash_password_refuses_an_empty_password() {
    Run::of(mailops().arg("hash-password").write_stdin("\n"))
        .exits(1)
        .stderr_has("the password is empty");
}

#[test]
fn a_hash_from_hash_password_validates_in_a_tenant_file() {
    let run = Run::of(
        mailops()
            .arg("hash-password")
            .write_stdin("Correct-Horse-9\n"),
    )
    .exits(0);
    let hash = run.stdout.trim();
    Repo::new()
        .tenant(
            "acme.example",
            &format!("\n[[mailbox]]\nuser = \"bob\"\npassword = \"{hash}\"\n"),
        )
        .run(&["validate"])
        .exits(0)
        .stderr_has("2 mailboxes");
}

// schema

#[test]
fn schema_check_passes_on_the_repo() {
    Run::of(mailops().args(["schema", "--check"]))
        .exits(0)
        .stderr_lacks("stale");
}

#[test]
fn schema_check_fails_when_a_schema_file_is_edited() {
    let repo = Repo::example();
    let path = "schema/tenant.schema.json";
    let edited = repo.read(path).replace("The client domain.", "The domain.");
    let repo = repo.file(path, &edited);
    repo.run(&["schema", "--check"])
        .exits(1)
        .stderr_has("stale: schema/tenant.schema.json")
        .stderr_lacks("platform.schema.json");
    assert_eq!(repo.read(path), edited, "--check writes nothing");

    repo.run(&["schema"])
        .exits(0)
        .stderr_has("wrote schema/tenant.schema.json");
    repo.run(&["schema", "--check"]).exits(0);
    assert_eq!(
        repo.read(path),
        std::fs::read_to_string(root().join(path)).unwrap()
    );
}

#[test]
fn schema_writes_missing_schema_files() {
    let repo = Repo::new();
    repo.run(&["schema"]).exits(0);
    for file in ["schema/tenant.schema.json", "schema/platform.schema.json"] {
        assert_eq!(
            repo.read(file),
            std::fs::read_to_string(root().join(file)).unwrap()
        );
    }
}

#[test]
fn usage_error_exits_1_not_2() {
    // A typo in a CI job's flag must not read as `--detailed-exitcode`'s
    // "changes pending" (2): usage errors exit 1, like every other error.
    Run::of(mailops().args(["plan", "--detailed-exitcod"]))
        .exits(1)
        .stderr_has("unexpected argument '--detailed-exitcod'");
    Run::of(mailops().args(["plan", "--format", "xml"])).exits(1);
    Run::of(mailops().args(["no-such-command"])).exits(1);
    // No command at all: the help, as a usage error.
    Run::of(&mut mailops()).exits(1);
    // Asking for help or the version is not an error.
    Run::of(mailops().args(["plan", "--help"]))
        .exits(0)
        .stdout_has("--detailed-exitcode");
    Run::of(mailops().arg("--version"))
        .exits(0)
        .stdout_has("mailops ");
}

/// Issue 11, item 7: a build at 10,000 tenants printed 10,017 lines. A build
/// that touches more than 50 files lists the first 20 and counts the rest;
/// `--verbose` lists every path.
#[test]
fn build_lists_at_most_twenty_paths_unless_verbose() {
    let mut repo = Repo::new();
    for t in 0..40 {
        repo = repo.tenant(&format!("t{t}.example"), "");
    }
    let quiet = repo.run(&["build"]).exits(0);
    let listed = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with("  added    generated/"))
            .count()
    };
    // Each tenant has three files: its DNS file and its two SQL files.
    let total = 3 * 40 + listed(&Repo::new().run(&["build", "--verbose"]).exits(0).stderr);
    assert_eq!(listed(&quiet.stderr), 20, "{}", quiet.stderr);
    assert!(
        quiet.stderr.contains(&format!(
            "  … and {} more (`mailops build --verbose` lists every path)",
            total - 20
        )),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet
            .stderr
            .contains(&format!("built {total} files in generated/: {total} added"))
    );

    std::fs::remove_dir_all(repo.path().join("generated")).unwrap();
    let verbose = repo.run(&["build", "--verbose"]).exits(0);
    assert_eq!(listed(&verbose.stderr), total, "{}", verbose.stderr);
    assert!(!verbose.stderr.contains("more (`mailops build --verbose`"));
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_generated_script() {
    let out = mailops().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mailops.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash offers after `mailops pl<TAB>` and `mailops plan --for<TAB>`.
    let complete = |words: &str, cword: usize| {
        let run = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
                 _mailops mailops \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .expect("bash runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout).unwrap()
    };
    assert_eq!(complete("mailops pl", 1).trim(), "plan");
    assert!(complete("mailops plan --for", 2).contains("--format"));
    assert!(complete("mailops dns ", 2).contains("check"));
    for shell in ["zsh", "fish"] {
        let out = mailops().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("detailed-exitcode"), "{shell}: {text}");
    }
}

#[test]
fn man_writes_a_page_per_command_that_groff_renders_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = mailops()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for page in [
        "mailops.1",
        "mailops-plan.1",
        "mailops-dns-check.1",
        "mailops-keys-reencrypt.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    for page in &pages {
        let groff = std::process::Command::new("groff")
            // -k: preconv, as man-db runs it (the pages are UTF-8).
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(dir.path().join(page))
            .output()
            .expect("groff (Debian's groff-base) runs");
        assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&groff.stderr)
        );
    }
    let plan = std::fs::read_to_string(dir.path().join("mailops-plan.1")).unwrap();
    assert!(
        plan.contains("mailops plan \\-\\-base origin/main"),
        "{plan}"
    );
}

#[test]
fn every_command_shows_examples_in_its_help() {
    let top = mailops().arg("--help").output().unwrap();
    let text = String::from_utf8(top.stdout).unwrap();
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's line, not its wrapped description.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 15, "{commands:?}");
    for command in commands {
        let out = mailops().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Examples:\n  mailops "),
            "`mailops {command} --help` has no examples:\n{help}"
        );
    }
}

#[test]
fn plans_show_an_idn_tenant_with_its_unicode_form() {
    let repo = Repo::example();
    for format in ["human", "markdown"] {
        repo.run(&["plan", "--format", format])
            .exits(0)
            .stdout_has("xn--11bg9a6av5ff.example (किताबघर.example)");
    }
}

#[test]
fn progress_shows_on_a_terminal_only_and_not_with_quiet() {
    let repo = Repo::example();
    let bin = env!("CARGO_BIN_EXE_mailops");
    // `script` (util-linux) gives the command a terminal.
    let on_terminal = |args: &str| {
        let out = std::process::Command::new("script")
            .args(["-qfec"])
            .arg(format!("{bin} -C {} {args}", repo.path().display()))
            .arg("/dev/null")
            .output()
            .expect("script (util-linux) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("validate");
    assert!(
        shown.contains("parsing and checking 5 tenant files"),
        "{shown:?}"
    );
    // The line is cleared before the result is printed.
    assert!(shown.contains("\r\u{1b}[2Kok: 5 tenants"), "{shown:?}");
    let quiet = on_terminal("--quiet validate");
    assert!(!quiet.contains("parsing and checking"), "{quiet:?}");
    assert!(quiet.contains("ok: 5 tenants"), "{quiet:?}");
    // Not a terminal: nothing.
    let out = repo.run(&["validate"]).exits(0);
    let _ = out.stderr_lacks("parsing and checking");
}

/// Issue 21: after an error, one line names the command to run next — the
/// situation's own step, or the command's `--help` — unless the message
/// names one already.
#[test]
fn errors_end_with_a_hint_naming_the_next_command() {
    Repo::example()
        .run(&["plan", "--database", "mysql://root@127.0.0.1:1/nothing"])
        .exits(2)
        .stderr_has("error: cannot connect to mysql://root@127.0.0.1:1/nothing")
        .stderr_has("\nhint: check the database URL (--database, MAILOPS_DATABASE_URL or [database] in mailops.toml), then run `mailops plan` again\n");
    Repo::example()
        .file("tenants/acme.example.toml", "domain = \"acme.example\"\n")
        .run(&["plan"])
        .exits(1)
        .stderr_has("error: no plan: fix the problems above first\nhint: fix them, checking with `mailops validate`, then run `mailops plan` again\n");
    Repo::new()
        .run(&["dns", "check", "--concurrency", "0"])
        .exits(1)
        .stderr_has("\nhint: `mailops dns check --help` shows its options and examples\n");
    // The message names the next command itself: no hint repeats it.
    Repo::new()
        .run(&["dkim", "keygen", "nobody.example"])
        .exits(1)
        .stderr_has("run `mailops new nobody.example`")
        .stderr_lacks("hint:");
}

/// Issue 20: `tls tlsa` prints `3 1 1 <SHA-256 of the public key>` for the
/// certificate (as `openssl x509 -pubkey | openssl pkey -pubin -outform DER |
/// sha256sum` computes it) and for the next key, under `_25._tcp.<host>`.
#[test]
fn tls_tlsa_publishes_the_sha256_of_each_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=mx.webhizzy.in -keyout cert.key -out cert.pem 2>/dev/null",
    );
    sh(
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out next.key 2>/dev/null \
        && openssl pkey -in next.key -pubout -out next.pub",
    );
    let digest = |cmd: &str| sh(cmd).split_whitespace().next().unwrap().to_string();
    let current = digest(
        "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum",
    );
    let next = digest("openssl pkey -pubin -in next.pub -outform DER | sha256sum");
    let cert = dir.path().join("cert.pem");
    let next_pub = dir.path().join("next.pub");
    let run = Repo::example()
        .run(&[
            "tls",
            "tlsa",
            "--cert",
            cert.to_str().unwrap(),
            "--pubkey",
            next_pub.to_str().unwrap(),
        ])
        .exits(0);
    let out = run.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "_25._tcp.mx.webhizzy.in. 300 IN TLSA 3 1 1 {current}    ; "
        )),
        "{out}"
    );
    assert!(
        lines[1].contains(&format!(" IN TLSA 3 1 1 {next}    ; ")),
        "{out}"
    );
    // A public key given as the certificate is named for what it is.
    Repo::example()
        .run(&["tls", "tlsa", "--cert", next_pub.to_str().unwrap()])
        .exits(1)
        .stderr_has("the first PEM block is `PUBLIC KEY`, not a CERTIFICATE");
}
