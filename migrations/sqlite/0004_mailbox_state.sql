-- mailops migration 0004: a mailbox's state and the logins it may use, its
-- app passwords, and the addresses it may send as.
--
-- `state` is `active` (receives mail, logs in), `locked` (receives mail, every
-- login refused) or `disabled` (mail refused with 550 5.2.1, logins refused;
-- the Maildir is kept). `protocols` lists the logins the mailbox may use,
-- comma-separated in a fixed order (`imap,pop3,smtp`); Dovecot's password
-- query looks for `,<service>,` in `,<protocols>,`. Every existing mailbox
-- becomes active with every protocol, which is what it was: this migration
-- adopts a database in place and changes no login and no delivery.
--
-- SQLite adds a column with a constant default without rewriting the table,
-- and fires no trigger: the edit counters of 0002 stand; the digests now
-- cover the new columns, so each domain is read once and recorded again by
-- the next apply.

ALTER TABLE virtual_users ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE virtual_users ADD COLUMN protocols TEXT NOT NULL DEFAULT 'imap,pop3,smtp';

-- More passwords of a mailbox, one per device, each for the logins in
-- `protocols`. Dovecot tries them after the mailbox password (a passdb per
-- slot, `ORDER BY name LIMIT 1 OFFSET n`: a password query must return one
-- row). The mailbox's domain owns the row.
CREATE TABLE virtual_app_passwords (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  password TEXT NOT NULL,
  protocols TEXT NOT NULL,
  UNIQUE (email, name)
);
CREATE INDEX virtual_app_passwords_domain ON virtual_app_passwords (domain_id);

-- The mailbox `login` may send as `sender` (Postfix's sender login map reads
-- it beside the mailboxes and aliases). The sender's domain owns the row: its
-- file grants the right.
CREATE TABLE virtual_sender_grants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  sender TEXT NOT NULL,
  login TEXT NOT NULL,
  UNIQUE (sender, login)
);
CREATE INDEX virtual_sender_grants_domain ON virtual_sender_grants (domain_id);

-- Writes to them raise the domain's edit counter, as writes to the mailboxes
-- and aliases do (0002).
CREATE TRIGGER virtual_app_passwords_edited_insert AFTER INSERT ON virtual_app_passwords
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id; END;
CREATE TRIGGER virtual_app_passwords_edited_update AFTER UPDATE ON virtual_app_passwords
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id); END;
CREATE TRIGGER virtual_app_passwords_edited_delete AFTER DELETE ON virtual_app_passwords
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id; END;
CREATE TRIGGER virtual_sender_grants_edited_insert AFTER INSERT ON virtual_sender_grants
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id; END;
CREATE TRIGGER virtual_sender_grants_edited_update AFTER UPDATE ON virtual_sender_grants
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id); END;
CREATE TRIGGER virtual_sender_grants_edited_delete AFTER DELETE ON virtual_sender_grants
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id; END;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (4, 'mailbox_state');
