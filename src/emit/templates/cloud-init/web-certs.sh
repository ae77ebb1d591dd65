#!/bin/sh
{{ header }}#
# A certificate per line of {{ list }} (`<domain> <names>`): lineage
# mailops-<domain>, HTTP-01 through nginx's webroot. Lineages of domains no
# longer listed are deleted. Run when the list changes, and daily.
set -u
LIST={{ list | shell }}
[ -r "$LIST" ] || exit 0
status=0
while read -r domain names; do
  case "$domain" in '' | '#'*) continue ;; esac
  case "$domain$names" in *[!a-z0-9.\ -]*) status=1; continue ;; esac
  set --
  for name in $names; do
    set -- "$@" --domain "$name"
  done
  certbot certonly --webroot --webroot-path {{ acme_root | shell }} --non-interactive --agree-tos \
    --email {{ admin_email | shell }} --cert-name "mailops-$domain" --expand --keep-until-expiring "$@" ||
    status=1
done <"$LIST"
for dir in /etc/letsencrypt/live/mailops-*; do
  domain=${dir##*/mailops-}
  [ -d "$dir" ] && ! awk -v d="$domain" '$1 == d { f = 1 } END { exit !f }' "$LIST" &&
    { certbot delete --non-interactive --cert-name "mailops-$domain" || status=1; }
done
exit "$status"
