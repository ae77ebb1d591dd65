{{ header }}-- One tenant: its domain, mailboxes and aliases as idempotent upserts, then the
-- deletes of the mailboxes and aliases its file no longer lists (removing a
-- mailbox row never deletes mail on disk). Running it twice leaves the same rows.
-- `mailops apply` does the same with parameterised statements and shows a plan
-- first; this file is for review and for manual use, alone:
--   mysql DATABASE < generated/sql/mysql/{{ file }}
-- or with every tenant in one transaction (see generated/sql/mysql-begin.sql).
SET NAMES utf8mb4;
SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');
{{ upserts }}{{ deletes }}-- Declared: generated/sql/mysql-end.sql keeps this domain.
CREATE TEMPORARY TABLE IF NOT EXISTS mailops_declared_domains AS SELECT name FROM virtual_domains LIMIT 0;
INSERT INTO mailops_declared_domains (name) VALUES ({{ domain }});
