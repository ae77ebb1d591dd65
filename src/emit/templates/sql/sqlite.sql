{{ header }}-- The whole declared state as idempotent upserts, tenant by tenant (each
-- domain before its mailboxes and aliases), then the statements that remove the
-- rows no tenant declares. Running this file twice leaves the same rows.
-- `mailops apply` does the same with parameterised statements and shows a plan
-- first; this file is for review and for manual use:
--   sqlite3 DATABASE < generated/sql/sqlite.sql
PRAGMA foreign_keys = ON;
BEGIN;
{% for t in tenants %}
-- {{ t.name }} ({{ t.file }})
INSERT INTO virtual_domains (name) VALUES ({{ t.name | sql_sqlite }}) ON CONFLICT (name) DO NOTHING;
{% for m in t.mailboxes -%}
INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) SELECT id, {{ m.email | sql_sqlite }}, {{ m.password | sql_sqlite }}, {{ m.quota_bytes }}, {% if m.name is string %}{{ m.name | sql_sqlite }}{% else %}NULL{% endif %} FROM virtual_domains WHERE name = {{ t.name | sql_sqlite }} ON CONFLICT (email) DO UPDATE SET domain_id = excluded.domain_id, password = excluded.password, quota_bytes = excluded.quota_bytes, name = excluded.name;
{% endfor -%}
{% for a in t.aliases -%}
INSERT INTO virtual_aliases (domain_id, source, destination) SELECT id, {{ a.source | sql_sqlite }}, {{ a.destination | sql_sqlite }} FROM virtual_domains WHERE name = {{ t.name | sql_sqlite }} ON CONFLICT (source, destination) DO UPDATE SET domain_id = excluded.domain_id;
{% endfor -%}
{% endfor %}
-- Remove what no tenant declares: first the mailboxes and aliases of each
-- tenant that its file no longer lists (removing a mailbox row never deletes
-- mail on disk) ...
{% for t in tenants -%}
DELETE FROM virtual_aliases WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = {{ t.name | sql_sqlite }}){% if t.aliases %} AND (source, destination) NOT IN (VALUES {% for a in t.aliases %}{% if not loop.first %}, {% endif %}({{ a.source | sql_sqlite }}, {{ a.destination | sql_sqlite }}){% endfor %}){% endif %};
DELETE FROM virtual_users WHERE domain_id = (SELECT id FROM virtual_domains WHERE name = {{ t.name | sql_sqlite }}){% if t.mailboxes %} AND email NOT IN ({% for m in t.mailboxes %}{% if not loop.first %}, {% endif %}{{ m.email | sql_sqlite }}{% endfor %}){% endif %};
{% endfor %}
-- ... then every domain no tenant declares, with its aliases and mailboxes.
-- The list ends with '' (no domain is named so), so that adding a tenant adds one line.
DROP TABLE IF EXISTS temp.mailops_undeclared_domains;
CREATE TEMP TABLE mailops_undeclared_domains AS SELECT id FROM virtual_domains WHERE name NOT IN (
{% for t in tenants %}  {{ t.name | sql_sqlite }},
{% endfor %}  '');
DELETE FROM virtual_aliases WHERE domain_id IN (SELECT id FROM temp.mailops_undeclared_domains);
DELETE FROM virtual_users WHERE domain_id IN (SELECT id FROM temp.mailops_undeclared_domains);
DELETE FROM virtual_domains WHERE id IN (SELECT id FROM temp.mailops_undeclared_domains);
DROP TABLE temp.mailops_undeclared_domains;
COMMIT;
