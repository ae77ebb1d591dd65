{{ header }}-- The whole declared state, loaded by hand with the database client in one
-- transaction: this file, then every tenant's file (generated/sql/mysql/, one
-- per domain, in any order: no tenant's rows depend on another's), then
-- mysql-end.sql, which removes every domain no tenant file declared:
--   { cat generated/sql/mysql-begin.sql; find generated/sql/mysql -name '*.sql' -exec cat {} +; cat generated/sql/mysql-end.sql; } | mysql DATABASE
-- Load all of them or none: mysql-end.sql removes the domains of the tenant
-- files that were left out. `mailops apply` does the same with parameterised
-- statements, under a lock, and shows a plan first.
SET NAMES utf8mb4;
SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');
START TRANSACTION;
DROP TEMPORARY TABLE IF EXISTS mailops_declared_domains;
CREATE TEMPORARY TABLE mailops_declared_domains AS SELECT name FROM virtual_domains LIMIT 0;
