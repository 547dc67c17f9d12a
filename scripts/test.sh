#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# All the tests: install what is missing, check formatting, build with gcc
# (ASan+UBSan, -Werror), with clang (Release, -Werror) and with AFL++
# (the fuzz targets and vucert-server), then run unit, end-to-end and
# smoke-benchmark tests and the fuzz corpus replay under the sanitizers
# (the end-to-end tests also use the clang build's vucert-server, which
# valgrind can run, and the AFL++-instrumented one), then fuzz every
# target for 20 s with libFuzzer (ASan+UBSan). Before the tests, the
# clang build's .deb is installed, tried and removed (scripts/check-deb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

echo "== clang-format"
mapfile -t files < <(git ls-files '*.c' '*.h')
clang-format --dry-run --Werror "${files[@]}"

echo "== gcc, ASan+UBSan, -Werror"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
      -DVUC_SANITIZE=ON -DVUC_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"

# Before the tests: the end-to-end tests take a vucert-server without
# sanitizers (VUC_PLAIN_BIN) and one instrumented by afl-clang-fast
# (VUC_AFL_BIN) from these two builds.
echo "== clang, -Werror"
cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang -DVUC_WERROR=ON -DVUC_TESTS=OFF >/dev/null
cmake --build build-clang -j"$(nproc)"

echo "== fuzz: AFL++ build (afl-clang-fast, persistent mode), -Werror"
AFL_QUIET=1 cmake -S . -B build-afl -DCMAKE_C_COMPILER=afl-clang-fast \
      -DVUC_FUZZ=ON -DVUC_FUZZ_ENGINE=afl -DVUC_TESTS=OFF \
      -DVUC_WERROR=ON >/dev/null
AFL_QUIET=1 cmake --build build-afl --target fuzz_all vucert-server \
      -j"$(nproc)" >/dev/null

# The package a user installs, from the clang Release build (no compile
# of its own): installed, certify run from /usr/bin, removed.
echo "== package: cpack's .deb of the clang build, dpkg -i, certify, dpkg -r"
scripts/check-deb.sh build-clang

export VUC_PLAIN_BIN="$PWD/build-clang/bin"
export VUC_AFL_BIN="$PWD/build-afl/bin"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The end-to-end tests take minutes: ctest -V shows their progress as it
# comes (a count every 15 s, tests/e2e/conftest.py), while the other
# tests (seconds each) run beside them as before, their output kept for
# after.
echo "== tests: end-to-end (progress below), and beside them unit tests," \
     "fuzz corpus replays and benchmark smoke runs"
others_log=$(mktemp)
ctest --test-dir build-asan --output-on-failure -E '^e2e$' \
      -j"$(( $(nproc) > 2 ? $(nproc) - 1 : 1 ))" >"$others_log" 2>&1 &
others=$!
e2e_rc=0
VUC_E2E_PROGRESS=15 ctest --test-dir build-asan --output-on-failure \
      -R '^e2e$' -V || e2e_rc=$?
others_rc=0
wait "$others" || others_rc=$?
echo "== the other tests"
cat "$others_log"
rm -f "$others_log"
if [ "$e2e_rc" -ne 0 ] || [ "$others_rc" -ne 0 ]; then
    echo "== tests failed (end-to-end: exit $e2e_rc, the others: exit" \
         "$others_rc)" >&2
    exit 1
fi

echo "== valgrind: vucert (clang Release) certifies vucert-server, memcheck-clean"
# ASan sees no uninitialised bytes; valgrind does (a sendmsg control
# buffer's padding was one). pidfd_open is unknown to bookworm's valgrind:
# vucert falls back to polling for exits, so this run takes ~15 s.
valgrind -q --error-exitcode=99 --leak-check=full \
    build-clang/bin/vucert certify --quiet --profile profiles/vucert-server.json \
    --server-cmd "$PWD/build-clang/bin/vucert-server --socket {socket}" \
    2> >(grep -v '^--' >&2)

echo "== fuzz: libFuzzer (clang-19, ASan+UBSan, -Werror), 20 s per target"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang-19 -DVUC_FUZZ=ON \
      -DVUC_FUZZ_ENGINE=libfuzzer -DVUC_TESTS=OFF -DVUC_WERROR=ON >/dev/null
fuzz/run --engine libfuzzer --build-dir build-fuzz --time 20 \
             --jobs "$(nproc)" --no-merge --report-dir build-fuzz/reports
echo "== all tests passed"
