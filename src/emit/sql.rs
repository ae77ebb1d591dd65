//! SQL emitter: `generated/sql/mysql.sql` and `generated/sql/sqlite.sql`.
//!
//! Both files hold the whole declared state as idempotent upserts followed by
//! the deletes of rows no tenant declares, so running either twice leaves the
//! same rows. They are written tenant by tenant: its domain, then one
//! multi-row `INSERT` of its mailboxes and one of its aliases, with exactly
//! one row per line, so that adding a tenant adds only lines about it and
//! changing a mailbox or alias changes only its line (and, at the end of a
//! statement, the comma of the line before). Aliases have no foreign key to
//! their destinations, so blocks in domain order respect every constraint of
//! the migrations.
//!
//! A statement holds at most `ROWS_PER_STATEMENT` rows: MySQL refuses a
//! statement beyond `max_allowed_packet`, and a tenant may have 100,000
//! mailboxes. The rows find their domain's id through a session variable
//! (MySQL) or a join with the domain by name (SQLite has no variables).
//!
//! The file's frame (header, sections, transaction) is a tera template per
//! dialect, rendered once with a marker in each slot for the tenants' text.
//! That text is written here straight into the file's one buffer, with every
//! value escaped by `sql_literal`: a platform has a million rows or more, and
//! passing them through tera (or a `String` per row) costs ten times as much.

use std::fmt::Write as _;

use crate::emit::sql_literal::{push_mysql_literal, push_sqlite_literal};
use crate::emit::{Artifacts, engine, header, render};
use crate::model::{Domain, Model};

const TEMPLATES: &[(&str, &str)] = &[
    ("mysql.sql", include_str!("templates/sql/mysql.sql")),
    ("sqlite.sql", include_str!("templates/sql/sqlite.sql")),
];

/// The most rows one `INSERT` statement holds.
const ROWS_PER_STATEMENT: usize = 1000;

/// The template's slots for the text of every tenant, in file order: the
/// upserts, the deletes, and the list of declared domains.
const SLOTS: [&str; 3] = ["upserts", "deletes", "domains"];

/// The files and their dialects.
const FILES: [(&str, Dialect); 2] = [
    ("mysql.sql", Dialect::Mysql),
    ("sqlite.sql", Dialect::Sqlite),
];

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

/// The fixed text of one dialect's statements, and the writers of a tenant's text.
struct Statements {
    dialect: Dialect,
    domain_conflict: String,
    users: Insert,
    aliases: Insert,
}

impl Statements {
    fn new(dialect: Dialect) -> Self {
        let domain_conflict = match dialect {
            Dialect::Mysql => dialect.on_conflict("name", &["name"]),
            Dialect::Sqlite => dialect.on_conflict("name", &[]),
        };
        Statements {
            dialect,
            domain_conflict,
            users: Insert::new(
                dialect,
                "virtual_users",
                "email",
                &["domain_id", "email", "password", "quota_bytes", "name"],
            ),
            aliases: Insert::new(
                dialect,
                "virtual_aliases",
                "source, destination",
                &["domain_id", "source", "destination"],
            ),
        }
    }

    /// A tenant's upserts: its comment line, its domain, its mailboxes, its aliases.
    fn upserts(&self, out: &mut String, domain: &Domain) {
        let dialect = self.dialect;
        let name = self.name(domain);
        let _ = writeln!(out, "\n-- {} ({})", domain.name, domain.file);
        let _ = writeln!(
            out,
            "INSERT INTO virtual_domains (name) VALUES ({name}) {};",
            self.domain_conflict
        );
        let has_rows = !domain.mailboxes.is_empty() || !domain.aliases.is_empty();
        if dialect == Dialect::Mysql && has_rows {
            let _ = writeln!(
                out,
                "SET @domain_id = (SELECT id FROM virtual_domains WHERE name = {name});"
            );
        }
        self.users
            .push_rows(out, &name, domain.mailboxes.values(), |out, m| {
                dialect.push_literal(out, &m.address);
                out.push_str(", ");
                dialect.push_literal(out, &m.password);
                out.push_str(", ");
                push_number(out, m.quota_bytes);
                out.push_str(", ");
                dialect.push_optional(out, m.name.as_deref());
            });
        self.aliases.push_rows(
            out,
            &name,
            alias_rows(domain),
            |out, (source, destination)| {
                dialect.push_literal(out, source);
                out.push_str(", ");
                dialect.push_literal(out, destination);
            },
        );
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
        of_domain(out, "virtual_aliases");
        if !domain.aliases.is_empty() {
            out.push_str(" AND (source, destination) NOT IN ");
            out.push_str(dialect.pairs_open());
            for (i, (source, destination)) in alias_rows(domain).enumerate() {
                out.push_str(if i == 0 { "(" } else { ", (" });
                dialect.push_literal(out, source);
                out.push_str(", ");
                dialect.push_literal(out, destination);
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

    /// A tenant's line in the list of declared domains.
    fn listed(&self, out: &mut String, domain: &Domain) {
        out.push_str("  ");
        self.dialect.push_literal(out, &domain.name);
        out.push_str(",\n");
    }

    /// The domain's name as a literal.
    fn name(&self, domain: &Domain) -> String {
        let mut name = String::with_capacity(domain.name.len() + 2);
        self.dialect.push_literal(&mut name, &domain.name);
        name
    }

    /// The writers of the slots, in file order.
    const SLOT_WRITERS: [fn(&Self, &mut String, &Domain); SLOTS.len()] =
        [Self::upserts, Self::deletes, Self::listed];

    /// The whole file: the frame, and between its parts every tenant's text
    /// of that slot; and the length of each tenant's text in each slot.
    fn file(&self, frame: &[String], domains: &[&Domain]) -> (String, Vec<(Segments, Segments)>) {
        let size = frame.iter().map(String::len).sum::<usize>() + estimate(domains);
        let mut text = String::with_capacity(size);
        let mut sizes = vec![([0u64; SLOTS.len()], [0u64; SLOTS.len()]); domains.len()];
        text.push_str(&frame[0]);
        for (slot, (write, after)) in Self::SLOT_WRITERS.iter().zip(&frame[1..]).enumerate() {
            for (domain, (lengths, lines)) in domains.iter().zip(sizes.iter_mut()) {
                let start = text.len();
                write(self, &mut text, domain);
                lengths[slot] = (text.len() - start) as u64;
                lines[slot] = count_lines(&text.as_bytes()[start..]);
            }
            text.push_str(after);
        }
        (text, sizes)
    }

    /// One tenant's text in each slot.
    fn segments(&self, domain: &Domain) -> [String; SLOTS.len()] {
        Self::SLOT_WRITERS.map(|write| {
            let mut text = String::new();
            write(self, &mut text, domain);
            text
        })
    }
}

/// The length in bytes of one tenant's text in each slot of one file.
pub(crate) type Segments = [u64; SLOTS.len()];

/// Where each tenant's text lies in the two SQL files: per tenant (in file
/// order), the length in bytes and in lines of its text in each slot of
/// `mysql.sql` and of `sqlite.sql`. With the frame (which depends on the
/// platform only) this says where every byte of the files came from, so
/// that a later compile can leave the text of the tenants that did not
/// change where it is and replace only the text of those that did
/// (`splice`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) domains: Vec<String>,
    /// `[mysql, sqlite]` per domain.
    pub(crate) lengths: Vec<[Segments; 2]>,
    pub(crate) lines: Vec<[Segments; 2]>,
}

/// The paths of the two files under `generated/`.
pub(crate) const PATHS: [&str; 2] = ["sql/mysql.sql", "sql/sqlite.sql"];

/// Lines in a text (its `\n`s).
pub(crate) fn count_lines(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Where a tenant's text comes from in `splice`.
pub(crate) enum Source<'a> {
    /// Unchanged: at this index of the old layout.
    Old(usize),
    /// Written from the model.
    New(&'a Domain),
}

/// A generated file as edits of the file on disk (which the cache knows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Splice {
    /// The length of the file on disk.
    pub(crate) old_len: u64,
    /// Sorted by position, not overlapping; none leaves the text as it was.
    pub(crate) edits: Vec<Edit>,
}

/// Replace `len` bytes at `at` of the old file by `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) at: u64,
    pub(crate) len: u64,
    pub(crate) text: String,
    /// Lines of the old file before `at`.
    pub(crate) line: u64,
}

/// The two SQL files as edits of the files on disk, whose text is laid out
/// as `old` says, for the tenants in file order: the text of those from the
/// old files stays, the others' is written (an edit replaces a tenant's old
/// text, adds a new tenant's, removes a gone tenant's). `same(file, at,
/// len, text)` says whether the old file holds `text` there (an edit that
/// changes nothing is left out). Also the layout of the new files.
pub(crate) fn splice(
    old_lens: [u64; 2],
    old: &Layout,
    tenants: &[(&str, Source<'_>)],
    mut same: impl FnMut(usize, u64, &str) -> std::io::Result<bool>,
) -> std::io::Result<Option<([Splice; 2], Layout)>> {
    let tera = engine(TEMPLATES);
    let mut layout = Layout {
        domains: tenants.iter().map(|(name, _)| name.to_string()).collect(),
        lengths: vec![[[0; SLOTS.len()]; 2]; tenants.len()],
        lines: vec![[[0; SLOTS.len()]; 2]; tenants.len()],
    };
    let old_index: std::collections::HashMap<&str, usize> = old
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut splices: [Splice; 2] = Default::default();
    for (f, (file, dialect)) in FILES.iter().enumerate() {
        let frame = frame(&tera, file);
        let statements = Statements::new(*dialect);
        // Where each old tenant's text starts in each slot, in bytes and lines.
        let mut starts = vec![[(0u64, 0u64); SLOTS.len()]; old.domains.len()];
        let mut slot_ends = [(0u64, 0u64); SLOTS.len()];
        let (mut at, mut line) = (0u64, 0u64);
        for slot in 0..SLOTS.len() {
            at += frame[slot].len() as u64;
            line += count_lines(frame[slot].as_bytes());
            for (t, start) in starts.iter_mut().enumerate() {
                start[slot] = (at, line);
                at += old.lengths[t][f][slot];
                line += old.lines[t][f][slot];
            }
            slot_ends[slot] = (at, line);
        }
        at += frame[SLOTS.len()].len() as u64;
        if at != old_lens[f] {
            return Ok(None);
        }
        let written: Vec<Option<[String; SLOTS.len()]>> = tenants
            .iter()
            .map(|(_, source)| match source {
                Source::New(domain) => Some(statements.segments(domain)),
                Source::Old(_) => None,
            })
            .collect();
        let mut edits = Vec::new();
        for slot in 0..SLOTS.len() {
            // Walk the old and the new tenants of the slot together (both
            // sorted by name).
            let mut next_old = 0;
            let old_end = |upto: usize| -> (u64, u64) {
                if upto < old.domains.len() {
                    starts[upto][slot]
                } else {
                    slot_ends[slot]
                }
            };
            for (t, ((name, source), text)) in tenants.iter().zip(&written).enumerate() {
                // Old tenants before this one that are gone.
                let here = old_index.get(name).copied();
                while next_old < old.domains.len() && old.domains[next_old].as_str() < *name {
                    let (at, line) = starts[next_old][slot];
                    edits.push(Edit {
                        at,
                        len: old.lengths[next_old][f][slot],
                        text: String::new(),
                        line,
                    });
                    next_old += 1;
                }
                match (source, text) {
                    (Source::Old(i), _) => {
                        layout.lengths[t][f][slot] = old.lengths[*i][f][slot];
                        layout.lines[t][f][slot] = old.lines[*i][f][slot];
                    }
                    (Source::New(_), Some(text)) => {
                        let text = &text[slot];
                        layout.lengths[t][f][slot] = text.len() as u64;
                        layout.lines[t][f][slot] = count_lines(text.as_bytes());
                        let (at, len, line) = match here {
                            Some(i) => {
                                let (at, line) = starts[i][slot];
                                (at, old.lengths[i][f][slot], line)
                            }
                            None => {
                                let (at, line) = old_end(next_old);
                                (at, 0, line)
                            }
                        };
                        if len != text.len() as u64 || !same(f, at, text)? {
                            edits.push(Edit {
                                at,
                                len,
                                text: text.clone(),
                                line,
                            });
                        }
                    }
                    (Source::New(_), None) => unreachable!("new tenants are written"),
                }
                if here.is_some() {
                    next_old += 1;
                }
            }
            while next_old < old.domains.len() {
                let (at, line) = starts[next_old][slot];
                edits.push(Edit {
                    at,
                    len: old.lengths[next_old][f][slot],
                    text: String::new(),
                    line,
                });
                next_old += 1;
            }
        }
        splices[f] = Splice {
            old_len: old_lens[f],
            edits,
        };
    }
    Ok(Some((splices, layout)))
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

/// A tenant's alias rows: (source, destination), sorted by source.
fn alias_rows(domain: &Domain) -> impl Iterator<Item = (&str, &str)> {
    domain.aliases.values().flat_map(|a| {
        a.destinations
            .iter()
            .map(move |d| (a.source.as_str(), d.address.as_str()))
    })
}

/// About how many bytes the tenants take in a file, from their numbers of
/// rows only: walking a million rows once more to measure them costs more
/// than a buffer that is too large (memory never written is never touched).
/// A mailbox takes about 200 bytes (its row and its address in the deletes),
/// an alias about 100; if the tenants take more, the buffer grows as usual.
fn estimate(domains: &[&Domain]) -> usize {
    const MAILBOX: usize = 256;
    const ALIAS: usize = 128;
    const TENANT: usize = 1024;
    domains
        .iter()
        .map(|domain| {
            let aliases: usize = domain.aliases.values().map(|a| a.destinations.len()).sum();
            let statements = 2 + (domain.mailboxes.len() + aliases) / ROWS_PER_STATEMENT;
            TENANT
                + 6 * domain.name.len()
                + domain.file.len()
                + 320 * statements
                + MAILBOX * domain.mailboxes.len()
                + ALIAS * aliases
        })
        .sum()
}

/// The file's frame: the template rendered with a marker in each slot, and
/// cut at the markers (one part more than there are slots). Only this small
/// text goes through tera; the tenants' text is spliced in between.
fn frame(tera: &tera::Tera, file: &str) -> Vec<String> {
    let marker = |slot: &str| format!("\u{1}{slot}\u{1}");
    let mut context = tera::Context::new();
    context.insert("header", &header::header("--", "mailops.toml and tenants/"));
    for slot in SLOTS {
        context.insert(slot, &marker(slot));
    }
    let text = render(tera, file, &context);
    let mut parts = Vec::with_capacity(SLOTS.len() + 1);
    let mut rest = text.as_str();
    for slot in SLOTS {
        let (before, after) = rest
            .split_once(&marker(slot))
            .unwrap_or_else(|| panic!("template {file} has no {{{{ {slot} }}}}"));
        parts.push(before.to_string());
        rest = after;
    }
    parts.push(rest.to_string());
    parts
}

/// Add `sql/mysql.sql` and `sql/sqlite.sql`.
///
/// The two files are written at once, each on its own thread straight into
/// one buffer: at a million rows, writing the text twice (in parallel runs
/// of tenants, then joined) costs more than it saves, most of it in the
/// first touch of the memory.
pub(crate) fn emit(model: &Model, out: &mut Artifacts) {
    let tera = engine(TEMPLATES);
    let frames = FILES.map(|(file, _)| frame(&tera, file));
    let domains: Vec<&Domain> = model.domains.values().collect();
    let texts: Vec<(String, Vec<(Segments, Segments)>)> = std::thread::scope(|scope| {
        let threads: Vec<_> = FILES
            .iter()
            .zip(&frames)
            .map(|((_, dialect), frame)| {
                let domains = &domains;
                scope.spawn(move || Statements::new(*dialect).file(frame, domains))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut layout = Layout {
        domains: domains.iter().map(|d| d.name.clone()).collect(),
        lengths: vec![[[0; SLOTS.len()]; 2]; domains.len()],
        lines: vec![[[0; SLOTS.len()]; 2]; domains.len()],
    };
    for (f, ((file, _), (text, sizes))) in FILES.iter().zip(texts).enumerate() {
        for ((lengths, lines), (length, line)) in layout
            .lengths
            .iter_mut()
            .zip(layout.lines.iter_mut())
            .zip(sizes)
        {
            lengths[f] = length;
            lines[f] = line;
        }
        out.add(format!("sql/{file}"), text);
    }
    out.sql_layout = Some(layout);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo::{self, tenant};

    /// Apply a splice's edits to the old text.
    fn apply(old: &str, splice: &Splice) -> String {
        let mut out = String::new();
        let mut at = 0;
        for edit in &splice.edits {
            out.push_str(&old[at..edit.at as usize]);
            out.push_str(&edit.text);
            at = (edit.at + edit.len) as usize;
        }
        out.push_str(&old[at..]);
        out
    }

    #[test]
    fn a_splice_of_the_old_files_is_the_new_files() {
        let platform = test_repo::platform("driver = \"sqlite\"");
        let before = [
            ("a.example", tenant("a.example", "dkim", 2, "A", "Ann")),
            ("c.example", tenant("c.example", "dkim", 3, "C", "Cy")),
            ("d.example", tenant("d.example", "dkim", 1, "D", "Di")),
            ("f.example", tenant("f.example", "dkim", 2, "F", "Fe")),
        ];
        // b added, c changed (one more mailbox), d gone, f the same, g added at the end.
        let after = [
            ("a.example", tenant("a.example", "dkim", 2, "A", "Ann")),
            ("b.example", tenant("b.example", "dkim", 1, "B", "Bo")),
            ("c.example", tenant("c.example", "dkim", 4, "C", "Cy")),
            ("f.example", tenant("f.example", "dkim", 2, "F", "Fe")),
            ("g.example", tenant("g.example", "dkim", 1, "G", "Gu")),
        ];
        let old_model = test_repo::compile(&platform, &before);
        let new_model = test_repo::compile(&platform, &after);
        let mut old_out = Artifacts::default();
        emit(&old_model, &mut old_out);
        let mut new_out = Artifacts::default();
        emit(&new_model, &mut new_out);
        let old_layout = old_out.sql_layout.clone().unwrap();
        let old_texts = PATHS.map(|p| old_out.get(p).unwrap().to_string());
        // Every line counted where it is.
        for (f, text) in old_texts.iter().enumerate() {
            let counted: u64 = old_layout
                .lines
                .iter()
                .map(|l| l[f].iter().sum::<u64>())
                .sum();
            assert!(counted < count_lines(text.as_bytes()));
        }
        let unchanged = ["a.example", "f.example"];
        let tenants: Vec<(&str, Source<'_>)> = new_model
            .domains
            .values()
            .map(|d| {
                let source = if unchanged.contains(&d.name.as_str()) {
                    Source::Old(
                        old_layout
                            .domains
                            .iter()
                            .position(|n| *n == d.name)
                            .unwrap(),
                    )
                } else {
                    Source::New(d)
                };
                (d.name.as_str(), source)
            })
            .collect();
        let lens = old_texts.each_ref().map(|t| t.len() as u64);
        let (splices, layout) = splice(lens, &old_layout, &tenants, |f, at, text| {
            Ok(old_texts[f].as_bytes()[at as usize..].starts_with(text.as_bytes()))
        })
        .unwrap()
        .unwrap();
        assert_eq!(&layout, new_out.sql_layout.as_ref().unwrap());
        for (f, path) in PATHS.iter().enumerate() {
            assert_eq!(
                apply(&old_texts[f], &splices[f]),
                new_out.get(path).unwrap(),
                "{path}"
            );
            // Each edit knows the line it starts at.
            for edit in &splices[f].edits {
                let line = count_lines(&old_texts[f].as_bytes()[..edit.at as usize]);
                assert_eq!(edit.line, line, "{path}");
            }
            // b, c, d (gone) and g: three slots each, less the slots where
            // a changed tenant's text stayed the same (c's name in the list).
            assert_eq!(splices[f].edits.len(), 11, "{path}");
        }
        // A file of another length than its layout says is not spliced.
        let wrong = [lens[0] + 1, lens[1]];
        assert!(
            splice(wrong, &old_layout, &tenants, |_, _, _| Ok(false))
                .unwrap()
                .is_none()
        );
    }

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
        ["sql/mysql.sql", "sql/sqlite.sql"].map(|f| out.get(f).unwrap().to_string())
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
            block(&mysql, "-- acme.example", "\n\n"),
            "-- acme.example (tenants/acme.example.toml)
INSERT INTO virtual_domains (name) VALUES ('acme.example') ON DUPLICATE KEY UPDATE name = VALUES(name);
SET @domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example');
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) VALUES
(@domain_id, 'user0@acme.example', '{hash}', 2147483648, 'O''Brien \"Z\"\\n2nd'),
(@domain_id, 'user1@acme.example', '{hash}', 2147483648, 'O''Brien \"Z\"\\n2nd')
ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id), password = VALUES(password), quota_bytes = VALUES(quota_bytes), name = VALUES(name);
INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
(@domain_id, 'abuse@acme.example', 'user0@acme.example'),
(@domain_id, 'postmaster@acme.example', 'user0@acme.example'),
(@domain_id, 'team@acme.example', 'user0@acme.example'),
(@domain_id, 'team@acme.example', 'user1@acme.example')
ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id);

"
        );
        assert_eq!(
            block(&sqlite, "-- acme.example", "\n\n"),
            "-- acme.example (tenants/acme.example.toml)
INSERT INTO virtual_domains (name) VALUES ('acme.example') ON CONFLICT (name) DO NOTHING;
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) SELECT d.id, v.column1, v.column2, v.column3, v.column4 FROM virtual_domains AS d, (VALUES
('user0@acme.example', '{hash}', 2147483648, ('O''Brien \"Z\"' || char(10) || '2nd')),
('user1@acme.example', '{hash}', 2147483648, ('O''Brien \"Z\"' || char(10) || '2nd'))
) AS v WHERE d.name = 'acme.example' ON CONFLICT (email) DO UPDATE SET domain_id = excluded.domain_id, password = excluded.password, quota_bytes = excluded.quota_bytes, name = excluded.name;
INSERT INTO virtual_aliases (domain_id, source, destination) SELECT d.id, v.column1, v.column2 FROM virtual_domains AS d, (VALUES
('abuse@acme.example', 'user0@acme.example'),
('postmaster@acme.example', 'user0@acme.example'),
('team@acme.example', 'user0@acme.example'),
('team@acme.example', 'user1@acme.example')
) AS v WHERE d.name = 'acme.example' ON CONFLICT (source, destination) DO UPDATE SET domain_id = excluded.domain_id;

"
        );
        assert_eq!(
            block(&sqlite, "DELETE FROM virtual_aliases", "\n\n"),
            "DELETE FROM virtual_aliases WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example') \
             AND (source, destination) NOT IN (VALUES ('abuse@acme.example', 'user0@acme.example'), \
             ('postmaster@acme.example', 'user0@acme.example'), ('team@acme.example', 'user0@acme.example'), \
             ('team@acme.example', 'user1@acme.example'));
DELETE FROM virtual_users WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = 'acme.example') \
             AND email NOT IN ('user0@acme.example', 'user1@acme.example');

"
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
