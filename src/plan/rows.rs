//! The row half of a plan: what `apply` would change in the database, and
//! each change as a person reads it.
//!
//! `derive` is the one computation of the row plan that `plan` and `apply`
//! share (apply runs it again under its lock). Changes are shown grouped by
//! tenant (the domain of the row's key): `+` insert, `~` update with each
//! changed column old → new, `-` delete. A password is never shown, only
//! that it is set or changed. Free text is shown with Rust's string
//! escaping, so a name cannot put a line break or a terminal control
//! sequence into the plan.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::db::connection::DbError;
use crate::db::desired::Desired;
use crate::db::live::{Live, ReadStats};
use crate::db::plan::{Counts, RowPlan};
use crate::db::rows::{
    AliasRow, AppPasswordRow, DomainRow, Fields, GrantRow, HostRow, RelayRow, Rows, UserRow,
    domain_of,
};
use crate::gitrev::Revision;
use crate::graph::Graph;
use crate::model::{MailboxState, Protocols, TenantState};
use crate::plan::moves::{Move, moves};
use crate::validate::quota::format_quota;

pub(crate) const MAIL_KEPT: &str = "Removing a mailbox never deletes mail on disk: its Maildir stays on the mail host until removed by hand.";

/// What the desired rows are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Against {
    /// A live database, as it may be shown (never a password).
    Database(String),
    /// The rows a git revision's files declare (`plan --base REF`).
    Revision(Revision),
}

/// The row half of a plan.
#[derive(Debug, Clone)]
pub(crate) struct RowSection {
    pub(crate) against: Against,
    /// Of the live state the plan was derived from (against a revision: of
    /// the revision's rows).
    pub(crate) live_fingerprint: String,
    /// The live state was this mailops's schema: apply can check the fingerprint.
    pub(crate) current_schema: bool,
    pub(crate) plan: RowPlan,
    /// How much of the live database was read to derive the plan.
    pub(crate) read: ReadStats,
    /// What the reader should know of the database itself: it does not exist
    /// yet, its schema is older (see `db::open_for_plan`).
    pub(crate) notes: Vec<String>,
    /// Alias rows the files keep that forward into a domain the plan
    /// deletes: (source, destination).
    pub(crate) forwards: Vec<(String, String)>,
    /// Alias rows the plan inserts whose mail leaves the platform
    /// (`external_forwards`): (source, destination), for a reviewer to see.
    pub(crate) external: Vec<(String, String)>,
    /// The mailboxes whose home moves to another host, with the steps that
    /// move their mail (`plan::moves`), by address.
    pub(crate) moves: Vec<Move>,
}

impl RowSection {
    /// Derive the row plan from the live state and the desired rows: the
    /// diff, its inserts in the graph's order, and the forwards into the
    /// domains it deletes. `plan` and `apply` both derive it here.
    pub(crate) fn derive(
        database: String,
        live: &Live,
        desired: &Desired<'_>,
        graph: &Graph,
    ) -> Result<RowSection, DbError> {
        let rows = live.desired_rows(desired)?;
        let mut plan = RowPlan::diff(&rows, &live.rows);
        plan.order_inserts(graph);
        let forwards = desired.forwards_into(&plan.domains.delete);
        let external = external_forwards(&plan, &rows);
        let moves = moves(&plan, &live.rows.hosts, &rows.hosts);
        Ok(RowSection {
            against: Against::Database(database),
            live_fingerprint: live.fingerprint(),
            current_schema: true,
            plan,
            read: live.read,
            notes: Vec::new(),
            forwards,
            external,
            moves,
        })
    }

    /// The row plan between two revisions' files (`plan --base REF`): the
    /// desired rows of the working tree (`desired`, every domain's) against
    /// the rows the revision declares (`base`), as if a database held
    /// exactly those. Nothing is read from a database.
    pub(crate) fn between(
        revision: Revision,
        base: &Rows,
        desired: &Desired<'_>,
        graph: &Graph,
    ) -> Result<RowSection, DbError> {
        let rows = desired.rows(None)?;
        let mut plan = RowPlan::diff(&rows, base);
        plan.order_inserts(graph);
        let forwards = desired.forwards_into(&plan.domains.delete);
        let external = external_forwards(&plan, &rows);
        let moves = moves(&plan, &base.hosts, &rows.hosts);
        Ok(RowSection {
            against: Against::Revision(revision),
            live_fingerprint: fingerprint(base),
            current_schema: false,
            plan,
            read: ReadStats {
                full: true,
                domains: base.domains.len(),
                rows: base.users.len() + base.aliases.len(),
            },
            notes: Vec::new(),
            forwards,
            external,
            moves,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// What the rows were compared with: `database URL`, or
    /// `rows against origin/main (commit abc1234)`.
    pub(crate) fn against_shown(&self) -> String {
        match &self.against {
            Against::Database(url) => format!("database {url}"),
            Against::Revision(revision) => format!("rows against {}", revision.shown()),
        }
    }

    /// "database URL: 1 to insert, 0 to update, 2 to delete".
    pub(crate) fn summary(&self) -> String {
        let c = self.plan.counts();
        let against = self.against_shown();
        if c.total() == 0 {
            return format!("{against}: no row changes");
        }
        format!(
            "{against}: {} to insert, {} to update, {} to delete",
            c.insert, c.update, c.delete
        )
    }

    /// Every change, grouped by tenant (`by_tenant`), each move with its
    /// steps: what every rendering of the plan shows.
    pub(crate) fn changes_by_tenant(&self) -> BTreeMap<String, Vec<ShownChange>> {
        let mut out = by_tenant(&self.plan);
        for change in out.values_mut().flatten() {
            if change.home_move {
                if let Some(m) = self.moves.iter().find(|m| m.address == change.key) {
                    change.steps = m.steps();
                }
            }
        }
        out
    }

    /// Whether the plan deletes a mailbox (then `MAIL_KEPT` is said).
    pub(crate) fn deletes_mailboxes(&self) -> bool {
        !self.plan.users.delete.is_empty()
    }

    /// Per tenant: its mailbox and alias rows inserted, updated, deleted.
    pub(crate) fn tenant_counts(&self) -> BTreeMap<String, (Counts, Counts)> {
        let mut out: BTreeMap<String, (Counts, Counts)> = BTreeMap::new();
        let plan = &self.plan;
        let mut count = |address: &str, mailbox: bool, bump: fn(&mut Counts)| {
            let entry = out.entry(domain_of(address).to_string()).or_default();
            bump(if mailbox { &mut entry.0 } else { &mut entry.1 });
        };
        for u in &plan.users.insert {
            count(&u.email, true, |c| c.insert += 1);
        }
        for u in &plan.users.update {
            count(&u.after.email, true, |c| c.update += 1);
        }
        for u in &plan.users.delete {
            count(&u.email, true, |c| c.delete += 1);
        }
        for a in &plan.aliases.insert {
            count(&a.source, false, |c| c.insert += 1);
        }
        for a in &plan.aliases.update {
            count(&a.after.source, false, |c| c.update += 1);
        }
        for a in &plan.aliases.delete {
            count(&a.source, false, |c| c.delete += 1);
        }
        out
    }
}

/// The alias rows `plan` inserts that forward off the platform: those whose
/// destination's domain has no `virtual_domains` row in `after` (the rows
/// the apply leaves: every tenant, alias domain and relay domain has one,
/// whether or not this compile parsed its file). (source, destination),
/// sorted. From rows, not the model: an incremental compile's model holds
/// only the tenants it parsed.
pub(crate) fn external_forwards(plan: &RowPlan, after: &Rows) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan
        .aliases
        .insert
        .iter()
        .filter(|a| !after.domains.contains_key(domain_of(&a.destination)))
        .map(|a| (a.source.clone(), a.destination.clone()))
        .collect();
    out.sort();
    out
}

/// The plan's list of new external forwards: a heading, then one
/// `+ source → destination` line each; nothing when there are none.
pub(crate) fn external_lines(external: &[(String, String)]) -> Vec<String> {
    if external.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "external forwards: {} new, their mail leaves the platform:",
        external.len()
    )];
    lines.extend(
        external
            .iter()
            .map(|(source, destination)| format!("+ {source} → {destination}")),
    );
    lines
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ShownChange {
    pub(crate) op: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) table: &'static str,
    pub(crate) key: String,
    pub(crate) columns: Vec<ShownColumn>,
    /// A mailbox's home changes from one host to another: its mail has to
    /// move (the line says so, and JSON has `"move": true`).
    #[serde(rename = "move", skip_serializing_if = "std::ops::Not::not")]
    pub(crate) home_move: bool,
    /// A move's steps (`plan::moves`), numbered, as the plan shows them
    /// under its line; filled by `RowSection::changes_by_tenant`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) steps: Vec<String>,
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
        if self.home_move {
            line.push_str(" (move)");
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
        // A state, a protocol list, a host name or address is a word, not
        // free text: shown bare.
        let bare = matches!(
            c.column,
            "state" | "protocols" | "home" | "hostname" | "private_ip"
        );
        let show = |v: &Option<Value>| match v {
            None | Some(Value::Null) => "none".to_string(),
            Some(Value::String(s)) if bare && s.is_empty() => "none".to_string(),
            Some(Value::String(s)) if bare => s.clone(),
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
            // `+ host mx2 (mx2.webhizzy.in, 10.20.1.12)`.
            _ if self.kind == "host" => show(&c.new),
            _ => format!("{name} {}", show(&c.new)),
        }
    }
}

/// `sha256:<hex>` of every row (a revision's: what its plan was derived from).
fn fingerprint(rows: &Rows) -> String {
    let mut fields = Fields::default();
    fields.field("mailops-rows/2");
    for domain in rows.domains.values() {
        fields.domain(domain);
    }
    for user in rows.users.values() {
        fields.user(user);
    }
    for alias in rows.aliases.values() {
        fields.alias(alias);
    }
    for row in rows.app_passwords.values() {
        fields.app_password(row);
    }
    for row in rows.grants.values() {
        fields.grant(row);
    }
    for row in rows.relays.values() {
        fields.relay(row);
    }
    for row in rows.relay_recipients.values() {
        fields.relay_recipient(row);
    }
    for row in rows.hosts.values() {
        fields.host(row);
    }
    fields.finish()
}

/// A new domain's state, shown when not the default (a new active tenant
/// reads as before).
fn domain_columns(domain: &DomainRow) -> Vec<ShownColumn> {
    if domain.state == TenantState::Active.name() {
        return Vec::new();
    }
    vec![ShownColumn {
        column: "state",
        old: None,
        new: Some(json!(domain.state)),
        hidden: false,
    }]
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
    // Shown when not the default, so that a new active mailbox reads as before.
    if user.state != MailboxState::Active.name() {
        columns.push(ShownColumn {
            column: "state",
            old: None,
            new: Some(json!(user.state)),
            hidden: false,
        });
    }
    if user.protocols != Protocols::default().column() {
        columns.push(ShownColumn {
            column: "protocols",
            old: None,
            new: Some(json!(user.protocols)),
            hidden: false,
        });
    }
    // Only on a platform with [[hosts]].
    if let Some(home) = &user.home {
        columns.push(ShownColumn {
            column: "home",
            old: None,
            new: Some(json!(home)),
            hidden: false,
        });
    }
    columns
}

/// A mailbox's home changed: its own line, apart from the other columns,
/// a move when it goes from one host to another (not when a single-host
/// platform's mailboxes get their first home, or lose it).
fn home_update(before: &UserRow, after: &UserRow) -> Option<ShownChange> {
    if before.home == after.home {
        return None;
    }
    Some(ShownChange {
        op: "update",
        kind: "mailbox",
        table: "virtual_users",
        key: after.email.clone(),
        columns: vec![ShownColumn {
            column: "home",
            old: Some(json!(before.home)),
            new: Some(json!(after.home)),
            hidden: false,
        }],
        home_move: before.home.is_some() && after.home.is_some(),
        steps: Vec::new(),
    })
}

/// The `mail_hosts` changes, platform-level (no tenant's): `+ host mx2
/// (mx2.webhizzy.in, 10.20.1.12)`, `~ host mx2: private_ip … → …`,
/// `- host mx3 (…)`, by name; empty on a single-host platform.
pub(crate) fn host_changes(plan: &RowPlan) -> Vec<ShownChange> {
    let columns = |h: &HostRow| {
        ["hostname", "private_ip"]
            .into_iter()
            .zip([&h.hostname, &h.private_ip])
            .map(|(column, value)| ShownColumn {
                column,
                old: None,
                new: Some(json!(value)),
                hidden: false,
            })
            .collect()
    };
    let change = |op, h: &HostRow, columns| ShownChange {
        op,
        kind: "host",
        table: HOST_TABLE,
        key: h.name.clone(),
        columns,
        home_move: false,
        steps: Vec::new(),
    };
    let mut out: Vec<ShownChange> = Vec::new();
    for h in &plan.hosts.insert {
        out.push(change("insert", h, columns(h)));
    }
    for u in &plan.hosts.update {
        let mut changed = Vec::new();
        for (column, old, new) in [
            ("hostname", &u.before.hostname, &u.after.hostname),
            ("private_ip", &u.before.private_ip, &u.after.private_ip),
        ] {
            if old != new {
                changed.push(ShownColumn {
                    column,
                    old: Some(json!(old)),
                    new: Some(json!(new)),
                    hidden: false,
                });
            }
        }
        out.push(change("update", &u.after, changed));
    }
    for h in &plan.hosts.delete {
        out.push(change("delete", h, columns(h)));
    }
    out.sort_by(|a, b| reading_order(a).cmp(&reading_order(b)));
    out
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
    changed("state", json!(before.state), json!(after.state));
    changed("protocols", json!(before.protocols), json!(after.protocols));
    // A changed home is its own line (`home_update`).
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

const APP_TABLE: &str = "virtual_app_passwords";
const GRANT_TABLE: &str = "virtual_sender_grants";
const RELAY_TABLE: &str = "relay_domains";
const RELAY_RECIPIENT_TABLE: &str = "relay_recipients";
const HOST_TABLE: &str = "mail_hosts";

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
        home_move: false,
        steps: Vec::new(),
    };
    for d in &plan.domains.insert {
        add(
            &d.name,
            change(
                "insert",
                "domain",
                "virtual_domains",
                d.name.clone(),
                domain_columns(d),
            ),
        );
    }
    for d in &plan.domains.update {
        let columns = vec![ShownColumn {
            column: "state",
            old: Some(json!(d.before.state)),
            new: Some(json!(d.after.state)),
            hidden: false,
        }];
        add(
            &d.after.name,
            change(
                "update",
                "domain",
                "virtual_domains",
                d.after.name.clone(),
                columns,
            ),
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
        let home = home_update(&u.before, &u.after);
        if !columns.is_empty() || home.is_none() {
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
        if let Some(home) = home {
            add(domain_of(&u.after.email), home);
        }
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
            &d.name,
            change(
                "delete",
                "domain",
                "virtual_domains",
                d.name.clone(),
                Vec::new(),
            ),
        );
    }
    // App passwords by name and the mailbox's address, never their hash.
    let app_key = |r: &AppPasswordRow| format!("{} for {}", r.name, r.email);
    let app_columns = |r: &AppPasswordRow| {
        vec![
            ShownColumn {
                column: "protocols",
                old: None,
                new: Some(json!(r.protocols)),
                hidden: false,
            },
            ShownColumn {
                column: "password",
                old: None,
                new: None,
                hidden: true,
            },
        ]
    };
    for r in &plan.app_passwords.insert {
        add(
            &r.domain,
            change(
                "insert",
                "app password",
                APP_TABLE,
                app_key(r),
                app_columns(r),
            ),
        );
    }
    for u in &plan.app_passwords.update {
        let mut columns = Vec::new();
        if u.before.protocols != u.after.protocols {
            columns.push(ShownColumn {
                column: "protocols",
                old: Some(json!(u.before.protocols)),
                new: Some(json!(u.after.protocols)),
                hidden: false,
            });
        }
        if u.before.password != u.after.password {
            columns.push(ShownColumn {
                column: "password",
                old: None,
                new: None,
                hidden: true,
            });
        }
        add(
            &u.after.domain,
            change(
                "update",
                "app password",
                APP_TABLE,
                app_key(&u.after),
                columns,
            ),
        );
    }
    for r in &plan.app_passwords.delete {
        add(
            &r.domain,
            change("delete", "app password", APP_TABLE, app_key(r), Vec::new()),
        );
    }
    // `+ send-as alice@acme.example as sales@acme.example`.
    let grant_key = |r: &GrantRow| format!("{} as {}", r.login, r.sender);
    for r in &plan.grants.insert {
        add(
            &r.domain,
            change("insert", "send-as", GRANT_TABLE, grant_key(r), Vec::new()),
        );
    }
    for u in &plan.grants.update {
        let columns = vec![ShownColumn {
            column: "domain",
            old: Some(json!(u.before.domain)),
            new: Some(json!(u.after.domain)),
            hidden: false,
        }];
        add(
            &u.after.domain,
            change(
                "update",
                "send-as",
                GRANT_TABLE,
                grant_key(&u.after),
                columns,
            ),
        );
    }
    for r in &plan.grants.delete {
        add(
            &r.domain,
            change("delete", "send-as", GRANT_TABLE, grant_key(r), Vec::new()),
        );
    }
    // `+ relay acme.example → [mail.acme-onprem.example]:25`.
    let relay_key = |r: &RelayRow| format!("{} → {}", r.domain, r.nexthop);
    let relay_columns = |r: &RelayRow| {
        if r.backup_mx {
            vec![ShownColumn {
                column: "backup_mx",
                old: None,
                new: Some(json!(true)),
                hidden: false,
            }]
        } else {
            Vec::new()
        }
    };
    for r in &plan.relays.insert {
        add(
            &r.domain,
            change(
                "insert",
                "relay",
                RELAY_TABLE,
                relay_key(r),
                relay_columns(r),
            ),
        );
    }
    for u in &plan.relays.update {
        let mut columns = Vec::new();
        if u.before.nexthop != u.after.nexthop {
            columns.push(ShownColumn {
                column: "nexthop",
                old: Some(json!(u.before.nexthop)),
                new: Some(json!(u.after.nexthop)),
                hidden: false,
            });
        }
        if u.before.backup_mx != u.after.backup_mx {
            columns.push(ShownColumn {
                column: "backup_mx",
                old: Some(json!(u.before.backup_mx)),
                new: Some(json!(u.after.backup_mx)),
                hidden: false,
            });
        }
        add(
            &u.after.domain,
            change("update", "relay", RELAY_TABLE, relay_key(&u.after), columns),
        );
    }
    for r in &plan.relays.delete {
        add(
            &r.domain,
            change("delete", "relay", RELAY_TABLE, relay_key(r), Vec::new()),
        );
    }
    for r in &plan.relay_recipients.insert {
        add(
            &r.domain,
            change(
                "insert",
                "relay recipient",
                RELAY_RECIPIENT_TABLE,
                r.address.clone(),
                Vec::new(),
            ),
        );
    }
    for u in &plan.relay_recipients.update {
        let columns = vec![ShownColumn {
            column: "domain",
            old: Some(json!(u.before.domain)),
            new: Some(json!(u.after.domain)),
            hidden: false,
        }];
        add(
            &u.after.domain,
            change(
                "update",
                "relay recipient",
                RELAY_RECIPIENT_TABLE,
                u.after.address.clone(),
                columns,
            ),
        );
    }
    for r in &plan.relay_recipients.delete {
        add(
            &r.domain,
            change(
                "delete",
                "relay recipient",
                RELAY_RECIPIENT_TABLE,
                r.address.clone(),
                Vec::new(),
            ),
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
        "app password" => 2,
        "send-as" => 3,
        "relay" => 4,
        "relay recipient" => 5,
        _ => 6,
    };
    let kind = if op == 2 { 6 - kind } else { kind };
    (op, kind, change.key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(home: Option<&str>, quota_bytes: i64) -> UserRow {
        UserRow {
            email: "alice@acme.example".into(),
            domain: "acme.example".into(),
            password: "p".into(),
            quota_bytes,
            name: None,
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: home.map(Into::into),
        }
    }

    fn lines(plan: &RowPlan) -> Vec<String> {
        by_tenant(plan)
            .into_values()
            .flatten()
            .chain(host_changes(plan))
            .map(|c| c.line())
            .collect()
    }

    #[test]
    fn a_home_changed_is_its_own_line_and_a_move_between_hosts() {
        use crate::db::plan::Update;
        let mut plan = RowPlan::default();
        plan.users.update.push(Update {
            before: mailbox(Some("mx1"), 1),
            after: mailbox(Some("mx2"), 1),
        });
        assert_eq!(
            lines(&plan),
            ["~ mailbox alice@acme.example: home mx1 → mx2 (move)"]
        );
        let json = serde_json::to_value(&by_tenant(&plan)["acme.example"][0]).unwrap();
        assert_eq!(json["move"], true);
        assert_eq!(json["columns"][0]["old"], "mx1");
        // With another column: two lines, the home apart.
        plan.users.update[0].after.quota_bytes = 2;
        assert_eq!(
            lines(&plan),
            [
                "~ mailbox alice@acme.example: quota 1 B → 2 B",
                "~ mailbox alice@acme.example: home mx1 → mx2 (move)"
            ]
        );
        // A first home (a platform growing to two hosts) moves nothing.
        plan.users.update[0] = Update {
            before: mailbox(None, 1),
            after: mailbox(Some("mx1"), 1),
        };
        assert_eq!(
            lines(&plan),
            ["~ mailbox alice@acme.example: home none → mx1"]
        );
        let json = serde_json::to_value(&by_tenant(&plan)["acme.example"][0]).unwrap();
        assert!(json.get("move").is_none(), "{json}");
        // A new mailbox shows its home only when it has one.
        let mut plan = RowPlan::default();
        plan.users.insert = vec![mailbox(Some("mx2"), 1), {
            let mut bob = mailbox(None, 1);
            bob.email = "bob@acme.example".into();
            bob
        }];
        assert_eq!(
            lines(&plan),
            [
                "+ mailbox alice@acme.example (quota 1 B, password set, home mx2)",
                "+ mailbox bob@acme.example (quota 1 B, password set)"
            ]
        );
    }

    #[test]
    fn host_rows_are_shown_apart_from_the_tenants() {
        use crate::db::plan::Update;
        let host = |name: &str, ip: &str| HostRow {
            name: name.into(),
            hostname: format!("{name}.webhizzy.in"),
            private_ip: ip.into(),
        };
        let mut plan = RowPlan::default();
        plan.hosts.insert.push(host("mx2", "10.20.1.12"));
        plan.hosts.update.push(Update {
            before: host("mx1", "10.20.1.11"),
            after: host("mx1", "10.20.1.21"),
        });
        plan.hosts.delete.push(host("mx3", "10.20.1.13"));
        assert!(by_tenant(&plan).is_empty());
        assert_eq!(
            lines(&plan),
            [
                "+ host mx2 (mx2.webhizzy.in, 10.20.1.12)",
                "~ host mx1: private_ip 10.20.1.11 → 10.20.1.21",
                "- host mx3 (mx3.webhizzy.in, 10.20.1.13)"
            ]
        );
    }

    /// Issue 22: a new alias row is an external forward when its
    /// destination's domain has no domain row after the apply: not for a
    /// tenant, an alias domain (rows of their own), a mailbox's copy for
    /// itself, nor a row that already existed.
    #[test]
    fn only_inserted_rows_to_domains_without_a_row_are_external() {
        let row = |source: &str, destination: &str| AliasRow {
            source: source.into(),
            destination: destination.into(),
            domain: domain_of(source).into(),
        };
        let mut after = Rows::default();
        for name in ["a.example", "b.example", "b-old.example"] {
            after
                .domains
                .insert(name.to_string(), DomainRow::active(name));
        }
        let mut plan = RowPlan::default();
        plan.aliases.insert = vec![
            row("x@a.example", "desk@outside.example"),
            row("x@a.example", "x@a.example"),
            row("x@a.example", "bob@b.example"),
            row("x@a.example", "bob@b-old.example"),
            row("a@a.example", "z@gone.example"),
        ];
        plan.aliases
            .delete
            .push(row("y@a.example", "old@outside.example"));
        assert_eq!(
            external_forwards(&plan, &after),
            [
                ("a@a.example".to_string(), "z@gone.example".to_string()),
                (
                    "x@a.example".to_string(),
                    "desk@outside.example".to_string()
                ),
            ]
        );
        assert!(external_lines(&[]).is_empty());
    }
}
