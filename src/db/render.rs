//! The database section of a plan, for people (human, markdown) and machines (JSON).
//!
//! Changes are grouped by tenant (the domain of the row's key): `+` insert,
//! `~` update with each changed column old → new, `-` delete. A password is
//! never shown, only that it is set or changed. Free text is printed with
//! Rust's string escaping, so a name cannot put a line break or a terminal
//! control sequence into the plan.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::db::live::ReadStats;
use crate::db::plan::RowPlan;
use crate::db::rows::{AliasRow, UserRow, domain_of};
use crate::validate::quota::format_quota;

pub(crate) const MAIL_KEPT: &str = "Removing a mailbox never deletes mail on disk: its Maildir stays on the mail host until removed by hand.";

/// The database half of a plan.
pub(crate) struct DbSection<'a> {
    pub(crate) database: String,
    pub(crate) live_fingerprint: &'a str,
    pub(crate) plan: &'a RowPlan,
    /// How much of the live database was read to compute the plan.
    pub(crate) read: ReadStats,
    /// What the reader should know of the database itself: it does not exist
    /// yet, its schema is older (see `db::open_for_plan`).
    pub(crate) notes: &'a [String],
    /// Alias rows the files keep that forward into a domain the plan
    /// deletes: (source, destination).
    pub(crate) forwards: &'a [(String, String)],
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ShownChange {
    pub(crate) op: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) table: &'static str,
    pub(crate) key: String,
    pub(crate) columns: Vec<ShownColumn>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ShownColumn {
    pub(crate) column: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new: Option<Value>,
    /// A secret column: only that it changed is shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) hidden: bool,
}

impl ShownChange {
    fn sign(&self) -> char {
        match self.op {
            "insert" => '+',
            "update" => '~',
            _ => '-',
        }
    }

    /// One line: `+ mailbox alice@acme.example (quota 10 GiB, name "Alice")`.
    pub(crate) fn line(&self) -> String {
        let mut line = format!("{} {} {}", self.sign(), self.kind, self.key);
        let details: Vec<String> = self.columns.iter().map(|c| self.describe(c)).collect();
        match self.op {
            "update" => {
                line.push_str(": ");
                line.push_str(&details.join(", "));
            }
            _ if !details.is_empty() => line.push_str(&format!(" ({})", details.join(", "))),
            _ => {}
        }
        if self.op == "delete" && self.kind == "mailbox" {
            line.push_str(" (its mail on disk is kept)");
        }
        line
    }

    fn describe(&self, c: &ShownColumn) -> String {
        if c.hidden {
            return match self.op {
                "update" => format!("{} changed", c.column),
                _ => format!("{} set", c.column),
            };
        }
        let show = |v: &Option<Value>| match v {
            None | Some(Value::Null) => "none".to_string(),
            Some(Value::String(s)) => format!("{s:?}"),
            Some(Value::Number(n)) if c.column == "quota_bytes" => {
                n.as_u64().map_or_else(|| n.to_string(), format_quota)
            }
            Some(other) => other.to_string(),
        };
        let name = if c.column == "quota_bytes" {
            "quota"
        } else {
            c.column
        };
        match self.op {
            "update" => format!("{name} {} → {}", show(&c.old), show(&c.new)),
            _ => format!("{name} {}", show(&c.new)),
        }
    }
}

fn user_columns(user: &UserRow) -> Vec<ShownColumn> {
    let mut columns = vec![
        ShownColumn {
            column: "quota_bytes",
            old: None,
            new: Some(json!(user.quota_bytes)),
            hidden: false,
        },
        ShownColumn {
            column: "password",
            old: None,
            new: None,
            hidden: true,
        },
    ];
    if let Some(name) = &user.name {
        columns.push(ShownColumn {
            column: "name",
            old: None,
            new: Some(json!(name)),
            hidden: false,
        });
    }
    columns
}

fn user_update(before: &UserRow, after: &UserRow) -> Vec<ShownColumn> {
    let mut columns = Vec::new();
    let mut changed = |column, old: Value, new: Value| {
        if old != new {
            columns.push(ShownColumn {
                column,
                old: Some(old),
                new: Some(new),
                hidden: false,
            });
        }
    };
    changed("domain", json!(before.domain), json!(after.domain));
    changed(
        "quota_bytes",
        json!(before.quota_bytes),
        json!(after.quota_bytes),
    );
    changed("name", json!(before.name), json!(after.name));
    if before.password != after.password {
        columns.push(ShownColumn {
            column: "password",
            old: None,
            new: None,
            hidden: true,
        });
    }
    columns
}

fn alias_key(alias: &AliasRow) -> String {
    format!("{} → {}", alias.source, alias.destination)
}

/// Every change, grouped by tenant domain, in the order of the plan.
pub(crate) fn by_tenant(plan: &RowPlan) -> BTreeMap<String, Vec<ShownChange>> {
    let mut out: BTreeMap<String, Vec<ShownChange>> = BTreeMap::new();
    let mut add =
        |tenant: &str, change: ShownChange| out.entry(tenant.to_string()).or_default().push(change);
    let change = |op, kind, table, key: String, columns| ShownChange {
        op,
        kind,
        table,
        key,
        columns,
    };
    for d in &plan.domains.insert {
        add(
            d,
            change("insert", "domain", "virtual_domains", d.clone(), Vec::new()),
        );
    }
    for u in &plan.users.insert {
        add(
            domain_of(&u.email),
            change(
                "insert",
                "mailbox",
                "virtual_users",
                u.email.clone(),
                user_columns(u),
            ),
        );
    }
    for a in &plan.aliases.insert {
        add(
            domain_of(&a.source),
            change(
                "insert",
                "alias",
                "virtual_aliases",
                alias_key(a),
                Vec::new(),
            ),
        );
    }
    for u in &plan.users.update {
        let columns = user_update(&u.before, &u.after);
        add(
            domain_of(&u.after.email),
            change(
                "update",
                "mailbox",
                "virtual_users",
                u.after.email.clone(),
                columns,
            ),
        );
    }
    for a in &plan.aliases.update {
        let columns = vec![ShownColumn {
            column: "domain",
            old: Some(json!(a.before.domain)),
            new: Some(json!(a.after.domain)),
            hidden: false,
        }];
        add(
            domain_of(&a.after.source),
            change(
                "update",
                "alias",
                "virtual_aliases",
                alias_key(&a.after),
                columns,
            ),
        );
    }
    for a in &plan.aliases.delete {
        add(
            domain_of(&a.source),
            change(
                "delete",
                "alias",
                "virtual_aliases",
                alias_key(a),
                Vec::new(),
            ),
        );
    }
    for u in &plan.users.delete {
        add(
            domain_of(&u.email),
            change(
                "delete",
                "mailbox",
                "virtual_users",
                u.email.clone(),
                Vec::new(),
            ),
        );
    }
    for d in &plan.domains.delete {
        add(
            d,
            change("delete", "domain", "virtual_domains", d.clone(), Vec::new()),
        );
    }
    // Sorted for reading: inserts, updates, deletes; within each, the domain,
    // its mailboxes, its aliases (deletes in the reverse); then by key.
    for changes in out.values_mut() {
        changes.sort_by(|a, b| reading_order(a).cmp(&reading_order(b)));
    }
    out
}

fn reading_order(change: &ShownChange) -> (u8, u8, &str) {
    let op = match change.op {
        "insert" => 0,
        "update" => 1,
        _ => 2,
    };
    let kind = match change.kind {
        "domain" => 0,
        "mailbox" => 1,
        _ => 2,
    };
    let kind = if op == 2 { 2 - kind } else { kind };
    (op, kind, change.key.as_str())
}

impl DbSection<'_> {
    fn summary(&self) -> String {
        let c = self.plan.counts();
        if c.total() == 0 {
            return format!("database {}: no row changes", self.database);
        }
        format!(
            "database {}: {} to insert, {} to update, {} to delete",
            self.database, c.insert, c.update, c.delete
        )
    }

    fn deletes_mailboxes(&self) -> bool {
        !self.plan.users.delete.is_empty()
    }

    pub(crate) fn human(&self) -> String {
        let mut out = format!("{}\n", self.summary());
        for note in self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        for line in crate::db::guard::forwards_lines(self.forwards) {
            out.push_str(&format!("  {line}\n"));
        }
        for (tenant, changes) in by_tenant(self.plan) {
            out.push_str(&format!("  {tenant}\n"));
            for change in changes {
                out.push_str(&format!("    {}\n", change.line()));
            }
        }
        if self.deletes_mailboxes() {
            out.push_str(&format!("  {MAIL_KEPT}\n"));
        }
        out
    }

    pub(crate) fn markdown(&self) -> String {
        let mut out = format!(
            "### Database\n\n{}\n",
            markdown_escape(&capitalise(&self.summary()))
        );
        for note in self.notes {
            out.push_str(&format!("\n> Note: {}\n", markdown_escape(note)));
        }
        let forwards = crate::db::guard::forwards_lines(self.forwards);
        if let Some((heading, items)) = forwards.split_first() {
            out.push_str(&format!("\n**Warning:** {}\n\n", markdown_escape(heading)));
            for item in items {
                let item = item.trim_start().trim_start_matches("- ");
                out.push_str(&format!("- {}\n", markdown_escape(item)));
            }
        }
        let tenants = by_tenant(self.plan);
        if !tenants.is_empty() {
            out.push_str("\n| tenant | insert | update | delete |\n|---|---:|---:|---:|\n");
            for (tenant, changes) in &tenants {
                let count = |op: &str| changes.iter().filter(|c| c.op == op).count();
                out.push_str(&format!(
                    "| `{tenant}` | {} | {} | {} |\n",
                    count("insert"),
                    count("update"),
                    count("delete")
                ));
            }
        }
        for (tenant, changes) in &tenants {
            let lines: Vec<String> = changes.iter().map(ShownChange::line).collect();
            let fence = fence_for(&lines.join("\n"));
            out.push_str(&format!(
                "\n<details><summary>{tenant}: {} row change{}</summary>\n\n{fence}diff\n",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            ));
            for line in lines {
                out.push_str(&line);
                out.push('\n');
            }
            out.push_str(&format!("{fence}\n\n</details>\n"));
        }
        if self.deletes_mailboxes() {
            out.push_str(&format!("\n{MAIL_KEPT}\n"));
        }
        out
    }

    pub(crate) fn json(&self) -> Value {
        let c = self.plan.counts();
        let tenants: Vec<Value> = by_tenant(self.plan)
            .into_iter()
            .map(|(domain, changes)| json!({ "domain": domain, "changes": changes }))
            .collect();
        let mut notes: Vec<&str> = self.notes.iter().map(String::as_str).collect();
        if self.deletes_mailboxes() {
            notes.push(MAIL_KEPT);
        }
        let forwards: Vec<Value> = self
            .forwards
            .iter()
            .map(|(source, destination)| json!({ "source": source, "destination": destination }))
            .collect();
        json!({
            "url": self.database,
            "live_fingerprint": self.live_fingerprint,
            "plan_hash": self.plan.hash(),
            "summary": { "insert": c.insert, "update": c.update, "delete": c.delete },
            "tenants": tenants,
            "notes": notes,
            "forwards_into_deleted_domains": forwards,
            "read": self.read,
        })
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Backslash-escape what markdown would read as markup.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code fence longer than any run of backticks in the text.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::plan::Update;

    fn user(email: &str, password: &str, quota: i64, name: Option<&str>) -> UserRow {
        UserRow {
            email: email.into(),
            domain: domain_of(email).into(),
            password: password.into(),
            quota_bytes: quota,
            name: name.map(Into::into),
        }
    }

    fn sample() -> RowPlan {
        let mut plan = RowPlan::default();
        plan.domains.insert.push("b.example".into());
        plan.users.insert.push(user(
            "x@b.example",
            "{ARGON2ID}secret-hash",
            1 << 30,
            Some("Line\nTwo \"q\""),
        ));
        plan.users.update.push(Update {
            before: user("y@a.example", "{ARGON2ID}old-hash", 1 << 30, None),
            after: user("y@a.example", "{ARGON2ID}new-hash", 2 << 30, None),
        });
        plan.users
            .delete
            .push(user("z@a.example", "{ARGON2ID}gone-hash", 1, None));
        plan
    }

    #[test]
    fn human_groups_by_tenant_and_hides_passwords() {
        let plan = sample();
        let section = DbSection {
            database: "sqlite://x.db".into(),
            live_fingerprint: "sha256:0",
            plan: &plan,
            read: ReadStats::default(),
            notes: &[],
            forwards: &[],
        };
        let text = section.human();
        assert_eq!(
            text,
            "database sqlite://x.db: 2 to insert, 1 to update, 1 to delete\n\
             \x20 a.example\n\
             \x20   ~ mailbox y@a.example: quota 1 GiB → 2 GiB, password changed\n\
             \x20   - mailbox z@a.example (its mail on disk is kept)\n\
             \x20 b.example\n\
             \x20   + domain b.example\n\
             \x20   + mailbox x@b.example (quota 1 GiB, password set, name \"Line\\nTwo \\\"q\\\"\")\n\
             \x20 Removing a mailbox never deletes mail on disk: its Maildir stays on the mail host until removed by hand.\n"
        );
        for rendered in [text, section.markdown(), section.json().to_string()] {
            for hash in [
                "secret-hash",
                "old-hash",
                "new-hash",
                "gone-hash",
                "ARGON2ID",
            ] {
                assert!(
                    !rendered.contains(hash),
                    "a password hash leaked: {rendered}"
                );
            }
        }
    }

    #[test]
    fn markdown_has_a_table_and_details() {
        let plan = sample();
        let md = DbSection {
            database: "sqlite://x.db".into(),
            live_fingerprint: "sha256:0",
            plan: &plan,
            read: ReadStats::default(),
            notes: &[],
            forwards: &[],
        }
        .markdown();
        assert!(md.contains("| `a.example` | 0 | 1 | 1 |"), "{md}");
        assert!(
            md.contains("<details><summary>b.example: 2 row changes</summary>"),
            "{md}"
        );
        assert!(md.contains("```diff\n+ domain b.example\n"), "{md}");
    }

    #[test]
    fn fences_outgrow_backticks_in_names() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
