{{ header }}-- Last of the load described in sqlite-begin.sql: remove every domain that no
-- tenant file loaded before it declared, with its aliases, mailboxes, app
-- passwords and send-as grants, and commit. When no file before it made the
-- table mailops_declared_domains (sqlite-begin.sql or a tenant file), every
-- statement fails and nothing is removed; when no tenant file was loaded,
-- nothing is removed either.
DELETE FROM virtual_app_passwords WHERE EXISTS (SELECT 1 FROM temp.mailops_declared_domains) AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM temp.mailops_declared_domains));
DELETE FROM virtual_sender_grants WHERE EXISTS (SELECT 1 FROM temp.mailops_declared_domains) AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM temp.mailops_declared_domains));
DELETE FROM virtual_aliases WHERE EXISTS (SELECT 1 FROM temp.mailops_declared_domains) AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM temp.mailops_declared_domains));
DELETE FROM virtual_users WHERE EXISTS (SELECT 1 FROM temp.mailops_declared_domains) AND domain_id IN (SELECT id FROM virtual_domains WHERE name NOT IN (SELECT name FROM temp.mailops_declared_domains));
DELETE FROM virtual_domains WHERE EXISTS (SELECT 1 FROM temp.mailops_declared_domains) AND name NOT IN (SELECT name FROM temp.mailops_declared_domains);
DROP TABLE temp.mailops_declared_domains;
COMMIT;
