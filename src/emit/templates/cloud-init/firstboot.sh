#!/bin/sh
{{ header }}#
# First boot of {{ hostname | comment }}, run by cloud-init after the packages and
# configs are in place; safe to run again. Tenants are not set up here.
set -eu

HOST={{ hostname | shell }}
ADMIN={{ admin_email | shell }}
VMAIL_ROOT={{ vmail_root | shell }}
DKIM_DIR={{ dkim_key_dir | shell }}
SECRETS={{ secrets_file | shell }}
PLACEHOLDER={{ placeholder | shell }}

# The one system account that owns every Maildir.
getent group {{ vmail_user | shell }} >/dev/null || groupadd --system --gid {{ vmail_gid }} {{ vmail_user | shell }}
getent passwd {{ vmail_user | shell }} >/dev/null || useradd --system --uid {{ vmail_uid }} --gid {{ vmail_gid }} \
  --home-dir "$VMAIL_ROOT" --no-create-home --shell /usr/sbin/nologin {{ vmail_user | shell }}
install -d -o {{ vmail_user | shell }} -g {{ vmail_user | shell }} -m 0750 "$VMAIL_ROOT"

# DKIM private keys and the selector map (both written by `mailops install`).
install -d -o root -g {{ rspamd_group | shell }} -m 0750 "$DKIM_DIR"
[ -e "$DKIM_DIR/{{ selector_map | shell }}" ] || install -o root -g root -m 0644 /dev/null "$DKIM_DIR/{{ selector_map | shell }}"
{% if driver == "sqlite" %}
# The SQLite routing database (created by `mailops apply`) is read by Postfix
# and Dovecot through the group mailops.
getent group mailops >/dev/null || groupadd --system mailops
usermod -a -G mailops postfix
usermod -a -G mailops dovecot
install -d -o root -g mailops -m 0750 {{ db_path_dir | shell }}
{% endif %}
{%- if mysql_local %}
# A random database password, made once and kept where `mailops install
# --secrets` reads it.
install -d -o root -g root -m 0700 "$(dirname "$SECRETS")"
if [ ! -s "$SECRETS" ]; then
  (umask 077; printf 'db_password = "%s"\n' "$(openssl rand -hex 24)" >"$SECRETS")
fi
PASSWORD=$(sed -n 's/^db_password = "\(.*\)"$/\1/p' "$SECRETS")
case "$PASSWORD" in
  '' | *[!A-Za-z0-9]*) echo "mailops-firstboot: $SECRETS: db_password must be letters and digits" >&2; exit 1 ;;
esac
systemctl enable --now mariadb
sed "s/$PLACEHOLDER/$PASSWORD/g" {{ bootstrap_sql | shell }} | mariadb
for file in{% for file in secret_files %} {{ file | shell }}{% endfor %}; do
  sed -i "s/$PLACEHOLDER/$PASSWORD/g" "$file"
done
{% endif %}
# Mail for root goes to the operator.
grep -q '^root:' /etc/aliases || printf 'root: %s\n' "$ADMIN" >>/etc/aliases
newaliases
{% if letsencrypt %}
# The host's certificate from Let's Encrypt (HTTP-01 on port 80), retried
# while the Elastic IP and the A record settle.
tries=0
until [ -e {{ tls_cert | shell }} ] || certbot certonly --standalone --non-interactive --agree-tos \
  --email "$ADMIN" --domains "$HOST" --keep-until-expiring; do
  tries=$((tries + 1))
  if [ "$tries" -ge 20 ]; then
    echo "mailops-firstboot: no certificate for $HOST; fix DNS or port 80 and run me again" >&2
    exit 1
  fi
  sleep 30
done
{% endif %}
systemctl enable rspamd dovecot postfix
systemctl restart rspamd dovecot postfix
