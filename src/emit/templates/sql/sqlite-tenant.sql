{{ header }}-- One tenant: its domain, mailboxes and aliases as idempotent upserts, then the
-- deletes of the mailboxes and aliases its file no longer lists (removing a
-- mailbox row never deletes mail on disk). Running it twice leaves the same rows.
-- `mailops apply` does the same with parameterised statements and shows a plan
-- first; this file is for review and for manual use, alone:
--   sqlite3 -bail DATABASE < generated/sql/sqlite/{{ file }}
-- or with every tenant in one transaction (see generated/sql/sqlite-begin.sql).
PRAGMA foreign_keys = ON;
{{ upserts }}{{ deletes }}-- Declared: generated/sql/sqlite-end.sql keeps this domain.
CREATE TEMP TABLE IF NOT EXISTS mailops_declared_domains (name TEXT NOT NULL);
INSERT INTO temp.mailops_declared_domains (name) VALUES ({{ domain }});
