//! A plan as a pull-request comment: the per-tenant table, each file's diff
//! folded in `<details>`, then the row changes (a table and, per tenant, the
//! changes folded). Every name and path is escaped for where it goes: in
//! text (`escape`), in inline code (`code`), in HTML (`html`), and code
//! blocks are fenced longer than any run of backticks in them (`fence_for`).

use crate::chars::shown_domain;
use crate::plan::rows::{ShownChange, external_lines, host_changes};
use crate::plan::{MAIL_KEPT, Plan, RowSection, show_counts};

/// The whole plan.
pub(crate) fn render(plan: &Plan) -> String {
    let mut out = String::from("## mailops plan\n\n### Generated files\n\n");
    let tenants = plan.tenants();
    if plan.files.is_empty() {
        out.push_str("No changes to `generated/`.\n");
    } else {
        out.push_str(&format!("{}\n\n", escape(&plan.files.summary_line())));
        for file in &plan.files.files {
            let fence = fence_for(&file.diff);
            out.push_str(&format!(
                "<details><summary><code>{}</code> ({}, +{} −{})</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n\n",
                html(&file.path),
                file.status.word(),
                file.insertions,
                file.deletions,
                file.diff
            ));
        }
    }
    if !tenants.is_empty() {
        out.push_str(
            "\n### Tenants\n\n| tenant | DNS lines | SQL lines | mailboxes | aliases |\n\
             |---|---|---|---|---|\n",
        );
        for (tenant, summary) in &tenants {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                code(&shown_domain(tenant)),
                summary.dns.show(),
                summary.sql.show(),
                show_counts(&summary.mailboxes),
                show_counts(&summary.aliases)
            ));
        }
        out.push_str(
            "\n_Lines of the tenant's generated files: +added -removed. \
             Rows: +insert ~update -delete._\n",
        );
    }
    out.push('\n');
    out.push_str(&rows(&plan.rows));
    out
}

/// The row half.
fn rows(section: &RowSection) -> String {
    let mut out = format!(
        "### Database\n\n{}\n",
        escape(&capitalise(&section.summary()))
    );
    for note in &section.notes {
        out.push_str(&format!("\n> Note: {}\n", escape(note)));
    }
    let forwards = crate::db::guard::forwards_lines(&section.forwards);
    if let Some((heading, items)) = forwards.split_first() {
        out.push_str(&format!("\n**Warning:** {}\n\n", escape(heading)));
        for item in items {
            let item = item.trim_start().trim_start_matches("- ");
            out.push_str(&format!("- {}\n", escape(item)));
        }
    }
    let external = external_lines(&section.external);
    if let Some((heading, items)) = external.split_first() {
        out.push_str(&format!("\n**{}**\n\n", escape(&capitalise(heading))));
        for item in items {
            out.push_str(&format!("- {}\n", code(item)));
        }
    }
    let tenants = section.changes_by_tenant();
    if !tenants.is_empty() {
        out.push_str("\n| tenant | insert | update | delete |\n|---|---:|---:|---:|\n");
        for (tenant, changes) in &tenants {
            let count = |op: &str| rows_changed(changes.iter().filter(|c| c.op == op));
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                code(&shown_domain(tenant)),
                count("insert"),
                count("update"),
                count("delete")
            ));
        }
    }
    let hosts = host_changes(&section.plan);
    let groups = (!hosts.is_empty())
        .then(|| ("mail hosts".to_string(), &hosts))
        .into_iter()
        .chain(
            tenants
                .iter()
                .map(|(tenant, changes)| (html(&shown_domain(tenant)), changes)),
        );
    for (title, changes) in groups {
        // A move's steps under its line, indented (diff context lines).
        let lines: Vec<String> = changes
            .iter()
            .flat_map(|c| {
                std::iter::once(c.line()).chain(c.steps.iter().map(|step| format!("    {step}")))
            })
            .collect();
        let fence = fence_for(&lines.join("\n"));
        let count = rows_changed(changes.iter());
        out.push_str(&format!(
            "\n<details><summary>{title}: {count} row change{}</summary>\n\n{fence}diff\n",
            if count == 1 { "" } else { "s" }
        ));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!("{fence}\n\n</details>\n"));
    }
    if section.deletes_mailboxes() {
        out.push_str(&format!("\n{MAIL_KEPT}\n"));
    }
    out
}

/// Rows these changes are of: a mailbox whose home and other columns both
/// change is two lines, one row.
fn rows_changed<'a>(changes: impl Iterator<Item = &'a ShownChange>) -> usize {
    changes
        .map(|c| (c.op, c.kind, c.key.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Backslash-escape what markdown would read as markup, in running text.
fn escape(text: &str) -> String {
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

/// Inline code in a table cell: fenced longer than any run of backticks in
/// it, its pipes escaped (GitHub splits cells at a pipe even inside code).
fn code(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|"))
}

/// Escape for HTML text.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// A code fence longer than any run of backticks in the text.
fn fence_for(text: &str) -> String {
    "`".repeat((longest_backtick_run(text) + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_code_outgrow_backtick_runs() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
        assert_eq!(code("a.example"), "`a.example`");
        assert_eq!(code("a`b|c"), "``a`b\\|c``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn markup_is_escaped_in_text_and_html() {
        assert_eq!(escape("*a* _b_ <c>"), "\\*a\\* \\_b\\_ \\<c\\>");
        assert_eq!(html("<a & b>"), "&lt;a &amp; b&gt;");
    }
}
