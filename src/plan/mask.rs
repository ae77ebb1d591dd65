//! What a plan may show of a generated file: its diff, with every password
//! hash of the SQL files replaced by its scheme.
//!
//! The SQL files hold every mailbox's password hash. A plan is printed in CI
//! logs and pull-request comments, so their diffs never show one: a hash is
//! shown as its scheme, `'{ARGON2ID}…'`, and as `'{ARGON2ID}…(hash changed)'`
//! on an added line whose mailbox's removed line had another hash (as the
//! row section says "password changed").

use std::collections::BTreeMap;

/// The diff as a plan may show it: the SQL files' without password hashes.
pub(crate) fn shown_diff(path: &str, unified: String) -> String {
    if path.starts_with("sql/") {
        hide_password_hashes(&unified)
    } else {
        unified
    }
}

/// A unified diff of a SQL file with every password hash replaced by its
/// scheme: `'{ARGON2ID}…'`, or `'{ARGON2ID}…(hash changed)'` on an added
/// line whose mailbox has a removed line with another hash.
///
/// A mailbox row is a line `(…'address', 'hash', quota, …` (SQLite) or
/// `(@domain_id, 'address', 'hash', quota, …` (MySQL): its second string
/// literal followed by a number. An alias row has two literals and no
/// number after them; other lines are not rows. Addresses and hashes hold no
/// quote (validation refuses them), so literals are found by their quotes.
pub(crate) fn hide_password_hashes(unified: &str) -> String {
    // Removed lines: address → hash.
    let mut removed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut in_hunks = false;
    for line in unified.split_inclusive('\n') {
        in_hunks |= line.starts_with("@@");
        if in_hunks {
            if let Some(row) = line.strip_prefix('-') {
                if let Some(hash) = secret_row(row) {
                    removed.insert(hash.address, &row[hash.start..hash.end]);
                }
            }
        }
    }
    let mut out = String::with_capacity(unified.len());
    let mut in_hunks = false;
    for line in unified.split_inclusive('\n') {
        in_hunks |= line.starts_with("@@");
        let (sign, row) = line.split_at(line.len().min(1));
        let hash = if in_hunks && matches!(sign, " " | "-" | "+") {
            secret_row(row)
        } else {
            None
        };
        let Some(hash) = hash else {
            out.push_str(line);
            continue;
        };
        let secret = &row[hash.start..hash.end];
        let scheme = secret
            .strip_prefix('{')
            .and_then(|rest| rest.find('}'))
            .map_or("", |end| &secret[..end + 2]);
        let changed = sign == "+" && removed.get(hash.address).is_some_and(|old| *old != secret);
        out.push_str(sign);
        out.push_str(&row[..hash.start]);
        out.push_str(scheme);
        out.push('…');
        if changed {
            out.push_str("(hash changed)");
        }
        out.push_str(&row[hash.end..]);
    }
    out
}

/// Where a mailbox row's password hash lies (byte range of the literal's
/// contents), and its address.
struct HashAt<'a> {
    address: &'a str,
    start: usize,
    end: usize,
}

/// A row that holds a password hash: a mailbox's or an app password's.
fn secret_row(row: &str) -> Option<HashAt<'_>> {
    mailbox_row(row).or_else(|| app_password_row(row))
}

/// An app password row, `(…'address', 'name', 'hash', 'protocols')`: three
/// literals, the third a `{SCHEME}…` hash (validation requires the scheme),
/// then the protocols literal and the row's end. Its key is the address and
/// the name together.
fn app_password_row(row: &str) -> Option<HashAt<'_>> {
    if !row.starts_with('(') {
        return None;
    }
    // Four literals, each `'…'`, separated by `, ` exactly.
    let mut literals: Vec<(usize, usize)> = Vec::with_capacity(4);
    let mut from = 0;
    for _ in 0..4 {
        let start = from + row[from..].find('\'')? + 1;
        let end = start + row[start..].find('\'')?;
        if let Some(&(_, previous_end)) = literals.last() {
            if &row[previous_end + 1..start - 1] != ", " {
                return None;
            }
        }
        literals.push((start, end));
        from = end + 1;
    }
    let (address_start, _) = literals[0];
    let (_, name_end) = literals[1];
    let (start, end) = literals[2];
    let (_, protocols_end) = literals[3];
    if !row[start..end].starts_with('{') || !row[protocols_end + 1..].starts_with(')') {
        return None;
    }
    Some(HashAt {
        address: &row[address_start..name_end],
        start,
        end,
    })
}

fn mailbox_row(row: &str) -> Option<HashAt<'_>> {
    if !row.starts_with('(') {
        return None;
    }
    let literal = |from: usize| -> Option<(usize, usize)> {
        let start = from + row[from..].find('\'')? + 1;
        let end = start + row[start..].find('\'')?;
        Some((start, end))
    };
    let (a_start, a_end) = literal(0)?;
    let (start, end) = literal(a_end + 1)?;
    // Between the two literals only a comma and space.
    if row[a_end + 1..start - 1].trim() != "," {
        return None;
    }
    let after = row[end + 1..].strip_prefix(", ")?;
    if !after.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(HashAt {
        address: &row[a_start..a_end],
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(old: &str, new: &str) -> String {
        let unified = similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .header("a", "b")
            .to_string();
        shown_diff("sql/mysql/x.example.sql", unified)
    }

    #[test]
    fn sql_diffs_show_hash_schemes_never_hashes() {
        let old = "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) VALUES\n\
            (@domain_id, 'a@x.example', '{ARGON2ID}$argon2id$SECRET-A', 1, 'A'),\n\
            (@domain_id, 'b@x.example', '{BLF-CRYPT}$2y$SECRET-B', 1, NULL),\n\
            ('c@x.example', '{SHA512-CRYPT}$6$SECRET-C', 1, '{not} a hash')\n\
            INSERT INTO virtual_aliases (domain_id, source, destination) VALUES\n\
            ('{x}@x.example', '{y}z@x.example')\n";
        let new = old
            .replace("SECRET-A", "SECRET-A2")
            .replace("$6$SECRET-C', 1,", "$6$SECRET-C', 2,");
        let change = change(old, &new);
        assert!(!change.contains("SECRET"), "{}", change);
        assert!(
            change.contains("+(@domain_id, 'a@x.example', '{ARGON2ID}…(hash changed)', 1, 'A'),"),
            "{}",
            change
        );
        assert!(
            change.contains("-(@domain_id, 'a@x.example', '{ARGON2ID}…', 1, 'A'),"),
            "{}",
            change
        );
        // Same hash, other quota: the scheme only; names and aliases are not hashes.
        assert!(
            change.contains("+('c@x.example', '{SHA512-CRYPT}…', 2, '{not} a hash')"),
            "{}",
            change
        );
        assert!(
            change.contains(" ('{x}@x.example', '{y}z@x.example')"),
            "{}",
            change
        );
        // Other files are shown as they are.
        let unified = similar::TextDiff::from_lines(old, new.as_str())
            .unified_diff()
            .to_string();
        assert!(shown_diff("dovecot/x.conf", unified).contains("SECRET-A2"));
    }

    /// App password rows hold hashes too (issue 14): masked like a
    /// mailbox's, keyed by address and name; the send-as grants and the
    /// protocols are shown.
    #[test]
    fn app_password_hashes_are_masked_in_sql_diffs() {
        let old = "INSERT INTO virtual_app_passwords (domain_id, email, name, password, protocols) VALUES\n\
            (@domain_id, 'a@x.example', 'phone', '{ARGON2ID}$argon2id$SECRET-P', 'imap,smtp'),\n\
            ('a@x.example', 'tablet', '{BLF-CRYPT}$2y$SECRET-T', 'imap')\n\
            INSERT INTO virtual_sender_grants (domain_id, sender, login) VALUES\n\
            ('{s}ales@x.example', 'a@x.example')\n";
        let new = old
            .replace("SECRET-P", "SECRET-P2")
            .replace("SECRET-T', 'imap'", "SECRET-T', 'imap,pop3'");
        let change = change(old, &new);
        assert!(!change.contains("SECRET"), "{change}");
        assert!(
            change.contains(
                "+(@domain_id, 'a@x.example', 'phone', '{ARGON2ID}…(hash changed)', 'imap,smtp'),"
            ),
            "{change}"
        );
        assert!(
            change.contains("+('a@x.example', 'tablet', '{BLF-CRYPT}…', 'imap,pop3')"),
            "{change}"
        );
        assert!(
            change.contains(" ('{s}ales@x.example', 'a@x.example')"),
            "{change}"
        );
    }
}
