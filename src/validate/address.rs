//! Local parts and addresses (RFC 5321 dot-atom).

use crate::validate::domain::{DomainProblem, normalize_domain};

pub(crate) const MAX_LOCAL_PART: usize = 64;
pub(crate) const MAX_ADDRESS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressProblem {
    EmptyLocalPart,
    LocalPartTooLong(usize),
    LocalPartCharacter(char),
    LocalPartDots,
    AddressTooLong(usize),
    Domain(DomainProblem),
    NotAnAddress,
}

impl AddressProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            AddressProblem::EmptyLocalPart => "the local part is empty".into(),
            AddressProblem::LocalPartTooLong(n) => {
                format!("the local part is {n} octets long; at most {MAX_LOCAL_PART} are allowed")
            }
            AddressProblem::LocalPartCharacter(c) => {
                format!("`{c}` is not allowed in a local part")
            }
            AddressProblem::LocalPartDots => {
                "a local part may not start or end with a dot, or hold two dots in a row".into()
            }
            AddressProblem::AddressTooLong(n) => {
                format!("the address is {n} octets long; at most {MAX_ADDRESS} are allowed")
            }
            AddressProblem::Domain(problem) => problem.describe(),
            AddressProblem::NotAnAddress => "not an address: expected `local@domain`".into(),
        }
    }
}

/// RFC 5322 `atext`, less the quote characters refused everywhere (see `text.rs`)
/// and `/`, which would make a Maildir path (`<vmail>/%d/%n`) reach into
/// another directory.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '*'
                | '+'
                | '-'
                | '='
                | '?'
                | '^'
                | '_'
                | '{'
                | '|'
                | '}'
                | '~'
        )
}

/// Check a local part and return it lowercased.
pub(crate) fn normalize_local_part(input: &str) -> Result<String, AddressProblem> {
    check_local_part(input)?;
    Ok(input.to_ascii_lowercase())
}

/// The address `local@domain` of a local part, checked and lowercased, in
/// one allocation (a million mailboxes go through here).
pub(crate) fn local_address(local: &str, domain: &str) -> Result<String, AddressProblem> {
    check_local_part(local)?;
    let mut address = String::with_capacity(local.len() + 1 + domain.len());
    address.push_str(local);
    address.make_ascii_lowercase();
    address.push('@');
    address.push_str(domain);
    Ok(address)
}

/// Check a local part (RFC 5321 dot-atom, at most 64 octets).
fn check_local_part(input: &str) -> Result<(), AddressProblem> {
    if input.is_empty() {
        return Err(AddressProblem::EmptyLocalPart);
    }
    if input.len() > MAX_LOCAL_PART {
        return Err(AddressProblem::LocalPartTooLong(input.len()));
    }
    // Characters are decoded only when a byte is not ASCII atext (which
    // a million mailbox users never have).
    if !input.bytes().all(|b| b == b'.' || is_atext(char::from(b))) {
        if let Some(c) = input.chars().find(|c| *c != '.' && !is_atext(*c)) {
            return Err(AddressProblem::LocalPartCharacter(c));
        }
    }
    let bytes = input.as_bytes();
    if bytes.first() == Some(&b'.')
        || bytes.last() == Some(&b'.')
        || bytes.windows(2).any(|pair| pair == b"..")
    {
        return Err(AddressProblem::LocalPartDots);
    }
    Ok(())
}

/// An address (already normalised) that fits the address columns
/// (VARCHAR(254) on MariaDB, and the same limit on SQLite).
pub(crate) fn check_address_length(address: String) -> Result<String, AddressProblem> {
    if address.len() > MAX_ADDRESS {
        Err(AddressProblem::AddressTooLong(address.len()))
    } else {
        Ok(address)
    }
}

/// Check a full address `local@domain`; returns the local part and the A-label domain.
pub(crate) fn normalize_address(input: &str) -> Result<(String, String), AddressProblem> {
    let (local, domain) = input.rsplit_once('@').ok_or(AddressProblem::NotAnAddress)?;
    let local = normalize_local_part(local)?;
    let domain = normalize_domain(domain).map_err(AddressProblem::Domain)?;
    let length = local.len() + 1 + domain.ascii.len();
    if length > MAX_ADDRESS {
        return Err(AddressProblem::AddressTooLong(length));
    }
    Ok((local, domain.ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_parts_follow_dot_atom() {
        assert_eq!(
            normalize_local_part("Alice.Liddell+tag").unwrap(),
            "alice.liddell+tag"
        );
        assert_eq!(
            normalize_local_part(""),
            Err(AddressProblem::EmptyLocalPart)
        );
        assert_eq!(
            normalize_local_part(".a"),
            Err(AddressProblem::LocalPartDots)
        );
        assert_eq!(
            normalize_local_part("a..b"),
            Err(AddressProblem::LocalPartDots)
        );
        assert_eq!(
            normalize_local_part("a b"),
            Err(AddressProblem::LocalPartCharacter(' '))
        );
        assert_eq!(
            normalize_local_part("a@b"),
            Err(AddressProblem::LocalPartCharacter('@'))
        );
        assert_eq!(
            normalize_local_part(&"x".repeat(65)),
            Err(AddressProblem::LocalPartTooLong(65))
        );
        assert!(normalize_local_part(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn addresses_normalise_both_halves() {
        assert_eq!(
            normalize_address("Bob@Bücher.Example").unwrap(),
            ("bob".to_string(), "xn--bcher-kva.example".to_string())
        );
        assert_eq!(normalize_address("bob"), Err(AddressProblem::NotAnAddress));
        let long = format!(
            "{}@{}.example",
            "a".repeat(60),
            vec!["b".repeat(63); 3].join(".")
        );
        assert!(matches!(
            normalize_address(&long),
            Err(AddressProblem::AddressTooLong(_))
        ));
    }
}
