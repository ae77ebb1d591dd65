//! SQL emitter: one file per tenant and dialect,
//! `generated/sql/mysql/<domain>.sql` and `generated/sql/sqlite/<domain>.sql`,
//! and the two small files that frame loading all of them by hand
//! (`sql/<dialect>-begin.sql`, `sql/<dialect>-end.sql`).
//!
//! A tenant's file holds its domain, mailboxes and aliases as idempotent
//! upserts, then the deletes of its rows that its file no longer lists, and
//! registers its domain as declared (a temporary table that the end file
//! reads to remove every domain no tenant declares). Running it twice
//! leaves the same rows. Aliases have no foreign key to their destinations,
//! so tenant files load in any order. No file depends on the number of
//! tenants: adding a tenant adds exactly its own two files, and a file is as
//! large as its tenant (a 10,000-mailbox tenant is about 3 MB).
//!
//! Inside a tenant file: its domain, then one multi-row `INSERT` of its
//! mailboxes and one of its aliases, with exactly one row per line, so that
//! changing a mailbox or alias changes only its line (and, at the end of a
//! statement, the comma of the line before). A statement holds at most
//! `ROWS_PER_STATEMENT` rows: MySQL refuses a statement beyond
//! `max_allowed_packet`, and a tenant may have 100,000 mailboxes. The rows
//! find their domain's id through a session variable (MySQL) or a join with
//! the domain by name (SQLite has no variables).
//!
//! The file's frame is a tera template per dialect, rendered once with a
//! marker in each slot (`Frame`). The tenant's text is written here straight
//! into the file's buffer, with every value escaped by `sql_literal`: a
//! platform has a million rows or more, and passing them through tera (or a
//! `String` per row) costs ten times as much.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::emit::sql_literal::{push_mysql_literal, push_sqlite_literal};
use crate::emit::{Artifacts, engine, header, render};
use crate::model::{AppPassword, Domain, Platform};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "mysql-tenant.sql",
        include_str!("templates/sql/mysql-tenant.sql"),
    ),
    (
        "mysql-begin.sql",
        include_str!("templates/sql/mysql-begin.sql"),
    ),
    ("mysql-end.sql", include_str!("templates/sql/mysql-end.sql")),
    (
        "sqlite-tenant.sql",
        include_str!("templates/sql/sqlite-tenant.sql"),
    ),
    (
        "sqlite-begin.sql",
        include_str!("templates/sql/sqlite-begin.sql"),
    ),
    (
        "sqlite-end.sql",
        include_str!("templates/sql/sqlite-end.sql"),
    ),
];

/// The most rows one `INSERT` statement holds.
const ROWS_PER_STATEMENT: usize = 1000;

/// The dialects, by name.
const FILES: [(&str, Dialect); 2] = [("mysql", Dialect::Mysql), ("sqlite", Dialect::Sqlite)];

/// The words that differ between the two dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Mysql,
    Sqlite,
}

impl Dialect {
    fn push_literal(self, out: &mut String, value: &str) {
        match self {
            Dialect::Mysql => push_mysql_literal(out, value),
            Dialect::Sqlite => push_sqlite_literal(out, value),
        }
    }

    fn push_optional(self, out: &mut String, value: Option<&str>) {
        match value {
            Some(value) => self.push_literal(out, value),
            None => out.push_str("NULL"),
        }
    }

    /// `ON …` clause of an upsert keyed by `key` that sets `columns`.
    fn on_conflict(self, key: &str, columns: &[&str]) -> String {
        match self {
            Dialect::Mysql => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect();
                format!("ON DUPLICATE KEY UPDATE {}", sets.join(", "))
            }
            Dialect::Sqlite if columns.is_empty() => format!("ON CONFLICT ({key}) DO NOTHING"),
            Dialect::Sqlite => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                format!("ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", "))
            }
        }
    }

    /// The opening of the list in `(source, destination) NOT IN (…)`.
    fn pairs_open(self) -> &'static str {
        match self {
            Dialect::Mysql => "(",
            // SQLite takes a row value IN only against a subquery.
            Dialect::Sqlite => "(VALUES ",
        }
    }
}

/// A multi-row upsert into one table: the lines before and after its rows.
struct Insert {
    dialect: Dialect,
    /// `INSERT INTO … VALUES` (MySQL) or `… FROM virtual_domains AS d, (VALUES`
    /// (SQLite), with its line end.
    head: String,
    /// The start of each row: the domain id's variable (MySQL), or nothing.
    row_open: &'static str,
    /// The conflict clause and `;`.
    tail: String,
}

impl Insert {
    fn new(dialect: Dialect, table: &str, key: &str, columns: &[&str]) -> Self {
        let updated: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| !key.split(", ").any(|k| k == *c))
            .collect();
        let conflict = dialect.on_conflict(key, &updated);
        match dialect {
            Dialect::Mysql => Insert {
                dialect,
                head: format!("INSERT INTO {table} ({}) VALUES\n", columns.join(", ")),
                row_open: "(@domain_id, ",
                tail: format!("{conflict};\n"),
            },
            Dialect::Sqlite => {
                // `v.column1` … name the columns of a VALUES subquery.
                let values: Vec<String> =
                    (1..columns.len()).map(|i| format!("v.column{i}")).collect();
                Insert {
                    dialect,
                    head: format!(
                        "INSERT INTO {table} ({}) SELECT d.id, {} FROM virtual_domains AS d, (VALUES\n",
                        columns.join(", "),
                        values.join(", ")
                    ),
                    row_open: "(",
                    tail: format!(" {conflict};\n"),
                }
            }
        }
    }

    /// Close a statement: the line after the rows. `domain` is the domain's
    /// name as a literal.
    fn close(&self, out: &mut String, domain: &str) {
        out.push('\n');
        if self.dialect == Dialect::Sqlite {
            // The WHERE is needed: without it SQLite reads `ON CONFLICT` as
            // the ON clause of the join.
            out.push_str(") AS v WHERE d.name = ");
            out.push_str(domain);
        }
        out.push_str(&self.tail);
    }

    /// Write `items` as rows, one a line, at most `ROWS_PER_STATEMENT` a
    /// statement; `row` writes the values of one row. No items, no statement.
    fn push_rows<T>(
        &self,
        out: &mut String,
        domain: &str,
        items: impl Iterator<Item = T>,
        mut row: impl FnMut(&mut String, T),
    ) {
        let mut in_statement = 0;
        for item in items {
            if in_statement == ROWS_PER_STATEMENT {
                self.close(out, domain);
                in_statement = 0;
            }
            if in_statement == 0 {
                out.push_str(&self.head);
            } else {
                out.push_str(",\n");
            }
            out.push_str(self.row_open);
            row(out, item);
            out.push(')');
            in_statement += 1;
        }
        if in_statement > 0 {
            self.close(out, domain);
        }
    }
}

/// The columns of a `virtual_users` row, as every platform writes them.
const USER_COLUMNS: [&str; 7] = [
    "domain_id",
    "email",
    "password",
    "quota_bytes",
    "name",
    "state",
    "protocols",
];

/// The fixed text of one dialect's statements, and the writers of a tenant's text.
struct Statements {
    dialect: Dialect,
    domain_conflict: String,
    users: Insert,
    /// On a platform with `[[hosts]]`: the users with their `home` column
    /// (a single-host platform's files never name the column).
    users_homed: Insert,
    aliases: Insert,
    app_passwords: Insert,
    grants: Insert,
    relays: Insert,
    relay_recipients: Insert,
}

impl Statements {
    fn new(dialect: Dialect) -> Self {
        let domain_conflict = match dialect {
            Dialect::Mysql | Dialect::Sqlite => dialect.on_conflict("name", &["state"]),
        };
        Statements {
            dialect,
            domain_conflict,
            users: Insert::new(dialect, "virtual_users", "email", &USER_COLUMNS),
            users_homed: Insert::new(
                dialect,
                "virtual_users",
                "email",
                &[USER_COLUMNS.as_slice(), &["home"]].concat(),
            ),
            aliases: Insert::new(
                dialect,
                "virtual_aliases",
                "source, destination",
                &["domain_id", "source", "destination"],
            ),
            app_passwords: Insert::new(
                dialect,
                "virtual_app_passwords",
                "email, name",
                &["domain_id", "email", "name", "password", "protocols"],
            ),
            grants: Insert::new(
                dialect,
                "virtual_sender_grants",
                "sender, login",
                &["domain_id", "sender", "login"],
            ),
            relays: Insert::new(
                dialect,
                "relay_domains",
                "domain_id",
                &["domain_id", "nexthop", "backup_mx"],
            ),
            relay_recipients: Insert::new(
                dialect,
                "relay_recipients",
                "address",
                &["domain_id", "address"],
            ),
        }
    }

    /// A tenant's upserts: its domain, its mailboxes, its aliases.
    fn upserts(&self, out: &mut String, domain: &Domain) {
        let dialect = self.dialect;
        let name = self.name(domain);
        let mut state = String::new();
        dialect.push_literal(&mut state, domain.state.name());
        let _ = writeln!(
            out,
            "INSERT INTO virtual_domains (name, state) VALUES ({name}, {state}) {};",
            self.domain_conflict
        );
        // Its alias domains: rows of their own in virtual_domains, in the
        // tenant's state; their addresses are the tenant's alias rows.
        for alias_domain in &domain.alias_domains {
            let mut alias_name = String::new();
            dialect.push_literal(&mut alias_name, &alias_domain.name);
            let _ = writeln!(
                out,
                "INSERT INTO virtual_domains (name, state) VALUES ({alias_name}, {state}) {};",
                self.domain_conflict
            );
        }
        let has_rows =
            !domain.mailboxes.is_empty() || !domain.aliases.is_empty() || domain.relay.is_some();
        if dialect == Dialect::Mysql && has_rows {
            let _ = writeln!(
                out,
                "SET @domain_id = (SELECT id FROM virtual_domains WHERE name = {name});"
            );
        }
        let homed = domain.mailboxes.values().any(|m| m.home.is_some());
        let users = if homed {
            &self.users_homed
        } else {
            &self.users
        };
        users.push_rows(out, &name, domain.mailboxes.values(), |out, m| {
            dialect.push_literal(out, &m.address);
            out.push_str(", ");
            dialect.push_literal(out, &m.password);
            out.push_str(", ");
            push_number(out, m.quota_bytes);
            out.push_str(", ");
            dialect.push_optional(out, m.name.as_deref());
            out.push_str(", ");
            dialect.push_literal(out, m.state.name());
            out.push_str(", ");
            dialect.push_literal(out, m.protocols.column());
            if homed {
                out.push_str(", ");
                dialect.push_optional(out, m.home.as_deref());
            }
        });
        self.aliases.push_rows(
            out,
            &name,
            alias_rows(domain),
            |out, (source, destination)| {
                dialect.push_literal(out, &source);
                out.push_str(", ");
                dialect.push_literal(out, &destination);
            },
        );
        self.app_passwords
            .push_rows(out, &name, app_passwords(domain), |out, (email, app)| {
                dialect.push_literal(out, email);
                out.push_str(", ");
                dialect.push_literal(out, &app.name);
                out.push_str(", ");
                dialect.push_literal(out, &app.password);
                out.push_str(", ");
                dialect.push_literal(out, app.protocols.column());
            });
        self.grants.push_rows(
            out,
            &name,
            domain.grants().into_iter(),
            |out, (sender, login)| {
                dialect.push_literal(out, sender);
                out.push_str(", ");
                dialect.push_literal(out, login);
            },
        );
        if let Some(relay) = &domain.relay {
            self.relays
                .push_rows(out, &name, std::iter::once(relay), |out, relay| {
                    dialect.push_literal(out, &relay.nexthop);
                    out.push_str(if relay.backup_mx { ", 1" } else { ", 0" });
                });
            self.relay_recipients
                .push_rows(out, &name, relay.recipients.iter(), |out, address| {
                    dialect.push_literal(out, address);
                });
        }
    }

    /// A tenant's deletes of the aliases and mailboxes its file no longer lists.
    fn deletes(&self, out: &mut String, domain: &Domain) {
        let dialect = self.dialect;
        let name = self.name(domain);
        let of_domain = |out: &mut String, table: &str| {
            let _ = write!(
                out,
                "DELETE FROM {table} WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = {name})"
            );
        };
        // The app passwords and send-as grants (migration 0004's tables) the
        // file no longer lists; every tenant may have had some.
        let pairs = |out: &mut String, columns: &str, rows: &[(&str, &str)]| {
            if !rows.is_empty() {
                let _ = write!(out, " AND ({columns}) NOT IN ");
                out.push_str(dialect.pairs_open());
                for (i, (a, b)) in rows.iter().enumerate() {
                    out.push_str(if i == 0 { "(" } else { ", (" });
                    dialect.push_literal(out, a);
                    out.push_str(", ");
                    dialect.push_literal(out, b);
                    out.push(')');
                }
                out.push(')');
            }
            out.push_str(";\n");
        };
        let apps: Vec<(&str, &str)> = app_passwords(domain)
            .map(|(email, app)| (email, app.name.as_str()))
            .collect();
        // The relay rows (migration 0006): all of them when the tenant is no
        // relay (any more), else the recipients its file no longer lists.
        of_domain(out, "relay_recipients");
        if let Some(relay) = &domain.relay {
            out.push_str(" AND address NOT IN (");
            for (i, address) in relay.recipients.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dialect.push_literal(out, address);
            }
            out.push(')');
        }
        out.push_str(";\n");
        if domain.relay.is_none() {
            of_domain(out, "relay_domains");
            out.push_str(";\n");
        }
        of_domain(out, "virtual_app_passwords");
        pairs(out, "email, name", &apps);
        of_domain(out, "virtual_sender_grants");
        pairs(out, "sender, login", &domain.grants());
        of_domain(out, "virtual_aliases");
        if !domain.aliases.is_empty() || !domain.alias_domains.is_empty() {
            out.push_str(" AND (source, destination) NOT IN ");
            out.push_str(dialect.pairs_open());
            for (i, (source, destination)) in alias_rows(domain).enumerate() {
                out.push_str(if i == 0 { "(" } else { ", (" });
                dialect.push_literal(out, &source);
                out.push_str(", ");
                dialect.push_literal(out, &destination);
                out.push(')');
            }
            out.push(')');
        }
        out.push_str(";\n");
        of_domain(out, "virtual_users");
        if !domain.mailboxes.is_empty() {
            out.push_str(" AND email NOT IN (");
            for (i, m) in domain.mailboxes.values().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dialect.push_literal(out, &m.address);
            }
            out.push(')');
        }
        out.push_str(";\n");
    }

    /// The domain's name as a literal.
    fn name(&self, domain: &Domain) -> String {
        let mut name = String::with_capacity(domain.name.len() + 2);
        self.dialect.push_literal(&mut name, &domain.name);
        name
    }

    /// A tenant's whole file: the frame, with the tenant's text in its slots.
    fn file(&self, frame: &Frame, domain: &Domain) -> String {
        let mut text = String::with_capacity(frame.len() + estimate(domain));
        let name = self.name(domain);
        frame.fill(&mut text, |slot, out| match slot {
            Slot::Source => out.push_str(&domain.file),
            Slot::File => {
                out.push_str(&domain.name);
                out.push_str(".sql");
            }
            Slot::Upserts => self.upserts(out, domain),
            Slot::Deletes => self.deletes(out, domain),
            Slot::Domain => {
                // `VALUES ({{ domain }})`: the tenant's domain, then one
                // more row per alias domain, so that the end script keeps them.
                out.push_str(&name);
                for alias_domain in &domain.alias_domains {
                    out.push_str("), (");
                    self.dialect.push_literal(out, &alias_domain.name);
                }
            }
        });
        text
    }
}

/// `n` in decimal, without `fmt` (a million of them).
fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// A tenant's app passwords with their mailbox's address, sorted by (address, name).
fn app_passwords(domain: &Domain) -> impl Iterator<Item = (&str, &AppPassword)> {
    domain
        .mailboxes
        .values()
        .flat_map(|m| m.app_passwords.iter().map(move |app| (&*m.address, app)))
}

/// A tenant's alias rows: (source, destination), sorted by source; with
/// alias domains, their expanded rows too (`Domain::alias_rows`).
fn alias_rows(domain: &Domain) -> Box<dyn Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_> {
    if domain.alias_domains.is_empty() {
        Box::new(domain.aliases.values().flat_map(|a| {
            a.destinations.iter().map(move |d| {
                (
                    Cow::Borrowed(a.source.as_str()),
                    Cow::Borrowed(d.address.as_str()),
                )
            })
        }))
    } else {
        Box::new(
            domain
                .alias_rows()
                .into_iter()
                .map(|(s, d)| (Cow::Owned(s), Cow::Owned(d))),
        )
    }
}

/// About how many bytes a tenant takes in its file, from its numbers of
/// rows only: walking its rows once more to measure them costs more than a
/// buffer that is too large (memory never written is never touched). A
/// mailbox takes about 200 bytes (its row and its address in the deletes),
/// an alias about 100; if the tenant takes more, the buffer grows as usual.
fn estimate(domain: &Domain) -> usize {
    const MAILBOX: usize = 256;
    const ALIAS: usize = 128;
    const TENANT: usize = 1024;
    let aliases: usize = domain.aliases.values().map(|a| a.destinations.len()).sum();
    let statements = 2 + (domain.mailboxes.len() + aliases) / ROWS_PER_STATEMENT;
    TENANT
        + 8 * domain.name.len()
        + domain.file.len()
        + 320 * statements
        + MAILBOX * domain.mailboxes.len()
        + ALIAS * aliases
}

/// The slots of a tenant file's template, in the order they appear in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The tenant file it was compiled from (in the header line).
    Source,
    /// Its own file name.
    File,
    Upserts,
    Deletes,
    /// The domain's name as a literal.
    Domain,
}

impl Slot {
    const ALL: [Slot; 5] = [
        Slot::Source,
        Slot::File,
        Slot::Upserts,
        Slot::Deletes,
        Slot::Domain,
    ];

    fn name(self) -> &'static str {
        match self {
            Slot::Source => "source",
            Slot::File => "file",
            Slot::Upserts => "upserts",
            Slot::Deletes => "deletes",
            Slot::Domain => "domain",
        }
    }
}

/// A tenant file's frame: its template rendered once with a marker in each
/// slot and cut at the markers (one part more than there are slots). Only
/// this small text goes through tera; each tenant's text is written between
/// the parts straight into the file's buffer.
struct Frame {
    parts: Vec<String>,
}

impl Frame {
    fn new(tera: &tera::Tera, template: &str) -> Frame {
        let marker = |slot: Slot| format!("\u{1}{}\u{1}", slot.name());
        let mut context = tera::Context::new();
        context.insert("header", &header::header("--", &marker(Slot::Source)));
        for slot in Slot::ALL {
            context.insert(slot.name(), &marker(slot));
        }
        let text = render(tera, template, &context);
        let mut parts = Vec::with_capacity(Slot::ALL.len() + 1);
        let mut rest = text.as_str();
        for slot in Slot::ALL {
            let (before, after) = rest
                .split_once(&marker(slot))
                .unwrap_or_else(|| panic!("template {template} has no {} slot", slot.name()));
            parts.push(before.to_string());
            rest = after;
        }
        parts.push(rest.to_string());
        Frame { parts }
    }

    /// The length of the fixed text.
    fn len(&self) -> usize {
        self.parts.iter().map(String::len).sum()
    }

    /// The parts, with `write(slot, out)` between them.
    fn fill(&self, out: &mut String, mut write: impl FnMut(Slot, &mut String)) {
        out.push_str(&self.parts[0]);
        for (slot, after) in Slot::ALL.iter().zip(&self.parts[1..]) {
            write(*slot, out);
            out.push_str(after);
        }
    }
}

/// The folder under `generated/` of a dialect's tenant files.
pub(crate) const DIALECT_DIRS: [&str; 2] = ["sql/mysql", "sql/sqlite"];

/// The paths under `generated/` of a tenant's SQL files: MySQL, SQLite.
pub(crate) fn tenant_paths(domain: &str) -> [String; 2] {
    DIALECT_DIRS.map(|dir| format!("{dir}/{domain}.sql"))
}

/// Add the frame of the load by hand: `sql/<dialect>-begin.sql` and
/// `sql/<dialect>-end.sql`. They depend on nothing: adding a tenant adds
/// only its own files.
pub(crate) fn emit_frame(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(TEMPLATES);
    let mut context = tera::Context::new();
    context.insert("header", &header::header("--", "mailops"));
    for (dialect_name, dialect) in FILES {
        for part in ["begin", "end"] {
            let name = format!("{dialect_name}-{part}.sql");
            let mut text = render(&tera, &name, &context);
            if part == "begin" && platform.hosts_declared {
                mail_hosts(dialect, platform, &mut text);
            }
            out.add(format!("sql/{name}"), text);
        }
    }
}

/// The `mail_hosts` rows of a platform with `[[hosts]]` (migration 0008),
/// written after the begin file's own statements: first the delete of
/// every row that is not exactly a declared host (so that two hosts may swap
/// a hostname or address), then the insert of the declared ones.
fn mail_hosts(dialect: Dialect, platform: &Platform, out: &mut String) {
    let rows: Vec<String> = platform
        .hosts
        .iter()
        .map(|host| {
            let mut row = String::from("(");
            dialect.push_literal(&mut row, &host.name);
            row.push_str(", ");
            dialect.push_literal(&mut row, &host.hostname);
            row.push_str(", ");
            let ip = host.private_ip.map(|ip| ip.to_string()).unwrap_or_default();
            dialect.push_literal(&mut row, &ip);
            row.push(')');
            row
        })
        .collect();
    out.push_str("-- The mail hosts ([[hosts]] in mailops.toml) a mailbox's home names.\n");
    let _ = writeln!(
        out,
        "DELETE FROM mail_hosts WHERE (name, hostname, private_ip) NOT IN {}{});",
        dialect.pairs_open(),
        rows.join(", ")
    );
    let _ = writeln!(
        out,
        "INSERT INTO mail_hosts (name, hostname, private_ip) VALUES\n{}\n{};",
        rows.join(",\n"),
        dialect.on_conflict("name", &["hostname", "private_ip"])
    );
}

/// Add each tenant's two files, `sql/mysql/<domain>.sql` and
/// `sql/sqlite/<domain>.sql`, written on every core.
pub(crate) fn emit_tenants<'m>(domains: impl IntoIterator<Item = &'m Domain>, out: &mut Artifacts) {
    let tera = engine(TEMPLATES);
    let frames = FILES.map(|(dialect, _)| Frame::new(&tera, &format!("{dialect}-tenant.sql")));
    let statements = FILES.map(|(_, dialect)| Statements::new(dialect));
    let domains: Vec<&Domain> = domains.into_iter().collect();
    let files = crate::parallel::map_chunks(&domains, |part| {
        part.iter()
            .map(|domain| {
                let [mysql, sqlite] = tenant_paths(&domain.name);
                [
                    (mysql, statements[0].file(&frames[0], domain)),
                    (sqlite, statements[1].file(&frames[1], domain)),
                ]
            })
            .collect::<Vec<_>>()
    });
    for (path, text) in files.into_iter().flatten().flatten() {
        out.add(path, text);
    }
}

/// Add every SQL file of the model.
#[cfg(test)]
pub(crate) fn emit(model: &crate::model::Model, out: &mut Artifacts) {
    emit_frame(&model.platform, out);
    emit_tenants(model.domains.values(), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo::{self, tenant};

    #[test]
    fn upserts_name_their_conflict_keys() {
        assert_eq!(
            Dialect::Mysql.on_conflict("email", &["password", "name"]),
            "ON DUPLICATE KEY UPDATE password = VALUES(password), name = VALUES(name)"
        );
        assert_eq!(
            Dialect::Sqlite.on_conflict("email", &["password"]),
            "ON CONFLICT (email) DO UPDATE SET password = excluded.password"
        );
        assert_eq!(
            Dialect::Sqlite.on_conflict("name", &[]),
            "ON CONFLICT (name) DO NOTHING"
        );
        let mut out = String::new();
        Dialect::Sqlite.push_optional(&mut out, None);
        Dialect::Mysql.push_optional(&mut out, Some("a\nb"));
        assert_eq!(out, "NULL'a\\nb'");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 1073741824, u64::MAX] {
            let mut out = String::from(", ");
            push_number(&mut out, n);
            assert_eq!(out, format!(", {n}"));
        }
    }

    /// The SQL files of one tenant with `mailboxes` mailboxes (user0… named
    /// `name`, a TOML basic string) and aliases postmaster@, abuse@ and team@
    /// (to every mailbox).
    fn files(mailboxes: usize, name: &str) -> [String; 2] {
        let model = test_repo::compile(
            &test_repo::platform(""),
            &[(
                "acme.example",
                tenant("acme.example", "dkim", mailboxes, "Acme", name),
            )],
        );
        let mut out = Artifacts::default();
        emit(&model, &mut out);
        tenant_paths("acme.example").map(|f| out.get(&f).unwrap().to_string())
    }

    /// The text of a file from `first` to the first `last` after it (the
    /// password hash shortened).
    fn block(text: &str, first: &str, last: &str) -> String {
        let start = text.find(first).unwrap();
        let end = start + text[start..].find(last).unwrap() + last.len();
        text[start..end].replace(test_repo::PASSWORD_HASH, "{hash}")
    }

    #[test]
    fn a_tenant_is_one_multi_row_insert_per_table_with_a_row_per_line() {
        let [mysql, sqlite] = files(2, "O'Brien \\\"Z\\\"\\n2nd");
        assert_eq!(
            block(&mysql, "INSERT INTO virtual_domains", "DUPLICATE KEY UPDATE domain_id = VALUES(domain_id);\n"),
            "INSERT INTO virtual_domains (name, state) VALUES ('acme.example', 'active') ON DUPLICATE KEY UPDATE state = VALUES(state);
SET @domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example');
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name, state, protocols) VALUES
(@domain_id, 'user0@acme.example', '{hash}', 2147483648, 'O''Brien \"Z\"\\n2nd', 'active', 'imap,pop3,smtp'),
(@domain_id, 'user1@acme.example', '{hash}', 2147483648, 'O''Brien \"Z\"\\n2nd', 'active', 'imap,pop3,smtp')
ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id), password = VALUES(password), quota_bytes = VALUES(quota_bytes), name = VALUES(name), state = VALUES(state), protocols = VALUES(protocols);
INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
(@domain_id, 'abuse@acme.example', 'user0@acme.example'),
(@domain_id, 'postmaster@acme.example', 'user0@acme.example'),
(@domain_id, 'team@acme.example', 'user0@acme.example'),
(@domain_id, 'team@acme.example', 'user1@acme.example')
ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id);
"
        );
        assert_eq!(
            block(&sqlite, "INSERT INTO virtual_domains", "DO UPDATE SET domain_id = excluded.domain_id;\n"),
            "INSERT INTO virtual_domains (name, state) VALUES ('acme.example', 'active') ON CONFLICT (name) DO UPDATE SET state = excluded.state;
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name, state, protocols) SELECT d.id, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM virtual_domains AS d, (VALUES
('user0@acme.example', '{hash}', 2147483648, ('O''Brien \"Z\"' || char(10) || '2nd'), 'active', 'imap,pop3,smtp'),
('user1@acme.example', '{hash}', 2147483648, ('O''Brien \"Z\"' || char(10) || '2nd'), 'active', 'imap,pop3,smtp')
) AS v WHERE d.name = 'acme.example' ON CONFLICT (email) DO UPDATE SET domain_id = excluded.domain_id, password = excluded.password, quota_bytes = excluded.quota_bytes, name = excluded.name, state = excluded.state, protocols = excluded.protocols;
INSERT INTO virtual_aliases (domain_id, source, destination) SELECT d.id, v.column1, v.column2 FROM virtual_domains AS d, (VALUES
('abuse@acme.example', 'user0@acme.example'),
('postmaster@acme.example', 'user0@acme.example'),
('team@acme.example', 'user0@acme.example'),
('team@acme.example', 'user1@acme.example')
) AS v WHERE d.name = 'acme.example' ON CONFLICT (source, destination) DO UPDATE SET domain_id = excluded.domain_id;
"
        );
        assert_eq!(
            block(&sqlite, "DELETE FROM virtual_aliases", "-- Declared"),
            "DELETE FROM virtual_aliases WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example') \
             AND (source, destination) NOT IN (VALUES ('abuse@acme.example', 'user0@acme.example'), \
             ('postmaster@acme.example', 'user0@acme.example'), ('team@acme.example', 'user0@acme.example'), \
             ('team@acme.example', 'user1@acme.example'));
DELETE FROM virtual_users WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example') \
             AND email NOT IN ('user0@acme.example', 'user1@acme.example');
-- Declared"
        );
    }

    #[test]
    fn a_tenant_without_mailboxes_has_no_insert_of_mailboxes() {
        let [mysql, sqlite] = files(0, "");
        for text in [&mysql, &sqlite] {
            assert!(!text.contains("INSERT INTO virtual_users"), "{text}");
            assert!(text.contains("INSERT INTO virtual_aliases"), "{text}");
            assert!(
                text.contains("DELETE FROM virtual_users WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example');\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn statements_hold_at_most_a_thousand_rows() {
        // 1001 mailboxes; 1003 alias rows (team@ has every mailbox).
        for text in files(ROWS_PER_STATEMENT + 1, "N") {
            for (table, rows) in [
                ("virtual_users", ROWS_PER_STATEMENT + 1),
                ("virtual_aliases", ROWS_PER_STATEMENT + 3),
            ] {
                let heads: Vec<usize> = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.starts_with(&format!("INSERT INTO {table} ")))
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(heads.len(), 2, "{table}");
                let lines: Vec<&str> = text.lines().collect();
                let mut seen = 0;
                for head in heads {
                    let count = lines[head + 1..]
                        .iter()
                        .take_while(|l| l.starts_with('('))
                        .count();
                    assert!(count <= ROWS_PER_STATEMENT);
                    let rows = &lines[head + 1..head + 1 + count];
                    assert!(rows[..count - 1].iter().all(|l| l.ends_with("),")));
                    assert!(rows[count - 1].ends_with(')'));
                    seen += count;
                }
                assert_eq!(seen, rows, "{table}");
            }
        }
    }
}
