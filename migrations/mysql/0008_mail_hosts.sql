-- mailops migration 0008: several mail hosts (issue 18).
--
-- `mail_hosts` lists the platform's hosts ([[hosts]] in mailops.toml): the
-- name a mailbox's home names, the host's name in DNS, and its address in
-- the private network, where the other hosts reach it (LMTP delivery and
-- proxied logins go to a mailbox's home host there). A single-host platform
-- has no rows in it.
-- `virtual_users.home` is the name of the mailbox's home host; NULL means
-- "the only host" (a single-host platform). It is checked against the hosts
-- by mailops validate, not by a foreign key: a host is removed from
-- mailops.toml only after its mailboxes have moved.
-- A new table and a nullable column: an existing database is adopted in
-- place, nothing in it changes.

CREATE TABLE mail_hosts (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  hostname VARCHAR(253) NOT NULL,
  private_ip VARCHAR(45) NOT NULL,
  UNIQUE KEY mail_hosts_hostname (hostname),
  UNIQUE KEY mail_hosts_private_ip (private_ip)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE virtual_users ADD COLUMN home VARCHAR(32) NULL DEFAULT NULL;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (8, 'mail_hosts');
