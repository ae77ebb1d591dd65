-- mailops migration 0001: the routing tables Postfix and Dovecot query, and
-- the bookkeeping tables of `mailops apply`.
--
-- Natural keys are unique (domain name; mailbox address; alias source and
-- destination). A domain cannot be deleted while a mailbox or alias still
-- refers to it (ON DELETE RESTRICT; SQLite enforces it with
-- `PRAGMA foreign_keys = ON`, which mailops sets on every connection).

CREATE TABLE mailops_schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE virtual_domains (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE virtual_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  email TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL,
  quota_bytes INTEGER NOT NULL DEFAULT 0,
  name TEXT NULL
);
CREATE INDEX virtual_users_domain ON virtual_users (domain_id);

-- A catch-all alias has the source `@domain`.
CREATE TABLE virtual_aliases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  source TEXT NOT NULL,
  destination TEXT NOT NULL,
  UNIQUE (source, destination)
);
CREATE INDEX virtual_aliases_domain ON virtual_aliases (domain_id);
CREATE INDEX virtual_aliases_destination ON virtual_aliases (destination);

-- One row per `mailops apply` that changed something.
CREATE TABLE mailops_apply_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  mailops_version TEXT NOT NULL,
  git_revision TEXT NULL,
  plan_hash TEXT NOT NULL,
  rows_inserted INTEGER NOT NULL,
  rows_updated INTEGER NOT NULL,
  rows_deleted INTEGER NOT NULL
);

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (1, 'routing_tables');
