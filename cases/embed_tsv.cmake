# SPDX-License-Identifier: BSD-3-Clause
# Turn the spec traceability table into a C string (cmake -P, with IN and
# OUT set), so vucert carries it: --list --coverage prints it wherever
# vucert is installed.
file(READ "${IN}" text)
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "\n" "\\n\"\n    \"" text "${text}")
file(WRITE "${OUT}.tmp"
     "/* generated from cases/spec_coverage.tsv by cases/embed_tsv.cmake */\n"
     "const char vuc_spec_coverage_tsv[] =\n    \"${text}\";\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
