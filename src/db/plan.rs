//! The row plan: what must change for the live rows to equal the desired rows.
//!
//! Rows are matched by natural key (domain name; mailbox address; alias source
//! and destination). A key only on the desired side is an insert, only on the
//! live side a delete, on both with different columns an update. The plan is
//! a plain value: it is printed, saved to a plan file, and executed as is, so
//! what a reviewer reads is exactly what is applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::rows::{AliasRow, Rows, UserRow, domain_of, hex};

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
    pub(crate) fn len(&self) -> usize {
        self.insert.len() + self.update.len() + self.delete.len()
    }
}

/// A row whose columns change; the key is the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Update<R> {
    pub(crate) before: R,
    pub(crate) after: R,
}

/// Every row change, per table. Inserts are listed in key order; they are
/// executed domains first, then mailboxes and aliases (the graph's order),
/// and deletes in the reverse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RowPlan {
    /// Domain names (a domain row has no other column, so never an update).
    pub(crate) domains: Changes<String>,
    pub(crate) users: Changes<UserRow>,
    pub(crate) aliases: Changes<AliasRow>,
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
        let mut plan = RowPlan::default();
        plan.domains.insert = desired.domains.difference(&live.domains).cloned().collect();
        plan.domains.delete = live.domains.difference(&desired.domains).cloned().collect();
        plan.users = diff_map(&desired.users, &live.users);
        plan.aliases = diff_map(&desired.aliases, &live.aliases);
        plan
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.counts().total() == 0
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            insert: self.domains.insert.len() + self.users.insert.len() + self.aliases.insert.len(),
            update: self.domains.update.len() + self.users.update.len() + self.aliases.update.len(),
            delete: self.domains.delete.len() + self.users.delete.len() + self.aliases.delete.len(),
        }
    }

    /// `sha256:<hex>` of the plan's canonical JSON: the plan's identity in the apply log.
    pub(crate) fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a plan serialises");
        format!("sha256:{}", hex(&Sha256::digest(&json)))
    }

    /// The tenant domains the plan touches, sorted.
    pub(crate) fn tenants(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for c in [&self.domains.insert, &self.domains.delete] {
            out.extend(c.iter().map(String::as_str));
        }
        for u in self.users.insert.iter().chain(&self.users.delete) {
            out.insert(domain_of(&u.email));
        }
        for u in &self.users.update {
            out.insert(domain_of(&u.after.email));
        }
        for a in self.aliases.insert.iter().chain(&self.aliases.delete) {
            out.insert(domain_of(&a.source));
        }
        for a in &self.aliases.update {
            out.insert(domain_of(&a.after.source));
        }
        out
    }
}

fn diff_map<K: Ord, R: Clone + PartialEq>(desired: &BTreeMap<K, R>, live: &BTreeMap<K, R>) -> Changes<R> {
    let mut changes = Changes::default();
    for (key, want) in desired {
        match live.get(key) {
            None => changes.insert.push(want.clone()),
            Some(have) if have != want => changes.update.push(Update {
                before: have.clone(),
                after: want.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, have) in live {
        if !desired.contains_key(key) {
            changes.delete.push(have.clone());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, password: &str) -> UserRow {
        UserRow {
            email: email.into(),
            domain: domain_of(email).into(),
            password: password.into(),
            quota_bytes: 100,
            name: None,
        }
    }

    fn rows(domains: &[&str], users: &[UserRow]) -> Rows {
        let mut r = Rows::default();
        r.domains.extend(domains.iter().map(|d| d.to_string()));
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
        let desired = rows(&["a.example", "b.example"], &[user("x@a.example", "new"), user("y@b.example", "p")]);
        let live = rows(&["a.example", "c.example"], &[user("x@a.example", "old"), user("z@c.example", "p")]);
        let plan = RowPlan::diff(&desired, &live);
        assert_eq!(plan.domains.insert, vec!["b.example".to_string()]);
        assert_eq!(plan.domains.delete, vec!["c.example".to_string()]);
        assert_eq!(plan.users.insert, vec![user("y@b.example", "p")]);
        assert_eq!(plan.users.delete, vec![user("z@c.example", "p")]);
        assert_eq!(plan.users.update.len(), 1);
        assert_eq!(plan.users.update[0].before.password, "old");
        assert_eq!(plan.counts(), Counts { insert: 2, update: 1, delete: 2 });
        assert_eq!(
            plan.tenants().into_iter().collect::<Vec<_>>(),
            vec!["a.example", "b.example", "c.example"]
        );
    }

    #[test]
    fn the_hash_follows_the_content() {
        let a = RowPlan::diff(&rows(&["a.example"], &[]), &Rows::default());
        let b = RowPlan::diff(&rows(&["b.example"], &[]), &Rows::default());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), a.clone().hash());
    }
}
