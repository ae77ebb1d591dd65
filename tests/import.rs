//! `mailops import` against real fixture databases, on SQLite and MariaDB:
//! the tutorial layout (>= 200 domains, >= 20,000 mailboxes, with every kind
//! of odd data) and PostfixAdmin's, built by the test through the engines'
//! own clients; and the refusals that write nothing.

mod support;

use std::path::Path;

use support::*;

on_both_engines!(
    a_large_tutorial_database_imports_with_every_odd_row_reported,
    existing_files_are_never_replaced_without_force,
    an_unknown_layout_writes_nothing,
    a_postfixadmin_database_imports_and_applies_to_a_fresh_database,
    a_large_postfixadmin_database_imports_with_its_legacy_hashes_and_applies,
    an_imported_tutorial_database_is_adopted_in_place_without_a_row_change,
);

const HASH: &str = "{SHA512-CRYPT}$6$pktvAPKe663rc76q$7ivWZImehCyftg4vBpqi2Cuigj84lBfSgk3qdr4EMpT66H93izde4X.rk5lRlbBqs7iCL54pZ0TVDVC6G4o3c.";
const BARE: &str = "$2y$10$pNin726eAvlJf0C2zG6q7eIOuMHmxFTFTKBwA8H2SZXDco5GN/Beu";
const SHA256: &str =
    "{SHA256-CRYPT}$5$pktvAPKe663rc76q$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

/// PostfixAdmin's default `encrypt = 'md5crypt'` stores bare MD5 crypt hashes
/// (`openssl passwd -1 -salt Xy7.kQ2a secret`).
const MD5: &str = "$1$Xy7.kQ2a$025TEWdNATDvIVzhPPvcq.";

const DOMAINS: usize = 200;
const USERS: usize = 100;

fn tutorial_tables(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TABLE virtual_domains (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
             CREATE TABLE virtual_users (id INTEGER PRIMARY KEY AUTOINCREMENT, domain_id INTEGER NOT NULL,
               email TEXT NOT NULL, password TEXT NOT NULL, quota INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE virtual_aliases (id INTEGER PRIMARY KEY AUTOINCREMENT, domain_id INTEGER NOT NULL,
               source TEXT NOT NULL, destination TEXT NOT NULL);\n"
        }
        Engine::Mariadb => {
            "CREATE TABLE virtual_domains (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
             CREATE TABLE virtual_users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, domain_id INT NOT NULL,
               email VARCHAR(120) NOT NULL, password VARCHAR(150) NOT NULL, quota BIGINT(11) NOT NULL DEFAULT 0) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
             CREATE TABLE virtual_aliases (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, domain_id INT NOT NULL,
               source VARCHAR(100) NOT NULL, destination VARCHAR(500) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        }
    }
}

/// `DOMAINS` clean domains `d<N>.example` (ids 1…) in the tutorial's tables,
/// `USERS` mailboxes each, their RFC 2142 aliases, and `more_aliases` after
/// them (more `(domain_id, source, destination)` rows, `{d}` the domain's number).
fn tutorial_domains(sql: &mut String, more_aliases: &str) {
    for d in 1..=DOMAINS {
        sql.push_str(&format!(
            "INSERT INTO virtual_domains (id, name) VALUES ({d}, 'd{d}.example');\n"
        ));
        let rows: Vec<String> = (1..=USERS)
            .map(|u| {
                format!(
                    "({d}, 'user{u}@d{d}.example', '{HASH}', {})",
                    u * 1024 * 1024
                )
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO virtual_users (domain_id, email, password, quota) VALUES {};\n",
            rows.join(", ")
        ));
        sql.push_str(&format!(
            "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES \
             ({d}, 'postmaster@d{d}.example', 'user1@d{d}.example'), ({d}, 'abuse@d{d}.example', 'user1@d{d}.example'){};\n",
            more_aliases.replace("{d}", &d.to_string())
        ));
    }
}

/// The tutorial fixture: `DOMAINS` clean domains `d<N>.example` with `USERS`
/// mailboxes each and their RFC 2142 aliases, then one domain of odd rows.
fn tutorial_fixture(engine: Engine) -> String {
    let mut sql = String::from(tutorial_tables(engine));
    tutorial_domains(&mut sql, "");
    // The odd ones, in domain 201 (mixed case, spaces) and 202 (a U-label),
    // 203 (a duplicate of 201), 204 (not a domain).
    let odd = [
        "INSERT INTO virtual_domains (id, name) VALUES (201, ' Odd.Example'), (202, 'büro.example'), (203, 'odd.example'), (204, 'not_a_domain');",
        "INSERT INTO virtual_users (id, domain_id, email, password, quota) VALUES
          (900001, 201, 'Alice@Odd.Example', '{HASH}', 0),
          (900002, 201, ' bob@odd.example ', '{BARE}', 2147483648),
          (900003, 201, 'alice@odd.example', '{HASH}', 0),
          (900004, 201, 'legacy@odd.example', '{SHA256}', 0),
          (900005, 201, 'plain@odd.example', 'secret123', 0),
          (900006, 203, 'carol@odd.example', '{HASH}', 0),
          (900007, 202, 'chef@büro.example', '{HASH}', 0),
          (900008, 204, 'x@not_a_domain', '{HASH}', 0);",
        "INSERT INTO virtual_aliases (id, domain_id, source, destination) VALUES
          (900001, 201, 'postmaster@odd.example', 'alice@odd.example, bob@odd.example'),
          (900002, 201, 'abuse@odd.example', 'alice@odd.example'),
          (900003, 201, 'abuse@odd.example', 'alice@odd.example'),
          (900004, 201, 'info@odd.example', 'nobody@odd.example'),
          (900005, 201, 'alice@odd.example', 'alice@odd.example'),
          (900006, 201, 'partner@odd.example', 'Someone@Partner.example'),
          (900007, 202, '@büro.example', 'chef@büro.example'),
          (900008, 201, 'cross@odd.example', 'user1@d1.example');",
    ];
    for statement in odd {
        sql.push_str(
            &statement
                .replace("{HASH}", HASH)
                .replace("{BARE}", BARE)
                .replace("{SHA256}", SHA256),
        );
        sql.push('\n');
    }
    sql
}

/// One RSA key in Rspamd's folder for every domain but `odd.example`.
fn rspamd_key_dir(domains: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let key = dir.path().join("template.pem");
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    for domain in domains {
        std::fs::write(dir.path().join(format!("{domain}.mail2024.key")), &pem).unwrap();
    }
    dir
}

fn tenant(repo: &Repo, domain: &str) -> String {
    std::fs::read_to_string(repo.path().join(format!("tenants/{domain}.toml")))
        .unwrap_or_else(|e| panic!("{domain}: {e}"))
}

fn tenant_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

fn a_large_tutorial_database_imports_with_every_odd_row_reported(engine: Engine) {
    let db = TestDb::new(engine);
    db.script(&tutorial_fixture(engine), "the tutorial fixture");
    let mut keyed: Vec<String> = (1..=DOMAINS).map(|d| format!("d{d}.example")).collect();
    keyed.push("xn--bro-hoa.example".into());
    let keys = rspamd_key_dir(&keyed);
    // d2.example signs with Ed25519 only, in Rspamd's raw form (the base64 seed, and
    // the DNS record `rspamadm dkim_keygen` prints after it).
    std::fs::write(
        keys.path().join("d2.example.mail2024.key"),
        "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\nmail2024._domainkey IN TXT ( \"v=DKIM1; k=ed25519; p=…\" ) ;\n",
    )
    .unwrap();
    let repo = Repo::example_platform();
    let out = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            keys.path().to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    let report = stdout(&out);
    for expected in [
        "!!! d2.example: only an Ed25519 key in the key folder (selector `mail2024`): a fresh RSA key was added beside it (selector `dkim`)",
        "virtual_users(id, domain_id, email, password, quota [bytes])",
        "mapped: 202 domains, 20004 mailboxes, 405 aliases (406 destinations)",
        "virtual_domains id 201: spaces around `Odd.Example` removed",
        "virtual_domains id 201: `Odd.Example` stored as `odd.example` (lowercased)",
        "virtual_domains id 202: `büro.example` stored as `xn--bro-hoa.example` (a Unicode domain",
        "virtual_domains id 203: a duplicate of domain `odd.example`: merged into one tenant file",
        "virtual_domains id 204: `not_a_domain` is not a valid domain",
        "virtual_users id 900001: `Alice@Odd.Example` written as `alice@odd.example`",
        "virtual_users id 900001: quota 0 (unlimited): mailops has no unlimited quota",
        "virtual_users id 900002: spaces around `bob@odd.example` removed",
        "virtual_users id 900002: the bare hash was prefixed with {BLF-CRYPT}",
        "virtual_users id 900003: `alice@odd.example` again (a duplicate of virtual_users id 900001)",
        "virtual_users id 900004: `legacy@odd.example`: scheme SHA256-CRYPT is not in the platform's password_schemes",
        "virtual_users id 900005: `plain@odd.example`: a password without a {SCHEME} prefix that is no crypt hash",
        "virtual_users id 900008: `x@not_a_domain`: label `not_a_domain`",
        "virtual_aliases id 900001: the destination list `alice@odd.example, bob@odd.example` was split into 2 destinations",
        "virtual_aliases id 900003: `abuse@odd.example` → `alice@odd.example` appears twice: kept once",
        "virtual_aliases id 900004: `info@odd.example` → `nobody@odd.example`: points nowhere",
        "virtual_aliases id 900006: `Someone@Partner.example` written as `someone@partner.example`",
        "!!! odd.example: no DKIM key in the key folder: a fresh key was made",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in\n{report}"
        );
    }
    // The self-alias of a mailbox is dropped without a word: it changes nothing.
    assert!(!report.contains("virtual_aliases id 900005"), "{report}");
    assert_eq!(report.matches("!!!").count(), 2, "{report}");
    assert_eq!(tenant_files(&repo.path().join("tenants")), 202);

    let odd = tenant(&repo, "odd.example");
    assert!(odd.contains("domain = \"odd.example\""), "{odd}");
    assert!(
        odd.contains(&format!("password = \"{{BLF-CRYPT}}{BARE}\"")),
        "{odd}"
    );
    assert!(odd.contains("quota = \"2 GiB\""), "{odd}");
    assert!(odd.contains("# import: `Alice@Odd.Example` written as `alice@odd.example`\n# import: quota 0 (unlimited)"), "{odd}");
    assert!(
        odd.contains("default quota applies\n[[mailbox]]\nuser = \"alice\""),
        "{odd}"
    );
    assert!(
        odd.contains("[[alias]]\naddress = \"postmaster\"\nto = [\"alice\", \"bob\"]"),
        "{odd}"
    );
    assert!(
        odd.contains("address = \"cross\"\nto = [\"user1@d1.example\"]"),
        "{odd}"
    );
    assert!(!odd.contains("address = \"info\""), "{odd}");
    assert!(!odd.contains("legacy"), "{odd}");
    let buro = tenant(&repo, "xn--bro-hoa.example");
    assert!(buro.contains("domain = \"büro.example\""), "{buro}");
    assert!(buro.contains("selector = \"mail2024\""), "{buro}");
    assert!(buro.contains("address = \"*\"\nto = [\"chef\"]"), "{buro}");
    let d7 = tenant(&repo, "d7.example");
    assert_eq!(d7.matches("[[mailbox]]").count(), USERS, "{d7}");
    assert!(
        d7.contains("user = \"user3\"\npassword = ") && d7.contains("quota = \"3 MiB\""),
        "{d7}"
    );
    // Keys went to the key store: Rspamd's PKCS#1 as PKCS#8, and the fresh one.
    let store = repo.path().join(".mailops/keys");
    let key = std::fs::read_to_string(store.join("d7.example.mail2024.key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert!(store.join("odd.example.dkim.key").exists());
    // d2.example: its Ed25519 key (as PKCS#8) and a fresh RSA key beside it.
    let d2 = tenant(&repo, "d2.example");
    assert_eq!(d2.matches("[[dkim]]").count(), 2, "{d2}");
    assert!(
        d2.contains("[[dkim]]\nselector = \"mail2024\"\npublic_key = \"MCowBQYDK2VwAyEA"),
        "{d2}"
    );
    assert!(
        d2.contains("[[dkim]]\nselector = \"dkim\"\npublic_key = \"MIIB"),
        "{d2}"
    );
    let ed = std::fs::read_to_string(store.join("d2.example.mail2024.key")).unwrap();
    assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----"), "{ed}");
    assert!(store.join("d2.example.dkim.key").exists());

    // The files validate: the only findings are about the import's own reports.
    let out = run(repo.path(), &["validate", "--format", "json"]);
    assert_code(&out, 0);

    // With the legacy scheme allowed, it comes in with a warning on its mailbox.
    let out = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            keys.path().to_str().unwrap(),
            "--force",
            "--allow-scheme",
            "sha256-crypt",
        ],
    );
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains(
            "`legacy@odd.example`: legacy scheme SHA256-CRYPT (--allow-scheme or `legacy_password_schemes`)"
        ),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(
            "note: SHA256-CRYPT added to `[defaults] legacy_password_schemes` in mailops.toml"
        ),
        "{}",
        stdout(&out)
    );
    assert!(tenant(&repo, "odd.example").contains("# import: warning: legacy scheme SHA256-CRYPT"));
    // mailops.toml lists it (comments kept), so the repo validates: exactly one warning,
    // on the one mailbox that uses it.
    let platform = std::fs::read_to_string(repo.path().join("mailops.toml")).unwrap();
    assert!(
        platform.contains("legacy_password_schemes = [\"SHA256-CRYPT\"]"),
        "{platform}"
    );
    let out = run(repo.path(), &["validate", "--format", "json"]);
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let codes: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["mailops::password::legacy-scheme"], "{json}");
    // A second import with the same flag does not list it twice.
    let again = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            keys.path().to_str().unwrap(),
            "--force",
            "--allow-scheme",
            "sha256-crypt",
        ],
    );
    assert_code(&again, 0);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("mailops.toml")).unwrap(),
        platform
    );
}

fn existing_files_are_never_replaced_without_force(engine: Engine) {
    let db = TestDb::new(engine);
    db.script(
        &format!(
            "{}INSERT INTO virtual_domains (id, name) VALUES (1, 'a.example'), (2, 'b.example');
             INSERT INTO virtual_users (domain_id, email, password) VALUES (1, 'alice@a.example', '{HASH}'), (2, 'bob@b.example', '{HASH}');",
            tutorial_tables(engine)
        ),
        "fixture",
    );
    let repo = Repo::example_platform().file("tenants/b.example.toml", "# mine\n");
    let out = run(repo.path(), &["import", "--database", &db.url]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("b.example.toml"), "{}", show(&out));
    assert!(stderr(&out).contains("nothing written"), "{}", show(&out));
    assert_eq!(tenant_files(&repo.path().join("tenants")), 1);
    assert!(!repo.path().join(".mailops/keys").exists());
    assert_eq!(tenant(&repo, "b.example"), "# mine\n");
    let out = run(repo.path(), &["import", "--database", &db.url, "--force"]);
    assert_code(&out, 0);
    assert!(tenant(&repo, "b.example").contains("user = \"bob\""));
    assert!(tenant(&repo, "a.example").contains("user = \"alice\""));
}

fn an_unknown_layout_writes_nothing(engine: Engine) {
    let db = TestDb::new(engine);
    db.script(
        "CREATE TABLE accounts (id INTEGER, login VARCHAR(20));",
        "fixture",
    );
    let repo = Repo::example_platform();
    let out = run(repo.path(), &["import", "--database", &db.url]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("unknown layout") && stderr(&out).contains("accounts"),
        "{}",
        show(&out)
    );
    let out = run(
        repo.path(),
        &["import", "--database", &db.url, "--from", "postfixadmin"],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("not PostfixAdmin's layout"),
        "{}",
        show(&out)
    );
    assert_eq!(tenant_files(&repo.path().join("tenants")), 0);
}

/// PostfixAdmin's tables (the columns mailops reads; `domain` holds its `ALL` row).
fn postfixadmin_tables(engine: Engine) -> String {
    let int = if engine == Engine::Sqlite {
        "INTEGER"
    } else {
        "TINYINT(1)"
    };
    let text = if engine == Engine::Sqlite {
        "TEXT"
    } else {
        "VARCHAR(255)"
    };
    format!(
        "CREATE TABLE domain (domain {text} NOT NULL PRIMARY KEY, description {text} NOT NULL DEFAULT '', aliases INT NOT NULL DEFAULT 0,
           mailboxes INT NOT NULL DEFAULT 0, maxquota BIGINT NOT NULL DEFAULT 0, quota BIGINT NOT NULL DEFAULT 0,
           transport {text} DEFAULT NULL, backupmx {int} NOT NULL DEFAULT 0, active {int} NOT NULL DEFAULT 1);
         CREATE TABLE mailbox (username {text} NOT NULL PRIMARY KEY, password {text} NOT NULL, name {text} NOT NULL DEFAULT '',
           maildir {text} NOT NULL DEFAULT '', quota BIGINT NOT NULL DEFAULT 0, local_part {text} NOT NULL, domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);
         CREATE TABLE alias (address {text} NOT NULL PRIMARY KEY, goto TEXT NOT NULL, domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);
         CREATE TABLE alias_domain (alias_domain {text} NOT NULL PRIMARY KEY, target_domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);"
    )
}

fn a_postfixadmin_database_imports_and_applies_to_a_fresh_database(engine: Engine) {
    let db = TestDb::new(engine);
    db.script(
        &format!(
            "{}
             INSERT INTO domain (domain, description, mailboxes, maxquota, active) VALUES ('ALL', '', 0, 0, 1),
               ('pfa.example', 'PFA Ltd', 1, 4096, 1), ('old.example', 'Gone Inc', 0, 100, 0), ('pfa-alias.example', '', 0, 0, 1);
             INSERT INTO mailbox (username, password, name, quota, local_part, domain, active) VALUES
               ('alice@pfa.example', '{HASH}', 'Alice A', 1073741824, 'alice', 'pfa.example', 1),
               ('bob@pfa.example', '{HASH}', '', 0, 'bob', 'pfa.example', 0),
               ('carol@old.example', '{HASH}', 'Carol', 0, 'carol', 'old.example', 1);
             INSERT INTO alias (address, goto, domain, active) VALUES
               ('alice@pfa.example', 'alice@pfa.example', 'pfa.example', 1),
               ('bob@pfa.example', 'bob@pfa.example', 'pfa.example', 0),
               ('carol@old.example', 'carol@old.example,carol@home.example', 'old.example', 1),
               ('postmaster@pfa.example', 'alice@pfa.example,bob@pfa.example', 'pfa.example', 1),
               ('abuse@pfa.example', 'alice@pfa.example', 'pfa.example', 1),
               ('postmaster@old.example', 'carol@old.example', 'old.example', 1),
               ('abuse@old.example', 'carol@old.example', 'old.example', 1),
               ('sales@pfa.example', 'alice@pfa.example', 'pfa.example', 0);
             INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('pfa-alias.example', 'pfa.example', 1);",
            postfixadmin_tables(engine)
        ),
        "the PostfixAdmin fixture",
    );
    let repo = Repo::example_platform();
    let out = run(repo.path(), &["import", "--database", &db.url]);
    assert_code(&out, 0);
    let report = stdout(&out);
    for expected in [
        "(postfixadmin layout)",
        "mapped: 2 domains, 3 mailboxes, 4 aliases (6 destinations)",
        "`carol@old.example` is a mailbox that also forwards to carol@home.example: its `forward`, keeping a copy",
        "mailbox `bob@pfa.example`: an inactive mailbox: imported as `state = \"disabled\"`",
        "domain `old.example`: an inactive domain: imported as the tenant's `state = \"disabled\"`",
        "alias `sales@pfa.example`: an inactive alias `sales@pfa.example`",
        "alias_domain `pfa-alias.example`: every address of `pfa-alias.example` to `pfa.example`: imported as `alias_domains = [\"pfa-alias.example\"]` in pfa.example.toml",
        "alias `postmaster@pfa.example`: the destination list `alice@pfa.example,bob@pfa.example` was split into 2 destinations",
        "domain(domain, description, mailboxes, maxquota [MB of 1,024,000 bytes], backupmx, transport, active)",
        "domain `pfa.example`: 2 mailboxes, over the domain's limit of 1: max_mailboxes written as 2",
        "mailbox `carol@old.example`: quota 0 (unlimited): mailops has no unlimited quota, given the domain's maxquota (102400000 bytes)",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in\n{report}"
        );
    }
    let pfa = tenant(&repo, "pfa.example");
    assert!(pfa.contains("description = \"PFA Ltd\""), "{pfa}");
    assert!(
        pfa.contains("user = \"alice\"\nname = \"Alice A\""),
        "{pfa}"
    );
    assert!(
        pfa.contains("user = \"bob\"\npassword") && pfa.contains("state = \"disabled\""),
        "{pfa}"
    );
    assert!(
        pfa.contains("[limits]\nmax_mailboxes = 2\nmax_quota = \"4000 MiB\""),
        "{pfa}"
    );
    assert!(!repo.path().join("tenants/pfa-alias.example.toml").exists());
    assert!(
        pfa.contains("alias_domains = [\"pfa-alias.example\"]\n"),
        "{pfa}"
    );
    // An inactive domain: the tenant is disabled, its mailboxes keep their own state.
    let old = tenant(&repo, "old.example");
    assert!(
        old.contains("description = \"Gone Inc\"\nstate = \"disabled\"\n"),
        "{old}"
    );
    assert_eq!(old.matches("state = ").count(), 1, "{old}");
    // Issue 22: a mailbox whose alias row names itself and more forwards, keeping a copy.
    assert!(
        old.contains("forward = [\"carol@home.example\"]\n") && !old.contains("keep_copy"),
        "{old}"
    );

    // Applied to a fresh mailops database: the rows, with their states.
    let fresh = TestDb::new(engine);
    let out = run(repo.path(), &["apply", "--yes", "--database", &fresh.url]);
    assert_code(&out, 0);
    assert_eq!(
        fresh.sql("SELECT email, state, quota_bytes, password = (SELECT password FROM virtual_users WHERE email = 'alice@pfa.example') FROM virtual_users ORDER BY email"),
        "alice@pfa.example\tactive\t1073741824\t1\nbob@pfa.example\tdisabled\t4194304000\t1\ncarol@old.example\tactive\t102400000\t1\n"
    );
    // The inactive domain is a disabled tenant: its mail refused, its rows kept.
    assert_eq!(
        fresh.sql("SELECT name, state FROM virtual_domains ORDER BY name"),
        "old.example\tdisabled\npfa-alias.example\tactive\npfa.example\tactive\n"
    );
    assert_eq!(
        fresh.sql("SELECT destination FROM virtual_aliases WHERE source = 'carol@old.example' ORDER BY destination"),
        "carol@home.example\ncarol@old.example\n"
    );
    // The alias domain: its addresses are the tenant's.
    assert!(
        fresh
            .sql("SELECT destination FROM virtual_aliases WHERE source = 'alice@pfa-alias.example'")
            .contains("alice@pfa.example"),
    );
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &fresh.url],
    );
    assert_code(&out, 0);
}

/// PostfixAdmin at scale (>= 200 domains, >= 20,000 mailboxes): bare MD5 crypt hashes
/// (its default), a self-alias per mailbox, comma-list `goto`s, and every kind of odd
/// row; imported with `--allow-scheme MD5-CRYPT`, validated with exactly one warning per
/// legacy hash, applied to a fresh database, and then nothing left to change.
fn a_large_postfixadmin_database_imports_with_its_legacy_hashes_and_applies(engine: Engine) {
    let db = TestDb::new(engine);
    let mut sql = postfixadmin_tables(engine);
    sql.push_str("\nINSERT INTO domain (domain, description, mailboxes, maxquota, active) VALUES ('ALL', '', 0, 0, 1);\n");
    for d in 1..=DOMAINS {
        sql.push_str(&format!(
            "INSERT INTO domain (domain, description, mailboxes, maxquota, active) VALUES ('p{d}.example', 'Client {d}', 0, 0, 1);\n"
        ));
        let mailboxes: Vec<String> = (1..=USERS)
            .map(|u| {
                // Odd users keep PostfixAdmin's bare MD5 crypt; even ones were rehashed.
                let hash = if u % 2 == 1 { MD5 } else { HASH };
                format!(
                    "('u{u}@p{d}.example', '{hash}', 'User {u}', {}, 'u{u}', 'p{d}.example', 1)",
                    u * 1024 * 1024
                )
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO mailbox (username, password, name, quota, local_part, domain, active) VALUES {};\n",
            mailboxes.join(", ")
        ));
        let mut aliases: Vec<String> = (1..=USERS)
            .map(|u| format!("('u{u}@p{d}.example', 'u{u}@p{d}.example', 'p{d}.example', 1)"))
            .collect();
        aliases.push(format!(
            "('postmaster@p{d}.example', 'u1@p{d}.example,u2@p{d}.example', 'p{d}.example', 1)"
        ));
        aliases.push(format!(
            "('abuse@p{d}.example', 'u1@p{d}.example', 'p{d}.example', 1)"
        ));
        sql.push_str(&format!(
            "INSERT INTO alias (address, goto, domain, active) VALUES {};\n",
            aliases.join(", ")
        ));
    }
    // The odd rows: mixed case, spaces, a U-label, inactive rows, a plaintext
    // password, a mailbox over its domain's limit, a catch-all, an alias that
    // points nowhere, one off the platform, an alias domain.
    sql.push_str(&format!(
        "INSERT INTO domain (domain, description, mailboxes, maxquota, active) VALUES
           ('Mixed.Example', 'Mixed Case Ltd', 1, 2048, 1), ('café.example', '', 0, 0, 1),
           ('gone.example', 'Gone', 0, 0, 0), ('mixed-alias.example', '', 0, 0, 1);
         INSERT INTO mailbox (username, password, name, quota, local_part, domain, active) VALUES
           ('Ann@Mixed.Example', '{MD5}', 'Ann', 0, 'Ann', 'Mixed.Example', 1),
           (' ben@mixed.example ', '{HASH}', '', 1048576, 'ben', 'Mixed.Example', 1),
           ('cid@mixed.example', '{HASH}', '', 1048576, 'cid', 'Mixed.Example', 0),
           ('pat@mixed.example', '{{PLAIN}}secret', '', 1048576, 'pat', 'Mixed.Example', 1),
           ('chef@café.example', '{MD5}', 'Chef', 1048576, 'chef', 'café.example', 1),
           ('old@gone.example', '{HASH}', '', 1048576, 'old', 'gone.example', 1);
         INSERT INTO alias (address, goto, domain, active) VALUES
           ('ann@mixed.example', 'ann@mixed.example', 'Mixed.Example', 1),
           ('postmaster@mixed.example', ' Ann@Mixed.Example , ben@mixed.example', 'Mixed.Example', 1),
           ('abuse@mixed.example', 'ann@mixed.example', 'Mixed.Example', 1),
           ('@mixed.example', 'ben@mixed.example', 'Mixed.Example', 1),
           ('info@p1.example', 'nobody@p1.example', 'p1.example', 1),
           ('info@mixed.example', 'nobody@mixed.example', 'Mixed.Example', 1),
           ('partner@mixed.example', 'Someone@Partner.example', 'Mixed.Example', 1),
           ('sales@mixed.example', 'ann@mixed.example', 'Mixed.Example', 0),
           ('postmaster@café.example', 'chef@café.example', 'café.example', 1),
           ('abuse@café.example', 'chef@café.example', 'café.example', 1),
           ('postmaster@gone.example', 'old@gone.example', 'gone.example', 1),
           ('abuse@gone.example', 'old@gone.example', 'gone.example', 1);
         INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('mixed-alias.example', 'mixed.example', 1);
         INSERT INTO domain (domain, transport, backupmx) VALUES ('backup.example', 'virtual', 1),
           ('onprem.example', 'relay:[mail.onprem.example]', 0);
         UPDATE domain SET transport = 'virtual' WHERE domain LIKE 'p%.example';
         INSERT INTO alias (address, goto, domain, active) VALUES
           ('postmaster@onprem.example', 'admin@onprem.example', 'onprem.example', 1),
           ('abuse@onprem.example', 'admin@onprem.example', 'onprem.example', 1);\n"
    ));
    db.script(&sql, "the large PostfixAdmin fixture");
    let dump = || db.sql("SELECT username, password, quota, active FROM mailbox ORDER BY username");
    let before = dump();

    // Rspamd's keys for the client domains; the three odd ones get fresh keys.
    let keyed: Vec<String> = (1..=DOMAINS).map(|d| format!("p{d}.example")).collect();
    let keys = rspamd_key_dir(&keyed);
    let key_dir = keys.path().to_str().unwrap();
    let repo = Repo::example_platform();
    // Without --allow-scheme, the MD5 crypt mailboxes are listed as not imported.
    let out = run(
        repo.path(),
        &["import", "--database", &db.url, "--dkim-dir", key_dir],
    );
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("scheme MD5-CRYPT is not in the platform's password_schemes; `--allow-scheme MD5-CRYPT` imports it anyway"),
        "{}",
        stdout(&out)
    );
    let out = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            key_dir,
            "--force",
            "--allow-scheme",
            "MD5-CRYPT",
        ],
    );
    assert_code(&out, 0);
    assert_eq!(dump(), before, "import wrote to its source");
    let report = stdout(&out);
    let legacy = DOMAINS * USERS / 2 + 2; // the odd users, Ann and the chef
    let mailboxes = DOMAINS * USERS + 5; // all but pat (plaintext)
    for expected in [
        "(postfixadmin layout)".to_string(),
        format!("mapped: 204 domains, {mailboxes} mailboxes,"),
        "the bare hash was prefixed with {MD5-CRYPT}".to_string(),
        "`Ann@Mixed.Example` written as `ann@mixed.example`".to_string(),
        "spaces around `ben@mixed.example` removed".to_string(),
        "mailbox `cid@mixed.example`: an inactive mailbox: imported as `state = \"disabled\"`".to_string(),
        "domain `gone.example`: an inactive domain: imported as the tenant's `state = \"disabled\"`".to_string(),
        "`pat@mixed.example`: a plaintext password".to_string(),
        "domain `mixed.example`: 3 mailboxes, over the domain's limit of 1: max_mailboxes written as 3".to_string(),
        "the destination list `Ann@Mixed.Example , ben@mixed.example` was split into 2 destinations".to_string(),
        "`info@p1.example` → `nobody@p1.example`: points nowhere".to_string(),
        "`Someone@Partner.example` written as `someone@partner.example`".to_string(),
        "alias `sales@mixed.example`: an inactive alias".to_string(),
        "alias_domain `mixed-alias.example`".to_string(),
        "domain(domain, description, mailboxes, maxquota [MB of 1,024,000 bytes], backupmx, transport, active)".to_string(),
        "domain `backup.example`: `backup.example` is a relay domain (backupmx = 1)".to_string(),
        "domain `onprem.example`: `onprem.example` is a relay domain (relay:[mail.onprem.example]): imported as `[relay] to = \"[mail.onprem.example]\"`".to_string(),
        "`postmaster@onprem.example` is in a relay domain: a relay recipient".to_string(),
        "note: MD5-CRYPT added to `[defaults] legacy_password_schemes` in mailops.toml".to_string(),
    ] {
        assert!(report.contains(&expected), "missing `{expected}` in\n{report}");
    }
    assert_eq!(
        report.matches("legacy scheme MD5-CRYPT").count(),
        legacy,
        "{report}"
    );
    assert_eq!(tenant_files(&repo.path().join("tenants")), DOMAINS + 4);
    // A backup MX (backupmx = 1) names no primary server: not imported.
    assert!(!repo.path().join("tenants/backup.example.toml").exists());
    // A relay transport: imported as [relay], its alias a recipient.
    let onprem = tenant(&repo, "onprem.example");
    assert!(
        onprem.contains(
            "[relay]\nto = \"[mail.onprem.example]\"\nrecipients = [\"abuse\", \"postmaster\"]\n"
        ),
        "{onprem}"
    );
    assert!(!onprem.contains("[[alias]]"), "{onprem}");
    let mixed = tenant(&repo, "mixed.example");
    assert!(mixed.contains("address = \"*\"\nto = [\"ben\"]"), "{mixed}");
    // Caught by the catch-all, so it leads somewhere: kept.
    assert!(
        mixed.contains("address = \"info\"\nto = [\"nobody\"]"),
        "{mixed}"
    );
    assert!(!tenant(&repo, "p1.example").contains("address = \"info\""));
    assert!(
        mixed.contains("to = [\"someone@partner.example\"]"),
        "{mixed}"
    );
    assert!(!mixed.contains("user = \"pat\""), "{mixed}");
    assert!(tenant(&repo, "xn--caf-dma.example").contains("domain = \"café.example\""));

    // Validate: clean but for exactly the expected warnings: one per mailbox still on
    // MD5 crypt (gone.example is a disabled tenant: its own aliases to its
    // mailbox are no warning, the tenant refuses their mail anyway).
    let out = run(repo.path(), &["validate", "--format", "json"]);
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for d in json["diagnostics"].as_array().unwrap() {
        *codes
            .entry(d["code"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        codes,
        std::collections::BTreeMap::from([(
            "mailops::password::legacy-scheme".to_string(),
            legacy
        )])
    );

    // Applied to a fresh mailops database: every mailbox with its original hash.
    let fresh = TestDb::new(engine);
    let out = run(repo.path(), &["apply", "--yes", "--database", &fresh.url]);
    assert_code(&out, 0);
    assert_eq!(
        fresh.sql("SELECT COUNT(*) FROM virtual_users"),
        format!("{mailboxes}\n")
    );
    assert_eq!(
        fresh.sql(&format!(
            "SELECT COUNT(*) FROM virtual_users WHERE password = '{{MD5-CRYPT}}{MD5}'"
        )),
        format!("{legacy}\n")
    );
    assert_eq!(
        fresh.sql("SELECT email, state, quota_bytes FROM virtual_users WHERE email IN ('ann@mixed.example', 'cid@mixed.example', 'old@gone.example', 'u3@p7.example') ORDER BY email"),
        "ann@mixed.example\tactive\t2097152000\ncid@mixed.example\tdisabled\t1048576\nold@gone.example\tactive\t1048576\nu3@p7.example\tactive\t3145728\n"
    );
    assert_eq!(
        fresh.sql("SELECT state FROM virtual_domains WHERE name = 'gone.example'"),
        "disabled\n"
    );
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &fresh.url],
    );
    assert_code(&out, 0);
}

#[test]
fn an_unreachable_database_and_an_unreadable_key_write_nothing() {
    let repo = Repo::example_platform();
    let out = run(
        repo.path(),
        &["import", "--database", "mysql://root@127.0.0.1:1/nothing"],
    );
    assert_code(&out, 2);
    assert!(stderr(&out).contains("cannot connect"), "{}", show(&out));
    let out = run(
        repo.path(),
        &["import", "--database", "sqlite:///nonexistent/x.db"],
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("no such database"), "{}", show(&out));

    let db = TestDb::new(Engine::Sqlite);
    db.script(
        &format!(
            "{}INSERT INTO virtual_domains (id, name) VALUES (1, 'a.example');",
            tutorial_tables(Engine::Sqlite)
        ),
        "fixture",
    );
    let keys = tempfile::tempdir().unwrap();
    std::fs::write(keys.path().join("a.example.dkim.key"), "not a key\n").unwrap();
    let out = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            keys.path().to_str().unwrap(),
        ],
    );
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("a.example.dkim.key"),
        "{}",
        show(&out)
    );
    assert_eq!(tenant_files(&repo.path().join("tenants")), 0);
    assert!(!repo.path().join(".mailops").exists());
}

/// The ISPmail tutorial's tables (Debian bookworm edition), foreign keys and all.
fn ispmail_tables(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TABLE virtual_domains (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
             CREATE TABLE virtual_users (id INTEGER PRIMARY KEY AUTOINCREMENT,
               domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE CASCADE,
               email TEXT NOT NULL UNIQUE, password TEXT NOT NULL, quota INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE virtual_aliases (id INTEGER PRIMARY KEY AUTOINCREMENT,
               domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE CASCADE,
               source TEXT NOT NULL, destination TEXT NOT NULL);\n"
        }
        Engine::Mariadb => {
            "CREATE TABLE IF NOT EXISTS `virtual_domains` (`id` int(11) NOT NULL auto_increment,
               `name` varchar(50) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
             CREATE TABLE IF NOT EXISTS `virtual_users` (`id` int(11) NOT NULL auto_increment,
               `domain_id` int(11) NOT NULL, `email` varchar(100) NOT NULL, `password` varchar(150) NOT NULL,
               `quota` bigint(11) NOT NULL DEFAULT 0, PRIMARY KEY (`id`), UNIQUE KEY `email` (`email`),
               FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8;
             CREATE TABLE IF NOT EXISTS `virtual_aliases` (`id` int(11) NOT NULL auto_increment,
               `domain_id` int(11) NOT NULL, `source` varchar(100) NOT NULL, `destination` varchar(100) NOT NULL,
               PRIMARY KEY (`id`), FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE)
               ENGINE=InnoDB DEFAULT CHARSET=utf8;\n"
        }
    }
}

fn an_imported_tutorial_database_is_adopted_in_place_without_a_row_change(engine: Engine) {
    let db = TestDb::new(engine);
    let mut sql = String::from(ispmail_tables(engine));
    tutorial_domains(
        &mut sql,
        ", ({d}, 'team@d{d}.example', 'user2@d{d}.example'), ({d}, 'team@d{d}.example', 'someone@partner.example'), \
         ({d}, '@d{d}.example', 'user3@d{d}.example')",
    );
    db.script(&sql, "the ISPmail fixture");
    let dump = || {
        db.sql(
            "SELECT id, domain_id, email, password, quota FROM virtual_users ORDER BY id;
             SELECT id, domain_id, source, destination FROM virtual_aliases ORDER BY id;
             SELECT id, name FROM virtual_domains ORDER BY id;",
        )
    };
    let before = dump();
    let keyed: Vec<String> = (1..=DOMAINS).map(|d| format!("d{d}.example")).collect();
    let keys = rspamd_key_dir(&keyed);
    let repo = Repo::example_platform();
    let out = run(
        repo.path(),
        &[
            "import",
            "--database",
            &db.url,
            "--dkim-dir",
            keys.path().to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("changed: 0\nnot mapped: 0\nwarnings: 0\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(dump(), before, "import wrote to its source");
    repo.ok(&["build"]);

    // The plan reads the tables as they are: nothing to change.
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert!(text(&out).contains("no row changes"), "{}", show(&out));
    assert!(
        text(&out).contains("an existing server's virtual_* tables"),
        "{}",
        show(&out)
    );

    // Apply adopts them in place: every row and id as it was.
    let out = run(repo.path(), &["apply", "--yes", "--database", &db.url]);
    assert_code(&out, 0);
    assert!(text(&out).contains("no row changes"), "{}", show(&out));
    assert_eq!(dump(), before);
    assert_eq!(
        db.sql("SELECT version FROM mailops_schema_migrations ORDER BY version"),
        "1\n2\n3\n4\n5\n6\n7\n8\n"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE quota_bytes = quota AND state = 'active' AND name IS NULL"),
        format!("{}\n", DOMAINS * USERS)
    );
    // And from now on it is a mailops database: a plan and an apply change nothing.
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
    let out = run(repo.path(), &["apply", "--yes", "--database", &db.url]);
    assert_code(&out, 0);
    assert_eq!(dump(), before);

    // Everyday changes on the adopted tables (which have no unique key on an alias):
    // a mailbox and an alias added, a mailbox's quota changed; applied once, then
    // nothing left to change, and every other row and id as it was.
    let path = repo.path().join("tenants/d5.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("quota = \"2 MiB\"", "quota = \"20 MiB\"", 1);
    std::fs::write(
        &path,
        format!(
            "{text}\n[[mailbox]]\nuser = \"newcomer\"\npassword = \"{HASH}\"\n\n[[alias]]\naddress = \"sales\"\nto = [\"newcomer\", \"user4\"]\n"
        ),
    )
    .unwrap();
    let out = run(repo.path(), &["apply", "--yes", "--database", &db.url]);
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT quota_bytes FROM virtual_users WHERE email IN ('user2@d5.example', 'newcomer@d5.example') ORDER BY email"),
        "2147483648\n20971520\n"
    );
    assert_eq!(
        db.sql("SELECT destination FROM virtual_aliases WHERE source = 'sales@d5.example' ORDER BY destination"),
        "newcomer@d5.example\nuser4@d5.example\n"
    );
    let out = run(
        repo.path(),
        &["plan", "--detailed-exitcode", "--database", &db.url],
    );
    assert_code(&out, 0);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM virtual_users WHERE id <= 20000"),
        format!("{}\n", DOMAINS * USERS)
    );
}
