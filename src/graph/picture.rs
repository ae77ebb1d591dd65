//! A picture of the tenants and the mail that flows between them, for people:
//! tenants as nodes, and an edge for every pair of tenants one forwards into
//! the other (cross-tenant aliases and mailbox forwards, counted), plus one
//! node per domain off the platform that a tenant forwards to (external
//! forwards, grouped per domain).
//! Rendered as Mermaid (GitHub and GitLab draw it in a comment), Graphviz DOT
//! and JSON. A picture can be cut down to some tenants and their neighbours
//! (`focus`), so that a pull request's picture shows what it touches, not
//! every tenant of the platform.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Domain, Model};

/// The picture: everything sorted, so that its renderings are stable.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Picture {
    /// A-label → the tenant.
    pub(crate) tenants: BTreeMap<String, Tenant>,
    /// (from, to) tenants → how many alias destinations lead there.
    pub(crate) forwards: BTreeMap<(String, String), usize>,
    /// (from tenant, external domain) → how many alias destinations lead there.
    pub(crate) external: BTreeMap<(String, String), usize>,
    /// Relay tenant → (its server, the next hop; whether we are its backup MX).
    pub(crate) relays: BTreeMap<String, (String, bool)>,
    /// Tenants left out of a focused picture.
    pub(crate) left_out: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tenant {
    pub(crate) unicode: String,
    pub(crate) mailboxes: usize,
    pub(crate) aliases: usize,
    /// Its alias domains (A-labels), shown in its label.
    pub(crate) alias_domains: Vec<String>,
    /// One of the tenants the picture was focused on.
    pub(crate) focused: bool,
}

impl Picture {
    /// Every tenant of `model`, or with `focus`, those tenants and every
    /// tenant that forwards into one of them or that one of them forwards to.
    pub(crate) fn of(model: &Model, focus: Option<&BTreeSet<String>>) -> Picture {
        let mut forwards: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut external: BTreeMap<(String, String), usize> = BTreeMap::new();
        for domain in model.domains.values() {
            for alias in domain.aliases.values() {
                for destination in &alias.destinations {
                    let Some((_, to)) = destination.address.rsplit_once('@') else {
                        continue;
                    };
                    // An address at an alias domain is its tenant's.
                    let to = model.alias_domains.get(to).map_or(to, String::as_str);
                    if to == domain.name {
                        continue;
                    }
                    let key = (domain.name.clone(), to.to_string());
                    if model.domains.contains_key(to) {
                        *forwards.entry(key).or_default() += 1;
                    } else {
                        *external.entry(key).or_default() += 1;
                    }
                }
            }
        }
        let keep: BTreeSet<&str> = match focus {
            None => model.domains.keys().map(String::as_str).collect(),
            Some(focus) => {
                let mut keep: BTreeSet<&str> = focus
                    .iter()
                    .filter(|d| model.domains.contains_key(d.as_str()))
                    .map(String::as_str)
                    .collect();
                for (from, to) in forwards.keys() {
                    if focus.contains(from) || focus.contains(to) {
                        keep.insert(from);
                        keep.insert(to);
                    }
                }
                keep
            }
        };
        let tenant = |d: &Domain| Tenant {
            unicode: d.unicode.clone(),
            mailboxes: d.mailboxes.len(),
            aliases: d.alias_count(),
            alias_domains: d.alias_domains.iter().map(|a| a.name.clone()).collect(),
            focused: focus.is_some_and(|f| f.contains(&d.name)),
        };
        let tenants: BTreeMap<String, Tenant> = keep
            .iter()
            .filter_map(|d| model.domains.get(*d))
            .map(|d| (d.name.clone(), tenant(d)))
            .collect();
        forwards.retain(|(from, to), _| {
            tenants.contains_key(from)
                && tenants.contains_key(to)
                && focus.is_none_or(|f| f.contains(from) || f.contains(to))
        });
        external.retain(|(from, _), _| {
            tenants.contains_key(from) && focus.is_none_or(|f| f.contains(from))
        });
        let relays = tenants
            .keys()
            .filter(|name| focus.is_none_or(|f| f.contains(*name)))
            .filter_map(|name| {
                let relay = model.domains.get(name)?.relay.as_ref()?;
                Some((name.clone(), (relay.nexthop.clone(), relay.backup_mx)))
            })
            .collect();
        Picture {
            left_out: model.domains.len() - tenants.len(),
            tenants,
            forwards,
            external,
            relays,
        }
    }

    /// The label of a tenant: `xn--…example (Unicode form)` for an IDN.
    fn label(name: &str, tenant: &Tenant) -> String {
        let mut label = if tenant.unicode == name {
            name.to_string()
        } else {
            format!("{name} ({})", tenant.unicode)
        };
        label.push_str(&format!(
            "\n{} mailbox{}, {} alias{}",
            tenant.mailboxes,
            if tenant.mailboxes == 1 { "" } else { "es" },
            tenant.aliases,
            if tenant.aliases == 1 { "" } else { "es" }
        ));
        if !tenant.alias_domains.is_empty() {
            label.push_str(&format!(
                "\nalias domain{}: {}",
                if tenant.alias_domains.len() == 1 {
                    ""
                } else {
                    "s"
                },
                tenant.alias_domains.join(", ")
            ));
        }
        label
    }

    /// The label of a relay edge.
    fn relay_label(backup_mx: bool) -> &'static str {
        if backup_mx { "backup MX" } else { "relay" }
    }

    fn count(n: usize) -> String {
        format!("{n} forward{}", if n == 1 { "" } else { "s" })
    }

    /// External domains, each once, in order.
    fn external_domains(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.external.keys().map(|(_, to)| to.as_str()).collect();
        set.into_iter().collect()
    }

    /// Mermaid flowchart. Node ids are generated (`t0`, `x0`); every label is
    /// quoted, with Mermaid's entity codes for the characters it would read.
    pub(crate) fn mermaid(&self) -> String {
        let ids: BTreeMap<&str, String> = self
            .tenants
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), format!("t{i}")))
            .collect();
        let externals = self.external_domains();
        let xids: BTreeMap<&str, String> = externals
            .iter()
            .enumerate()
            .map(|(i, d)| (*d, format!("x{i}")))
            .collect();
        let mut out = String::from("flowchart LR\n");
        for (name, tenant) in &self.tenants {
            out.push_str(&format!(
                "  {}[\"{}\"]\n",
                ids[name.as_str()],
                mermaid_text(&Self::label(name, tenant))
            ));
        }
        for domain in &externals {
            out.push_str(&format!(
                "  {}([\"{}\"])\n",
                xids[domain],
                mermaid_text(&format!("{domain}\noff the platform"))
            ));
        }
        for ((from, to), n) in &self.forwards {
            out.push_str(&format!(
                "  {} -->|\"{}\"| {}\n",
                ids[from.as_str()],
                Self::count(*n),
                ids[to.as_str()]
            ));
        }
        for ((from, to), n) in &self.external {
            out.push_str(&format!(
                "  {} -.->|\"{}\"| {}\n",
                ids[from.as_str()],
                Self::count(*n),
                xids[to.as_str()]
            ));
        }
        // A relay tenant's own server: a node of its own, off the platform.
        let rids: Vec<String> = (0..self.relays.len()).map(|i| format!("r{i}")).collect();
        for ((from, (nexthop, backup_mx)), rid) in self.relays.iter().zip(&rids) {
            out.push_str(&format!(
                "  {rid}([\"{}\"])\n  {} ==>|\"{}\"| {rid}\n",
                mermaid_text(&format!("{nexthop}\nthe client's server")),
                ids[from.as_str()],
                Self::relay_label(*backup_mx)
            ));
        }
        out.push_str("  classDef external stroke-dasharray: 4 3\n");
        if !externals.is_empty() || !rids.is_empty() {
            let list: Vec<&str> = xids.values().chain(&rids).map(String::as_str).collect();
            out.push_str(&format!("  class {} external\n", list.join(",")));
        }
        let focused: Vec<&str> = self
            .tenants
            .iter()
            .filter(|(_, t)| t.focused)
            .map(|(name, _)| ids[name.as_str()].as_str())
            .collect();
        if !focused.is_empty() {
            out.push_str("  classDef changed stroke-width: 3px\n");
            out.push_str(&format!("  class {} changed\n", focused.join(",")));
        }
        out
    }

    /// Graphviz DOT.
    pub(crate) fn dot(&self) -> String {
        let mut out = String::from(
            "digraph mailops {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
        );
        for (name, tenant) in &self.tenants {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\"{}];\n",
                dot_text(name),
                dot_text(&Self::label(name, tenant)),
                if tenant.focused { ", penwidth=3" } else { "" }
            ));
        }
        for domain in self.external_domains() {
            out.push_str(&format!(
                "  \"ext:{}\" [label=\"{}\", shape=ellipse, style=dashed];\n",
                dot_text(domain),
                dot_text(&format!("{domain}\noff the platform"))
            ));
        }
        for ((from, to), n) in &self.forwards {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
                dot_text(from),
                dot_text(to),
                Self::count(*n)
            ));
        }
        for ((from, to), n) in &self.external {
            out.push_str(&format!(
                "  \"{}\" -> \"ext:{}\" [label=\"{}\", style=dashed];\n",
                dot_text(from),
                dot_text(to),
                Self::count(*n)
            ));
        }
        for (from, (nexthop, backup_mx)) in &self.relays {
            out.push_str(&format!(
                "  \"relay:{}\" [label=\"{}\", shape=ellipse, style=dashed];\n  \"{}\" -> \"relay:{}\" [label=\"{}\", penwidth=2];\n",
                dot_text(from),
                dot_text(&format!("{nexthop}\nthe client's server")),
                dot_text(from),
                dot_text(from),
                Self::relay_label(*backup_mx)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// JSON: `{"tenants": [...], "forwards": [...], "external": [...], "left_out": N}`.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "tenants": self.tenants.iter().map(|(name, t)| serde_json::json!({
                "domain": name,
                "unicode": t.unicode,
                "mailboxes": t.mailboxes,
                "alias_domains": t.alias_domains,
                "aliases": t.aliases,
                "focused": t.focused,
            })).collect::<Vec<_>>(),
            "forwards": self.forwards.iter().map(|((from, to), n)| serde_json::json!({
                "from": from, "to": to, "destinations": n,
            })).collect::<Vec<_>>(),
            "external": self.external.iter().map(|((from, to), n)| serde_json::json!({
                "from": from, "to": to, "destinations": n,
            })).collect::<Vec<_>>(),
            "relays": self.relays.iter().map(|(from, (to, backup_mx))| serde_json::json!({
                "from": from, "to": to, "backup_mx": backup_mx,
            })).collect::<Vec<_>>(),
            "left_out": self.left_out,
        })
    }
}

/// Text inside a quoted Mermaid label: `"` and the characters Mermaid reads
/// as markup as entity codes, a line break as `<br>`.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push_str("<br>"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text inside a quoted DOT string: `"` and `\` escaped, a line break as `\n`.
fn dot_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_tenant_has_an_edge_to_its_server() {
        use crate::emit::test_repo::{compile, platform, relay_tenant, tenant};
        let model = compile(
            &platform(""),
            &[
                ("a.example", tenant("a.example", "dkim", 1, "A", "Ann")),
                (
                    "r.example",
                    relay_tenant(
                        "r.example",
                        "to = \"[mail.r.example]:25\"\nrecipients = [\"*\"]\nbackup_mx = true\n",
                    ),
                ),
            ],
        );
        let picture = Picture::of(&model, None);
        assert_eq!(
            picture.relays.get("r.example"),
            Some(&("[mail.r.example]:25".to_string(), true))
        );
        let mermaid = picture.mermaid();
        assert!(
            mermaid.contains("  r0([\"[mail.r.example]:25<br>the client's server\"])\n  t1 ==>|\"backup MX\"| r0\n"),
            "{mermaid}"
        );
        assert!(mermaid.contains("  class r0 external\n"), "{mermaid}");
        let dot = picture.dot();
        assert!(
            dot.contains("\"r.example\" -> \"relay:r.example\" [label=\"backup MX\""),
            "{dot}"
        );
        assert_eq!(picture.json()["relays"][0]["to"], "[mail.r.example]:25");
        // Focused on the other tenant, the relay is left out.
        let focus = ["a.example".to_string()].into_iter().collect();
        assert!(Picture::of(&model, Some(&focus)).relays.is_empty());
    }

    #[test]
    fn labels_are_escaped_for_each_format() {
        assert_eq!(mermaid_text("a\"b#<c>\nd"), "a#quot;b#35;#lt;c#gt;<br>d");
        assert_eq!(dot_text("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
