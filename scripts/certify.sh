#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job: install what is missing (only the build's packages:
# scripts/deps.sh --certify), build, start the embedded
# vucert-server and certify it, writing reports/latest/ (results.json,
# junit.xml, matrix.md). Extra arguments go to `vucert certify`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --certify
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVUC_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/bin/vucert certify --report-dir reports/latest "$@"
