//! SQL emitter: `generated/sql/mysql.sql` and `generated/sql/sqlite.sql`.
//!
//! Both files hold the whole declared state as idempotent upserts followed by
//! the deletes of rows no tenant declares, so running either twice leaves the
//! same rows. They are written tenant by tenant, one statement per row, so that
//! adding a tenant adds only lines about it and changing one changes only its
//! lines. Each tenant's block is in dependency order (its domain, then its
//! mailboxes, then its aliases); aliases have no foreign key to their
//! destinations, so blocks in domain order respect every constraint of the
//! migrations.
//!
//! The file's shape (header, sections, transaction) is a tera template per
//! dialect; the one-line statement of each row is built here, with every
//! value escaped by `sql_literal`. A platform has a million rows or more, and
//! building those lines directly keeps the emitter fast (a template
//! expression per value costs ten times as much).

use std::fmt::Write as _;

use crate::emit::sql_literal::{mysql_literal, sqlite_literal};
use crate::emit::{Artifacts, engine, header, render};
use crate::model::{Domain, Model};
use crate::parallel;

const TEMPLATES: &[(&str, &str)] = &[
    ("mysql.sql", include_str!("templates/sql/mysql.sql")),
    ("sqlite.sql", include_str!("templates/sql/sqlite.sql")),
];

/// The words that differ between the two dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Mysql,
    Sqlite,
}

impl Dialect {
    fn literal(self, value: &str) -> String {
        match self {
            Dialect::Mysql => mysql_literal(value),
            Dialect::Sqlite => sqlite_literal(value),
        }
    }

    fn optional(self, value: Option<&str>) -> String {
        value.map_or_else(|| "NULL".to_string(), |v| self.literal(v))
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

    /// `(source, destination) NOT IN …` of a list of pairs.
    fn pairs_list(self, pairs: &[String]) -> String {
        match self {
            Dialect::Mysql => format!("({})", pairs.join(", ")),
            // SQLite takes a row value IN only against a subquery.
            Dialect::Sqlite => format!("(VALUES {})", pairs.join(", ")),
        }
    }
}

/// The template's slots for the text of every tenant, in file order: the
/// upserts, the deletes, and the list of declared domains.
const SLOTS: [&str; 3] = ["upserts", "deletes", "domains"];

/// The files and their dialects.
const FILES: [(&str, Dialect); 2] = [
    ("mysql.sql", Dialect::Mysql),
    ("sqlite.sql", Dialect::Sqlite),
];

/// A run of tenants' text, one string per slot.
type Slots = [String; SLOTS.len()];

/// One tenant's text of each slot.
fn tenant(dialect: Dialect, domain: &Domain, slots: &mut Slots) {
    let q = |v: &str| dialect.literal(v);
    let name = q(&domain.name);
    let mut upserts = String::new();
    let domain_conflict = match dialect {
        Dialect::Mysql => dialect.on_conflict("name", &["name"]),
        Dialect::Sqlite => dialect.on_conflict("name", &[]),
    };
    let _ = writeln!(
        upserts,
        "INSERT INTO virtual_domains (name) VALUES ({name}) {domain_conflict};"
    );
    let user_conflict =
        dialect.on_conflict("email", &["domain_id", "password", "quota_bytes", "name"]);
    for m in domain.mailboxes.values() {
        let _ = writeln!(
            upserts,
            "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) \
             SELECT id, {}, {}, {}, {} FROM virtual_domains WHERE name = {name} {user_conflict};",
            q(&m.address),
            q(&m.password),
            m.quota_bytes,
            dialect.optional(m.name.as_deref()),
        );
    }
    let alias_conflict = dialect.on_conflict("source, destination", &["domain_id"]);
    let mut pairs = Vec::new();
    for a in domain.aliases.values() {
        for d in &a.destinations {
            let (source, destination) = (q(&a.source), q(&d.address));
            let _ = writeln!(
                upserts,
                "INSERT INTO virtual_aliases (domain_id, source, destination) \
                 SELECT id, {source}, {destination} FROM virtual_domains WHERE name = {name} {alias_conflict};"
            );
            pairs.push(format!("({source}, {destination})"));
        }
    }

    let of_domain = format!("domain_id = (SELECT id FROM virtual_domains WHERE name = {name})");
    let mut deletes = format!("DELETE FROM virtual_aliases WHERE {of_domain}");
    if !pairs.is_empty() {
        let _ = write!(
            deletes,
            " AND (source, destination) NOT IN {}",
            dialect.pairs_list(&pairs)
        );
    }
    let _ = write!(deletes, ";\nDELETE FROM virtual_users WHERE {of_domain}");
    if !domain.mailboxes.is_empty() {
        let emails: Vec<String> = domain.mailboxes.values().map(|m| q(&m.address)).collect();
        let _ = write!(deletes, " AND email NOT IN ({})", emails.join(", "));
    }
    deletes.push_str(";\n");

    let _ = writeln!(slots[0], "\n-- {} ({})", domain.name, domain.file);
    slots[0].push_str(&upserts);
    slots[1].push_str(&deletes);
    let _ = writeln!(slots[2], "  {name},");
}

/// The text of a run of tenants, in one dialect.
fn tenants(dialect: Dialect, domains: &[&Domain]) -> Slots {
    let mut slots = Slots::default();
    for domain in domains {
        tenant(dialect, domain, &mut slots);
    }
    slots
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
/// Tenants are written in parallel runs, one per core, each run in both
/// dialects; the runs are joined in domain order, so the output does not
/// depend on the number of threads.
pub(crate) fn emit(model: &Model, out: &mut Artifacts) {
    let tera = engine(TEMPLATES);
    let domains: Vec<&Domain> = model.domains.values().collect();
    let runs: Vec<[Slots; FILES.len()]> = parallel::map_chunks(&domains, |run| {
        FILES.map(|(_, dialect)| tenants(dialect, run))
    });
    for (i, (file, _)) in FILES.iter().enumerate() {
        let frame = frame(&tera, file);
        let size = frame.iter().map(String::len).sum::<usize>()
            + runs
                .iter()
                .flat_map(|run| run[i].iter().map(String::len))
                .sum::<usize>();
        let mut text = String::with_capacity(size);
        text.push_str(&frame[0]);
        for (slot, after) in frame[1..].iter().enumerate() {
            for run in &runs {
                text.push_str(&run[i][slot]);
            }
            text.push_str(after);
        }
        out.add(format!("sql/{file}"), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(Dialect::Sqlite.optional(None), "NULL");
        assert_eq!(Dialect::Mysql.optional(Some("a\nb")), "'a\\nb'");
    }
}
