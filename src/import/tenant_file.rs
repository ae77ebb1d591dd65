//! A draft written as a tenant file, laid out as `mailops new` writes one,
//! through toml_edit (every string escaped as TOML needs), with the import's
//! notes as comments above the mailbox or alias they concern.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

use crate::import::mapping::Draft;
use crate::validate::quota::format_quota;

fn comments(notes: &[String]) -> String {
    notes
        .iter()
        .map(|n| format!("# import: {}\n", n.replace(['\n', '\r'], " ")))
        .collect()
}

/// The tenant file's text; `origin` says where it was imported from.
pub(crate) fn render(draft: &Draft, origin: &str) -> String {
    let mut doc = DocumentMut::new();
    doc.insert("domain", value(draft.unicode.as_str()));
    let mut header = format!(
        "#:schema ../schema/tenant.schema.json\n# Imported by `mailops import` from {}.\n",
        origin.replace(['\n', '\r'], " ")
    );
    header.push_str(&comments(&draft.notes));
    if let Some(mut key) = doc.key_mut("domain") {
        key.leaf_decor_mut().set_prefix(header);
    }
    if let Some(description) = &draft.description {
        doc.insert("description", value(description.as_str()));
    }
    if let Some(state) = draft.state {
        doc.insert("state", value(state));
    }
    if !draft.alias_domains.is_empty() {
        let names: Array = draft.alias_domains.iter().map(String::as_str).collect();
        doc.insert("alias_domains", value(names));
    }
    let dkim_tables: Vec<Table> = draft
        .dkim
        .iter()
        .map(|(selector, public_key)| {
            let mut dkim = Table::new();
            dkim.insert("selector", value(selector.as_str()));
            dkim.insert("public_key", value(public_key.as_str()));
            dkim.decor_mut().set_prefix("\n");
            dkim
        })
        .collect();
    match <[Table; 1]>::try_from(dkim_tables) {
        Ok([one]) => {
            doc.insert("dkim", Item::Table(one));
        }
        Err(several) if !several.is_empty() => {
            doc.insert("dkim", Item::ArrayOfTables(several.into_iter().collect()));
        }
        Err(_) => {}
    }
    if draft.max_mailboxes.is_some() || draft.max_quota_bytes.is_some() {
        let mut limits = Table::new();
        if let Some(max) = draft.max_mailboxes {
            limits.insert(
                "max_mailboxes",
                value(i64::try_from(max).unwrap_or(i64::MAX)),
            );
        }
        if let Some(max) = draft.max_quota_bytes {
            limits.insert("max_quota", value(format_quota(max)));
        }
        limits.decor_mut().set_prefix("\n");
        doc.insert("limits", Item::Table(limits));
    }
    if let Some(relay) = &draft.relay {
        let mut table = Table::new();
        table.insert("to", value(relay.to.as_str()));
        let mut recipients = Array::new();
        if relay.recipients.is_empty() || relay.recipients.contains("*") {
            recipients.push("*");
        } else {
            for local in &relay.recipients {
                recipients.push(local.as_str());
            }
        }
        table.insert("recipients", value(recipients));
        table.decor_mut().set_prefix("\n");
        doc.insert("relay", Item::Table(table));
    }
    if !draft.mailboxes.is_empty() {
        let mut array = ArrayOfTables::new();
        for mailbox in &draft.mailboxes {
            let mut table = Table::new();
            table.insert("user", value(mailbox.user.as_str()));
            if let Some(name) = &mailbox.name {
                table.insert("name", value(name.as_str()));
            }
            table.insert("password", value(mailbox.password.as_str()));
            if let Some(quota) = mailbox.quota_bytes {
                table.insert("quota", value(format_quota(quota)));
            }
            if let Some(state) = mailbox.state {
                table.insert("state", value(state));
            }
            if !mailbox.forward.is_empty() {
                let forward: Array = mailbox.forward.iter().map(String::as_str).collect();
                table.insert("forward", value(forward));
                if !mailbox.keep_copy {
                    table.insert("keep_copy", value(false));
                }
            }
            table
                .decor_mut()
                .set_prefix(format!("\n{}", comments(&mailbox.notes)));
            array.push(table);
        }
        doc.insert("mailbox", Item::ArrayOfTables(array));
    }
    if !draft.aliases.is_empty() {
        let mut array = ArrayOfTables::new();
        for alias in &draft.aliases {
            let mut table = Table::new();
            table.insert("address", value(alias.address.as_str()));
            let mut to = Array::new();
            for destination in &alias.to {
                to.push(destination.as_str());
            }
            table.insert("to", value(to));
            table
                .decor_mut()
                .set_prefix(format!("\n{}", comments(&alias.notes)));
            array.push(table);
        }
        doc.insert("alias", Item::ArrayOfTables(array));
    }
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::mapping::{DraftAlias, DraftMailbox};

    #[test]
    fn a_draft_renders_like_new_with_notes_as_comments() {
        let draft = Draft {
            ascii: "acme.example".into(),
            unicode: "acme.example".into(),
            description: Some("Acme \"Corp\"".into()),
            state: Some("suspended"),
            max_mailboxes: Some(5),
            max_quota_bytes: None,
            notes: Vec::new(),
            dkim: vec![("dkim".into(), "MIIB".into())],
            mailboxes: vec![DraftMailbox {
                user: "alice".into(),
                name: None,
                password: "{ARGON2ID}$x".into(),
                quota_bytes: Some(10 << 30),
                state: Some("disabled"),
                forward: vec!["bob@partner.example".into()],
                keep_copy: false,
                notes: vec!["`Alice@acme.example` written as `alice@acme.example`".into()],
            }],
            aliases: vec![DraftAlias {
                address: "*".into(),
                to: vec!["alice".into(), "bob@partner.example".into()],
                notes: Vec::new(),
            }],
            alias_domains: vec!["acme-old.example".into()],
            relay: None,
        };
        assert_eq!(
            render(&draft, "sqlite://db"),
            r#"#:schema ../schema/tenant.schema.json
# Imported by `mailops import` from sqlite://db.
domain = "acme.example"
description = 'Acme "Corp"'
state = "suspended"
alias_domains = ["acme-old.example"]

[dkim]
selector = "dkim"
public_key = "MIIB"

[limits]
max_mailboxes = 5

# import: `Alice@acme.example` written as `alice@acme.example`
[[mailbox]]
user = "alice"
password = "{ARGON2ID}$x"
quota = "10 GiB"
state = "disabled"
forward = ["bob@partner.example"]
keep_copy = false

[[alias]]
address = "*"
to = ["alice", "bob@partner.example"]
"#
        );
    }
}
