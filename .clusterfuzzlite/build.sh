#!/bin/bash -eu
# SPDX-License-Identifier: BSD-3-Clause
# ClusterFuzzLite / OSS-Fuzz build: every libFuzzer target of fuzz/ into
# $OUT, with its dictionary (<target>.dict), its options (max_len) and
# its seed corpus (<target>_seed_corpus.zip: corpus/<target>/ and the
# regression inputs of corpus/regressions/<target>/).
#
# The compiler and the sanitizer/coverage flags come from the environment
# ($CC, $CFLAGS, $LIB_FUZZING_ENGINE); fuzz/engine.cmake's oss-fuzz engine
# takes them as they are. json-c is linked statically: the runner image
# has nothing but $OUT. Memory sanitizer builds are not supported (json-c
# is not instrumented); use address and undefined.
src="${VUC_SRC:-$SRC/vucert}"
build="$WORK/vucert-build"

cmake -S "$src" -B "$build" -DVUC_FUZZ=ON -DVUC_FUZZ_ENGINE=oss-fuzz \
      -DVUC_TESTS=OFF -DCMAKE_BUILD_TYPE=None
cmake --build "$build" --target fuzz_all -j"$(nproc)"

for exe in "$build"/bin/fuzz_*; do
    t=$(basename "$exe")
    case "$t" in *_replay) continue ;; esac
    cp "$exe" "$OUT/$t"
    if [ -f "$src/fuzz/dict/$t.dict" ]; then
        cp "$src/fuzz/dict/$t.dict" "$OUT/$t.dict"
    fi
    max_len=$(sed -n "s/^$t=\([0-9]*\)$/\1/p" "$src/fuzz/max_len.txt")
    printf '[libfuzzer]\nmax_len = %s\n' "${max_len:-4096}" > "$OUT/$t.options"
    rm -f "$OUT/${t}_seed_corpus.zip"
    # Flat, each input named by the sha256 of its content, as in the
    # tree. An input can be in both folders (a regression kept as a seed
    # too), and zip -j refuses two entries of one name: copied into one
    # folder by content first, it goes in once.
    seeds="$WORK/seeds/$t"
    rm -rf "$seeds"
    mkdir -p "$seeds"
    find "$src/corpus/$t" "$src/corpus/regressions/$t" -type f \
         ! -name '.*' ! -name 'README*' -print0 2>/dev/null |
        xargs -0 -r sha256sum |
        while read -r sum path; do
            cp "$path" "$seeds/$sum"
        done
    if [ -n "$(ls -A "$seeds")" ]; then
        find "$seeds" -type f | zip -q -j "$OUT/${t}_seed_corpus.zip" -@
    fi
done
