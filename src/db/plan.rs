//! The row plan: what must change for the live rows to equal the desired rows.
//!
//! Rows are matched by natural key (domain name; mailbox address; alias source
//! and destination). A key only on the desired side is an insert, only on the
//! live side a delete, on both with different columns an update. The plan is
//! a plain value: it is printed, saved to a plan file, and executed as is, so
//! what a reviewer reads is exactly what is applied.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::rows::{
    AliasRow, AppPasswordRow, DomainRow, GrantRow, HostRow, RelayRecipientRow, RelayRow, Rows,
    UserRow, hex,
};
use crate::graph::Graph;

/// The changes to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
pub(crate) struct Changes<R> {
    pub(crate) insert: Vec<R>,
    pub(crate) update: Vec<Update<R>>,
    pub(crate) delete: Vec<R>,
}

impl<R> Default for Changes<R> {
    fn default() -> Self {
        Changes {
            insert: Vec::new(),
            update: Vec::new(),
            delete: Vec::new(),
        }
    }
}

impl<R> Changes<R> {
    pub(crate) fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// A row whose columns change; the key is the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Update<R> {
    pub(crate) before: R,
    pub(crate) after: R,
}

/// Every row change, per table. Inserts are listed in the graph's insert
/// order (`order_inserts`) and executed domains first, then mailboxes, then
/// aliases; deletes run in the reverse (aliases, mailboxes, domains).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RowPlan {
    /// Domains: an update changes the tenant's state.
    pub(crate) domains: Changes<DomainRow>,
    pub(crate) users: Changes<UserRow>,
    pub(crate) aliases: Changes<AliasRow>,
    /// Written after the mailboxes, deleted before them.
    #[serde(default)]
    pub(crate) app_passwords: Changes<AppPasswordRow>,
    #[serde(default)]
    pub(crate) grants: Changes<GrantRow>,
    /// Relay domains (migration 0006): written after the domains, deleted
    /// before them; an update changes the next hop or the backup MX flag.
    #[serde(default)]
    pub(crate) relays: Changes<RelayRow>,
    /// An update moves an address to another domain's relay.
    #[serde(default)]
    pub(crate) relay_recipients: Changes<RelayRecipientRow>,
    /// The platform's hosts (migration 0008), keyed by name; an update
    /// changes the hostname or the private address. Written first (they
    /// depend on nothing). Left out of a saved plan when there is no change,
    /// so that a single-host plan and its hash read as before.
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub(crate) hosts: Changes<HostRow>,
}

/// How many rows an apply writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    pub(crate) insert: usize,
    pub(crate) update: usize,
    pub(crate) delete: usize,
}

impl Counts {
    pub(crate) fn total(&self) -> usize {
        self.insert + self.update + self.delete
    }
}

impl RowPlan {
    pub(crate) fn diff(desired: &Rows, live: &Rows) -> RowPlan {
        RowPlan {
            domains: diff_map(&desired.domains, &live.domains),
            users: diff_map(&desired.users, &live.users),
            aliases: diff_map(&desired.aliases, &live.aliases),
            app_passwords: diff_map(&desired.app_passwords, &live.app_passwords),
            grants: diff_map(&desired.grants, &live.grants),
            relays: diff_map(&desired.relays, &live.relays),
            relay_recipients: diff_map(&desired.relay_recipients, &live.relay_recipients),
            hosts: diff_map(&desired.hosts, &live.hosts),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.counts().total() == 0
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            insert: self.domains.insert.len()
                + self.users.insert.len()
                + self.aliases.insert.len()
                + self.app_passwords.insert.len()
                + self.grants.insert.len()
                + self.relays.insert.len()
                + self.relay_recipients.insert.len()
                + self.hosts.insert.len(),
            update: self.domains.update.len()
                + self.users.update.len()
                + self.aliases.update.len()
                + self.app_passwords.update.len()
                + self.grants.update.len()
                + self.relays.update.len()
                + self.relay_recipients.update.len()
                + self.hosts.update.len(),
            delete: self.domains.delete.len()
                + self.users.delete.len()
                + self.aliases.delete.len()
                + self.app_passwords.delete.len()
                + self.grants.delete.len()
                + self.relays.delete.len()
                + self.relay_recipients.delete.len()
                + self.hosts.delete.len(),
        }
    }

    /// `sha256:<hex>` of the plan's canonical JSON: the plan's identity in the apply log.
    pub(crate) fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a plan serialises");
        format!("sha256:{}", hex(&Sha256::digest(&json)))
    }
}

impl RowPlan {
    /// Put the inserts in the graph's insert order (a topological order:
    /// domains before what lives in them, aliases after what they point to).
    /// Rows the graph does not know keep their place at the end.
    pub(crate) fn order_inserts(&mut self, graph: &Graph) {
        let mut domains = Vec::new();
        let mut users = Vec::new();
        let mut aliases = Vec::new();
        {
            let domain_at: HashMap<&str, usize> = self
                .domains
                .insert
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.as_str(), i))
                .collect();
            // A mailbox depends on its domain only: those of the graph's
            // domains go by domain, in the graph's order, then by address.
            let rank: HashMap<&str, usize> = graph
                .domains
                .iter()
                .enumerate()
                .map(|(i, d)| (d.as_str(), i))
                .collect();
            let mut known: Vec<(usize, &str, usize)> = self
                .users
                .insert
                .iter()
                .enumerate()
                .filter_map(|(i, u)| {
                    let domain = crate::db::rows::domain_of(&u.email);
                    rank.get(domain).map(|&r| (r, u.email.as_str(), i))
                })
                .collect();
            known.sort_unstable();
            users.extend(known.into_iter().map(|(_, _, i)| i));
            let mut alias_at: HashMap<&str, Vec<usize>> = HashMap::new();
            for (i, a) in self.aliases.insert.iter().enumerate() {
                alias_at.entry(a.source.as_str()).or_default().push(i);
            }
            for name in &graph.domains {
                domains.extend(domain_at.get(name.as_str()));
            }
            for source in &graph.aliases {
                aliases.extend(alias_at.get(source.as_str()).into_iter().flatten());
            }
        }
        reorder(&mut self.domains.insert, domains);
        reorder(&mut self.users.insert, users);
        reorder(&mut self.aliases.insert, aliases);
    }
}

/// Move the items at `order` (indices) to the front, in that order.
fn reorder<T>(items: &mut Vec<T>, order: Vec<usize>) {
    let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    for i in order {
        if let Some(item) = slots.get_mut(i).and_then(Option::take) {
            items.push(item);
        }
    }
    items.extend(slots.into_iter().flatten());
}

/// Both maps are sorted by key: walk them side by side (a merge join), so
/// a million rows diff in one pass without a lookup per row.
fn diff_map<K: Ord, R: Clone + PartialEq>(
    desired: &BTreeMap<K, R>,
    live: &BTreeMap<K, R>,
) -> Changes<R> {
    use std::cmp::Ordering;
    let mut changes = Changes::default();
    let mut want = desired.iter().peekable();
    let mut have = live.iter().peekable();
    loop {
        let order = match (want.peek(), have.peek()) {
            (Some((w, _)), Some((h, _))) => w.cmp(h),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        match order {
            Ordering::Less => {
                let (_, w) = want.next().expect("peeked");
                changes.insert.push(w.clone());
            }
            Ordering::Greater => {
                let (_, h) = have.next().expect("peeked");
                changes.delete.push(h.clone());
            }
            Ordering::Equal => {
                let (_, w) = want.next().expect("peeked");
                let (_, h) = have.next().expect("peeked");
                if w != h {
                    changes.update.push(Update {
                        before: h.clone(),
                        after: w.clone(),
                    });
                }
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::rows::domain_of;

    fn user(email: &str, password: &str) -> UserRow {
        UserRow {
            email: email.into(),
            domain: domain_of(email).into(),
            password: password.into(),
            quota_bytes: 100,
            name: None,
            state: "active".into(),
            protocols: "imap,pop3,smtp".into(),
            home: None,
        }
    }

    fn rows(domains: &[&str], users: &[UserRow]) -> Rows {
        let mut r = Rows::default();
        r.domains.extend(
            domains
                .iter()
                .map(|d| (d.to_string(), DomainRow::active(d))),
        );
        for u in users {
            r.users.insert(u.email.clone(), u.clone());
        }
        r
    }

    #[test]
    fn equal_rows_make_an_empty_plan() {
        let r = rows(&["a.example"], &[user("x@a.example", "p")]);
        assert!(RowPlan::diff(&r, &r).is_empty());
    }

    #[test]
    fn keys_decide_insert_update_delete() {
        let desired = rows(
            &["a.example", "b.example"],
            &[user("x@a.example", "new"), user("y@b.example", "p")],
        );
        let live = rows(
            &["a.example", "c.example"],
            &[user("x@a.example", "old"), user("z@c.example", "p")],
        );
        let plan = RowPlan::diff(&desired, &live);
        assert_eq!(plan.domains.insert, vec![DomainRow::active("b.example")]);
        assert_eq!(plan.domains.delete, vec![DomainRow::active("c.example")]);
        assert_eq!(plan.users.insert, vec![user("y@b.example", "p")]);
        assert_eq!(plan.users.delete, vec![user("z@c.example", "p")]);
        assert_eq!(plan.users.update.len(), 1);
        assert_eq!(plan.users.update[0].before.password, "old");
        assert_eq!(
            plan.counts(),
            Counts {
                insert: 2,
                update: 1,
                delete: 2
            }
        );
    }

    #[test]
    fn a_tenant_state_changed_is_an_update_of_its_domain_row() {
        let live = rows(&["a.example"], &[user("x@a.example", "p")]);
        let mut desired = live.clone();
        desired.domains.get_mut("a.example").unwrap().state = "suspended".into();
        let plan = RowPlan::diff(&desired, &live);
        assert_eq!(plan.domains.update.len(), 1);
        assert_eq!(plan.domains.update[0].before.state, "active");
        assert_eq!(plan.domains.update[0].after.state, "suspended");
        assert!(plan.domains.insert.is_empty() && plan.domains.delete.is_empty());
        assert_eq!(plan.counts().total(), 1);
    }

    #[test]
    fn inserts_follow_the_graph_order() {
        let desired = rows(
            &["a.example", "b.example", "c.example"],
            &[
                user("x@c.example", "p"),
                user("y@b.example", "p"),
                user("z@a.example", "p"),
                user("a@b.example", "p"),
                user("w@gone.example", "p"),
            ],
        );
        let mut plan = RowPlan::diff(&desired, &Rows::default());
        let graph = Graph {
            domains: vec!["c.example".into(), "a.example".into(), "b.example".into()],
            aliases: Vec::new(),
        };
        plan.order_inserts(&graph);
        let order: Vec<&str> = plan.users.insert.iter().map(|u| u.email.as_str()).collect();
        // By domain in the graph's order, then by address; a mailbox of a
        // domain the graph does not know keeps its place at the end.
        assert_eq!(
            order,
            vec![
                "x@c.example",
                "z@a.example",
                "a@b.example",
                "y@b.example",
                "w@gone.example"
            ]
        );
        let mut items = vec!['a', 'b', 'c'];
        reorder(&mut items, vec![2, 0]);
        assert_eq!(items, vec!['c', 'a', 'b']);
    }

    #[test]
    fn hosts_are_diffed_by_name_and_left_out_of_the_json_when_unchanged() {
        let host = |name: &str, ip: &str| HostRow {
            name: name.into(),
            hostname: format!("{name}.webhizzy.in"),
            private_ip: ip.into(),
        };
        let single = RowPlan::diff(&rows(&["a.example"], &[]), &Rows::default());
        let json = serde_json::to_string(&single).unwrap();
        assert!(!json.contains("hosts"), "{json}");
        let back: RowPlan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, single);

        let mut live = Rows::default();
        for h in [host("mx1", "10.0.0.1"), host("mx2", "10.0.0.2")] {
            live.hosts.insert(h.name.clone(), h);
        }
        let mut desired = Rows::default();
        for h in [host("mx2", "10.0.0.3"), host("mx3", "10.0.0.4")] {
            desired.hosts.insert(h.name.clone(), h);
        }
        let plan = RowPlan::diff(&desired, &live);
        assert_eq!(plan.hosts.insert, [host("mx3", "10.0.0.4")]);
        assert_eq!(plan.hosts.delete, [host("mx1", "10.0.0.1")]);
        assert_eq!(plan.hosts.update.len(), 1);
        assert_eq!(plan.hosts.update[0].after.private_ip, "10.0.0.3");
        assert_eq!(plan.counts().total(), 3);
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<RowPlan>(&json).unwrap(), plan);
    }

    #[test]
    fn the_hash_follows_the_content() {
        let a = RowPlan::diff(&rows(&["a.example"], &[]), &Rows::default());
        let b = RowPlan::diff(&rows(&["b.example"], &[]), &Rows::default());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), a.clone().hash());
    }
}
