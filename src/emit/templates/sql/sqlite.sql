{{ header }}-- The whole declared state as idempotent upserts, tenant by tenant (each
-- domain before its mailboxes and aliases), then the statements that remove the
-- rows no tenant declares. Running this file twice leaves the same rows.
-- `mailops apply` does the same with parameterised statements and shows a plan
-- first; this file is for review and for manual use:
--   sqlite3 DATABASE < generated/sql/sqlite.sql
PRAGMA foreign_keys = ON;
BEGIN;
{{ upserts }}
-- Remove what no tenant declares: first the mailboxes and aliases of each
-- tenant that its file no longer lists (removing a mailbox row never deletes
-- mail on disk) ...
{{ deletes }}
-- ... then every domain no tenant declares, with its aliases and mailboxes.
-- The list ends with '' (no domain is named so), so that adding a tenant adds one line.
DROP TABLE IF EXISTS temp.mailops_undeclared_domains;
CREATE TEMP TABLE mailops_undeclared_domains AS SELECT id FROM virtual_domains WHERE name NOT IN (
{{ domains }}  '');
DELETE FROM virtual_aliases WHERE domain_id IN (SELECT id FROM temp.mailops_undeclared_domains);
DELETE FROM virtual_users WHERE domain_id IN (SELECT id FROM temp.mailops_undeclared_domains);
DELETE FROM virtual_domains WHERE id IN (SELECT id FROM temp.mailops_undeclared_domains);
DROP TABLE temp.mailops_undeclared_domains;
COMMIT;
