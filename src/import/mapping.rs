//! Source rows → tenant drafts. Every value that is not taken as it is gets
//! a line in the report (and a comment in the file, where it concerns one
//! mailbox or alias); nothing is altered silently.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::import::report::Report;
use crate::import::{Source, SrcUser};
use crate::validate::address::normalize_local_part;
use crate::validate::domain::normalize_domain;
use crate::validate::password::{PasswordProblem, check_password};

/// A tenant file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    /// The A-label: the file name and the key everything else uses.
    pub(crate) ascii: String,
    /// What `domain = …` says (the Unicode form, as `mailops new` writes it).
    pub(crate) unicode: String,
    pub(crate) description: Option<String>,
    /// The tenant's `state`: `disabled` for an inactive domain; `None`: active.
    pub(crate) state: Option<&'static str>,
    /// `[limits] max_mailboxes` and `max_quota` (bytes).
    pub(crate) max_mailboxes: Option<u64>,
    pub(crate) max_quota_bytes: Option<u64>,
    /// Comment lines at the top of the file.
    pub(crate) notes: Vec<String>,
    /// (selector, public key) of each DKIM key: one, or an Ed25519 key and an RSA key.
    pub(crate) dkim: Vec<(String, String)>,
    pub(crate) mailboxes: Vec<DraftMailbox>,
    pub(crate) aliases: Vec<DraftAlias>,
    /// `alias_domains`: PostfixAdmin's active `alias_domain` rows that
    /// target this domain, as written there (the Unicode form of an IDN).
    pub(crate) alias_domains: Vec<String>,
    /// A relay domain's `[relay]`: its mailboxes and aliases are its recipients.
    pub(crate) relay: Option<DraftRelay>,
}

/// `[relay]` of a PostfixAdmin relay domain (`transport = relay:…` or `smtp:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DraftRelay {
    /// The next hop, as `[relay] to` takes it.
    pub(crate) to: String,
    /// Local parts, sorted, each once; none: `"*"`.
    pub(crate) recipients: std::collections::BTreeSet<String>,
}

/// The next hop of a PostfixAdmin transport that relays (`relay:[host]:25`,
/// `smtp:host`), checked as `[relay] to` is; None for anything else.
fn relay_nexthop(transport: &str) -> Option<String> {
    let nexthop = transport
        .strip_prefix("relay:")
        .or_else(|| transport.strip_prefix("smtp:"))?;
    crate::validate::relay::parse_nexthop(nexthop.trim())
        .ok()
        .map(|(nexthop, _)| nexthop)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DraftMailbox {
    pub(crate) user: String,
    pub(crate) name: Option<String>,
    pub(crate) password: String,
    pub(crate) quota_bytes: Option<u64>,
    /// `disabled` for a row that was not active; `None`: active.
    pub(crate) state: Option<&'static str>,
    /// Where its mail is forwarded as well (an alias row of the mailbox's
    /// own address): bare local parts (same domain) or full addresses.
    pub(crate) forward: Vec<String>,
    /// With `forward`: the alias rows named the mailbox itself too.
    pub(crate) keep_copy: bool,
    pub(crate) notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DraftAlias {
    /// A local part, or `*`.
    pub(crate) address: String,
    /// Bare local parts (same domain) or full addresses.
    pub(crate) to: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// How to treat password hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Dovecot's `default_pass_scheme`: the scheme of a hash without a
    /// `{SCHEME}` prefix. `CRYPT` (Dovecot's default) names the scheme by
    /// the hash's own `$id$`.
    pub(crate) default_scheme: String,
    /// The platform's `password_schemes`.
    pub(crate) allowed: Vec<String>,
    /// Schemes allowed for this import only (`--allow-scheme`): imported,
    /// with a warning on every such mailbox.
    pub(crate) legacy: Vec<String>,
}

/// The scheme a bare crypt(3) hash names by its `$id$`.
fn crypt_scheme(hash: &str) -> Option<&'static str> {
    [
        ("$6$", "SHA512-CRYPT"),
        ("$5$", "SHA256-CRYPT"),
        ("$2y$", "BLF-CRYPT"),
        ("$2b$", "BLF-CRYPT"),
        ("$2a$", "BLF-CRYPT"),
        ("$argon2id$", "ARGON2ID"),
        ("$argon2i$", "ARGON2I"),
        // PostfixAdmin's default (`md5crypt`) and older tutorials': a legacy scheme.
        ("$1$", "MD5-CRYPT"),
    ]
    .into_iter()
    .find(|(prefix, _)| hash.starts_with(prefix))
    .map(|(_, scheme)| scheme)
}

/// The password as the tenant file will hold it; `Err` says why it cannot be imported.
fn password(
    raw: &str,
    options: &Options,
    changes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.len() != raw.len() {
        changes.push("spaces around the password hash removed".into());
    }
    if trimmed.is_empty() {
        return Err("no password".into());
    }
    let value = if trimmed.starts_with('{') {
        trimmed.to_string()
    } else {
        let scheme = if options.default_scheme.eq_ignore_ascii_case("CRYPT") {
            crypt_scheme(trimmed).ok_or_else(|| {
                "a password without a {SCHEME} prefix that is no crypt hash ($6$, $5$, $2y$, $argon2id$, $1$): \
                 plaintext, or a scheme mailops cannot check; pass --default-scheme if Dovecot's \
                 default_pass_scheme names it"
                    .to_string()
            })?
            .to_string()
        } else {
            options.default_scheme.to_ascii_uppercase()
        };
        changes.push(format!(
            "the bare hash was prefixed with {{{scheme}}} (default_pass_scheme {}; the same hash)",
            options.default_scheme.to_ascii_uppercase()
        ));
        format!("{{{scheme}}}{trimmed}")
    };
    let mut allowed = options.allowed.clone();
    allowed.extend(options.legacy.iter().cloned());
    match check_password(&value, &allowed) {
        Ok(scheme) => {
            if !options
                .allowed
                .iter()
                .any(|a| a.eq_ignore_ascii_case(scheme))
            {
                warnings.push(format!(
                    "legacy scheme {scheme} (--allow-scheme or `legacy_password_schemes`): have the user change the password"
                ));
            }
            Ok(value)
        }
        Err(PasswordProblem::NotAllowed(scheme)) => Err(format!(
            "scheme {scheme} is not in the platform's password_schemes; `--allow-scheme {scheme}` imports it anyway, with a warning"
        )),
        Err(PasswordProblem::Plaintext) | Err(PasswordProblem::PlainScheme(_)) => {
            Err("a plaintext password".into())
        }
        Err(PasswordProblem::UnknownScheme(scheme)) => Err(format!(
            "scheme {scheme} is not one mailops can check ({})",
            crate::validate::password::KNOWN_SCHEMES.join(", ")
        )),
        Err(PasswordProblem::Malformed { scheme, expected }) => {
            Err(format!("a malformed {scheme} hash: expected {expected}"))
        }
    }
}

/// An address split and checked: (local part lowercased, A-label domain),
/// and what changed.
fn address(raw: &str, changes: &mut Vec<String>) -> Result<(String, String), String> {
    let trimmed = raw.trim();
    if trimmed.len() != raw.len() {
        changes.push(format!("spaces around `{trimmed}` removed"));
    }
    let (local, domain) = trimmed
        .rsplit_once('@')
        .ok_or_else(|| format!("`{trimmed}` is not an address"))?;
    let domain = normalize_domain(domain)
        .map_err(|p| format!("`{trimmed}`: {}", p.describe()))?
        .ascii;
    let local = if local.is_empty() {
        String::new()
    } else {
        normalize_local_part(local).map_err(|p| format!("`{trimmed}`: {}", p.describe()))?
    };
    let mapped = format!("{local}@{domain}");
    if mapped != trimmed {
        changes.push(format!("`{trimmed}` written as `{mapped}`"));
    }
    Ok((local, domain))
}

/// Map every row; the drafts are sorted by domain.
pub(crate) fn map(source: &Source, options: &Options, report: &mut Report) -> Vec<Draft> {
    let mut drafts: BTreeMap<String, Draft> = BTreeMap::new();
    // The source's own spelling of each domain → its A-label.
    let mut spelled: HashMap<&str, String> = HashMap::new();
    let alias_domains: HashSet<String> = source
        .alias_domains
        .iter()
        .map(|a| a.alias.trim().to_lowercase())
        .collect();
    for domain in &source.domains {
        let trimmed = domain.name.trim();
        if alias_domains.contains(&trimmed.to_lowercase()) {
            continue;
        }
        let name = match normalize_domain(trimmed) {
            Ok(name) => name,
            Err(problem) => {
                report.not_mapped(
                    &domain.row,
                    format!(
                        "`{}` is not a valid domain ({}); its mailboxes and aliases are not mapped either",
                        domain.name,
                        problem.describe()
                    ),
                );
                continue;
            }
        };
        if trimmed.len() != domain.name.len() {
            report.changed(&domain.row, format!("spaces around `{trimmed}` removed"));
        }
        if name.ascii != trimmed {
            let why = if trimmed.is_ascii() {
                "lowercased"
            } else {
                "a Unicode domain (U-label): the file is named by its A-label, the rows hold the A-label"
            };
            report.changed(
                &domain.row,
                format!("`{trimmed}` stored as `{}` ({why})", name.ascii),
            );
        }
        let relay = domain.relay.as_deref().and_then(relay_nexthop);
        if let (Some(to), Some(written)) = (&relay, &domain.relay) {
            report.changed(
                &domain.row,
                format!(
                    "`{}` is a relay domain ({written}): imported as `[relay] to = \"{to}\"`, its mailboxes and aliases as its recipients (none: `\"*\"`, any)",
                    name.ascii
                ),
            );
        } else if let Some(relay) = &domain.relay {
            report.not_mapped(
                &domain.row,
                format!(
                    "`{}` is a relay domain ({relay}): mail for it is forwarded to another server; not imported, nor its mailboxes and aliases: write its tenant file with a `[relay]` table by hand (`to` = its next hop, `recipients` = its addresses, `backup_mx`)",
                    name.ascii
                ),
            );
            continue;
        }
        spelled.insert(domain.name.as_str(), name.ascii.clone());
        if drafts.contains_key(&name.ascii) {
            report.changed(
                &domain.row,
                format!(
                    "a duplicate of domain `{}`: merged into one tenant file",
                    name.ascii
                ),
            );
            continue;
        }
        if !domain.active {
            report.changed(
                &domain.row,
                "an inactive domain: imported as the tenant's `state = \"disabled\"` (all its mail refused, every login refused, data kept)",
            );
        }
        let description = domain
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        drafts.insert(
            name.ascii.clone(),
            Draft {
                ascii: name.ascii.clone(),
                unicode: name.unicode.clone(),
                description,
                state: (!domain.active).then_some("disabled"),
                max_mailboxes: domain.max_mailboxes.filter(|&m| m > 0).map(|m| m as u64),
                max_quota_bytes: domain.max_quota_bytes.filter(|&q| q > 0).map(|q| q as u64),
                notes: Vec::new(),
                dkim: Vec::new(),
                mailboxes: Vec::new(),
                aliases: Vec::new(),
                alias_domains: Vec::new(),
                relay: relay.map(|to| DraftRelay {
                    to,
                    recipients: std::collections::BTreeSet::new(),
                }),
            },
        );
    }

    // Mailboxes: the first row of an address wins.
    let mut mailboxes: HashMap<String, (String, String)> = HashMap::new(); // address → (domain, source row)
    for user in &source.users {
        map_user(user, options, &spelled, &mut drafts, &mut mailboxes, report);
    }

    // Aliases: rows grouped by source address, in row order.
    struct Group {
        domain: String,
        local: String,
        rows: Vec<String>,
        to: Vec<(String, String)>, // (address, source row)
        notes: Vec<String>,
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for alias in &source.aliases {
        if !alias.active {
            report.not_mapped(
                &alias.row,
                format!(
                    "an inactive alias `{}` (mailops has no disabled alias): not imported, so it stays inactive",
                    alias.source.trim()
                ),
            );
            continue;
        }
        let mut changes = Vec::new();
        let (local, domain) = match address(&alias.source, &mut changes) {
            Ok(pair) => pair,
            Err(why) => {
                report.not_mapped(&alias.row, why);
                continue;
            }
        };
        if !drafts.contains_key(&domain) {
            report.not_mapped(
                &alias.row,
                format!(
                    "the source `{}` is in no imported domain",
                    alias.source.trim()
                ),
            );
            continue;
        }
        if let Some(row_domain) = alias.domain.as_deref().and_then(|d| spelled.get(d)) {
            if *row_domain != domain {
                report.changed(
                    &alias.row,
                    format!("the row's domain is `{row_domain}`, its source is in `{domain}`: filed under `{domain}`"),
                );
            }
        }
        let local = if local.is_empty() {
            "*".to_string()
        } else {
            local
        };
        let key = format!("{local}@{domain}");
        if let Some(relay) = drafts.get_mut(&domain).and_then(|d| d.relay.as_mut()) {
            report.changed(
                &alias.row,
                format!("`{key}` is in a relay domain: a relay recipient, its destinations stay on the server it is relayed to"),
            );
            relay.recipients.insert(local);
            continue;
        }
        let parts: Vec<&str> = alias
            .destination
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.len() > 1 {
            changes.push(format!(
                "the destination list `{}` was split into {} destinations",
                alias.destination.trim(),
                parts.len()
            ));
        }
        for change in &changes {
            report.changed(&alias.row, change.clone());
        }
        let group = groups.entry(key.clone()).or_insert_with(|| Group {
            domain: domain.clone(),
            local: local.clone(),
            rows: Vec::new(),
            to: Vec::new(),
            notes: Vec::new(),
        });
        group.rows.push(alias.row.clone());
        group.notes.extend(changes);
        if parts.is_empty() {
            report.not_mapped(&alias.row, format!("`{key}` has no destination"));
        }
        for part in parts {
            let mut dest_changes = Vec::new();
            match address(part, &mut dest_changes) {
                Ok((dlocal, ddomain)) if !dlocal.is_empty() => {
                    let dest = format!("{dlocal}@{ddomain}");
                    if group.to.iter().any(|(d, _)| *d == dest) {
                        report.changed(
                            &alias.row,
                            format!("`{key}` → `{dest}` appears twice: kept once"),
                        );
                        continue;
                    }
                    for change in dest_changes {
                        report.changed(&alias.row, change);
                    }
                    group.to.push((dest, alias.row.clone()));
                }
                Ok(_) => report.not_mapped(
                    &alias.row,
                    format!("`{key}` → `{part}`: a destination needs a local part"),
                ),
                Err(why) => report.not_mapped(&alias.row, format!("`{key}` → {why}")),
            }
        }
    }

    // What an address resolves to once imported: mailboxes, alias sources,
    // and catch-alls of imported domains.
    let alias_sources: HashSet<&str> = groups.keys().map(String::as_str).collect();
    let catch_alls: HashSet<&str> = groups
        .values()
        .filter(|g| g.local == "*")
        .map(|g| g.domain.as_str())
        .collect();
    let mut kept: BTreeMap<String, Vec<DraftAlias>> = BTreeMap::new();
    for (key, group) in &groups {
        let mut to = Vec::new();
        let mut to_itself = false;
        for (dest, row) in &group.to {
            if dest == key {
                // PostfixAdmin's self-alias of a mailbox, or a tutorial's
                // "deliver to itself" row: the mailbox does that already
                // (beside other destinations: it keeps a copy).
                if mailboxes.contains_key(key) {
                    to_itself = true;
                    continue;
                }
                report.not_mapped(row, format!("`{key}` → itself, and it is no mailbox"));
                continue;
            }
            let (_, ddomain) = dest.rsplit_once('@').unwrap_or(("", ""));
            let resolves = mailboxes.contains_key(dest)
                || alias_sources.contains(dest.as_str())
                || catch_alls.contains(ddomain)
                || !drafts.contains_key(ddomain);
            if !resolves {
                report.not_mapped(
                    row,
                    format!("`{key}` → `{dest}`: points nowhere (no such mailbox or alias in `{ddomain}`)"),
                );
                continue;
            }
            to.push(dest.clone());
        }
        if mailboxes.contains_key(key) {
            if !to.is_empty() {
                report.changed(
                    &group.rows.join(", "),
                    format!(
                        "`{key}` is a mailbox that also forwards to {}: its `forward`{}",
                        to.join(", "),
                        if to_itself {
                            ", keeping a copy"
                        } else {
                            " with `keep_copy = false` (no row named the mailbox itself)"
                        }
                    ),
                );
                report.destinations += to.len();
                let domain = &group.domain;
                let mailbox = drafts
                    .get_mut(domain)
                    .and_then(|d| d.mailboxes.iter_mut().find(|m| m.user == group.local));
                if let Some(mailbox) = mailbox {
                    mailbox.forward = to
                        .into_iter()
                        .map(|d| match d.strip_suffix(&format!("@{domain}")) {
                            Some(local) => local.to_string(),
                            None => d,
                        })
                        .collect();
                    mailbox.keep_copy = to_itself;
                }
            }
            continue;
        }
        if to.is_empty() {
            if !group.to.is_empty() {
                report.not_mapped(
                    &group.rows.join(", "),
                    format!("`{key}`: no destination left"),
                );
            }
            continue;
        }
        report.destinations += to.len();
        let domain = &group.domain;
        let to = to
            .into_iter()
            .map(|d| match d.strip_suffix(&format!("@{domain}")) {
                Some(local) => local.to_string(),
                None => d,
            })
            .collect();
        kept.entry(group.domain.clone())
            .or_default()
            .push(DraftAlias {
                address: group.local.clone(),
                to,
                notes: group.notes.clone(),
            });
    }
    for (domain, aliases) in kept {
        if let Some(draft) = drafts.get_mut(&domain) {
            report.aliases += aliases.len();
            draft.aliases = aliases;
        }
    }
    for draft in drafts.values() {
        for local in ["postmaster", "abuse"] {
            let address = format!("{local}@{}", draft.ascii);
            if !mailboxes.contains_key(&address)
                && !draft
                    .aliases
                    .iter()
                    .any(|a| a.address == local || a.address == "*")
            {
                report.warn(
                    &format!("domain `{}`", draft.ascii),
                    format!("no {address} (RFC 2142): add an alias"),
                );
            }
        }
    }
    // Limits the source already broke: raised to what is there, and said.
    for draft in drafts.values_mut() {
        let row = format!("domain `{}`", draft.ascii);
        let count = draft.mailboxes.len() as u64;
        if let Some(limit) = draft.max_mailboxes.filter(|&limit| count > limit) {
            report.changed(
                &row,
                format!("{count} mailboxes, over the domain's limit of {limit}: max_mailboxes written as {count}"),
            );
            draft.notes.push(format!(
                "max_mailboxes was {limit}, below the {count} mailboxes imported"
            ));
            draft.max_mailboxes = Some(count);
        }
        let largest = draft.mailboxes.iter().filter_map(|m| m.quota_bytes).max();
        if let (Some(limit), Some(largest)) = (draft.max_quota_bytes, largest) {
            if largest > limit {
                report.changed(
                    &row,
                    format!("a mailbox quota of {largest} bytes, over the domain's maxquota of {limit} bytes: max_quota written as the largest"),
                );
                draft.notes.push(format!(
                    "max_quota was {limit} bytes, below a mailbox's quota"
                ));
                draft.max_quota_bytes = Some(largest);
            }
        }
    }
    // Alias domains: onto their target's tenant file, when it is imported.
    let mut seen_alias_domains: HashSet<String> = HashSet::new();
    for alias_domain in &source.alias_domains {
        let alias = alias_domain.alias.trim();
        let target = alias_domain.target.trim();
        let not_mapped = |report: &mut Report, why: String| {
            report.not_mapped(
                &alias_domain.row,
                format!("every address of `{alias}` to `{target}`: {why}; not imported"),
            )
        };
        if !alias_domain.active {
            not_mapped(report, "an inactive alias domain".to_string());
            continue;
        }
        let name = match normalize_domain(alias) {
            Ok(name) => name,
            Err(problem) => {
                not_mapped(
                    report,
                    format!("`{alias}` is not a valid domain ({})", problem.describe()),
                );
                continue;
            }
        };
        let target_name = spelled
            .get(alias_domain.target.as_str())
            .cloned()
            .or_else(|| normalize_domain(target).ok().map(|n| n.ascii));
        let Some(draft) = target_name.and_then(|t| drafts.get_mut(&t)) else {
            not_mapped(report, format!("`{target}` is not an imported domain"));
            continue;
        };
        if seen_alias_domains.contains(&name.ascii) {
            not_mapped(report, format!("`{}` is listed twice", name.ascii));
            continue;
        }
        seen_alias_domains.insert(name.ascii.clone());
        report.changed(
            &alias_domain.row,
            format!(
                "every address of `{alias}` to `{target}`: imported as `alias_domains = [\"{}\"]` in {}.toml",
                name.unicode, draft.ascii
            ),
        );
        draft.alias_domains.push(name.unicode.clone());
    }
    for draft in drafts.values_mut() {
        draft.alias_domains.sort();
    }
    report.domains = drafts.len();
    drafts.into_values().collect()
}

fn map_user(
    user: &SrcUser,
    options: &Options,
    spelled: &HashMap<&str, String>,
    drafts: &mut BTreeMap<String, Draft>,
    mailboxes: &mut HashMap<String, (String, String)>,
    report: &mut Report,
) {
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let (local, domain) = match address(&user.email, &mut changes) {
        Ok((local, _)) if local.is_empty() => {
            report.not_mapped(&user.row, format!("`{}` has no local part", user.email));
            return;
        }
        Ok(pair) => pair,
        Err(why) => {
            report.not_mapped(&user.row, why);
            return;
        }
    };
    let full = format!("{local}@{domain}");
    if !drafts.contains_key(&domain) {
        report.not_mapped(&user.row, format!("`{full}` is in no imported domain"));
        return;
    }
    if let Some(relay) = drafts.get_mut(&domain).and_then(|d| d.relay.as_mut()) {
        report.changed(
            &user.row,
            format!("`{full}` is in a relay domain: a relay recipient, its mailbox stays on the server it is relayed to"),
        );
        relay.recipients.insert(local);
        return;
    }
    match user.domain.as_deref().map(|d| spelled.get(d)) {
        Some(Some(row_domain)) if *row_domain != domain => changes.push(format!(
            "the row's domain is `{row_domain}`, the address is in `{domain}`: filed under `{domain}` (where Postfix and Dovecot find it)"
        )),
        None => changes.push(format!(
            "the row points at no domain: filed under `{domain}`, the address's"
        )),
        _ => {}
    }
    if let Some((_, first)) = mailboxes.get(&full) {
        report.not_mapped(
            &user.row,
            format!("`{full}` again (a duplicate of {first}): the first row is kept"),
        );
        return;
    }
    let password = match password(&user.password, options, &mut changes, &mut warnings) {
        Ok(p) => p,
        Err(why) => {
            report.not_mapped(&user.row, format!("`{full}`: {why}"));
            return;
        }
    };
    let domain_max = drafts.get(&domain).and_then(|d| d.max_quota_bytes);
    let quota_bytes = match user.quota_bytes {
        Some(q) if q > 0 => Some(q as u64),
        Some(q) => match domain_max {
            Some(max) => {
                changes.push(format!(
                    "quota {q} (unlimited): mailops has no unlimited quota, given the domain's maxquota ({max} bytes)"
                ));
                Some(max)
            }
            None => {
                changes.push(format!(
                    "quota {q} (unlimited): mailops has no unlimited quota, the domain's default quota applies"
                ));
                None
            }
        },
        None => domain_max,
    };
    let name = user
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    // A mailbox of an inactive domain keeps its own state: the tenant's
    // `state = "disabled"` refuses its mail and logins already.
    let state = if !user.active {
        changes.push("an inactive mailbox: imported as `state = \"disabled\"`".into());
        Some("disabled")
    } else {
        None
    };
    for change in &changes {
        report.changed(&user.row, change.clone());
    }
    for warning in &warnings {
        report.warn(&user.row, format!("`{full}`: {warning}"));
    }
    mailboxes.insert(full, (domain.clone(), user.row.clone()));
    report.mailboxes += 1;
    let mut notes = changes;
    notes.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
    if let Some(draft) = drafts.get_mut(&domain) {
        draft.mailboxes.push(DraftMailbox {
            user: local,
            name,
            password,
            quota_bytes,
            state,
            forward: Vec::new(),
            keep_copy: true,
            notes,
        });
    }
}

/// Domains named by the drafts (for the DKIM step).
pub(crate) fn domains(drafts: &[Draft]) -> BTreeSet<&str> {
    drafts.iter().map(|d| d.ascii.as_str()).collect()
}
