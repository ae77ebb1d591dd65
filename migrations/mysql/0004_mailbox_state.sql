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
-- Adding the columns sets no row's mailops_changed_at (an ALTER is not an
-- UPDATE), so the drift tallies stand; the digests of 0002 now cover the new
-- columns, so each domain is read once and recorded again by the next apply.
-- One statement: one rebuild, and either all of it or nothing.

ALTER TABLE virtual_users
  ADD COLUMN state VARCHAR(16) NOT NULL DEFAULT 'active',
  ADD COLUMN protocols VARCHAR(32) NOT NULL DEFAULT 'imap,pop3,smtp';

-- More passwords of a mailbox, one per device, each for the logins in
-- `protocols`. Dovecot tries them after the mailbox password (a passdb per
-- slot, `ORDER BY name LIMIT 1 OFFSET n`: a password query must return one
-- row). The mailbox's domain owns the row.
CREATE TABLE virtual_app_passwords (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  email VARCHAR(254) NOT NULL,
  name VARCHAR(64) NOT NULL,
  password VARCHAR(255) NOT NULL,
  protocols VARCHAR(32) NOT NULL,
  mailops_changed_at DATETIME(6) NOT NULL
    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY virtual_app_passwords_email_name (email, name),
  KEY virtual_app_passwords_domain_changed (domain_id, mailops_changed_at),
  CONSTRAINT virtual_app_passwords_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The mailbox `login` may send as `sender` (Postfix's sender login map reads
-- it beside the mailboxes and aliases). The sender's domain owns the row: its
-- file grants the right.
CREATE TABLE virtual_sender_grants (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  sender VARCHAR(254) NOT NULL,
  login VARCHAR(254) NOT NULL,
  mailops_changed_at DATETIME(6) NOT NULL
    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY virtual_sender_grants_sender_login (sender, login),
  KEY virtual_sender_grants_domain_changed (domain_id, mailops_changed_at),
  CONSTRAINT virtual_sender_grants_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (4, 'mailbox_state');
