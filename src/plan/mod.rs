//! The plan stage: what `build` would change in `generated/` (the file
//! half) and what `apply` would change in the database (the row half), as
//! one plain value. `plan` prints it (`human`, `markdown`, `json`), `--out`
//! saves its row half with the fingerprints apply checks (`db::saved_plan`),
//! and `apply` derives the row half again under its lock (`RowSection::derive`)
//! and prints it as `plan` does.
//!
//! Per-tenant counts come from what the emitters and the model know: which
//! generated files are a tenant's (`emit::tenant_of`), the lines their diffs
//! add and remove, and the rows the row plan inserts, updates and deletes.
//! Nothing here reads the generated text for its meaning, except to hide
//! password hashes from the diffs it shows (`mask`).

pub(crate) mod base;
pub(crate) mod files;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod markdown;
mod mask;
pub(crate) mod moves;
pub(crate) mod rows;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::plan::Counts;
pub(crate) use files::FilePlan;
pub(crate) use rows::{MAIL_KEPT, RowSection};

/// A whole plan.
pub(crate) struct Plan {
    pub(crate) files: FilePlan,
    pub(crate) rows: RowSection,
}

impl Plan {
    /// Whether applying would change anything.
    pub(crate) fn has_changes(&self) -> bool {
        !self.files.is_empty() || !self.rows.is_empty()
    }

    /// Per tenant with a change: the lines of its generated files and its
    /// row changes.
    pub(crate) fn tenants(&self) -> BTreeMap<String, TenantSummary> {
        let mut out: BTreeMap<String, TenantSummary> = BTreeMap::new();
        for file in &self.files.files {
            let Some(tenant) = &file.tenant else {
                continue;
            };
            let lines = Lines {
                insertions: file.insertions,
                deletions: file.deletions,
            };
            let entry = out.entry(tenant.clone()).or_default();
            if file.path.ends_with(".tf") {
                entry.dns = lines;
            } else if file.path.contains("/sqlite/") {
                entry.sql = lines;
            }
        }
        for (tenant, (mailboxes, aliases)) in self.rows.tenant_counts() {
            let entry = out.entry(tenant).or_default();
            entry.mailboxes = mailboxes;
            entry.aliases = aliases;
        }
        out
    }
}

/// Lines a diff adds and removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Lines {
    pub(crate) insertions: usize,
    pub(crate) deletions: usize,
}

impl Lines {
    /// `+3 -1`, or `–` for none.
    pub(crate) fn show(self) -> String {
        if self == Lines::default() {
            "–".to_string()
        } else {
            format!("+{} -{}", self.insertions, self.deletions)
        }
    }
}

/// One tenant's line of the plan's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct TenantSummary {
    /// Its DNS file, `generated/terraform/dns-<shard>/dns_<domain>.tf`.
    pub(crate) dns: Lines,
    /// Its SQL file (`generated/sql/sqlite/<domain>.sql`; its MySQL file
    /// changes the same rows).
    pub(crate) sql: Lines,
    /// Its mailbox rows and alias rows inserted, updated, deleted.
    #[serde(serialize_with = "rows_json")]
    pub(crate) mailboxes: Counts,
    #[serde(serialize_with = "rows_json")]
    pub(crate) aliases: Counts,
}

/// Row counts in the plan's JSON: `insert`, `update`, `delete`, and the
/// same again under the names the first JSON form gave them (`added`,
/// `changed`, `removed`), which readers may still use: fields are only ever
/// added.
fn rows_json<S: serde::Serializer>(counts: &Counts, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(6))?;
    for (name, n) in [
        ("insert", counts.insert),
        ("update", counts.update),
        ("delete", counts.delete),
        ("added", counts.insert),
        ("changed", counts.update),
        ("removed", counts.delete),
    ] {
        map.serialize_entry(name, &n)?;
    }
    map.end()
}

/// `+1 ~0 -2`, or `–` for none.
pub(crate) fn show_counts(counts: &Counts) -> String {
    if counts.total() == 0 {
        "–".to_string()
    } else {
        format!("+{} ~{} -{}", counts.insert, counts.update, counts.delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::live::ReadStats;
    use crate::db::plan::{RowPlan, Update};
    use crate::db::rows::{UserRow, domain_of};
    use crate::plan::files::{FileStatus, file_change};
    use crate::plan::rows::Against;

    fn user(email: &str, password: &str, quota: i64, name: Option<&str>) -> UserRow {
        UserRow {
            email: email.into(),
            domain: domain_of(email).into(),
            password: password.into(),
            quota_bytes: quota,
            name: name.map(Into::into),
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        }
    }

    fn sample_rows() -> RowSection {
        let mut plan = RowPlan::default();
        plan.domains
            .insert
            .push(crate::db::rows::DomainRow::active("b.example"));
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
        RowSection {
            against: Against::Database("sqlite://x.db".into()),
            live_fingerprint: "sha256:0".into(),
            current_schema: true,
            plan,
            read: ReadStats::default(),
            notes: Vec::new(),
            forwards: Vec::new(),
            external: vec![("exports@b.example".into(), "desk@freight.example".into())],
            moves: Vec::new(),
        }
    }

    fn sample() -> Plan {
        let files = FilePlan {
            files: vec![
                file_change(
                    "terraform/dns-03/dns_b.example.tf",
                    FileStatus::Added,
                    "",
                    "# generated by mailops\nrecord\n```\n",
                ),
                file_change("sql/sqlite/b.example.sql", FileStatus::Added, "", "x\ny\n"),
                file_change("sql/mysql/b.example.sql", FileStatus::Added, "", "x\n"),
                file_change("terraform/host/main.tf", FileStatus::Changed, "a\n", "b\n"),
            ],
        };
        Plan {
            files,
            rows: sample_rows(),
        }
    }

    /// A plan that moves y@a.example from mx1 to mx2 (and gives
    /// n@a.example its first home, which is no move).
    fn moving() -> Plan {
        use crate::db::rows::HostRow;
        let mut plan = RowPlan::default();
        let homed = |email: &str, home: Option<&str>| UserRow {
            home: home.map(Into::into),
            ..user(email, "{ARGON2ID}h", 1 << 30, None)
        };
        plan.users.update.push(Update {
            before: homed("y@a.example", Some("mx1")),
            after: homed("y@a.example", Some("mx2")),
        });
        plan.users.update.push(Update {
            before: homed("n@a.example", None),
            after: homed("n@a.example", Some("mx1")),
        });
        let hosts: std::collections::BTreeMap<String, HostRow> =
            [("mx1", "10.20.1.11"), ("mx2", "10.20.1.12")]
                .map(|(name, ip)| {
                    (
                        name.to_string(),
                        HostRow {
                            name: name.into(),
                            hostname: format!("{name}.webhizzy.in"),
                            private_ip: ip.into(),
                        },
                    )
                })
                .into();
        let moves = moves::moves(&plan, &hosts, &hosts);
        Plan {
            files: FilePlan { files: Vec::new() },
            rows: RowSection {
                moves,
                plan,
                external: Vec::new(),
                ..sample_rows()
            },
        }
    }

    #[test]
    fn a_move_shows_its_steps_in_every_rendering_and_a_first_home_none() {
        let plan = moving();
        assert_eq!(
            human::rows(&plan.rows),
            "database sqlite://x.db: 0 to insert, 2 to update, 0 to delete\n\
             \x20 a.example\n\
             \x20   ~ mailbox n@a.example: home none → mx1\n\
             \x20   ~ mailbox y@a.example: home mx1 → mx2 (move)\n\
             \x20       1. copy: doveadm backup y@a.example from mx1 (10.20.1.11) to mx2 (10.20.1.12), mx1 still serving\n\
             \x20       2. switch: home = mx2 (delivery and logins go to mx2)\n\
             \x20       3. final sync: doveadm sync (two-way) again, for mail mx1 took before the switch\n\
             \x20       4. clean up: expunge y@a.example's mail on mx1, once mx2 holds at least as many messages\n"
        );
        let markdown = markdown::render(&plan);
        assert!(
            markdown.contains(
                "~ mailbox y@a.example: home mx1 → mx2 (move)\n    1. copy: doveadm backup y@a.example from mx1 (10.20.1.11) to mx2 (10.20.1.12), mx1 still serving\n"
            ),
            "{markdown}"
        );
        let json = json::render(&plan);
        let changes = &json["database"]["tenants"][0]["changes"];
        assert_eq!(changes[0]["key"], "n@a.example");
        assert!(changes[0].get("steps").is_none(), "{json}");
        assert_eq!(changes[1]["move"], true);
        assert_eq!(
            changes[1]["steps"].as_array().map(Vec::len),
            Some(4),
            "{json}"
        );
        assert_eq!(
            changes[1]["steps"][1],
            "2. switch: home = mx2 (delivery and logins go to mx2)"
        );
    }

    #[test]
    fn rows_are_grouped_by_tenant_and_hide_passwords() {
        let plan = sample();
        let text = human::rows(&plan.rows);
        assert_eq!(
            text,
            "database sqlite://x.db: 2 to insert, 1 to update, 1 to delete\n\
             \x20 external forwards: 1 new, their mail leaves the platform:\n\
             \x20   + exports@b.example → desk@freight.example\n\
             \x20 a.example\n\
             \x20   ~ mailbox y@a.example: quota 1 GiB → 2 GiB, password changed\n\
             \x20   - mailbox z@a.example (its mail on disk is kept)\n\
             \x20 b.example\n\
             \x20   + domain b.example\n\
             \x20   + mailbox x@b.example (quota 1 GiB, password set, name \"Line\\nTwo \\\"q\\\"\")\n\
             \x20 Removing a mailbox never deletes mail on disk: its Maildir stays on the mail host until removed by hand.\n"
        );
        for rendered in [
            human::render(&plan, false),
            human::render(&plan, true),
            markdown::render(&plan),
            json::render(&plan).to_string(),
        ] {
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

    /// Issue 22: every renderer lists the new forwards off the platform.
    #[test]
    fn new_external_forwards_are_listed_in_every_form() {
        let plan = sample();
        assert!(
            human::render(&plan, false)
                .contains("  external forwards: 1 new, their mail leaves the platform:\n    + exports@b.example → desk@freight.example\n")
        );
        let md = markdown::render(&plan);
        assert!(
            md.contains("**External forwards: 1 new, their mail leaves the platform:**\n\n- `+ exports@b.example → desk@freight.example`\n"),
            "{md}"
        );
        let json = json::render(&plan);
        assert_eq!(
            json["database"]["external_forwards"],
            serde_json::json!([{ "source": "exports@b.example", "destination": "desk@freight.example" }])
        );
    }

    #[test]
    fn tenants_are_summarised_from_their_files_and_rows() {
        let tenants = sample().tenants();
        assert_eq!(tenants.len(), 2, "{tenants:?}");
        let b = &tenants["b.example"];
        assert_eq!(
            (b.dns, b.sql),
            (
                Lines {
                    insertions: 3,
                    deletions: 0
                },
                Lines {
                    insertions: 2,
                    deletions: 0
                }
            )
        );
        assert_eq!(show_counts(&b.mailboxes), "+1 ~0 -0");
        assert_eq!(show_counts(&b.aliases), "–");
        let a = &tenants["a.example"];
        assert_eq!((a.dns.show(), a.sql.show()), ("–".into(), "–".into()));
        assert_eq!(show_counts(&a.mailboxes), "+0 ~1 -1");
        let human = human::render(&sample(), false);
        assert!(
            human.contains("  b.example: DNS +3 -0, SQL +2 -0, mailboxes +1 ~0 -0, aliases –\n"),
            "{human}"
        );
        let json = json::render(&sample());
        assert_eq!(
            json["files"]["tenants"]["b.example"]["dns"]["insertions"],
            3
        );
        assert_eq!(
            json["files"]["tenants"]["a.example"]["mailboxes"]["delete"],
            1
        );
        // Under the first JSON form's names too.
        assert_eq!(
            json["files"]["tenants"]["a.example"]["mailboxes"]["removed"],
            1
        );
        assert_eq!(
            json["files"]["tenants"]["b.example"]["mailboxes"]["added"],
            1
        );
        assert_eq!(json["changes"], true);
    }

    #[test]
    fn plain_output_has_no_escape_codes_and_markdown_folds_diffs() {
        let plan = sample();
        assert!(!human::render(&plan, false).contains('\x1b'));
        assert!(human::render(&plan, true).contains("\x1b[32m"));
        let md = markdown::render(&plan);
        assert!(md.contains(
            "<details><summary><code>generated/terraform/dns-03/dns_b.example.tf</code>"
        ));
        assert!(
            md.contains("````diff\n"),
            "fence longer than the content's backticks: {md}"
        );
        assert!(md.contains("| `a.example` | 0 | 1 | 1 |"), "{md}");
        assert!(
            md.contains("| `b.example` | +3 -0 | +2 -0 | +1 ~0 -0 | – |"),
            "{md}"
        );
        assert!(
            md.contains("<details><summary>b.example: 2 row changes</summary>"),
            "{md}"
        );
        assert!(md.contains("```diff\n+ domain b.example\n"), "{md}");
    }
}
