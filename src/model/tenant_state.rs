//! A tenant's state: whether its mailboxes log in and whether its mail is
//! accepted, for the whole domain at once.
//!
//! It is the `state` column of `virtual_domains` (migration 0005), read by
//! Postfix at every RCPT and by Dovecot at every login, so suspending or
//! disabling a client takes effect at the next one, with no reload. It
//! overrides the mailboxes' own states; it never deletes a row or a Maildir.

/// `state` of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum TenantState {
    /// Mail is accepted; each mailbox logs in as its own state allows.
    #[default]
    Active,
    /// Mail is still accepted and delivered; every login of every mailbox
    /// is refused.
    Suspended,
    /// All mail is refused (`550 5.2.1`), every login is refused; nothing is
    /// deleted.
    Disabled,
}

impl TenantState {
    pub(crate) const ALL: [TenantState; 3] = [
        TenantState::Active,
        TenantState::Suspended,
        TenantState::Disabled,
    ];

    /// The word of the tenant file and of the `state` column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TenantState::Active => "active",
            TenantState::Suspended => "suspended",
            TenantState::Disabled => "disabled",
        }
    }

    pub(crate) fn parse(word: &str) -> Option<TenantState> {
        TenantState::ALL.into_iter().find(|s| s.name() == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_from_their_names_and_nothing_else() {
        for state in TenantState::ALL {
            assert_eq!(TenantState::parse(state.name()), Some(state));
        }
        assert_eq!(TenantState::parse("Suspended"), None);
        assert_eq!(TenantState::parse("locked"), None);
        assert_eq!(TenantState::default(), TenantState::Active);
    }
}
