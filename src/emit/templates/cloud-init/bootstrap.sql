{{ header }}--
-- Run once as root by mailops-firstboot, with the placeholder replaced by the
-- password it made: the routing database, and the account Postfix and Dovecot
-- use to read it (read-only; `mailops apply` writes with its own account).
CREATE DATABASE IF NOT EXISTS {{ db_name | mysql_ident }} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
{%- for host in db_client_hosts %}
CREATE USER IF NOT EXISTS {{ db_user | mysql_string }}@{{ host | mysql_string }} IDENTIFIED BY {{ placeholder | mysql_string }};
ALTER USER {{ db_user | mysql_string }}@{{ host | mysql_string }} IDENTIFIED BY {{ placeholder | mysql_string }};
GRANT SELECT ON {{ db_name | mysql_ident }}.* TO {{ db_user | mysql_string }}@{{ host | mysql_string }};
{%- endfor %}
