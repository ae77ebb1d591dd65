//! Graph stage: the dependency graph of what the model declares.
//!
//! A mailbox and an alias depend on their domain; an alias depends on each
//! destination it resolves to (a mailbox, another alias, a catch-all, or an
//! address off the platform). Only aliases can depend on their own kind, so
//! petgraph holds the aliases and their alias-to-alias edges; domains and
//! mailboxes always come before them. From this come the diagnostics no
//! single file can give (an alias destination that resolves nowhere, alias
//! cycles) and the order rows are written in: a topological order for
//! inserts, its reverse for deletes.

pub(crate) mod diags;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::FxHashMap;

use crate::diagnostic::Diagnostics;
use crate::model::{Alias, Model};

/// One thing the platform declares that becomes rows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Node {
    Domain(String),
    Mailbox(String),
    Alias(String),
}

/// The graph and the orders derived from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    /// Dependencies first: domains, then their mailboxes, then aliases, each
    /// after the aliases it points to.
    pub(crate) insert_order: Vec<Node>,
}

/// Where a destination address leads.
pub(crate) enum Resolution<'m> {
    Mailbox,
    Alias(&'m Alias),
    /// Caught by the catch-all of its domain.
    CatchAll(&'m Alias),
    /// A domain that is not a tenant: a forward off the platform.
    External,
    /// A tenant domain that has no such address.
    Dangling,
}

pub(crate) fn resolve<'m>(model: &'m Model, address: &str) -> Resolution<'m> {
    let Some((_, domain_name)) = address.rsplit_once('@') else {
        return Resolution::Dangling;
    };
    let Some(domain) = model.domains.get(domain_name) else {
        return Resolution::External;
    };
    if domain.mailboxes.contains_key(address) {
        return Resolution::Mailbox;
    }
    if let Some(alias) = domain.aliases.get(address) {
        return Resolution::Alias(alias);
    }
    match domain.aliases.get(&format!("@{domain_name}")) {
        Some(catch_all) => Resolution::CatchAll(catch_all),
        None => Resolution::Dangling,
    }
}

/// An alias node: the source address, borrowed from the model.
type Key<'m> = &'m str;

pub(crate) fn build(model: &Model, diagnostics: &mut Diagnostics) -> Graph {
    // Domains depend on nothing, and mailboxes only on their domain: they
    // come first in every order, so the graph that petgraph walks holds only
    // the aliases, the one kind of node that can depend on its own kind (and
    // so form loops). An alias's other dependencies (its domain, mailboxes,
    // addresses off the platform) are always ordered before it.
    let aliases: usize = model.domains.values().map(|d| d.aliases.len()).sum();
    let mut graph: DiGraph<Key, ()> = DiGraph::with_capacity(aliases, aliases);
    let mut index: FxHashMap<Key, NodeIndex> = FxHashMap::default();
    index.reserve(aliases);
    // Nodes in sorted order so that every order derived from the graph is stable.
    for domain in model.domains.values() {
        for source in domain.aliases.keys() {
            index.insert(source.as_str(), graph.add_node(source.as_str()));
        }
    }
    for domain in model.domains.values() {
        for alias in domain.aliases.values() {
            let a = index[alias.source.as_str()];
            for destination in &alias.destinations {
                match resolve(model, &destination.address) {
                    Resolution::Alias(to) | Resolution::CatchAll(to) => {
                        graph.add_edge(index[to.source.as_str()], a, ());
                    }
                    Resolution::Mailbox | Resolution::External => {}
                    Resolution::Dangling => {
                        diagnostics.push(diags::dangling(
                            destination.origin.clone(),
                            &destination.address,
                            alias.domain
                                == destination.address.rsplit_once('@').map_or("", |(_, d)| d),
                        ));
                    }
                }
            }
        }
    }

    report_cycles(model, &graph, diagnostics);

    let Ok(alias_order) = toposort(&graph, None) else {
        return Graph::default(); // cycles were reported above
    };
    let mailboxes: usize = model.domains.values().map(|d| d.mailboxes.len()).sum();
    let mut insert_order = Vec::with_capacity(model.domains.len() + mailboxes + aliases);
    insert_order.extend(model.domains.keys().map(|d| Node::Domain(d.clone())));
    for domain in model.domains.values() {
        insert_order.extend(domain.mailboxes.keys().map(|m| Node::Mailbox(m.clone())));
    }
    insert_order.extend(
        alias_order
            .into_iter()
            .map(|i| Node::Alias(graph[i].to_string())),
    );
    Graph { insert_order }
}

/// Every strongly connected set of aliases is a forwarding loop; name it as
/// a path `a → b → c → a`, starting from its smallest address.
fn report_cycles(model: &Model, graph: &DiGraph<Key, ()>, diagnostics: &mut Diagnostics) {
    let mut cycles: Vec<Vec<String>> = Vec::new();
    for component in tarjan_scc(graph) {
        let is_cycle = component.len() > 1
            || component
                .first()
                .is_some_and(|&n| graph.contains_edge(n, n));
        if !is_cycle {
            continue;
        }
        // Edges run destination → alias; walk them backwards to follow the mail.
        let start = *component
            .iter()
            .min_by_key(|&&n| &graph[n])
            .expect("a component has a node");
        let mut path = vec![start];
        let mut current = start;
        loop {
            let next = component
                .iter()
                .copied()
                .filter(|&n| graph.contains_edge(n, current))
                .min_by_key(|&n| (n != start, &graph[n]));
            match next {
                Some(n) if n == start => break,
                Some(n) if !path.contains(&n) => {
                    path.push(n);
                    current = n;
                }
                _ => break,
            }
        }
        let names: Vec<String> = path.iter().map(|&n| graph[n].to_string()).collect();
        cycles.push(names);
    }
    cycles.sort();
    for names in cycles {
        let Some(first) = model.alias(&names[0]) else {
            continue;
        };
        let mut shown = names.clone();
        shown.push(names[0].clone());
        let mut diagnostic = diags::cycle(first.origin.clone(), &shown);
        for name in names.iter().skip(1) {
            if let Some(alias) = model.alias(name) {
                diagnostic = diagnostic.related(alias.origin.clone(), "part of the loop");
            }
        }
        diagnostics.push(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_repo;

    #[test]
    fn insert_order_puts_every_dependency_first() {
        // b.example's `relay` forwards to a.example's `team`, which reaches
        // its mailboxes; `zz` forwards to `relay` in its own domain.
        let mut b = test_repo::tenant("b.example", "dkim", 1, "B", "B");
        b.push_str(
            "\n[[alias]]\naddress = \"relay\"\nto = [\"team@a.example\"]\n\
             \n[[alias]]\naddress = \"aa\"\nto = [\"relay\"]\n",
        );
        let model = test_repo::compile(
            &test_repo::platform("driver = \"sqlite\""),
            &[
                (
                    "a.example",
                    test_repo::tenant("a.example", "dkim", 2, "A", "A"),
                ),
                ("b.example", b),
            ],
        );
        let mut diagnostics = Diagnostics::default();
        let graph = build(&model, &mut diagnostics);
        assert!(!diagnostics.has_errors());
        let at = |node: Node| {
            graph
                .insert_order
                .iter()
                .position(|n| *n == node)
                .unwrap_or_else(|| panic!("{node:?} is in the order"))
        };
        let rows = model
            .domains
            .values()
            .map(|d| 1 + d.mailboxes.len() + d.aliases.len())
            .sum::<usize>();
        assert_eq!(graph.insert_order.len(), rows);
        let last_domain = at(Node::Domain("b.example".into()));
        let first_mailbox = at(Node::Mailbox("user0@a.example".into()));
        assert!(last_domain < first_mailbox);
        let last_mailbox = at(Node::Mailbox("user0@b.example".into()));
        assert!(
            graph.insert_order[..=last_mailbox]
                .iter()
                .all(|n| !matches!(n, Node::Alias(_)))
        );
        assert!(
            at(Node::Alias("team@a.example".into())) < at(Node::Alias("relay@b.example".into()))
        );
        assert!(at(Node::Alias("relay@b.example".into())) < at(Node::Alias("aa@b.example".into())));
    }
}
