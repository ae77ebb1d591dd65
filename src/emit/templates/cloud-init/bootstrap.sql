{{ header }}--
-- Run once as root by mailops-firstboot, with the placeholders replaced by the
-- passwords it made: the routing database, the account Postfix and Dovecot
-- read it with (SELECT only), and the account mailops writes with (its
-- tables and rows, through the local socket only; migrations need the DDL
-- rights).
CREATE DATABASE IF NOT EXISTS {{ db_name | mysql_ident }} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
{%- for host in db_client_hosts %}
CREATE USER IF NOT EXISTS {{ db_user | mysql_string }}@{{ host | mysql_string }} IDENTIFIED BY {{ placeholder | mysql_string }};
ALTER USER {{ db_user | mysql_string }}@{{ host | mysql_string }} IDENTIFIED BY {{ placeholder | mysql_string }};
GRANT SELECT ON {{ db_name | mysql_ident }}.* TO {{ db_user | mysql_string }}@{{ host | mysql_string }};
{%- endfor %}
-- The writer is 'localhost' only (its loopback-address account, made by an
-- older first boot, is dropped): mailops reaches it through the server's Unix
-- socket, `?socket=` in database_url.
CREATE USER IF NOT EXISTS {{ writer_user | mysql_string }}@'localhost' IDENTIFIED BY {{ writer_placeholder | mysql_string }};
ALTER USER {{ writer_user | mysql_string }}@'localhost' IDENTIFIED BY {{ writer_placeholder | mysql_string }};
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES, TRIGGER, LOCK TABLES, CREATE TEMPORARY TABLES ON {{ db_name | mysql_ident }}.* TO {{ writer_user | mysql_string }}@'localhost';
{%- for host in db_client_hosts %}
{%- if host != "localhost" %}
DROP USER IF EXISTS {{ writer_user | mysql_string }}@{{ host | mysql_string }};
{%- endif %}
{%- endfor %}
