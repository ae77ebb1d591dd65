{{ header }}-- Last of the load described in mysql-begin.sql: remove every domain that no
-- tenant file loaded before it declared, with its aliases, mailboxes, app
-- passwords and send-as grants, and commit. When no file before it made the
-- table mailops_declared_domains (mysql-begin.sql or a tenant file), every
-- statement fails and nothing is removed; when no tenant file was loaded,
-- nothing is removed either.
SET @mailops_declared = (SELECT COUNT(*) FROM mailops_declared_domains);
DELETE FROM virtual_app_passwords WHERE @mailops_declared > 0 AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM mailops_declared_domains));
DELETE FROM virtual_sender_grants WHERE @mailops_declared > 0 AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM mailops_declared_domains));
DELETE FROM virtual_aliases WHERE @mailops_declared > 0 AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM mailops_declared_domains));
DELETE FROM virtual_users WHERE @mailops_declared > 0 AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM mailops_declared_domains));
DELETE FROM virtual_domains WHERE @mailops_declared > 0 AND name NOT IN (SELECT name FROM mailops_declared_domains);
DROP TEMPORARY TABLE mailops_declared_domains;
COMMIT;
