#!/usr/bin/env bash
# Freeze the daemon with PyInstaller inside the bookworm root (build-root.sh), so the bundle needs
# no Python on the PBX and no glibc newer than bookworm's 2.36.
#
# The bundle (a one-folder build: crm-connector/crm-connector + crm-connector/_internal) is cached
# under ${CRM_PBX_CACHE:-~/.cache/crm-connector}/frozen-<hash>, <hash> taken over the daemon's
# sources, pyproject.toml, this script and the root's recipe: unchanged sources cost nothing.
# Prints the bundle's directory on stdout as its last line. Needs root (chroot).
#
# Usage: mikopbx-module/packaging/freeze.sh [--print-path]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
cache="${CRM_PBX_CACHE:-${HOME:-/root}/.cache/crm-connector}"
log() { echo "freeze: $*" >&2; }

sources_hash() {
    (
        cd "${repo}"
        git ls-files -co --exclude-standard connector adapters pyproject.toml 2>/dev/null \
            || find connector adapters pyproject.toml -type f
    ) | grep -v -E '(__pycache__|\.pyc$)' | LC_ALL=C sort | while read -r f; do
        [[ -f "${repo}/${f}" ]] && sha256sum "${repo}/${f}" | cut -c1-64
    done
    sha256sum "${here}/freeze.sh" "${here}/build-root.sh" | cut -c1-64
}
hash="$(sources_hash | sha256sum | cut -c1-12)"
out="${cache}/frozen-${hash}"
if [[ "${1:-}" == "--print-path" ]]; then
    echo "${out}/crm-connector"
    exit 0
fi
if [[ -x "${out}/crm-connector/crm-connector" ]]; then
    touch "${out}"  # in use: the clean-up below spares bundles used within a day
    echo "${out}/crm-connector"
    exit 0
fi

root="$(bash "${here}/build-root.sh" | tail -1)"
mkdir -p "${cache}"
exec 9>"${cache}/.freeze.lock"
flock 9
if [[ -x "${out}/crm-connector/crm-connector" ]]; then
    echo "${out}/crm-connector"
    exit 0
fi
start=$(date +%s)
job="build/job-$$"
work="${root}/${job}"
trap 'rm -rf --one-file-system "${work}"' EXIT
mkdir -p "${work}/src"
# The daemon's sources only (no tests, no virtualenv, no caches).
tar -C "${repo}" --exclude='__pycache__' --exclude='*.pyc' -cf - connector adapters pyproject.toml README.md \
    | tar -C "${work}/src" -xf -
cat >"${work}/entry.py" <<'EOF'
"""Entry point of the frozen daemon: the same `crm-connector` command as the package's."""

import sys

from connector.cli import main

sys.exit(main())
EOF
in_root() {
    chroot "${root}" /usr/bin/env -i HOME=/root PATH=/opt/freeze/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 "$@"
}
cp "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "${root}/etc/ssl/certs/ca-certificates.crt" \
    2>/dev/null || true
log "installing the daemon and its dependencies into the freeze root"
# A fresh virtualenv per build: the previous build's packages never leak into this one.
in_root /usr/bin/python3 -m venv "/${job}/venv" >&2
# PyInstaller must run from the environment it analyses: the versions the root pinned, from pip's cache.
tools="$(in_root /opt/freeze/bin/pip freeze --disable-pip-version-check | grep -i -E '^(pyinstaller|pyinstaller-hooks-contrib|altgraph)==' | tr '\n' ' ')"
in_root "/${job}/venv/bin/pip" install -q --disable-pip-version-check "/${job}/src" tzdata certifi ${tools} >&2
log "running PyInstaller"
in_root "/${job}/venv/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --name crm-connector --onedir \
    --distpath "/${job}/dist" --workpath "/${job}/work" --specpath "/${job}" \
    --collect-submodules connector --collect-submodules adapters \
    --collect-data connector --collect-data adapters --collect-data tzdata --collect-data certifi \
    "/${job}/entry.py" >&2
"${work}/dist/crm-connector/crm-connector" --version >&2
rm -rf "${out}.tmp"
mkdir -p "${out}.tmp"
cp -a "${work}/dist/crm-connector" "${out}.tmp/"
rm -rf "${out}"
mv "${out}.tmp" "${out}"
# Bundles of other sources (other checkouts) a day old are dead weight; younger ones may be in use.
find "${cache}" -maxdepth 1 -name 'frozen-*' -type d -mmin +1440 ! -path "${out}" \
    -exec rm -rf --one-file-system {} + 2>/dev/null || true
log "frozen in $(( $(date +%s) - start )) s: $(du -sh "${out}/crm-connector" | cut -f1)"
echo "${out}/crm-connector"
