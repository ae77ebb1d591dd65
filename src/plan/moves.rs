//! A mailbox whose home moves from one host to another, and the steps that
//! move its mail, as the plan shows them and as `apply --move-mail` (and
//! `mailops move-mail`) runs them: one list, so what is shown is what runs.
//!
//! The hosts' names and private addresses come from the host rows: the old
//! home's as the database holds it now (where its mail is), the new home's
//! as the apply leaves it. A mailbox's first home (a platform growing to two
//! hosts) is no move: its mail is already where it lives.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::plan::RowPlan;
use crate::db::rows::HostRow;

/// A host a move reads from or writes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HostAt {
    pub(crate) name: String,
    /// Its private address; `None` only when no host row names it (the
    /// validation of `home` makes that impossible for a compiled plan).
    pub(crate) private_ip: Option<String>,
}

impl HostAt {
    fn of(name: &str, rows: &[&BTreeMap<String, HostRow>]) -> HostAt {
        HostAt {
            name: name.to_string(),
            private_ip: rows
                .iter()
                .find_map(|hosts| hosts.get(name))
                .map(|h| h.private_ip.clone()),
        }
    }

    /// `mx1 (10.20.1.11)`.
    pub(crate) fn shown(&self) -> String {
        match &self.private_ip {
            Some(ip) => format!("{} ({ip})", self.name),
            None => format!("{} (no address)", self.name),
        }
    }
}

/// One mailbox's move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Move {
    pub(crate) address: String,
    pub(crate) from: HostAt,
    pub(crate) to: HostAt,
}

/// The steps of a move, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// One-way copy from the old home to the new one, before the switch.
    Copy,
    /// The row: `home` = the new host.
    Switch,
    /// Two-way sync, for mail the old home took before the switch.
    FinalSync,
    /// Expunge the mailbox's mail on the old home.
    CleanUp,
}

impl Step {
    pub(crate) const ALL: [Step; 4] = [Step::Copy, Step::Switch, Step::FinalSync, Step::CleanUp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::Copy => "copy",
            Step::Switch => "switch",
            Step::FinalSync => "final sync",
            Step::CleanUp => "clean up",
        }
    }
}

impl Move {
    /// What a step does, in a line: `copy: doveadm backup alice@… from mx1
    /// (10.20.1.11) to mx2 (10.20.1.12), mx1 still serving`.
    pub(crate) fn describe(&self, step: Step) -> String {
        let (address, from, to) = (&self.address, &self.from, &self.to);
        let what = match step {
            Step::Copy => format!(
                "doveadm backup {address} from {} to {}, {} still serving",
                from.shown(),
                to.shown(),
                from.name
            ),
            Step::Switch => format!("home = {} (delivery and logins go to {})", to.name, to.name),
            Step::FinalSync => format!(
                "doveadm sync (two-way) again, for mail {} took before the switch",
                from.name
            ),
            Step::CleanUp => format!(
                "expunge {address}'s mail on {}, once {} holds at least as many messages",
                from.name, to.name
            ),
        };
        format!("{}: {what}", step.name())
    }

    /// The numbered steps: `1. copy: …`.
    pub(crate) fn steps(&self) -> Vec<String> {
        Step::ALL
            .iter()
            .enumerate()
            .map(|(i, step)| format!("{}. {}", i + 1, self.describe(*step)))
            .collect()
    }
}

/// Every move of a row plan, by address: each mailbox row updated from one
/// home to another. `before` are the host rows the database holds, `after`
/// the host rows the apply leaves.
pub(crate) fn moves(
    plan: &RowPlan,
    before: &BTreeMap<String, HostRow>,
    after: &BTreeMap<String, HostRow>,
) -> Vec<Move> {
    let mut out: Vec<Move> = plan
        .users
        .update
        .iter()
        .filter_map(|u| match (&u.before.home, &u.after.home) {
            (Some(old), Some(new)) if old != new => Some(Move {
                address: u.after.email.clone(),
                from: HostAt::of(old, &[before, after]),
                to: HostAt::of(new, &[after, before]),
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, ip: &str) -> (String, HostRow) {
        (
            name.to_string(),
            HostRow {
                name: name.to_string(),
                hostname: format!("{name}.webhizzy.in"),
                private_ip: ip.to_string(),
            },
        )
    }

    #[test]
    fn a_move_has_four_steps_naming_both_hosts_and_their_addresses() {
        let hosts: BTreeMap<_, _> = [host("mx1", "10.20.1.11"), host("mx2", "10.20.1.12")].into();
        let m = Move {
            address: "alice@acme.example".to_string(),
            from: HostAt::of("mx1", &[&hosts]),
            to: HostAt::of("mx2", &[&hosts]),
        };
        assert_eq!(
            m.steps(),
            [
                "1. copy: doveadm backup alice@acme.example from mx1 (10.20.1.11) to mx2 (10.20.1.12), mx1 still serving",
                "2. switch: home = mx2 (delivery and logins go to mx2)",
                "3. final sync: doveadm sync (two-way) again, for mail mx1 took before the switch",
                "4. clean up: expunge alice@acme.example's mail on mx1, once mx2 holds at least as many messages",
            ]
        );
    }

    #[test]
    fn the_old_home_is_where_the_database_has_it_and_the_new_one_where_the_apply_puts_it() {
        // mx1's address changes in the same apply: the mail is at the old one.
        let before: BTreeMap<_, _> = [host("mx1", "10.20.1.11"), host("mx2", "10.20.1.12")].into();
        let after: BTreeMap<_, _> = [host("mx1", "10.20.1.21"), host("mx3", "10.20.1.13")].into();
        let from = HostAt::of("mx1", &[&before, &after]);
        let to = HostAt::of("mx3", &[&after, &before]);
        assert_eq!(from.shown(), "mx1 (10.20.1.11)");
        assert_eq!(to.shown(), "mx3 (10.20.1.13)");
    }
}
