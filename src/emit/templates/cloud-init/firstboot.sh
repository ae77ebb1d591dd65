#!/bin/sh
{{ header }}#
# First boot of {% if hosts %}each mail host of [[hosts]]{% else %}{{ hostname | comment }}{% endif %}, run by cloud-init after the packages and
# configs are in place; safe to run again. It holds no secret: passwords and
# the age identity are made here, the deploy key is read from SSM. Tenants are
# not set up here: the reconcile agent (`mailops reconcile`) pulls them.
set -eu

HOST={{ hostname | shell }}
ADMIN={{ admin_email | shell }}
VMAIL_ROOT={{ vmail_root | shell }}
DKIM_DIR={{ dkim_key_dir | shell }}
SECRETS={{ secrets_file | shell }}
SETTINGS={{ settings_file | shell }}
IDENTITY={{ identity_file | shell }}
DEPLOY_KEY={{ deploy_key_file | shell }}
KNOWN_HOSTS={{ known_hosts_file | shell }}
HOST_CONFIG={{ host_config_file | shell }}
MAILOPS=/usr/local/bin/mailops

fail() {
  echo "mailops-firstboot: $*" >&2
  exit 1
}
{%- if hosts %}

# Which of the platform's hosts this is: the instance's tag {{ host_tag }}
# (terraform/host/main.tf), read over IMDSv2; its hostname from this table.
IMDS=http://169.254.169.254/latest
TOKEN=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/api/token") ||
  fail "no IMDSv2 token"
NAME=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/meta-data/tags/instance/{{ host_tag }}") ||
  fail "no tag {{ host_tag }} in the instance metadata (instance_metadata_tags)"
case "$NAME" in
{%- for host in hosts %}
  {{ host.name | shell }}) HOST={{ host.hostname | shell }} ;;
{%- endfor %}
  *) fail "tag {{ host_tag }}: not a host of mailops.toml" ;;
esac
hostnamectl set-hostname "$HOST"
grep -q " $HOST " /etc/hosts || printf '127.0.1.1 %s %s\n' "$HOST" "${HOST%%.*}" >>/etc/hosts
{%- endif %}

# The settings terraform/main.tf put in the user data: `key=value` lines, read
# without evaluating them, each checked again before use.
[ -r "$SETTINGS" ] || fail "$SETTINGS is missing: pass the user data through terraform/main.tf"
setting() {
  sed -n "s/^$1=//p" "$SETTINGS" | head -n 1
}
REGION=$(setting region)
RELEASE_URL=$(setting release_url)
RELEASE_SHA256=$(setting release_sha256)
REPO_URL=$(setting repo_url)
REPO_BRANCH=$(setting repo_branch)
REPO_KNOWN_HOSTS=$(setting repo_known_hosts)
DEPLOY_KEY_PARAMETER=$(setting deploy_key_parameter)
RECIPIENT_PARAMETER=$(setting recipient_parameter)
case "$REGION" in '' | *[!a-z0-9-]*) fail "region: not a region name" ;; esac
case "$RELEASE_URL" in https://*) ;; *) fail "release_url: not an https:// URL" ;; esac
case "$RELEASE_SHA256" in *[!0-9a-f]*) fail "release_sha256: not hex" ;; esac
[ "$(printf '%s' "$RELEASE_SHA256" | wc -c)" -eq 64 ] || fail "release_sha256: not 64 hex digits"
case "$REPO_URL" in '' | *[!A-Za-z0-9._~:/@+=,%-]*) fail "repo_url: empty or an unexpected character" ;; esac
case "$REPO_BRANCH" in '' | *[!A-Za-z0-9._/-]*) fail "repo_branch: empty or an unexpected character" ;; esac
case "$DEPLOY_KEY_PARAMETER" in '' | *[!A-Za-z0-9_./-]*) fail "deploy_key_parameter: not a parameter name" ;; esac
case "$RECIPIENT_PARAMETER" in *[!A-Za-z0-9_./-]*) fail "recipient_parameter: not a parameter name" ;; esac
export AWS_DEFAULT_REGION="$REGION"
install -d -o root -g root -m 0700 "$(dirname "$SECRETS")"

# The mailops binary, used only when its SHA-256 is the one main.tf names.
if ! printf '%s  %s\n' "$RELEASE_SHA256" "$MAILOPS" | sha256sum -c --status - 2>/dev/null; then
  download=$(mktemp)
  curl --fail --silent --show-error --location --proto '=https' --retry 5 \
    --output "$download" "$RELEASE_URL"
  if ! printf '%s  %s\n' "$RELEASE_SHA256" "$download" | sha256sum -c --status -; then
    rm -f "$download"
    fail "refusing $RELEASE_URL: its SHA-256 is not $RELEASE_SHA256"
  fi
  install -o root -g root -m 0755 "$download" "$MAILOPS"
  rm -f "$download"
fi
# Its man pages and bash completion, made by the binary itself (so they match its --help).
"$MAILOPS" man --out /usr/local/share/man/man1
install -d -o root -g root -m 0755 /etc/bash_completion.d
"$MAILOPS" completions bash >/etc/bash_completion.d/mailops

# The host's age identity (made once, never leaves the host); its recipient
# goes to the console, and to SSM when main.tf names a parameter.
if [ ! -s "$IDENTITY" ]; then
  (umask 077 && age-keygen -o "$IDENTITY" 2>/dev/null)
fi
RECIPIENT=$(age-keygen -y "$IDENTITY")
echo "mailops-firstboot: the age recipient of $HOST is $RECIPIENT"
echo "mailops-firstboot: add it to [secrets] recipients in mailops.toml, run mailops keys reencrypt, merge"
if [ -n "$RECIPIENT_PARAMETER" ]; then
  aws ssm put-parameter --name "$RECIPIENT_PARAMETER" --type String \
    --value "$RECIPIENT" --overwrite >/dev/null
fi

# The one system account that owns every Maildir.
getent group {{ vmail_user | shell }} >/dev/null || groupadd --system --gid {{ vmail_gid }} {{ vmail_user | shell }}
getent passwd {{ vmail_user | shell }} >/dev/null || useradd --system --uid {{ vmail_uid }} --gid {{ vmail_gid }} \
  --home-dir "$VMAIL_ROOT" --no-create-home --shell /usr/sbin/nologin {{ vmail_user | shell }}
install -d -o {{ vmail_user | shell }} -g {{ vmail_user | shell }} -m 0750 "$VMAIL_ROOT"

# DKIM private keys, the selector map and the send-limit map (all written by
# `mailops install`; Rspamd reads the maps, which must exist when it starts).
install -d -o root -g {{ rspamd_group | shell }} -m 0750 "$DKIM_DIR"
[ -e "$DKIM_DIR/{{ selector_map | shell }}" ] || install -o root -g root -m 0644 /dev/null "$DKIM_DIR/{{ selector_map | shell }}"
[ -e "$DKIM_DIR/{{ rate_limit_map | shell }}" ] || install -o root -g root -m 0644 /dev/null "$DKIM_DIR/{{ rate_limit_map | shell }}"
{% if driver == "sqlite" %}
# The SQLite routing database (created by the first reconcile) is read by
# Postfix and Dovecot through the group mailops.
getent group mailops >/dev/null || groupadd --system mailops
usermod -a -G mailops postfix
usermod -a -G mailops dovecot
install -d -o root -g mailops -m 0750 {{ db_path_dir | shell }}
{% endif %}
{%- if mysql_local %}
# Two random database passwords, made once and kept in the secrets file (0600):
# db_password for the services' read-only account, database_url for the
# account mailops writes with (from this host only).
PLACEHOLDER={{ placeholder | shell }}
WRITER_PLACEHOLDER={{ writer_placeholder | shell }}
if [ ! -s "$SECRETS" ]; then
  (
    umask 077
    printf 'db_password = "%s"\n' "$(openssl rand -hex 24)" >"$SECRETS.new"
    printf '%s\n' {{ writer_url_line | shell }} |
      sed "s/$WRITER_PLACEHOLDER/$(openssl rand -hex 24)/" >>"$SECRETS.new"
    mv "$SECRETS.new" "$SECRETS"
  )
fi
PASSWORD=$(sed -n 's/^db_password = "\(.*\)"$/\1/p' "$SECRETS")
WRITER=$(sed -n 's/^database_url = "mysql:\/\/[^:]*:\([^@]*\)@.*$/\1/p' "$SECRETS")
for value in "$PASSWORD" "$WRITER"; do
  case "$value" in
    '' | *[!A-Za-z0-9]*) fail "$SECRETS: the passwords must be letters and digits" ;;
  esac
done
systemctl enable --now mariadb
sed -e "s/$PLACEHOLDER/$PASSWORD/g" -e "s/$WRITER_PLACEHOLDER/$WRITER/g" {{ bootstrap_sql | shell }} | mariadb
{%- if secret_files %}
for file in{% for file in secret_files %} {{ file | shell }}{% endfor %}; do
  sed -i "s/$PLACEHOLDER/$PASSWORD/g" "$file"
done
{%- endif %}
{% endif %}
# Mail for root goes to the operator.
grep -q '^root:' /etc/aliases || printf 'root: %s\n' "$ADMIN" >>/etc/aliases
newaliases

# Outbound DANE: the host resolves through its own unbound, which validates
# DNSSEC; Postfix trusts the AD bit of that resolver (`trust-ad` lets every
# other program on the host see it too). Nothing else may rewrite
# resolv.conf: systemd-resolved is turned off where it runs, and a dhclient
# hook ({{ dhclient_hook | comment }}) keeps dhclient from putting the VPC's resolver back.
# (Restarted: the package started it before its config above was written.)
systemctl enable unbound
systemctl restart unbound
tries=0
until unbound-control status >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || fail "unbound does not answer; see journalctl -u unbound"
  sleep 1
done
if systemctl is-active --quiet systemd-resolved; then
  systemctl disable --now systemd-resolved
fi
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\noptions edns0 trust-ad\n' >/etc/resolv.conf

# nginx: 80 (HTTP-01 challenges), 443 (MTA-STS, autoconfig).
install -d -o root -g root -m 0755 {{ acme_root | shell }} {{ web_root | shell }}
rm -f /etc/nginx/sites-enabled/default
systemctl enable nginx
systemctl restart nginx
{% if letsencrypt %}
# The host's certificate from Let's Encrypt (HTTP-01 through nginx's
# webroot), retried while the Elastic IP and
# the A record settle. Renewals keep its key
# (`--reuse-key`, saved in the renewal settings), so the host's DANE TLSA
# record (`mailops tls tlsa`, 3 1 1: the key's digest) stays true.
tries=0
until [ -e {% if hosts %}"/etc/letsencrypt/live/$HOST/fullchain.pem"{% else %}{{ tls_cert | shell }}{% endif %} ] || certbot certonly --webroot --webroot-path {{ acme_root | shell }} \
  --non-interactive --agree-tos \
  --email "$ADMIN" --domains "$HOST" --keep-until-expiring --reuse-key; do
  tries=$((tries + 1))
  if [ "$tries" -ge 20 ]; then
    fail "no certificate for $HOST; fix DNS or port 80 and run me again"
  fi
  sleep 30
done
{% endif %}
{%- if hosts %}
# The mail services start when the first install of this host's configs
# (below: the reconcile, `host` in host.toml) reloads them (reload-or-restart).
systemctl enable {% if srs %}postsrsd {% endif %}rspamd dovecot postfix
{%- else %}
{%- if srs %}
# postsrsd first: Postfix asks it for every sender and bounce recipient.
systemctl enable postsrsd
systemctl restart postsrsd
{%- endif %}
systemctl enable rspamd dovecot postfix
systemctl restart rspamd dovecot postfix
{%- endif %}

# The repo's read-only deploy key, from its SSM SecureString; the SSH host key
# of the git server when main.tf names it (else the first one seen is kept).
if [ ! -s "$DEPLOY_KEY" ]; then
  (
    umask 077
    aws ssm get-parameter --name "$DEPLOY_KEY_PARAMETER" --with-decryption \
      --query Parameter.Value --output text >"$DEPLOY_KEY.new"
    mv "$DEPLOY_KEY.new" "$DEPLOY_KEY"
  )
fi
if [ -n "$REPO_KNOWN_HOSTS" ] && [ ! -s "$KNOWN_HOSTS" ]; then
  printf '%s\n' "$REPO_KNOWN_HOSTS" >"$KNOWN_HOSTS"
fi
GIT_SSH_COMMAND={{ git_ssh_command | shell }}
export GIT_SSH_COMMAND

# The reconcile agent's host file (kept if it exists: an operator may edit it).
if [ ! -e "$HOST_CONFIG" ]; then
  {
    printf '%s\n' {{ host_config_head | shell }}
    printf 'repo = "%s"\nbranch = "%s"\n' "$REPO_URL" "$REPO_BRANCH"
    printf '%s\n' {{ host_config_tail | shell }}
{%- if hosts %}
    printf 'host = "%s"\n' "$NAME"
{%- endif %}
  } >"$HOST_CONFIG.new"
  chmod 0644 "$HOST_CONFIG.new"
  mv "$HOST_CONFIG.new" "$HOST_CONFIG"
fi

# The first reconcile: it migrates the routing database to the schema of
# migrations/ (embedded in the binary), applies the rows, installs the configs
# and the keys. On a brand-new host it cannot decrypt the keys until the
# recipient above is in mailops.toml; the timer then tries again.
if ! "$MAILOPS" reconcile --once --config "$HOST_CONFIG"; then
  echo "mailops-firstboot: the first reconcile did not succeed (see: mailops status --config $HOST_CONFIG); the timer tries again"
fi
systemctl daemon-reload
systemctl enable --now mailops-reconcile.timer
systemctl enable --now mailops-web-certs.path mailops-web-certs.timer
systemctl start --no-block mailops-web-certs.service
