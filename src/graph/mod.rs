//! Graph stage: the dependency graph of what the model declares.
//!
//! A mailbox and an alias depend on their domain; an alias depends on each
//! destination it resolves to (a mailbox, another alias, a catch-all, or an
//! address off the platform). A mailbox's `forward` is an alias of its
//! address (`model::Alias::of_mailbox`): mail to the mailbox follows it. Only aliases can depend on their own kind, so
//! petgraph holds the aliases and their alias-to-alias edges; domains and
//! mailboxes always come before them. From this come the diagnostics no
//! single file can give (an alias destination that resolves nowhere, alias
//! cycles) and the order rows are written in: a topological order for
//! inserts, its reverse for deletes.

pub(crate) mod diags;
pub(crate) mod picture;

use std::collections::BTreeSet;

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::FxHashMap;

use crate::diagnostic::Diagnostics;
use crate::model::{Alias, Domain, MailboxState, Model, TenantState};

/// One thing the platform declares that becomes rows.
/// The order rows are inserted in, dependencies first: the domains (sorted),
/// then their mailboxes (which depend on their domain only: by domain in
/// that order, each domain's by address — derived, not held: a million of
/// them), then the aliases, each after the aliases it points to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    pub(crate) domains: Vec<String>,
    pub(crate) aliases: Vec<String>,
}

impl Drop for Graph {
    fn drop(&mut self) {
        if !self.aliases.is_empty() {
            crate::parallel::drop_in_background(std::mem::take(&mut self.aliases));
        }
    }
}

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
        // An address at an alias domain is the same address at its tenant.
        return match model.through_alias_domain(address) {
            Some(primary) => resolve(model, &primary),
            None => Resolution::External,
        };
    };
    if domain.mailboxes.contains_key(address) {
        // A mailbox that forwards is followed as the alias its forward is.
        return match domain.aliases.get(address) {
            Some(forward) => Resolution::Alias(forward),
            None => Resolution::Mailbox,
        };
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

/// `removed`: domains the previous compile produced (generated/ still has
/// their files) that no tenant file declares now. A forward into one of
/// them is off the platform from now on: a warning, as the tenant was most
/// likely removed by mistake or its forwards were forgotten.
pub(crate) fn build(
    model: &Model,
    removed: &BTreeSet<String>,
    diagnostics: &mut Diagnostics,
) -> Graph {
    // Domains depend on nothing, and mailboxes only on their domain: they
    // come first in every order, so the graph that petgraph walks holds only
    // the aliases, the one kind of node that can depend on its own kind (and
    // so form loops). An alias's other dependencies (its domain, mailboxes,
    // addresses off the platform) are always ordered before it.
    let domains: Vec<&Domain> = model.domains.values().collect();
    // Where each destination leads, on every core: the alias-to-alias edges
    // and the diagnostics of each chunk of domains, in model order.
    let resolved = crate::parallel::map_chunks(&domains, |chunk| {
        let mut edges: Vec<(Key, Key)> = Vec::new();
        let mut local = Diagnostics::default();
        for domain in chunk {
            for alias in domain.aliases.values() {
                resolve_destinations(model, removed, alias, &mut edges, &mut local);
            }
            check_send_as(model, domain, &mut local);
        }
        (edges, local)
    });
    let aliases: usize = domains.iter().map(|d| d.aliases.len()).sum();
    let mut graph: DiGraph<Key, ()> = DiGraph::with_capacity(aliases, aliases);
    let mut index: FxHashMap<Key, NodeIndex> = FxHashMap::default();
    index.reserve(aliases);
    // Nodes in sorted order so that every order derived from the graph is stable.
    for domain in &domains {
        for source in domain.aliases.keys() {
            index.insert(source.as_str(), graph.add_node(source.as_str()));
        }
    }
    for (edges, local) in resolved {
        for (to, from) in edges {
            graph.add_edge(index[to], index[from], ());
        }
        diagnostics.extend(local);
    }

    // An order exists exactly when there is no loop: the loops are looked
    // for (and named) only then, not on every compile (a walk of 200,000
    // aliases that made a component per alias).
    let Ok(alias_order) = toposort(&graph, None) else {
        report_cycles(model, &graph, diagnostics);
        return Graph::default();
    };
    Graph {
        domains: domains.iter().map(|d| d.name.clone()).collect(),
        aliases: alias_order
            .into_iter()
            .map(|i| graph[i].to_string())
            .collect(),
    }
}

/// The edges from the aliases an alias forwards to (`(destination, alias)`,
/// in the order of its destinations), and the diagnostics of its
/// destinations that lead nowhere or into a removed domain.
fn resolve_destinations<'m>(
    model: &'m Model,
    removed: &BTreeSet<String>,
    alias: &'m Alias,
    edges: &mut Vec<(Key<'m>, Key<'m>)>,
    diagnostics: &mut Diagnostics,
) {
    // A mailbox's own address among its forward's destinations is its copy:
    // delivered, not followed again.
    for destination in alias.forwards() {
        match resolve(model, &destination.address) {
            Resolution::Alias(to) | Resolution::CatchAll(to) => {
                edges.push((to.source.as_str(), alias.source.as_str()));
            }
            Resolution::External => {
                if let Some(switch) = model
                    .domains
                    .get(&alias.domain)
                    .and_then(|d| d.limits.external_forwards_off.as_ref())
                {
                    diagnostics.push(diags::external_forward_not_allowed(
                        destination.origin.clone(),
                        switch.clone(),
                        &alias.source,
                        &destination.address,
                    ));
                }
                let target = destination.address.rsplit_once('@').map_or("", |(_, d)| d);
                if removed.contains(target) {
                    diagnostics.push(diags::into_removed_domain(
                        destination.origin.clone(),
                        &destination.address,
                        target,
                    ));
                }
            }
            Resolution::Mailbox => {
                // A disabled tenant refuses mail to its own aliases already.
                let own_tenant_disabled = model
                    .domains
                    .get(&alias.domain)
                    .is_some_and(|d| d.state == TenantState::Disabled);
                if alias.destinations.len() == 1
                    && !own_tenant_disabled
                    && is_disabled(model, &destination.address)
                {
                    diagnostics.push(diags::disabled_destination(
                        destination.origin.clone(),
                        &alias.source,
                        &destination.address,
                    ));
                }
            }
            Resolution::Dangling => {
                diagnostics.push(diags::dangling(
                    destination.origin.clone(),
                    &destination.address,
                    alias.domain == destination.address.rsplit_once('@').map_or("", |(_, d)| d),
                    alias.of_mailbox,
                ));
            }
        }
    }
}

/// A mailbox refuses mail when it is disabled, or its whole tenant is.
fn is_disabled(model: &Model, address: &str) -> bool {
    // At an alias domain a disabled mailbox has no row: mail to it is refused too.
    let primary = model.through_alias_domain(address);
    let address = primary.as_deref().unwrap_or(address);
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    model.domains.get(domain).is_some_and(|d| {
        d.state == TenantState::Disabled
            || d.mailboxes
                .get(address)
                .is_some_and(|m| m.state == MailboxState::Disabled)
    })
}

/// A mailbox's `send_as` address in another domain must be a tenant's, and
/// that tenant must list the mailbox in the address's `allow_send_as`.
/// (Addresses of the mailbox's own domain were checked with its file.)
fn check_send_as(model: &Model, domain: &Domain, diagnostics: &mut Diagnostics) {
    for mailbox in domain.mailboxes.values() {
        for send_as in &mailbox.send_as {
            let target = send_as.address.rsplit_once('@').map_or("", |(_, d)| d);
            if target == domain.name {
                continue;
            }
            let Some(owner) = model.domains.get(target) else {
                diagnostics.push(diags::send_as_off_platform(
                    send_as.origin.clone(),
                    &send_as.address,
                    target,
                ));
                continue;
            };
            let (grants, at) = match (
                owner.mailboxes.get(&send_as.address),
                owner.aliases.get(&send_as.address),
            ) {
                (Some(m), _) => (&*m.allow_send_as, Some(m.origin.clone())),
                (None, Some(a)) => (&*a.allow_send_as, Some(a.origin.clone())),
                (None, None) => (&[][..], None),
            };
            if !grants.iter().any(|g| *g.address == *mailbox.address) {
                diagnostics.push(diags::send_as_not_granted(
                    send_as.origin.clone(),
                    &mailbox.address,
                    &send_as.address,
                    at,
                ));
            }
        }
    }
}

/// Every strongly connected set of aliases is a forwarding loop; name it as
/// a path `a → b → c → a`, starting from its smallest address.
fn report_cycles(model: &Model, graph: &DiGraph<Key, ()>, diagnostics: &mut Diagnostics) {
    let mut cycles: Vec<Vec<String>> = Vec::new();
    // Which loop each alias is in, and whether it is on the path being
    // walked: arrays by node, so that naming a loop is linear in its edges.
    let mut component_of: Vec<usize> = vec![usize::MAX; graph.node_count()];
    let mut on_path: Vec<bool> = vec![false; graph.node_count()];
    for (c, component) in kosaraju_scc(graph).into_iter().enumerate() {
        let is_cycle = component.len() > 1
            || component
                .first()
                .is_some_and(|&n| graph.contains_edge(n, n));
        if !is_cycle {
            continue;
        }
        for &n in &component {
            component_of[n.index()] = c;
        }
        // Edges run destination → alias; walk them backwards to follow the mail.
        let start = *component
            .iter()
            .min_by_key(|&&n| &graph[n])
            .expect("a component has a node");
        let mut path = vec![start];
        on_path[start.index()] = true;
        let mut current = start;
        loop {
            let next = graph
                .neighbors_directed(current, petgraph::Direction::Incoming)
                .filter(|n| component_of[n.index()] == c)
                .min_by_key(|&n| (n != start, &graph[n]));
            match next {
                Some(n) if n == start => break,
                Some(n) if !on_path[n.index()] => {
                    on_path[n.index()] = true;
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
        // The message names the whole loop; labels point at its first few
        // aliases (a label each for a 20,000-alias loop is unreadable, and
        // slow to draw).
        for name in names.iter().skip(1).take(diags::CYCLE_LABELS) {
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
        let graph = build(&model, &BTreeSet::new(), &mut diagnostics);
        assert!(!diagnostics.has_errors());
        assert_eq!(graph.domains, ["a.example", "b.example"]);
        let at = |alias: &str| {
            graph
                .aliases
                .iter()
                .position(|a| a == alias)
                .unwrap_or_else(|| panic!("{alias} is in the order"))
        };
        let aliases = model
            .domains
            .values()
            .map(|d| d.aliases.len())
            .sum::<usize>();
        assert_eq!(graph.aliases.len(), aliases);
        assert!(at("team@a.example") < at("relay@b.example"));
        assert!(at("relay@b.example") < at("aa@b.example"));
    }

    /// Issue 15: every mailbox that accepts mail and every alias has its
    /// address at each alias domain; a catch-all there only when the
    /// tenant has one (to the same destinations), never `@alias → @tenant`.
    #[test]
    fn alias_domain_rows_expand_every_address_and_only_a_real_catch_all() {
        let text = |catch_all: &str| {
            let mut t = test_repo::tenant("a.example", "dkim", 2, "A", "A");
            t = t.replacen(
                "domain = \"a.example\"\n",
                "domain = \"a.example\"\nalias_domains = [\"b-old.example\", \"a-old.example\"]\n",
                1,
            );
            t.push_str(catch_all);
            t
        };
        let compile = |catch_all: &str| {
            test_repo::compile(&test_repo::platform(""), &[("a.example", text(catch_all))])
        };
        let model = compile("");
        let domain = &model.domains["a.example"];
        let names: Vec<&str> = domain
            .alias_domains
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["a-old.example", "b-old.example"]);
        let rows = domain.alias_domain_rows();
        let per_domain = domain.mailboxes.len() + domain.aliases.len();
        assert_eq!(rows.len(), 2 * per_domain, "{rows:?}");
        assert!(rows.iter().all(|(s, d)| {
            let (local, at) = s.split_once('@').unwrap();
            (at == "a-old.example" || at == "b-old.example") && *d == format!("{local}@a.example")
        }));
        assert!(!rows.iter().any(|(s, _)| s.starts_with('@')));
        assert_eq!(model.alias_domains["b-old.example"], "a.example");
        assert_eq!(
            model.through_alias_domain("x@a-old.example").as_deref(),
            Some("x@a.example")
        );
        assert_eq!(model.through_alias_domain("x@a.example"), None);

        let model = compile("\n[[alias]]\naddress = \"*\"\nto = [\"postmaster\"]\n");
        let rows = model.domains["a.example"].alias_domain_rows();
        assert!(rows.contains(&(
            "@a-old.example".to_string(),
            "postmaster@a.example".to_string()
        )));
        assert!(!rows.iter().any(|(_, d)| d.starts_with('@')));
        // The tenant's own rows and the alias domains' together, sorted.
        let all = model.domains["a.example"].alias_rows();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    /// Issue 15: an alias (in any tenant) to an address at an alias domain
    /// resolves as that address at the tenant; one the tenant lacks dangles.
    #[test]
    fn a_tenant_without_external_forwards_still_forwards_to_other_tenants() {
        // Forwards to another tenant and to its alias domain are on the
        // platform: `compile` asserts there is no error (the invalid fixture
        // external-forward-not-allowed shows the one for an outside address).
        let a = test_repo::tenant("a.example", "dkim", 1, "A", "A").replacen(
            "\n[dkim]\n",
            "\n[limits]\nexternal_forwards = false\n\n[dkim]\n",
            1,
        ) + "\n[[alias]]\naddress = \"out\"\nto = [\"user0@b.example\", \"user0@b-old.example\"]\n";
        let b = test_repo::tenant("b.example", "dkim", 1, "B", "B").replacen(
            "domain = \"b.example\"\n",
            "domain = \"b.example\"\nalias_domains = [\"b-old.example\"]\n",
            1,
        );
        let model = test_repo::compile(
            &test_repo::platform(""),
            &[("a.example", a), ("b.example", b)],
        );
        assert!(
            model.domains["a.example"]
                .limits
                .external_forwards_off
                .is_some()
        );
        assert_eq!(
            model.domains["a.example"].aliases["out@a.example"]
                .destinations
                .len(),
            2
        );
    }

    #[test]
    fn addresses_at_an_alias_domain_resolve_at_its_tenant() {
        let mut a = test_repo::tenant("a.example", "dkim", 1, "A", "A");
        a = a.replacen(
            "domain = \"a.example\"\n",
            "domain = \"a.example\"\nalias_domains = [\"a-old.example\"]\n",
            1,
        );
        let model = test_repo::compile_unchecked(
            &test_repo::platform(""),
            &[
                ("a.example", a),
                (
                    "b.example",
                    test_repo::tenant("b.example", "dkim", 1, "B", "B"),
                ),
            ],
        );
        assert!(matches!(
            resolve(&model, "user0@a-old.example"),
            Resolution::Mailbox
        ));
        assert!(
            matches!(resolve(&model, "team@a-old.example"), Resolution::Alias(a) if a.source == "team@a.example")
        );
        assert!(matches!(
            resolve(&model, "nobody@a-old.example"),
            Resolution::Dangling
        ));
        assert!(matches!(
            resolve(&model, "x@c-old.example"),
            Resolution::External
        ));
    }

    /// Issue 10, hole 7: a 20,000-hop forwarding loop in one file took
    /// minutes to report (a quadratic walk, and a label per alias). It is
    /// one diagnostic that names both ends of the loop and how many aliases
    /// lie between, with a few labels.
    #[test]
    fn twenty_thousand_hop_loop_is_one_diagnostic_naming_its_ends() {
        let hops = 20_000;
        let mut text = test_repo::tenant("loop.example", "dkim", 1, "Loop", "Loop");
        text = text.replacen("[dkim]", "[limits]\nmax_aliases = 30000\n\n[dkim]", 1);
        for hop in 0..hops {
            let next = (hop + 1) % hops;
            text.push_str(&format!(
                "\n[[alias]]\naddress = \"hop{hop}\"\nto = [\"hop{next}\"]\n"
            ));
        }
        let model = test_repo::compile_unchecked(
            &test_repo::platform("driver = \"sqlite\""),
            &[("loop.example", text)],
        );
        let mut diagnostics = Diagnostics::default();
        let graph = build(&model, &BTreeSet::new(), &mut diagnostics);
        assert!(graph.aliases.is_empty() && graph.domains.is_empty());
        let cycles: Vec<_> = diagnostics
            .iter()
            .filter(|d| d.code == diags::GraphCode::Cycle.code())
            .collect();
        assert_eq!(cycles.len(), 1, "{diagnostics:#?}");
        let message = &cycles[0].message;
        assert!(
            message
                .starts_with("aliases forward in a loop: hop0@loop.example → hop1@loop.example → "),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "… {} more aliases …",
                hops + 1 - diags::CYCLE_SHOWN
            )),
            "{message}"
        );
        assert!(
            message.ends_with("→ hop19999@loop.example → hop0@loop.example"),
            "{message}"
        );
        assert_eq!(cycles[0].secondary.len(), diags::CYCLE_LABELS);
    }
}
