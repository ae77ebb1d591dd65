-- mailops migration 0005: a tenant's state, for the whole domain.
--
-- `state` is `active` (mail accepted; each mailbox logs in as its own state
-- allows), `suspended` (mail still accepted and delivered, every login of
-- every mailbox refused) or `disabled` (all mail refused with 550 5.2.1,
-- every login refused; no row and no Maildir deleted). Postfix reads it at
-- RCPT (recipient-state.cf, virtual-mailboxes.cf) and Dovecot at every login
-- (its password queries join the mailbox's domain). Every existing domain
-- becomes active, which is what it was: this migration adopts a database in
-- place and changes no login and no delivery.
--
-- Domain rows are read whole by every plan, so no digest or edit counter
-- needs to cover the column. SQLite adds a column with a constant default
-- without rewriting the table, and fires no trigger.

ALTER TABLE virtual_domains ADD COLUMN state TEXT NOT NULL DEFAULT 'active';

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (5, 'tenant_state');
