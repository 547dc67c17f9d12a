#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install the Debian packages vucert needs, only those that are missing.
#
#   scripts/deps.sh            what every test needs (scripts/test.sh)
#   scripts/deps.sh --certify  only what building vucert and certifying
#                              need (scripts/certify.sh): a C toolchain,
#                              cmake and json-c; not clang, LLVM 19,
#                              AFL++, valgrind, chromium, cmocka or pytest
set -euo pipefail

# Building vucert and vucert-server. libc6-dev is only recommended by
# gcc, and apt does not take recommends here.
CERTIFY_PKGS=(cmake make gcc libc6-dev pkg-config libjson-c-dev)

# libclang-rt-dev: libFuzzer and clang's sanitizer runtimes (only
# recommended by clang); afl++: the AFL++ build of the fuzz targets and
# of vucert-server for coverage-guided live fuzzing; valgrind: the live
# fuzzing test of a server run under valgrind; chromium: the test that
# renders matrix.html headless; python3-jsonschema: the tests that
# validate profiles and results.json against their schemas; python3-lxml
# and python3-junitparser: the test that validates junit.xml against
# tests/e2e/junit.xsd and reads it as a JUnit consumer does.
# clang-19 and its runtimes (in bookworm's archive) build
# the libFuzzer targets: its libFuzzer keeps rare features in a bitset
# (LLVM #65288), where clang 14's searches a list for every feature of
# every run, a third of fuzz_server's time (fuzz/README.md).
# dpkg-dev: dpkg-shlibdeps, for the Depends line of the .deb that
# scripts/check-deb.sh builds and installs.
PKGS=("${CERTIFY_PKGS[@]}" clang clang-format
      libcmocka-dev python3 python3-pytest python3-pytest-xdist
      libclang-rt-dev afl++ valgrind chromium python3-jsonschema
      python3-lxml python3-junitparser
      clang-19 libclang-rt-19-dev dpkg-dev)
case "${1:-}" in
"") ;;
--certify) PKGS=("${CERTIFY_PKGS[@]}") ;;
*)
    echo "usage: scripts/deps.sh [--certify]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    }
    SUDO=sudo
fi
echo "deps.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
