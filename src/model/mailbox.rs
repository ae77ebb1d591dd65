//! What a mailbox may do beyond receiving mail: its state, the logins it may
//! use, the addresses it may send as, and its app passwords.
//!
//! These are columns and rows of the routing database that Postfix and
//! Dovecot read at every login and every RCPT, so that a change is in effect
//! at the next one, with no reload.

use crate::source::Location;

/// The most app passwords a mailbox may have: Dovecot tries one passdb per
/// slot (a password query returns one row), so each slot is a query at a
/// failed login.
pub(crate) const MAX_APP_PASSWORDS: usize = 8;

/// `state` of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum MailboxState {
    /// Receives mail, logs in.
    #[default]
    Active,
    /// Receives mail; every login is refused.
    Locked,
    /// Mail is refused (`550 5.2.1`), logins are refused; the Maildir is kept.
    Disabled,
}

impl MailboxState {
    pub(crate) const ALL: [MailboxState; 3] = [
        MailboxState::Active,
        MailboxState::Locked,
        MailboxState::Disabled,
    ];

    /// The word of the tenant file and of the `state` column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MailboxState::Active => "active",
            MailboxState::Locked => "locked",
            MailboxState::Disabled => "disabled",
        }
    }

    pub(crate) fn parse(word: &str) -> Option<MailboxState> {
        MailboxState::ALL.into_iter().find(|s| s.name() == word)
    }
}

/// A login protocol, named as Dovecot names the service (`%s`): Postfix's
/// SASL logins on submission come as `smtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    pub(crate) const ALL: [Protocol; 3] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }

    pub(crate) fn parse(word: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == word)
    }
}

/// A set of protocols, held as the `protocols` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Protocols([bool; 3]);

impl Default for Protocols {
    /// Every protocol: a mailbox that names none may use all the platform offers.
    fn default() -> Self {
        Protocols([true; 3])
    }
}

impl Protocols {
    pub(crate) fn none() -> Protocols {
        Protocols([false; 3])
    }

    pub(crate) fn insert(&mut self, protocol: Protocol) {
        self.0[protocol as usize] = true;
    }

    pub(crate) fn contains(self, protocol: Protocol) -> bool {
        self.0[protocol as usize]
    }

    /// The `protocols` column: the names in a fixed order, comma-separated
    /// (`imap,pop3,smtp`; empty for none). The queries look for `,<service>,`
    /// in `,<column>,`. A constant per set: the digest of a million
    /// mailboxes reads it without an allocation each.
    pub(crate) fn column(self) -> &'static str {
        const COLUMNS: [&str; 8] = [
            "",
            "imap",
            "pop3",
            "imap,pop3",
            "smtp",
            "imap,smtp",
            "pop3,smtp",
            "imap,pop3,smtp",
        ];
        let bits = Protocol::ALL
            .into_iter()
            .enumerate()
            .filter(|(_, p)| self.contains(*p))
            .map(|(i, _)| 1usize << i)
            .sum::<usize>();
        COLUMNS[bits]
    }
}

/// An address a mailbox may send as (`send_as`), full and lowercase.
#[derive(Debug, Clone)]
pub(crate) struct SendAs {
    pub(crate) address: String,
    pub(crate) origin: Location,
}

/// A mailbox of another tenant that may send as this address (`allow_send_as`).
#[derive(Debug, Clone)]
pub(crate) struct Grantee {
    pub(crate) address: String,
}

/// An app password of a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct AppPassword {
    pub(crate) name: String,
    /// Dovecot `{SCHEME}hash`.
    pub(crate) password: String,
    pub(crate) protocols: Protocols,
    pub(crate) origin: Location,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocols_column_lists_names_in_a_fixed_order() {
        assert_eq!(Protocols::default().column(), "imap,pop3,smtp");
        let mut some = Protocols::none();
        some.insert(Protocol::Smtp);
        some.insert(Protocol::Imap);
        assert_eq!(some.column(), "imap,smtp");
        assert_eq!(Protocols::none().column(), "");
    }

    #[test]
    fn every_set_of_protocols_has_its_column() {
        for bits in 0..8usize {
            let mut set = Protocols::none();
            let mut names = Vec::new();
            for (i, protocol) in Protocol::ALL.into_iter().enumerate() {
                if bits & (1 << i) != 0 {
                    set.insert(protocol);
                    names.push(protocol.name());
                }
            }
            assert_eq!(set.column(), names.join(","), "{bits}");
        }
    }

    #[test]
    fn states_and_protocols_read_back_their_names() {
        for state in MailboxState::ALL {
            assert_eq!(MailboxState::parse(state.name()), Some(state));
        }
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::parse(protocol.name()), Some(protocol));
        }
        assert_eq!(MailboxState::parse("Locked"), None);
        assert_eq!(Protocol::parse("pop"), None);
    }
}
