//! The injection corpus: every string field of both file kinds (tenant and
//! platform) × payloads that break out of SQL, HCL, YAML, shell and configs,
//! hide characters, or confuse. Each case ends in exactly one of:
//!
//! - **refused**: an error diagnostic in the case's file, at the line the
//!   field is written on;
//! - **round-trip**: the value is accepted, and reads back exactly from what
//!   mailops generated: the rows of the generated SQL files applied on SQLite
//!   and MariaDB (read back with their clients), the HCL string literals of
//!   the Terraform files evaluated by real Terraform (`terraform console`),
//!   the cloud-init YAML parsed by PyYAML (each embedded file byte for byte).
//!
//! Anything else (a panic, an error elsewhere, a value that reads back
//! differently) fails. The engines are run a few times per test, not per
//! case: every tenant case is one file of one mail repo, validated and built
//! once. The test prints how many cases ended each way.
//!
//! Also here: the regression tests of the value holes of issue 10.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{
    Engine, MINIMAL_PLATFORM, Repo, TEST_HASH, TEST_KEY, TestDb, dns_file, files_under, mailops,
    output_with_stdin, toml_string,
};

/// A payload: a name and how it turns a field's valid value into an attack.
type Payload = (&'static str, fn(&str) -> String);

fn payloads() -> Vec<Payload> {
    vec![
        ("single-quote", |v| format!("{v}'")),
        ("double-quote", |v| format!("{v}\"")),
        ("backslash", |v| format!("{v}\\")),
        ("cr", |v| format!("{v}\rx")),
        ("lf", |v| format!("{v}\nx")),
        ("nul", |v| format!("{v}\0")),
        ("dollar-brace", |v| format!("{v}${{x}}")),
        ("percent-brace", |v| format!("{v}%{{x}}")),
        ("dollar-paren", |v| format!("{v}$(id)")),
        ("backtick", |v| format!("{v}`id`")),
        ("semicolon", |v| format!("{v};x")),
        ("sql-comment", |v| format!("{v}--x")),
        ("c-comment", |v| format!("{v}/*x")),
        ("hash", |v| format!("{v}#x")),
        ("placeholder", |v| format!("{v}@@MAILOPS_DB_PASSWORD@@")),
        ("100kb", |v| format!("{v}{}", "a".repeat(100_000))),
        ("rtl-override", |v| format!("\u{202E}{v}")),
        ("rlm", |v| format!("{v}\u{200F}")),
        ("zero-width-space", |v| insert_second(v, '\u{200B}')),
        ("zwj", |v| insert_second(v, '\u{200D}')),
        ("zwnj", |v| insert_second(v, '\u{200C}')),
        ("soft-hyphen", |v| insert_second(v, '\u{AD}')),
        ("word-joiner", |v| insert_second(v, '\u{2060}')),
        ("line-separator", |v| format!("{v}\u{2028}x")),
        ("homoglyph", homoglyph),
        ("bad-punycode", |v| format!("xn--zz9.{v}")),
        ("leading-dot", |v| format!(".{v}")),
        ("trailing-dot", |v| format!("{v}.")),
        ("leading-space", |v| format!(" {v}")),
        ("trailing-space", |v| format!("{v} ")),
        ("uppercase", |v| v.to_uppercase()),
        // Inside the value: before the `@` of an address (local parts may
        // hold `$ { } % # |`), else after the first character.
        ("inner-dollar-brace", |v| inner(v, "${x}")),
        ("inner-percent-brace", |v| inner(v, "%{x}")),
        ("inner-hash", |v| inner(v, "#x")),
        ("inner-pipe-brace", |v| inner(v, "|{x}")),
        ("inner-quote", |v| inner(v, "'")),
        ("inner-space", |v| inner(v, " x")),
    ]
}

fn inner(v: &str, payload: &str) -> String {
    match v.rfind('@') {
        Some(at) => format!("{}{payload}{}", &v[..at], &v[at..]),
        None => {
            let first = v.chars().next().map_or(0, char::len_utf8);
            format!("{}{payload}{}", &v[..first], &v[first..])
        }
    }
}

fn insert_second(v: &str, c: char) -> String {
    let mut chars = v.chars();
    let first: String = chars.next().into_iter().collect();
    format!("{first}{c}{}", chars.as_str())
}

/// Latin `a`, `e`, `o`, `c` replaced by their Cyrillic look-alikes.
fn homoglyph(v: &str) -> String {
    v.replace('a', "\u{430}")
        .replace('e', "\u{435}")
        .replace('o', "\u{43E}")
        .replace('c', "\u{441}")
}

/// One line of a template: `{V}` is where a field's value goes (as a TOML string).
struct Field {
    name: &'static str,
    line: &'static str,
    valid: &'static str,
}

const TENANT_FIELDS: &[Field] = &[
    f("domain", "domain = {V}", "DOMAIN"),
    f("description", "description = {V}", "Case tenant"),
    f("dns.zone_id", "[dns]\nzone_id = {V}", "Z0123456789ABC"),
    f(
        "dns.spf.include",
        "[dns.spf]\ninclude = [{V}]",
        "spf.partner.example",
    ),
    f(
        "dns.spf.mechanisms",
        "mechanisms = [{V}]",
        "ip4:203.0.113.0/24",
    ),
    f("dns.dmarc.policy", "[dns.dmarc]\npolicy = {V}", "reject"),
    f(
        "dns.dmarc.subdomain_policy",
        "subdomain_policy = {V}",
        "reject",
    ),
    f("dns.dmarc.adkim", "adkim = {V}", "s"),
    f("dns.dmarc.aspf", "aspf = {V}", "s"),
    f(
        "dns.dmarc.rua",
        "rua = [{V}]",
        "mailto:dmarc@partner.example",
    ),
    f(
        "dns.dmarc.ruf",
        "ruf = [{V}]",
        "mailto:dmarc@partner.example",
    ),
    f("dkim.selector", "[dkim]\nselector = {V}", "mail"),
    f("dkim.public_key", "public_key = {V}", TEST_KEY),
    f(
        "limits.default_quota",
        "[limits]\ndefault_quota = {V}",
        "1 GiB",
    ),
    f("limits.max_quota", "max_quota = {V}", "10 GiB"),
    f(
        "mailbox.user",
        "[[mailbox]]\nuser = \"carol\"\npassword = \"HASH\"\n\n[[mailbox]]\nuser = {V}",
        "alice",
    ),
    f("mailbox.name", "name = {V}", "Alice Liddell"),
    f("mailbox.password", "password = {V}", TEST_HASH),
    f("mailbox.quota", "quota = {V}", "2 GiB"),
    f(
        "alias.address",
        "[[alias]]\naddress = \"postmaster\"\nto = [\"carol\"]\n\n[[alias]]\naddress = \"abuse\"\nto = [\"carol\"]\n\n[[alias]]\naddress = {V}",
        "sales",
    ),
    f("alias.to", "to = [\"carol\", {V}]", "bob@partner.example"),
];

const PLATFORM_FIELDS: &[Field] = &[
    f(
        "mail_host.hostname",
        "[mail_host]\nhostname = {V}",
        "mx.webhizzy.in",
    ),
    f("mail_host.zone", "zone = {V}", "webhizzy.in"),
    f("mail_host.zone_id", "zone_id = {V}", "Z0123456789ABC"),
    f(
        "mail_host.admin_email",
        "admin_email = {V}",
        "ops@webhizzy.in",
    ),
    f("aws.region", "[aws]\nregion = {V}", "ap-south-1"),
    f("aws.instance_type", "instance_type = {V}", "t3.small"),
    f("aws.admin_cidrs", "admin_cidrs = [{V}]", "203.0.113.7/32"),
    f("database.driver", "[database]\ndriver = {V}", "mysql"),
    f(
        "database.url",
        "url = {V}",
        "mysql://mailops@db.internal:3306/mailserver",
    ),
    f("database.host", "host = {V}", "db.internal"),
    f("database.name", "name = {V}", "mailserver"),
    f("database.user", "user = {V}", "mailuser"),
    f(
        "database.path",
        "path = {V}",
        "/var/lib/mailops/mail.sqlite",
    ),
    f(
        "defaults.dkim_selector",
        "[defaults]\ndkim_selector = {V}",
        "dkim",
    ),
    f("defaults.quota", "quota = {V}", "2 GiB"),
    f(
        "defaults.password_schemes",
        "password_schemes = [\"ARGON2ID\", {V}]",
        "SHA512-CRYPT",
    ),
    f(
        "defaults.dmarc.policy",
        "[defaults.dmarc]\npolicy = {V}",
        "reject",
    ),
    f(
        "defaults.dmarc.rua",
        "rua = [{V}]",
        "mailto:dmarc@webhizzy.in",
    ),
    f(
        "paths.vmail_root",
        "[paths]\nvmail_root = {V}",
        "/var/vmail",
    ),
    f(
        "paths.dkim_key_dir",
        "dkim_key_dir = {V}",
        "/var/lib/rspamd/dkim",
    ),
    f("paths.key_store", "key_store = {V}", ".mailops/keys"),
    f(
        "tls.cert",
        "[tls]\ncert = {V}",
        "/etc/letsencrypt/live/mx.webhizzy.in/fullchain.pem",
    ),
    f(
        "tls.key",
        "key = {V}",
        "/etc/letsencrypt/live/mx.webhizzy.in/privkey.pem",
    ),
];

const fn f(name: &'static str, line: &'static str, valid: &'static str) -> Field {
    Field { name, line, valid }
}

/// A file from a template: every field at its valid value but `case`'s,
/// which holds `value`; and the 1-based line of that field's value.
fn render(fields: &[Field], case: Option<(usize, &str)>, domain: &str) -> (String, usize) {
    let mut text = String::new();
    let mut line = 0;
    for (i, field) in fields.iter().enumerate() {
        let valid = field.valid.replace("DOMAIN", domain);
        let value = match case {
            Some((at, value)) if at == i => value.to_string(),
            _ => valid,
        };
        let rendered = field
            .line
            .replace("HASH", TEST_HASH)
            .replace("{V}", &toml_string(&value));
        if case.is_some_and(|(at, _)| at == i) {
            // The value is on the template's last line.
            line = text.lines().count() + field.line.lines().count();
        }
        text.push_str(&rendered);
        text.push('\n');
    }
    (text, line)
}

/// The error diagnostics of `validate --format json`, as (file, line).
fn errors_of(dir: &Path) -> (i32, Vec<(String, u64)>) {
    let output = mailops()
        .current_dir(dir)
        .args(["validate", "--format", "json"])
        .output()
        .expect("mailops runs");
    let code = output.status.code().expect("an exit code");
    assert!(
        code == 0 || code == 1,
        "validate exits 0 or 1, not {code} (a panic is 101): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON diagnostics");
    let errors = doc["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["file"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    (code, errors)
}

#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn count(&mut self, outcome: &'static str) {
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    fn fail(&mut self, case: &str, why: impl std::fmt::Display) {
        self.failures.push(format!("{case}: {why}"));
    }

    fn finish(self, what: &str) {
        let total: usize = self.outcomes.values().sum();
        println!("{what}: {total} cases");
        for (outcome, n) in &self.outcomes {
            println!("  {outcome}: {n}");
        }
        assert!(
            self.failures.is_empty(),
            "{} of {total} cases failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// What a tenant case expects to read back, when the value is accepted.
fn short(value: &str) -> String {
    let shown: String = value.chars().take(40).collect();
    format!("{shown:?}{}", if value.len() > 40 { "…" } else { "" })
}

struct TenantCase {
    id: String,
    domain: String,
    field: &'static str,
    value: String,
    line: usize,
}

#[test]
fn every_tenant_string_field_refuses_or_round_trips_every_payload() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path().join("tenants")).unwrap();
    let mut cases = Vec::new();
    for (i, field) in TENANT_FIELDS.iter().enumerate() {
        for (p, (payload, make)) in payloads().iter().enumerate() {
            let domain = format!("c{i}-{p}.example");
            let valid = field.valid.replace("DOMAIN", &domain);
            let value = make(&valid);
            let (text, line) = render(TENANT_FIELDS, Some((i, &value)), &domain);
            std::fs::write(repo.path().join(format!("tenants/{domain}.toml")), text).unwrap();
            cases.push(TenantCase {
                id: format!("{} × {payload}", field.name),
                domain,
                field: field.name,
                value,
                line,
            });
        }
    }
    // Case duplicates: a second mailbox, alias or domain that differs only in case.
    let dup = |name: &str, domain: &str, extra: &str| -> (String, usize) {
        let (text, _) = render(TENANT_FIELDS, None, domain);
        let text = format!("{text}{extra}");
        let line = text.lines().count();
        std::fs::write(repo.path().join(format!("tenants/{name}.toml")), &text).unwrap();
        (text, line)
    };
    let (_, line) = dup(
        "dup-mailbox.example",
        "dup-mailbox.example",
        &format!("\n[[mailbox]]\npassword = \"{TEST_HASH}\"\nuser = \"ALICE\""),
    );
    let dup_cases = vec![
        (
            "mailbox.user × case-duplicate",
            "tenants/dup-mailbox.example.toml",
            line,
        ),
        {
            let (_, line) = dup(
                "dup-alias.example",
                "dup-alias.example",
                "\n[[alias]]\nto = [\"carol\"]\naddress = \"SALES\"",
            );
            (
                "alias.address × case-duplicate",
                "tenants/dup-alias.example.toml",
                line,
            )
        },
    ];
    dup("dup-domain.example", "dup-domain.example", "");
    let (text, _) = render(TENANT_FIELDS, None, "DUP-DOMAIN.example");
    std::fs::write(repo.path().join("tenants/DUP-DOMAIN.example.toml"), text).unwrap();

    let (_, errors) = errors_of(repo.path());
    let mut by_file: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for (file, line) in errors {
        by_file.entry(file).or_default().insert(line);
    }
    let mut tally = Tally::default();
    for (id, file, line) in &dup_cases {
        match by_file.remove(*file) {
            Some(lines) if lines.contains(&(*line as u64)) => tally.count("refused at its line"),
            other => tally.fail(
                id,
                format!("expected an error at line {line}, got {other:?}"),
            ),
        }
    }
    match (
        by_file.remove("tenants/dup-domain.example.toml"),
        by_file.remove("tenants/DUP-DOMAIN.example.toml"),
    ) {
        (None, Some(lines)) | (Some(lines), None) if lines.contains(&1) => {
            tally.count("refused at its line")
        }
        other => tally.fail(
            "domain × case-duplicate",
            format!("expected one error at line 1, got {other:?}"),
        ),
    }

    // Validation reports the alias graph only once every file is valid:
    // validate again without the refused files until nothing is refused.
    let mut open: Vec<&TenantCase> = cases.iter().collect();
    for round in 0..3 {
        if round > 0 {
            by_file.clear();
            for (file, line) in errors_of(repo.path()).1 {
                by_file.entry(file).or_default().insert(line);
            }
        }
        let mut still_open = Vec::new();
        for case in open {
            let file = format!("tenants/{}.toml", case.domain);
            match by_file.remove(&file) {
                Some(lines) if lines.contains(&(case.line as u64)) => {
                    tally.count("refused at its line");
                    std::fs::remove_file(repo.path().join(&file)).unwrap();
                }
                Some(lines) => {
                    tally.fail(
                        &case.id,
                        format!(
                            "{} refused at lines {lines:?}, not at its line {}",
                            short(&case.value),
                            case.line
                        ),
                    );
                    std::fs::remove_file(repo.path().join(&file)).unwrap();
                }
                None => still_open.push(case),
            }
        }
        open = still_open;
        if round == 0 {
            for file in [
                "dup-mailbox.example",
                "dup-alias.example",
                "dup-domain.example",
                "DUP-DOMAIN.example",
            ] {
                std::fs::remove_file(repo.path().join(format!("tenants/{file}.toml"))).unwrap();
            }
        }
    }
    let accepted = open;
    assert!(
        by_file.is_empty(),
        "errors in files no case wrote: {by_file:?}"
    );
    // Everything left is accepted: build it, and read every value back.
    let build = repo.run(&["build"]);
    assert_eq!(
        build.code, 0,
        "build of the accepted cases: {}",
        build.stderr
    );
    let sql = SqlReadBack::new(repo.path());
    let hcl = hcl_read_back(&repo.path().join("generated/terraform"));
    for case in accepted {
        match check_tenant_round_trip(case, &sql, &hcl, repo.path()) {
            Ok(()) => tally.count("accepted, round-trips"),
            Err(why) => tally.fail(
                &case.id,
                format!("{} accepted, but {why}", short(&case.value)),
            ),
        }
    }
    tally.finish("tenant fields × payloads");
}

/// The rows of the generated SQL files applied to fresh SQLite and MariaDB
/// databases, read back through their command-line clients.
struct SqlReadBack {
    /// Per engine: table → rows (tab-separated, as the client printed them).
    engines: Vec<(&'static str, Tables)>,
}

/// Table → its rows, each a list of columns.
type Tables = BTreeMap<&'static str, BTreeSet<Vec<String>>>;

const READ_BACK: &[(&str, &str)] = &[
    ("domains", "SELECT name FROM virtual_domains"),
    (
        "users",
        "SELECT email, password, quota_bytes, COALESCE(HEX(name), '-') FROM virtual_users",
    ),
    ("aliases", "SELECT source, destination FROM virtual_aliases"),
];

impl SqlReadBack {
    /// Four databases: per engine, one written by the generated SQL file (after
    /// the migrations) and one by `mailops apply` (parameterised statements).
    /// Both must hold exactly the same rows.
    fn new(repo: &Path) -> Self {
        let mut engines = Vec::new();

        let file_db = TestDb::new(Engine::Sqlite);
        let mut script = Engine::Sqlite.migrations_script();
        script.push_str(&Engine::Sqlite.whole_load(repo));
        file_db.script(&script, "sql/sqlite/");
        engines.push(("sqlite (sql/sqlite/)", read_back(&file_db)));
        let apply_db = TestDb::new(Engine::Sqlite);
        apply(repo, &apply_db.url);
        engines.push(("sqlite (apply)", read_back(&apply_db)));

        let file_db = TestDb::new(Engine::Mariadb);
        let mut script = Engine::Mariadb.migrations_script();
        script.push_str(&Engine::Mariadb.whole_load(repo));
        file_db.script(&script, "sql/mysql/");
        engines.push(("mariadb (sql/mysql/)", read_back(&file_db)));
        let apply_db = TestDb::new(Engine::Mariadb);
        apply(repo, &apply_db.url);
        engines.push(("mariadb (apply)", read_back(&apply_db)));

        for pair in engines.chunks(2) {
            let ((file, by_file), (applied, by_apply)) = (&pair[0], &pair[1]);
            for (table, rows) in by_file {
                let other = &by_apply[table];
                let only_file: Vec<_> = rows.difference(other).take(3).collect();
                let only_apply: Vec<_> = other.difference(rows).take(3).collect();
                assert!(
                    only_file.is_empty() && only_apply.is_empty(),
                    "{table}: {file} and {applied} differ: only in the file's {only_file:?}, only in apply's {only_apply:?}"
                );
            }
        }
        SqlReadBack { engines }
    }

    /// Whether every engine holds `row` in `table`.
    fn has(&self, table: &str, row: &[&str]) -> Result<(), String> {
        let row: Vec<String> = row.iter().map(|s| s.to_string()).collect();
        for (engine, tables) in &self.engines {
            if !tables[table].contains(&row) {
                return Err(format!("{engine} has no {table} row {row:?}"));
            }
        }
        Ok(())
    }
}

/// The [`READ_BACK`] tables of a database, through its command-line client.
fn read_back(db: &TestDb) -> Tables {
    READ_BACK
        .iter()
        .map(|(table, query)| {
            let query = match db.engine {
                Engine::Sqlite => query.replace("HEX(name)", "HEX(CAST(name AS BLOB))"),
                Engine::Mariadb => query.to_string(),
            };
            (*table, rows(&db.sql(&query)))
        })
        .collect()
}

/// `mailops apply --yes` of the repo to a database.
fn apply(repo: &Path, url: &str) {
    let output = mailops()
        .current_dir(repo)
        .args(["apply", "--yes", "--database", url])
        .write_stdin("")
        .output()
        .expect("mailops runs");
    assert!(
        output.status.success(),
        "apply to {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn rows(out: &str) -> BTreeSet<Vec<String>> {
    out.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn run_stdin(command: &mut Command, input: &str) -> String {
    let out = output_with_stdin(command, input.as_bytes()).expect("the client runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        command,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every string literal (or list of them) assigned in the Terraform files,
/// evaluated by `terraform console`: file name → the values read back.
fn hcl_read_back(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut all = hcl_read_back_many(&[dir.to_path_buf()]);
    all.remove(dir).unwrap_or_default()
}

/// [`hcl_read_back`] of several directories in one `terraform console` run:
/// directory → file name → the values read back.
fn hcl_read_back_many(
    dirs: &[std::path::PathBuf],
) -> BTreeMap<std::path::PathBuf, BTreeMap<String, Vec<String>>> {
    let mut expressions = Vec::new();
    let mut owners = Vec::new();
    // Every root below each directory (host/, dns-<shard>/): file names
    // are unique but for each root's main.tf, whose values are merged.
    let mut paths: Vec<(std::path::PathBuf, std::path::PathBuf)> = dirs
        .iter()
        .flat_map(|d| {
            files_under(d)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "tf"))
                .map(move |p| (d.clone(), p))
        })
        .collect();
    paths.sort();
    for (dir, path) in paths {
        let file = (
            dir,
            path.file_name().unwrap().to_string_lossy().into_owned(),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let Some((_, expr)) = line.split_once(" = ") else {
                continue;
            };
            let expr = expr.trim();
            let literal = (expr.starts_with('"') && expr.ends_with('"'))
                || (expr.starts_with("[\"") && expr.ends_with("\"]"));
            if literal {
                expressions.push(format!("flatten([{expr}])"));
                owners.push(file.clone());
            }
        }
    }
    assert!(!expressions.is_empty(), "no HCL literals in {dirs:?}");
    let scratch = tempfile::tempdir().unwrap();
    // `terraform console` reads one line when its input is not a terminal,
    // and a line is at most 64 KiB: one run per chunk of expressions.
    let mut chunks: Vec<Vec<&str>> = vec![Vec::new()];
    let mut width = 0;
    for expr in &expressions {
        if width + expr.len() > 40_000 && !chunks.last().unwrap().is_empty() {
            chunks.push(Vec::new());
            width = 0;
        }
        width += expr.len() + 2;
        chunks.last_mut().unwrap().push(expr);
    }
    let mut values: Vec<Vec<String>> = Vec::new();
    for chunk in chunks {
        let input = format!("jsonencode([{}])\n", chunk.join(", "));
        let out = output_with_stdin(
            Command::new("/usr/local/bin/terraform")
                .arg("console")
                .current_dir(scratch.path())
                .env("TF_CLI_CONFIG_FILE", "/dev/null")
                .env("TF_IN_AUTOMATION", "1"),
            input.as_bytes(),
        )
        .expect("terraform runs (/usr/local/bin/terraform)");
        assert!(
            out.status.success(),
            "terraform console refused the generated HCL: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        let json: String = serde_json::from_str(printed.trim()).expect("console prints a string");
        let read: Vec<Vec<String>> = serde_json::from_str(&json).expect("a JSON list of lists");
        assert_eq!(
            read.len(),
            chunk.len(),
            "terraform read back every expression"
        );
        values.extend(read);
    }
    assert_eq!(values.len(), owners.len());
    let mut by_dir: BTreeMap<std::path::PathBuf, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for ((dir, file), strings) in owners.into_iter().zip(values) {
        by_dir
            .entry(dir)
            .or_default()
            .entry(file)
            .or_default()
            .extend(strings);
    }
    by_dir
}

fn check_tenant_round_trip(
    case: &TenantCase,
    sql: &SqlReadBack,
    hcl: &BTreeMap<String, Vec<String>>,
    repo: &Path,
) -> Result<(), String> {
    let domain = &case.domain;
    let value = case.value.as_str();
    let tf = format!("dns_{domain}.tf");
    let hcl_has = |needle: &str| -> Result<(), String> {
        let strings = hcl.get(&tf).ok_or(format!("no {tf}"))?;
        if strings.iter().any(|s| s.contains(needle)) {
            Ok(())
        } else {
            Err(format!(
                "terraform reads no value holding {needle:?} in {tf}"
            ))
        }
    };
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02X}")).collect::<String>();
    match case.field {
        "domain" => {
            let ascii = idna::domain_to_ascii(value).map_err(|e| e.to_string())?;
            if ascii != *domain {
                return Err(format!("became {ascii}"));
            }
            sql.has("domains", &[domain])?;
            hcl_has(domain)
        }
        "description" => {
            // A comment: every line of it stays a comment line (white space
            // around a comment's text is not data: it is trimmed).
            let text = std::fs::read_to_string(repo.join("generated").join(dns_file(domain)))
                .map_err(|e| e.to_string())?;
            for line in value.lines() {
                let commented = format!("# {}", line.trim());
                if !text.lines().any(|l| l.trim_end() == commented.trim_end()) {
                    return Err(format!("{tf} has no comment line {commented:?}"));
                }
            }
            Ok(())
        }
        "mailbox.name" => sql.has(
            "users",
            &[
                &format!("alice@{domain}"),
                TEST_HASH,
                "2147483648",
                &hex(value),
            ],
        ),
        "mailbox.user" => sql.has(
            "users",
            &[
                &format!("{}@{domain}", value.to_lowercase()),
                TEST_HASH,
                "2147483648",
                &hex("Alice Liddell"),
            ],
        ),
        "mailbox.password" => sql.has(
            "users",
            &[
                &format!("alice@{domain}"),
                value,
                "2147483648",
                &hex("Alice Liddell"),
            ],
        ),
        "mailbox.quota" | "limits.default_quota" | "limits.max_quota" => {
            // Only white space around a size is accepted: the size is the same.
            let base = TENANT_FIELDS
                .iter()
                .find(|f| f.name == case.field)
                .map(|f| f.valid)
                .unwrap_or("");
            if value.trim() == base {
                sql.has(
                    "users",
                    &[
                        &format!("alice@{domain}"),
                        TEST_HASH,
                        "2147483648",
                        &hex("Alice Liddell"),
                    ],
                )
            } else {
                Err("a changed size was accepted".into())
            }
        }
        "alias.address" => sql.has(
            "aliases",
            &[
                &format!("{}@{domain}", value.to_lowercase()),
                &format!("carol@{domain}"),
            ],
        ),
        "alias.to" => {
            let (local, host) = value.rsplit_once('@').ok_or("no @")?;
            let host = idna::domain_to_ascii(host).map_err(|e| e.to_string())?;
            let to = format!("{}@{host}", local.to_lowercase());
            sql.has("aliases", &[&format!("sales@{domain}"), &to])
        }
        "dns.zone_id" => {
            let strings = std::fs::read_to_string(repo.join("generated").join(dns_file(domain)))
                .map_err(|e| e.to_string())?;
            if strings.contains(value) {
                Ok(())
            } else {
                Err("the zone id is not in the Terraform file".into())
            }
        }
        // Surrounding white space is not part of a key: the same RSA key is
        // published (its first 200 characters: the record is split into
        // 255-octet strings further on).
        "dkim.public_key" if value.trim() == TEST_KEY => {
            hcl_has(&format!("v=DKIM1; k=rsa; p={}", &TEST_KEY[..200]))
        }
        "dkim.public_key" => Err("a changed key was accepted".into()),
        "dkim.selector" => hcl_has(&format!("{}._domainkey.{domain}", value.to_lowercase())),
        "dns.spf.include" => hcl_has(&format!(
            "include:{}",
            idna::domain_to_ascii(value).map_err(|e| e.to_string())?
        )),
        "dns.spf.mechanisms" => hcl_has(&value.to_lowercase()),
        "dns.dmarc.policy" => hcl_has(&format!("p={value}")),
        "dns.dmarc.subdomain_policy" => hcl_has(&format!("sp={value}")),
        "dns.dmarc.adkim" => hcl_has(&format!("adkim={value}")),
        "dns.dmarc.aspf" => hcl_has(&format!("aspf={value}")),
        "dns.dmarc.rua" => hcl_has(&format!("rua={}", value.to_lowercase())),
        "dns.dmarc.ruf" => hcl_has(&format!("ruf={}", value.to_lowercase())),
        other => Err(format!("no read-back for {other}")),
    }
}

#[test]
fn every_platform_string_field_refuses_or_round_trips_every_payload() {
    let mut tally = Tally::default();
    let scratch = tempfile::tempdir().unwrap();
    let tenant = render(TENANT_FIELDS, None, "acme.example").0;
    let mut accepted = Vec::new();
    for (i, field) in PLATFORM_FIELDS.iter().enumerate() {
        for (payload, make) in payloads() {
            let value = make(field.valid);
            let id = format!("{} × {payload}", field.name);
            let (text, line) = render(PLATFORM_FIELDS, Some((i, &value)), "");
            let dir = scratch.path().join(format!("p{}", accepted.len()));
            std::fs::create_dir_all(dir.join("tenants")).unwrap();
            std::fs::write(dir.join("mailops.toml"), &text).unwrap();
            std::fs::write(dir.join("tenants/acme.example.toml"), &tenant).unwrap();
            let (_, errors) = errors_of(&dir);
            if errors.is_empty() {
                accepted.push((id, field.name, value, dir));
                continue;
            }
            std::fs::remove_dir_all(&dir).unwrap();
            // A host name outside the zone is refused at the zone line (the
            // next one): the pair is what does not fit.
            let lines = if field.name == "mail_host.hostname" {
                vec![line as u64, line as u64 + 1]
            } else {
                vec![line as u64]
            };
            if errors
                .iter()
                .any(|(f, l)| f == "mailops.toml" && lines.contains(l))
                && errors.iter().all(|(f, _)| f == "mailops.toml")
            {
                tally.count("refused at its line");
            } else {
                tally.fail(
                    &id,
                    format!(
                        "{} refused at {errors:?}, not at mailops.toml:{line}",
                        short(&value)
                    ),
                );
            }
        }
    }

    // The accepted ones build, and read back through Terraform and YAML.
    let mut yaml_files = Vec::new();
    for (id, _, value, dir) in &accepted {
        let build = Command::new(assert_cmd::cargo_bin!("mailops"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .arg("build")
            .output()
            .unwrap();
        if !build.status.success() {
            tally.fail(
                id,
                format!(
                    "{} accepted but build failed: {}",
                    short(value),
                    String::from_utf8_lossy(&build.stderr)
                ),
            );
            continue;
        }
        yaml_files.push(dir.join("generated/cloud-init/user-data.yaml"));
    }
    let parsed = pyyaml(&yaml_files);
    let terraform_dirs: Vec<std::path::PathBuf> = yaml_files
        .iter()
        .map(|y| y.parent().unwrap().parent().unwrap().join("terraform"))
        .collect();
    let hcl = hcl_read_back_many(&terraform_dirs);
    let mut done = 0;
    for (id, field, value, dir) in &accepted {
        let Some(doc) = parsed.get(&dir.join("generated/cloud-init/user-data.yaml")) else {
            continue;
        };
        done += 1;
        let strings: Vec<&String> = hcl
            .get(&dir.join("generated/terraform"))
            .map(|files| files.values().flatten().collect())
            .unwrap_or_default();
        let result = check_platform_round_trip(field, value, dir, doc, &strings);
        match result {
            Ok(()) => tally.count("accepted, round-trips"),
            Err(why) => tally.fail(id, format!("{} accepted, but {why}", short(value))),
        }
    }
    assert!(
        done > 0,
        "no platform case was accepted (the valid values?)"
    );
    tally.finish("platform fields × payloads");
}

/// Whether a generated file holds `needle`.
fn config_has(generated: &Path, file: &str, needle: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(generated.join(file)).map_err(|e| format!("{file}: {e}"))?;
    if text.contains(needle) {
        Ok(())
    } else {
        Err(format!("{file} does not hold {needle:?}"))
    }
}

/// Parse YAML files with PyYAML, in one python run: path → document as JSON.
fn pyyaml(files: &[std::path::PathBuf]) -> BTreeMap<std::path::PathBuf, Value> {
    let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let script = "import json, sys, yaml\nout = {}\nfor p in json.load(sys.stdin):\n    out[p] = yaml.safe_load(open(p, encoding='utf-8'))\njson.dump(out, sys.stdout)\n";
    let out = run_stdin(
        Command::new("python3").arg("-c").arg(script),
        &serde_json::to_string(&list).unwrap(),
    );
    let docs: BTreeMap<String, Value> = serde_json::from_str(&out).unwrap();
    docs.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

fn check_platform_round_trip(
    field: &str,
    value: &str,
    dir: &Path,
    doc: &Value,
    strings: &[&String],
) -> Result<(), String> {
    let generated = dir.join("generated");
    // Every config embedded in the cloud-init YAML reads back byte for byte.
    let files = doc["write_files"].as_array().ok_or("no write_files")?;
    for entry in files {
        let path = entry["path"].as_str().ok_or("a path")?;
        let content = entry["content"].as_str().ok_or("a content")?;
        let name = path.rsplit('/').next().unwrap_or(path);
        for sub in ["postfix", "dovecot"] {
            let source = generated.join(sub).join(name);
            if source.is_file() {
                let expected = std::fs::read_to_string(&source).unwrap();
                if content != expected {
                    return Err(format!(
                        "{path} in the YAML differs from {}",
                        source.display()
                    ));
                }
            }
        }
    }
    let hcl_has = |needle: &str| {
        if strings.iter().any(|s| s.contains(needle)) {
            Ok(())
        } else {
            Err(format!("terraform reads no value holding {needle:?}"))
        }
    };
    match field {
        "mail_host.hostname" => {
            let ascii = idna::domain_to_ascii(value).map_err(|e| e.to_string())?;
            if doc["fqdn"].as_str() != Some(ascii.as_str()) {
                return Err(format!("the YAML fqdn is {:?}", doc["fqdn"]));
            }
            hcl_has(&ascii)
        }
        "mail_host.zone" => hcl_has(&idna::domain_to_ascii(value).map_err(|e| e.to_string())?),
        "aws.region" | "aws.admin_cidrs" | "mail_host.zone_id" => hcl_has(value),
        "aws.instance_type" => hcl_has(value),
        // Values written into the mail-server configs: there as written
        // (the YAML check above compares the configs it embeds).
        "paths.vmail_root" => config_has(
            &generated,
            "dovecot/dovecot.conf",
            &value.replace('%', "%%"),
        ),
        "paths.dkim_key_dir" => config_has(&generated, "rspamd/local.d/dkim_signing.conf", value),
        "tls.cert" | "tls.key" => {
            config_has(&generated, "postfix/main.cf", value)?;
            config_has(&generated, "dovecot/dovecot.conf", value)
        }
        "database.host" | "database.name" | "database.user" => {
            let expected = if field == "database.host" {
                idna::domain_to_ascii(value).map_err(|e| e.to_string())?
            } else {
                value.to_string()
            };
            config_has(
                &generated,
                "dovecot/dovecot-sql.conf.ext",
                &format!("={expected}"),
            )
        }
        // Dovecot expands `%` in postmaster_address: a literal `%` is `%%`.
        "mail_host.admin_email" => config_has(
            &generated,
            "dovecot/dovecot.conf",
            &value.to_lowercase().replace('%', "%%"),
        ),
        // The rest choose among fixed words (driver, schemes, DMARC), reach
        // only the local machine (key_store, url) or the SQLite path of a
        // MariaDB platform: accepted means well-formed, checked above.
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Regression tests of the value holes of issue 10.

fn platform_with(extra: &str) -> Repo {
    Repo::new()
        .file("mailops.toml", &format!("{MINIMAL_PLATFORM}{extra}"))
        .tenant("acme.example", "")
}

#[test]
fn non_ascii_database_host_is_a_diagnostic_not_a_panic() {
    // A Unicode host name is written as its A-label, everywhere.
    let repo = platform_with("\n[database]\nhost = \"bücher.example\"\n");
    for command in [&["validate"][..], &["build"][..]] {
        repo.run(command).exits(0);
    }
    let sql_conf = repo.read("generated/dovecot/dovecot-sql.conf.ext");
    assert!(
        sql_conf.contains("host=xn--bcher-kva.example"),
        "{sql_conf}"
    );
    // A soft hyphen inside an IP, a space, a `#`: diagnostics, never exit 101.
    for host in ["127.0.0\u{AD}.1", "db internal", "db#x", "bü cher.example"] {
        let repo = platform_with(&format!("\n[database]\nhost = {}\n", toml_string(host)));
        for command in [&["validate"][..], &["build"][..], &["plan"][..]] {
            let run = repo.run(command);
            assert_eq!(run.code, 1, "{host:?} {command:?}: {}", run.stderr);
            assert!(run.stderr.contains("mailops.toml:5:"), "{}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}

#[test]
fn placeholder_in_vmail_root_is_refused() {
    for (table, key) in [
        ("paths", "vmail_root"),
        ("paths", "dkim_key_dir"),
        ("tls", "cert"),
        ("tls", "key"),
        ("database", "path"),
    ] {
        let repo = platform_with(&format!(
            "\n[{table}]\n{key} = \"/var/x@@MAILOPS_DB_PASSWORD@@\"\n"
        ));
        repo.run(&["validate"])
            .exits(1)
            .stderr_has("mailops::value::placeholder")
            .stderr_has("mailops.toml:5:");
    }
    // In tenant free text too.
    Repo::new()
        .tenant("acme.example", "")
        .file(
            "tenants/acme.example.toml",
            &format!(
                "domain = \"acme.example\"\ndescription = \"x @@MAILOPS_DB_PASSWORD@@\"\n\n[dkim]\npublic_key = \"{TEST_KEY}\"\n"
            ),
        )
        .run(&["validate"])
        .exits(1)
        .stderr_has("mailops::value::placeholder")
        .stderr_has("tenants/acme.example.toml:2:");
}

#[test]
fn soft_hyphen_in_domain_is_refused_not_stripped() {
    // The file name holds U+00AD, the domain does not: IDNA mapping used to
    // delete the soft hyphen and deploy `kaveri-foods.examplex`.
    let repo = Repo::new().tenant("kaveri-foods.examplex", "");
    std::fs::rename(
        repo.path().join("tenants/kaveri-foods.examplex.toml"),
        repo.path().join("tenants/kaveri-foods.example\u{AD}x.toml"),
    )
    .unwrap();
    repo.run(&["validate"]).exits(1);
    repo.run(&["build"]).exits(1);
    // In the domain itself, and in an alias destination's domain.
    Repo::new()
        .tenant("acme.example", "")
        .file(
            "tenants/acme.example.toml",
            &format!("domain = \"acme.exa\\u00ADmple\"\n\n[dkim]\npublic_key = \"{TEST_KEY}\"\n"),
        )
        .run(&["validate"])
        .exits(1)
        .stderr_has("mailops::value::invisible-char")
        .stderr_has("soft hyphen");
    Repo::new()
        .tenant(
            "acme.example",
            "\n[[alias]]\naddress = \"out\"\nto = [\"bob@part\\u2060ner.example\"]\n",
        )
        .run(&["validate"])
        .exits(1)
        .stderr_has("mailops::value::invisible-char");
}

#[test]
fn invisible_characters_in_free_text_are_refused() {
    for c in ['\u{200D}', '\u{200C}', '\u{200F}', '\u{2028}', '\u{2060}'] {
        Repo::new()
            .tenant(
                "acme.example",
                &format!(
                    "\n[[mailbox]]\nuser = \"bob\"\nname = \"Bob{}Smith\"\npassword = \"{TEST_HASH}\"\n",
                    format_args!("\\u{:04X}", c as u32)
                ),
            )
            .run(&["validate"])
            .exits(1)
            .stderr_has("mailops::value::invisible-char");
    }
}

#[test]
fn quota_over_bigint_is_refused() {
    for quota in ["8388608 TiB", "9223372036854775808"] {
        Repo::new()
            .tenant(
                "acme.example",
                &format!(
                    "\n[[mailbox]]\nuser = \"bob\"\npassword = \"{TEST_HASH}\"\nquota = \"{quota}\"\n"
                ),
            )
            .run(&["validate"])
            .exits(1)
            .stderr_has("mailops::quota::invalid");
    }
    // The largest signed 64-bit quota is written as is in both SQL files.
    let repo = Repo::new().tenant(
        "acme.example",
        &format!(
            "\n[[mailbox]]\nuser = \"bob\"\npassword = \"{TEST_HASH}\"\nquota = \"9223372036854775807\"\n"
        ),
    );
    repo.run(&["build"]).exits(0);
    for file in [
        "generated/sql/mysql/acme.example.sql",
        "generated/sql/sqlite/acme.example.sql",
    ] {
        assert!(
            repo.read(file).contains(", 9223372036854775807, "),
            "{file}"
        );
    }
}

#[test]
fn overlong_free_text_is_refused_the_same_on_both_engines() {
    for (key, length) in [("name", 100_000), ("description", 200_000)] {
        let value = "x".repeat(length);
        let extra = if key == "name" {
            format!(
                "\n[[mailbox]]\nuser = \"bob\"\nname = \"{value}\"\npassword = \"{TEST_HASH}\"\n"
            )
        } else {
            String::new()
        };
        let repo = Repo::new().tenant("acme.example", &extra);
        if key == "description" {
            let text = repo.read("tenants/acme.example.toml");
            let repo_text = text.replacen(
                "domain = \"acme.example\"\n",
                &format!("domain = \"acme.example\"\ndescription = \"{value}\"\n"),
                1,
            );
            std::fs::write(repo.path().join("tenants/acme.example.toml"), repo_text).unwrap();
        }
        repo.run(&["validate"])
            .exits(1)
            .stderr_has("mailops::value::too-long");
    }
}

#[test]
fn database_url_password_is_masked_in_its_diagnostic() {
    for url in [
        "mysql://mailops:hunter2secret@db.internal:3306/mailserver",
        // A quote makes the URL unsafe too: the password is still never shown.
        "mysql://mailops:hunter2secret'@db.internal:3306/mailserver",
        "mysql://mailops:hunter2\\u0041secret@db.internal/mailserver",
    ] {
        let repo = platform_with(&format!("\n[database]\nurl = \"{url}\"\n"));
        for format in ["human", "json"] {
            let run = repo.run(&["validate", "--format", format]);
            assert_eq!(run.code, 1);
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(all.contains("password-in-url"), "{all}");
            assert!(!all.contains("hunter2"), "the password is shown:\n{all}");
        }
    }
}

#[test]
fn invalid_domain_never_reaches_the_key_store() {
    // A NUL or a 300-byte name used to end in exit 2 ("file name contained
    // an unexpected NUL byte") from the key-store lookup.
    for domain in [
        "acme\\u0000.example".to_string(),
        format!("{}.example", "a".repeat(300)),
    ] {
        let repo = Repo::new().file(
            "tenants/acme.example.toml",
            &format!("domain = \"{domain}\"\n\n[dkim]\npublic_key = \"{TEST_KEY}\"\n"),
        );
        std::fs::create_dir_all(repo.path().join(".mailops/keys")).unwrap();
        let run = repo.run(&["validate"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(!run.stderr.contains("NUL byte"), "{}", run.stderr);
    }
}

#[test]
fn alias_addresses_longer_than_the_address_columns_are_refused() {
    // Local parts of 64 and a domain of 199 octets: each part is valid, the
    // address (VARCHAR(254) on MariaDB) is not; SQLite would have taken it.
    let domain = format!(
        "{}.{}.{}.example",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63)
    );
    let local = "l".repeat(60);
    for extra in [
        format!("\n[[alias]]\naddress = \"{local}\"\nto = [\"alice\"]\n"),
        format!("\n[[alias]]\naddress = \"sales\"\nto = [\"{local}\"]\n"),
    ] {
        Repo::new()
            .tenant(&domain, &extra)
            .run(&["validate"])
            .exits(1)
            .stderr_has("octets long; at most 254 are allowed");
    }
}
