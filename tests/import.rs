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
    an_imported_tutorial_database_is_adopted_in_place_without_a_row_change,
);

const HASH: &str = "{SHA512-CRYPT}$6$pktvAPKe663rc76q$7ivWZImehCyftg4vBpqi2Cuigj84lBfSgk3qdr4EMpT66H93izde4X.rk5lRlbBqs7iCL54pZ0TVDVC6G4o3c.";
const BARE: &str = "$2y$10$pNin726eAvlJf0C2zG6q7eIOuMHmxFTFTKBwA8H2SZXDco5GN/Beu";
const SHA256: &str =
    "{SHA256-CRYPT}$5$pktvAPKe663rc76q$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

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

/// The tutorial fixture: `DOMAINS` clean domains `d<N>.example` with `USERS`
/// mailboxes each and their RFC 2142 aliases, then one domain of odd rows.
fn tutorial_fixture(engine: Engine) -> String {
    let mut sql = String::from(tutorial_tables(engine));
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
             ({d}, 'postmaster@d{d}.example', 'user1@d{d}.example'), ({d}, 'abuse@d{d}.example', 'user1@d{d}.example');\n"
        ));
    }
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
    assert_eq!(report.matches("!!!").count(), 1, "{report}");
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
            "`legacy@odd.example`: legacy scheme SHA256-CRYPT, allowed by --allow-scheme"
        ),
        "{}",
        stdout(&out)
    );
    assert!(tenant(&repo, "odd.example").contains("# import: warning: legacy scheme SHA256-CRYPT"));
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

fn a_postfixadmin_database_imports_and_applies_to_a_fresh_database(engine: Engine) {
    let db = TestDb::new(engine);
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
    db.script(
        &format!(
            "CREATE TABLE domain (domain {text} NOT NULL PRIMARY KEY, description {text} NOT NULL DEFAULT '', aliases INT NOT NULL DEFAULT 0,
               mailboxes INT NOT NULL DEFAULT 0, maxquota BIGINT NOT NULL DEFAULT 0, quota BIGINT NOT NULL DEFAULT 0, active {int} NOT NULL DEFAULT 1);
             CREATE TABLE mailbox (username {text} NOT NULL PRIMARY KEY, password {text} NOT NULL, name {text} NOT NULL DEFAULT '',
               maildir {text} NOT NULL DEFAULT '', quota BIGINT NOT NULL DEFAULT 0, local_part {text} NOT NULL, domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);
             CREATE TABLE alias (address {text} NOT NULL PRIMARY KEY, goto TEXT NOT NULL, domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);
             CREATE TABLE alias_domain (alias_domain {text} NOT NULL PRIMARY KEY, target_domain {text} NOT NULL, active {int} NOT NULL DEFAULT 1);
             INSERT INTO domain (domain, description, mailboxes, maxquota, active) VALUES ('ALL', '', 0, 0, 1),
               ('pfa.example', 'PFA Ltd', 1, 4096, 1), ('old.example', 'Gone Inc', 0, 100, 0), ('pfa-alias.example', '', 0, 0, 1);
             INSERT INTO mailbox (username, password, name, quota, local_part, domain, active) VALUES
               ('alice@pfa.example', '{HASH}', 'Alice A', 1073741824, 'alice', 'pfa.example', 1),
               ('bob@pfa.example', '{HASH}', '', 0, 'bob', 'pfa.example', 0),
               ('carol@old.example', '{HASH}', 'Carol', 0, 'carol', 'old.example', 1);
             INSERT INTO alias (address, goto, domain, active) VALUES
               ('alice@pfa.example', 'alice@pfa.example', 'pfa.example', 1),
               ('bob@pfa.example', 'bob@pfa.example', 'pfa.example', 0),
               ('carol@old.example', 'carol@old.example', 'old.example', 1),
               ('postmaster@pfa.example', 'alice@pfa.example,bob@pfa.example', 'pfa.example', 1),
               ('abuse@pfa.example', 'alice@pfa.example', 'pfa.example', 1),
               ('postmaster@old.example', 'carol@old.example', 'old.example', 1),
               ('abuse@old.example', 'carol@old.example', 'old.example', 1),
               ('sales@pfa.example', 'alice@pfa.example', 'pfa.example', 0);
             INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('pfa-alias.example', 'pfa.example', 1);"
        ),
        "the PostfixAdmin fixture",
    );
    let repo = Repo::example_platform();
    let out = run(repo.path(), &["import", "--database", &db.url]);
    assert_code(&out, 0);
    let report = stdout(&out);
    for expected in [
        "(postfixadmin layout)",
        "mapped: 2 domains, 3 mailboxes, 4 aliases (5 destinations)",
        "mailbox `bob@pfa.example`: an inactive mailbox: imported as `state = \"disabled\"`",
        "domain `old.example`: an inactive domain: imported as the tenant's `state = \"disabled\"`",
        "alias `sales@pfa.example`: an inactive alias `sales@pfa.example`",
        "alias_domain `pfa-alias.example`: every address of `pfa-alias.example` to `pfa.example`: mailops has no alias domains yet",
        "alias `postmaster@pfa.example`: the destination list `alice@pfa.example,bob@pfa.example` was split into 2 destinations",
        "domain(domain, description, mailboxes, maxquota [MB of 1,024,000 bytes], active)",
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
    // An inactive domain: the tenant is disabled, its mailboxes keep their own state.
    let old = tenant(&repo, "old.example");
    assert!(
        old.contains("description = \"Gone Inc\"\nstate = \"disabled\"\n"),
        "{old}"
    );
    assert_eq!(old.matches("state = ").count(), 1, "{old}");

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
        "old.example\tdisabled\npfa.example\tactive\n"
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
             ({d}, 'postmaster@d{d}.example', 'user1@d{d}.example'), ({d}, 'abuse@d{d}.example', 'user1@d{d}.example'), \
             ({d}, 'team@d{d}.example', 'user2@d{d}.example'), ({d}, 'team@d{d}.example', 'someone@partner.example'), \
             ({d}, '@d{d}.example', 'user3@d{d}.example');\n"
        ));
    }
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
        "1\n2\n3\n4\n5\n"
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
}
