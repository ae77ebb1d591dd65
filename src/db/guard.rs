//! The delete guard: an apply that deletes a whole domain, or more than a
//! quarter of a table's rows, must be asked for with `--allow-destroy`.
//!
//! Such a plan is more often a mistake (a tenant file deleted by accident, a
//! wrong database URL) than an intent; the refusal lists what would go so the
//! operator can tell which.

use crate::db::live::Totals;
use crate::db::plan::RowPlan;

/// Share of a table's live rows that one apply may delete without the flag.
pub(crate) const MAX_DELETE_SHARE: f64 = 0.25;

/// How many rows per table a refusal lists before "and N more".
const LISTED: usize = 20;

/// Why a plan needs `--allow-destroy`, and what it would delete; `None` when it does not.
/// `live` counts the rows of each table (counted, not read). `forwards` are
/// the alias rows the files keep that forward into a domain the plan
/// deletes (`Desired::forwards_into`): they are listed too, since after the
/// apply they send mail off the platform, to a domain it no longer hosts.
pub(crate) fn check(
    plan: &RowPlan,
    live: &Totals,
    forwards: &[(String, String)],
) -> Option<Vec<String>> {
    let mut reasons = Vec::new();
    if !plan.domains.delete.is_empty() {
        reasons.push(format!(
            "it deletes {} whole domain{} (and every mailbox and alias in {})",
            plan.domains.delete.len(),
            plural(plan.domains.delete.len()),
            if plan.domains.delete.len() == 1 {
                "it"
            } else {
                "them"
            },
        ));
    }
    let tables = [
        ("virtual_domains", plan.domains.delete.len(), live.domains),
        ("virtual_users", plan.users.delete.len(), live.users),
        ("virtual_aliases", plan.aliases.delete.len(), live.aliases),
    ];
    for (table, deleted, total) in tables {
        if total > 0 && deleted as f64 > MAX_DELETE_SHARE * total as f64 {
            reasons.push(format!(
                "it deletes {deleted} of the {total} rows of {table} (more than {:.0} %)",
                MAX_DELETE_SHARE * 100.0
            ));
        }
    }
    if reasons.is_empty() {
        return None;
    }
    let mut lines: Vec<String> = reasons
        .into_iter()
        .map(|r| format!("this apply needs --allow-destroy: {r}"))
        .collect();
    lines.push("it would delete:".to_string());
    list(
        &mut lines,
        "domain",
        plan.domains.delete.iter().map(|d| d.name.clone()),
    );
    list(
        &mut lines,
        "mailbox",
        plan.users.delete.iter().map(|u| u.email.clone()),
    );
    list(
        &mut lines,
        "alias",
        plan.aliases
            .delete
            .iter()
            .map(|a| format!("{} → {}", a.source, a.destination)),
    );
    list(
        &mut lines,
        "relay",
        plan.relays
            .delete
            .iter()
            .map(|r| format!("{} → {}", r.domain, r.nexthop)),
    );
    lines.extend(forwards_lines(forwards));
    Some(lines)
}

/// The forwards into deleted domains, for the refusal and the plan's notes:
/// a heading, then every one (they are what a reviewer must fix first).
pub(crate) fn forwards_lines(forwards: &[(String, String)]) -> Vec<String> {
    if forwards.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "{} alias{} that the tenant files keep forward{} into a domain this apply deletes \
         (mail to {} would leave the platform):",
        forwards.len(),
        if forwards.len() == 1 { "" } else { "es" },
        if forwards.len() == 1 { "s" } else { "" },
        if forwards.len() == 1 { "it" } else { "them" },
    )];
    lines.extend(
        forwards
            .iter()
            .map(|(source, destination)| format!("  - alias {source} → {destination}")),
    );
    lines
}

fn list(lines: &mut Vec<String>, kind: &str, items: impl ExactSizeIterator<Item = String>) {
    let total = items.len();
    for item in items.take(LISTED) {
        lines.push(format!("  - {kind} {item}"));
    }
    if total > LISTED {
        lines.push(format!(
            "  … and {} more {kind} row{}",
            total - LISTED,
            plural(total - LISTED)
        ));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::rows::UserRow;

    fn user(email: &str) -> UserRow {
        UserRow {
            email: email.into(),
            domain: "a.example".into(),
            password: "p".into(),
            quota_bytes: 1,
            name: None,
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        }
    }

    fn live(domains: usize, users: usize) -> Totals {
        Totals {
            domains,
            users,
            aliases: 0,
        }
    }

    #[test]
    fn a_quarter_passes_more_is_refused() {
        let rows = live(1, 8);
        let mut plan = RowPlan::default();
        plan.users.delete = vec![user("u0@a.example"), user("u1@a.example")];
        assert_eq!(check(&plan, &rows, &[]), None);
        plan.users.delete.push(user("u2@a.example"));
        let refusal = check(&plan, &rows, &[]).expect("3 of 8 is over 25 %");
        assert!(
            refusal[0].contains("3 of the 8 rows of virtual_users"),
            "{refusal:?}"
        );
        assert!(refusal.iter().any(|l| l.contains("mailbox u2@a.example")));
    }

    #[test]
    fn deleting_a_domain_is_refused_whatever_its_share() {
        let rows = live(11, 0);
        let mut plan = RowPlan::default();
        plan.domains.delete = vec![crate::db::rows::DomainRow::active("d0.example")];
        let refusal = check(&plan, &rows, &[]).expect("a whole domain");
        assert!(refusal[0].contains("1 whole domain"), "{refusal:?}");
        assert!(refusal.iter().any(|l| l == "  - domain d0.example"));
    }

    #[test]
    fn the_refusal_lists_every_forward_into_a_deleted_domain() {
        let mut plan = RowPlan::default();
        plan.domains.delete = vec![crate::db::rows::DomainRow::active("m.example")];
        let forwards = vec![
            (
                "accounts@k.example".to_string(),
                "accounts@m.example".to_string(),
            ),
            ("books@s.example".to_string(), "anil@m.example".to_string()),
        ];
        let refusal = check(&plan, &live(3, 0), &forwards).expect("a whole domain");
        assert!(
            refusal
                .iter()
                .any(|l| l.starts_with("2 aliases that the tenant files keep forward into")),
            "{refusal:?}"
        );
        assert!(
            refusal
                .iter()
                .any(|l| l == "  - alias accounts@k.example → accounts@m.example")
        );
        assert!(
            refusal
                .iter()
                .any(|l| l == "  - alias books@s.example → anil@m.example")
        );
    }
}
