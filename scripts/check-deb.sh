#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The .deb as a user gets it: cpack makes it from a Release build tree,
# dpkg installs it, the installed /usr/bin/vucert certifies the embedded
# default (it must find /usr/bin/vucert-server and
# /usr/share/vucert/profiles/vucert-server.json by itself) and exits 0,
# man finds vucert(1), and dpkg removes the package again, also when a
# step fails. scripts/test.sh runs it on the clang Release build.
#
#   scripts/check-deb.sh BUILD_DIR
#
# Installing needs root (or sudo without a password); without either, or
# when a vucert package is already installed (it would be replaced, then
# removed), the check is skipped with a message and exit 0.
set -euo pipefail
build=${1:?usage: scripts/check-deb.sh BUILD_DIR}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
        echo "check-deb: skipped: installing a .deb needs root or sudo"
        exit 0
    fi
    SUDO=(sudo -n)
fi
if dpkg-query -W -f='${Status}' vucert 2>/dev/null | grep -q "ok installed"; then
    echo "check-deb: skipped: a vucert package is installed already," \
         "and this check would remove it"
    exit 0
fi

tmp=$(mktemp -d)
installed=0
cleanup() {
    if [ "$installed" = 1 ]; then
        "${SUDO[@]}" dpkg -r vucert >/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# -B: the package alone in a fresh folder, whatever the build tree holds
cpack --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log" >&2; exit 1; }
deb=$(ls "$tmp"/pkg/vucert_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)

installed=1
"${SUDO[@]}" dpkg -i "$deb" >/dev/null

# From a folder that holds neither the source nor the build tree.
cd "$tmp"
rc=0
/usr/bin/vucert certify --report-dir "$tmp/reports" >"$tmp/certify.log" 2>&1 ||
    rc=$?
if [ "$rc" -ne 0 ]; then
    tail -n 30 "$tmp/certify.log" >&2
    echo "check-deb: the installed vucert certify exited $rc" >&2
    exit 1
fi
profile=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["server"]["profile"])' \
    "$tmp/reports/results.json")
if [ "$profile" != /usr/share/vucert/profiles/vucert-server.json ]; then
    echo "check-deb: the installed vucert used the profile '$profile'," \
         "not the installed one" >&2
    exit 1
fi

man_note="man-db not installed: man page not looked up"
if command -v man >/dev/null; then
    if ! man -w vucert >/dev/null 2>&1; then
        # Slim images tell dpkg to leave man pages out.
        if grep -qs 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
            man_note="dpkg leaves man pages out here: not looked up"
        else
            echo "check-deb: man -w vucert does not find the page" >&2
            exit 1
        fi
    else
        man_note="man -w vucert: $(man -w vucert)"
    fi
fi

"${SUDO[@]}" dpkg -r vucert >/dev/null
installed=0
if [ -e /usr/bin/vucert ] || [ -e /usr/share/vucert ]; then
    echo "check-deb: dpkg -r vucert left files behind" >&2
    exit 1
fi
echo "check-deb: $(basename "$deb") ($(stat -c %s "$deb") bytes," \
     "Depends: $depends) installed, /usr/bin/vucert certify exit 0 with" \
     "the installed profile, $man_note; removed"
