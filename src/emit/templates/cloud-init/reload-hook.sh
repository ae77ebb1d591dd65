#!/bin/sh
{{ header }}#
# Let's Encrypt renewed the mail host's certificate: Postfix and Dovecot load it.
systemctl reload postfix dovecot
