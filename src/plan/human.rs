//! The terminal form of a plan: each file's diff (coloured on a terminal),
//! the per-tenant summary, then the row changes grouped by tenant.

use crate::chars::shown_domain;
use crate::plan::rows::{external_lines, host_changes};
use crate::plan::{MAIL_KEPT, Plan, RowSection, show_counts};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The whole plan.
pub(crate) fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    for file in &plan.files.files {
        let title = format!(
            "{} ({}, +{} -{})",
            file.path,
            file.status.word(),
            file.insertions,
            file.deletions
        );
        if color {
            out.push_str(&format!("{BOLD}{title}{RESET}\n"));
        } else {
            out.push_str(&format!("{title}\n"));
        }
        for line in file.diff.lines() {
            let paint = match line.as_bytes().first() {
                _ if !color => None,
                _ if line.starts_with("+++") || line.starts_with("---") => Some(BOLD),
                Some(b'+') => Some(GREEN),
                Some(b'-') => Some(RED),
                Some(b'@') => Some(CYAN),
                _ => None,
            };
            match paint {
                Some(code) => out.push_str(&format!("{code}{line}{RESET}\n")),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    let tenants = plan.tenants();
    if !tenants.is_empty() {
        out.push_str(
            "tenants (DNS and SQL file lines: +added -removed; \
             mailbox and alias rows: +insert ~update -delete):\n",
        );
        for (tenant, summary) in &tenants {
            out.push_str(&format!(
                "  {}: DNS {}, SQL {}, mailboxes {}, aliases {}\n",
                shown_domain(tenant),
                summary.dns.show(),
                summary.sql.show(),
                show_counts(&summary.mailboxes),
                show_counts(&summary.aliases)
            ));
        }
    }
    out.push_str(&plan.files.summary_line());
    out.push_str("\n\n");
    out.push_str(&rows(&plan.rows));
    out
}

/// The row half alone (what apply shows before it writes).
pub(crate) fn rows(section: &RowSection) -> String {
    let mut out = format!("{}\n", section.summary());
    for note in &section.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    for line in crate::db::guard::forwards_lines(&section.forwards) {
        out.push_str(&format!("  {line}\n"));
    }
    for (i, line) in external_lines(&section.external).iter().enumerate() {
        let indent = if i == 0 { "  " } else { "    " };
        out.push_str(&format!("{indent}{line}\n"));
    }
    let hosts = host_changes(&section.plan);
    if !hosts.is_empty() {
        out.push_str("  mail hosts\n");
        for change in hosts {
            out.push_str(&format!("    {}\n", change.line()));
        }
    }
    for (tenant, changes) in section.changes_by_tenant() {
        out.push_str(&format!("  {}\n", shown_domain(&tenant)));
        for change in changes {
            out.push_str(&format!("    {}\n", change.line()));
            for step in &change.steps {
                out.push_str(&format!("        {step}\n"));
            }
        }
    }
    if section.deletes_mailboxes() {
        out.push_str(&format!("  {MAIL_KEPT}\n"));
    }
    out
}
