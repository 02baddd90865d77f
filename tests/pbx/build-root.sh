#!/usr/bin/env bash
# Build (once) a Debian sid root file system with Asterisk installed, for the PBX harness.
#
# The root is cached under ${CRM_PBX_CACHE:-~/.cache/crm-connector}/asterisk-root-<hash>, where
# <hash> is taken over this script, so editing the recipe builds a fresh root and an unchanged
# recipe costs nothing. Prints the root's path on stdout as its last line. Needs root.
#
# Usage: tests/pbx/build-root.sh [--print-path]   (--print-path: print the path, build nothing)
set -euo pipefail

# Bump when the recipe changes in a way the hash of this file would not show.
RECIPE_VERSION=1
SUITE=sid
PACKAGES="asterisk"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CRM_PBX_CACHE:-${HOME:-/root}/.cache/crm-connector}"
hash="$(sha256sum "${here}/build-root.sh" | cut -c1-12)"
root="${cache}/asterisk-root-${hash}"

if [[ "${1:-}" == "--print-path" ]]; then
    echo "${root}"
    exit 0
fi

log() { echo "build-root: $*" >&2; }

if [[ -x "${root}/usr/sbin/asterisk" && -f "${root}/.built" ]]; then
    echo "${root}"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    log "must run as root (debootstrap and chroot need it)"
    exit 2
fi

mkdir -p "${cache}"
# One builder at a time: a second caller waits, then finds the finished root.
exec 9>"${cache}/.build.lock"
flock 9
if [[ -x "${root}/usr/sbin/asterisk" && -f "${root}/.built" ]]; then
    echo "${root}"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

work="${root}.tmp.$$"
# A failed build leaves nothing half-made behind (no mounts are used while building).
trap 'rm -rf --one-file-system "${work}"' EXIT
rm -rf --one-file-system "${work}"
start=$(date +%s)
log "debootstrap ${SUITE} into ${work} (recipe ${RECIPE_VERSION})"
debootstrap --variant=minbase "${SUITE}" "${work}" >&2
# apt inside the chroot needs a resolv.conf to reach the mirror, and no daemons may start.
cp /etc/resolv.conf "${work}/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"${work}/usr/sbin/policy-rc.d"
chmod +x "${work}/usr/sbin/policy-rc.d"
# The mirror may serve a sid Release whose Valid-Until lies in the past of this machine's clock;
# its signature is still checked, only the expiry is not.
echo 'Acquire::Check-Valid-Until "false";' >"${work}/etc/apt/apt.conf.d/99no-check-valid-until"
log "installing ${PACKAGES}"
chroot "${work}" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
chroot "${work}" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends ${PACKAGES} >&2
chroot "${work}" apt-get clean >&2
# Keep the packaged configs aside: each instance copies them, then overlays its own.
cp -a "${work}/etc/asterisk" "${work}/etc/asterisk.dist"
chroot "${work}" /usr/sbin/asterisk -V >"${work}/.asterisk-version"
date -u +%FT%TZ >"${work}/.built"
mv "${work}" "${root}"
trap - EXIT
# Older roots of previous recipes are dead weight, unless something still runs or is mounted
# in them (another session's Asterisk).
in_use() {
    grep -qs " $1[/ ]" /proc/mounts && return 0
    for proc_root in /proc/[0-9]*/root; do
        [[ "$(readlink "${proc_root}" 2>/dev/null)" == "$1"* ]] && return 0
    done
    return 1
}
for old in "${cache}"/asterisk-root-*; do
    [[ "${old}" == "${root}" || "${old}" == *.tmp.* || ! -d "${old}" ]] && continue
    in_use "${old}" || rm -rf --one-file-system "${old}"
done
log "built $(cat "${root}/.asterisk-version") in $(( $(date +%s) - start )) s"
echo "${root}"
