{{ header }}-- The whole declared state, loaded by hand with the database client in one
-- transaction: this file, then every tenant's file (generated/sql/sqlite/, one
-- per domain, in any order: no tenant's rows depend on another's), then
-- sqlite-end.sql, which removes every domain no tenant file declared:
--   { cat generated/sql/sqlite-begin.sql; find generated/sql/sqlite -name '*.sql' -exec cat {} +; cat generated/sql/sqlite-end.sql; } | sqlite3 -bail DATABASE
-- Load all of them or none: sqlite-end.sql removes the domains of the tenant
-- files that were left out. `mailops apply` does the same with parameterised
-- statements, under a lock, and shows a plan first.
PRAGMA foreign_keys = ON;
BEGIN;
DROP TABLE IF EXISTS temp.mailops_declared_domains;
CREATE TEMP TABLE mailops_declared_domains (name TEXT NOT NULL);
