#!/usr/bin/env bash
# Build (once) a Debian bookworm root with Python 3.11 and PyInstaller, to freeze the daemon in.
#
# A frozen binary runs only where glibc is at least as new as where it was built. MikoPBX's
# Docker images and the community builds are Debian bookworm (glibc 2.36); building on the
# machine's own (newer) Debian would tie the bundle to a newer glibc than the PBX has.
# The root is cached under ${CRM_PBX_CACHE:-~/.cache/crm-connector}/freeze-root-<hash>, where
# <hash> is taken over this script, like tests/pbx/build-root.sh caches the Asterisk root.
# Prints the root's path on stdout as its last line. Needs root (debootstrap, chroot).
#
# Usage: mikopbx-module/packaging/build-root.sh [--print-path]
set -euo pipefail

RECIPE_VERSION=1
SUITE=bookworm
ARCH=amd64
PACKAGES="python3 python3-venv python3-dev binutils ca-certificates"
PYINSTALLER="pyinstaller==6.22.3"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CRM_PBX_CACHE:-${HOME:-/root}/.cache/crm-connector}"
hash="$(sha256sum "${here}/build-root.sh" | cut -c1-12)"
root="${cache}/freeze-root-${hash}"

if [[ "${1:-}" == "--print-path" ]]; then
    echo "${root}"
    exit 0
fi

log() { echo "freeze-root: $*" >&2; }

# pip inside the root trusts what the host's pip trusts (a proxy's CA on some CI machines): the
# host's bundle replaces the root's, and the root's commands run with a clean environment.
install_ca() {
    local bundle="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
    if [[ -f "${bundle}" ]]; then
        cp "${bundle}" "$1/etc/ssl/certs/ca-certificates.crt"
    fi
}
in_root() {
    chroot "${work}" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

if [[ -x "${root}/opt/freeze/bin/pyinstaller" && -f "${root}/.built" ]]; then
    echo "${root}"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    log "must run as root (debootstrap and chroot need it)"
    exit 2
fi
mkdir -p "${cache}"
# One builder at a time: a second caller waits, then finds the finished root.
exec 9>"${cache}/.freeze-build.lock"
flock 9
if [[ -x "${root}/opt/freeze/bin/pyinstaller" && -f "${root}/.built" ]]; then
    echo "${root}"
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

work="${root}.tmp.$$"
trap 'rm -rf --one-file-system "${work}"' EXIT
rm -rf --one-file-system "${work}"
start=$(date +%s)
log "debootstrap ${SUITE}/${ARCH} into ${work} (recipe ${RECIPE_VERSION})"
debootstrap --variant=minbase --arch="${ARCH}" "${SUITE}" "${work}" >&2
cp /etc/resolv.conf "${work}/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"${work}/usr/sbin/policy-rc.d"
chmod +x "${work}/usr/sbin/policy-rc.d"
echo 'Acquire::Check-Valid-Until "false";' >"${work}/etc/apt/apt.conf.d/99no-check-valid-until"
log "installing ${PACKAGES}"
chroot "${work}" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
chroot "${work}" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends ${PACKAGES} >&2
chroot "${work}" apt-get clean >&2
log "installing ${PYINSTALLER} from PyPI"
chroot "${work}" /usr/bin/python3 -m venv /opt/freeze >&2
install_ca "${work}"
in_root /opt/freeze/bin/pip install -q --disable-pip-version-check --upgrade pip "${PYINSTALLER}" >&2
# No pipe here: under pipefail, head closing early would fail the build at random (SIGPIPE).
chroot "${work}" /usr/bin/ldd --version >"${work}/.glibc-version.full"
head -1 "${work}/.glibc-version.full" >"${work}/.glibc-version"
date -u +%FT%TZ >"${work}/.built"
mv "${work}" "${root}"
trap - EXIT
# Roots of older recipes are dead weight once nobody has used them for a day.
for old in "${cache}"/freeze-root-*; do
    [[ "${old}" == "${root}" || "${old}" == *.tmp.* || ! -d "${old}" ]] && continue
    [[ -n "$(find "${old}" -maxdepth 0 -mmin -1440)" ]] && continue
    rm -rf --one-file-system "${old}"
done
log "built ($(cat "${root}/.glibc-version")) in $(( $(date +%s) - start )) s"
echo "${root}"
