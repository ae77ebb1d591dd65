//! Graph stage: the dependency graph of what the model declares.
//!
//! Nodes are domains, mailboxes, aliases and external addresses. A mailbox
//! and an alias depend on their domain; an alias depends on each destination
//! it resolves to. From this graph come the diagnostics no single file can
//! give (an alias destination that resolves nowhere, alias cycles) and the
//! order rows are written in: a topological order for inserts, its reverse
//! for deletes.

pub(crate) mod diags;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::FxHashMap;

use crate::diagnostic::Diagnostics;
use crate::model::{Alias, Model};

/// One thing the platform declares (or an external address it forwards to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Node {
    Domain(String),
    Mailbox(String),
    Alias(String),
    External(String),
}

/// The graph and the orders derived from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    /// Dependencies first: domains, then what lives in them, aliases after
    /// what they point to. Externals are left out (no rows).
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

/// A node while the graph is built: its kind and a name borrowed from the
/// model (a million owned strings would cost more than the graph itself).
/// Kinds order like [`Node`]'s variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Domain,
    Mailbox,
    Alias,
    External,
}

type Key<'m> = (Kind, &'m str);

fn to_node((kind, name): Key) -> Node {
    let name = name.to_string();
    {
        match kind {
            Kind::Domain => Node::Domain(name),
            Kind::Mailbox => Node::Mailbox(name),
            Kind::Alias => Node::Alias(name),
            Kind::External => Node::External(name),
        }
    }
}

pub(crate) fn build(model: &Model, diagnostics: &mut Diagnostics) -> Graph {
    let mailboxes: usize = model.domains.values().map(|d| d.mailboxes.len()).sum();
    let aliases: usize = model.domains.values().map(|d| d.aliases.len()).sum();
    let nodes = model.domains.len() + mailboxes + aliases;
    let mut graph: DiGraph<Key, ()> = DiGraph::with_capacity(nodes, nodes + aliases);
    // Only mailboxes, aliases and externals are looked up; domains are added once.
    let mut index: FxHashMap<Key, NodeIndex> = FxHashMap::default();
    index.reserve(mailboxes + aliases);

    // Nodes in sorted order so that every order derived from the graph is stable.
    for domain in model.domains.values() {
        let d = graph.add_node((Kind::Domain, &domain.name));
        for mailbox in domain.mailboxes.keys() {
            let key = (Kind::Mailbox, mailbox.as_str());
            let m = *index.entry(key).or_insert_with(|| graph.add_node(key));
            graph.add_edge(d, m, ());
        }
        for alias in domain.aliases.keys() {
            let key = (Kind::Alias, alias.as_str());
            let a = *index.entry(key).or_insert_with(|| graph.add_node(key));
            graph.add_edge(d, a, ());
        }
    }
    for domain in model.domains.values() {
        for alias in domain.aliases.values() {
            let a = index[&(Kind::Alias, alias.source.as_str())];
            for destination in &alias.destinations {
                let target = match resolve(model, &destination.address) {
                    Resolution::Mailbox => (Kind::Mailbox, destination.address.as_str()),
                    Resolution::Alias(to) | Resolution::CatchAll(to) => {
                        (Kind::Alias, to.source.as_str())
                    }
                    Resolution::External => (Kind::External, destination.address.as_str()),
                    Resolution::Dangling => {
                        diagnostics.push(diags::dangling(
                            destination.origin.clone(),
                            &destination.address,
                            alias.domain
                                == destination.address.rsplit_once('@').map_or("", |(_, d)| d),
                        ));
                        continue;
                    }
                };
                let t = *index
                    .entry(target)
                    .or_insert_with(|| graph.add_node(target));
                graph.add_edge(t, a, ());
            }
        }
    }

    report_cycles(model, &graph, diagnostics);

    let insert_order = match toposort(&graph, None) {
        Ok(order) => order
            .into_iter()
            .map(|i| graph[i])
            .filter(|(kind, _)| *kind != Kind::External)
            .map(to_node)
            .collect(),
        Err(_) => Vec::new(), // cycles were reported above
    };
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
        let names: Vec<String> = path.iter().map(|&n| graph[n].1.to_string()).collect();
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
