#!/usr/bin/env bash
# Installs the Debian packages the tests need, once: chromium (browser tests) and debootstrap
# (the real Asterisk root). Needs root; `apt-get update` runs only when something is missing.
set -euo pipefail
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
# The MikoPBX module: php-cli (php -l, the hook tests), readelf (the frozen bundle's glibc needs).
command -v php >/dev/null 2>&1 || need+=(php-cli)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
dpkg -s libjs-jquery >/dev/null 2>&1 || need+=(libjs-jquery)   # amoCRM's jQuery, for the widget's test page
# Bitrix24 recordings in Asterisk's other formats (gsm, sln, ulaw, alaw) are converted to mp3.
command -v sox >/dev/null 2>&1 || need+=(sox)
dpkg -s libsox-fmt-mp3 >/dev/null 2>&1 || need+=(libsox-fmt-mp3)
# The CRM's mailbox is tested against a real IMAP server started on loopback by the tests.
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
# The built-in CRM's second back end: the tests start their own PostgreSQL (initdb in a temp dir).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "system-deps: installed ${need[*]}"
fi
