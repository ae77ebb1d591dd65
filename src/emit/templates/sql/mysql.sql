{{ header }}-- The whole declared state as idempotent upserts, tenant by tenant (each
-- domain before its mailboxes and aliases), then the statements that remove the
-- rows no tenant declares. Running this file twice leaves the same rows.
-- `mailops apply` does the same with parameterised statements and shows a plan
-- first; this file is for review and for manual use:
--   mysql DATABASE < generated/sql/mysql.sql
SET NAMES utf8mb4;
SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');
START TRANSACTION;
{% for t in tenants %}
-- {{ t.name }} ({{ t.file }})
INSERT INTO virtual_domains (name) VALUES ({{ t.name | sql_mysql }}) ON DUPLICATE KEY UPDATE name = VALUES(name);
{% for m in t.mailboxes -%}
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) SELECT id, {{ m.email | sql_mysql }}, {{ m.password | sql_mysql }}, {{ m.quota_bytes }}, {% if m.name is string %}{{ m.name | sql_mysql }}{% else %}NULL{% endif %} FROM virtual_domains WHERE name = {{ t.name | sql_mysql }} ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id), password = VALUES(password), quota_bytes = VALUES(quota_bytes), name = VALUES(name);
{% endfor -%}
{% for a in t.aliases -%}
INSERT INTO virtual_aliases (domain_id, source, destination) SELECT id, {{ a.source | sql_mysql }}, {{ a.destination | sql_mysql }} FROM virtual_domains WHERE name = {{ t.name | sql_mysql }} ON DUPLICATE KEY UPDATE domain_id = VALUES(domain_id);
{% endfor -%}
{% endfor %}
-- Remove what no tenant declares: first the mailboxes and aliases of each
-- tenant that its file no longer lists (removing a mailbox row never deletes
-- mail on disk) ...
{% for t in tenants -%}
DELETE FROM virtual_aliases WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = {{ t.name | sql_mysql }}){% if t.aliases %} AND (source, destination) NOT IN ({% for a in t.aliases %}{% if not loop.first %}, {% endif %}({{ a.source | sql_mysql }}, {{ a.destination | sql_mysql }}){% endfor %}){% endif %};
DELETE FROM virtual_users WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = {{ t.name | sql_mysql }}){% if t.mailboxes %} AND email NOT IN ({% for m in t.mailboxes %}{% if not loop.first %}, {% endif %}{{ m.email | sql_mysql }}{% endfor %}){% endif %};
{% endfor %}
-- ... then every domain no tenant declares, with its aliases and mailboxes.
-- The list ends with '' (no domain is named so), so that adding a tenant adds one line.
DROP TEMPORARY TABLE IF EXISTS mailops_undeclared_domains;
CREATE TEMPORARY TABLE mailops_undeclared_domains AS SELECT id FROM virtual_domains WHERE name NOT IN (
{% for t in tenants %}  {{ t.name | sql_mysql }},
{% endfor %}  '');
DELETE FROM virtual_aliases WHERE domain_id IN (SELECT id FROM mailops_undeclared_domains);
DELETE FROM virtual_users WHERE domain_id IN (SELECT id FROM mailops_undeclared_domains);
DELETE FROM virtual_domains WHERE id IN (SELECT id FROM mailops_undeclared_domains);
DROP TEMPORARY TABLE mailops_undeclared_domains;
COMMIT;
