#!/bin/sh
{{ header }}#
# One Let's Encrypt certificate per tenant domain (and alias domain) for the
# names nginx serves for it, as listed in {{ list }} (`<domain> <name>…` a
# line, written by `mailops install`): lineage mailops-<domain>, HTTP-01
# through nginx's webroot {{ acme_root }}, so renewals (certbot.timer) work
# while nginx holds port 80. nginx finds each certificate by the name asked
# for, at each handshake: no reload is needed. Lineages of domains no longer
# listed are deleted. A domain whose DNS does not point here yet fails and is
# tried again by the daily timer.
set -u
LIST={{ list | shell }}
WEBROOT={{ acme_root | shell }}
ADMIN={{ admin_email | shell }}
LIVE=/etc/letsencrypt/live
[ -r "$LIST" ] || exit 0
install -d -m 0755 "$WEBROOT"
status=0
while read -r domain names; do
  case "$domain" in '' | '#'*) continue ;; esac
  case "$domain$names" in *[!a-z0-9.\ -]*) echo "mailops-web-certs: skipping the line of $domain" >&2; status=1; continue ;; esac
  set --
  for name in $names; do
    set -- "$@" --domain "$name"
  done
  certbot certonly --webroot --webroot-path "$WEBROOT" --non-interactive --agree-tos \
    --email "$ADMIN" --cert-name "mailops-$domain" --expand --keep-until-expiring "$@" ||
    { echo "mailops-web-certs: no certificate for $names yet (DNS?)" >&2; status=1; }
done <"$LIST"
for dir in "$LIVE"/mailops-*; do
  [ -d "$dir" ] || continue
  domain=${dir##*/mailops-}
  if ! awk -v d="$domain" '$1 == d { found = 1 } END { exit !found }' "$LIST"; then
    certbot delete --non-interactive --cert-name "mailops-$domain" || status=1
  fi
done
exit "$status"
