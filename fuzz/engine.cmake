# SPDX-License-Identifier: BSD-3-Clause
# Instrumentation for a fuzzing engine (VUC_FUZZ=ON), included by the
# top-level CMakeLists.txt before any component, so that every library a
# fuzz target links is instrumented too. VUC_FUZZ_ENGINE:
#   libfuzzer  clang: -fsanitize=fuzzer-no-link,address,undefined for all
#              code, -fsanitize=fuzzer for the target binaries; no
#              coverage for what coverage-ignore.txt lists (harnesses)
#   afl        CC=afl-clang-fast (which instruments everything it
#              compiles); targets link AFL++'s libFuzzer-compatible driver
#              (libAFLDriver, persistent mode, shared-memory test cases)
#              through -fsanitize=fuzzer. ASan/UBSan with VUC_SANITIZE=ON.
#   oss-fuzz   OSS-Fuzz / ClusterFuzzLite: the compiler and CFLAGS come
#              from the environment; targets link $LIB_FUZZING_ENGINE.
# VUC_FUZZ_LINK is what fuzz/CMakeLists.txt links the targets with.
set(VUC_FUZZ_ENGINE "libfuzzer" CACHE STRING "libfuzzer, afl or oss-fuzz")
set_property(CACHE VUC_FUZZ_ENGINE PROPERTY STRINGS libfuzzer afl oss-fuzz)

if(VUC_FUZZ_ENGINE STREQUAL "libfuzzer")
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VUC_FUZZ_ENGINE=libfuzzer needs clang "
                        "(-DCMAKE_C_COMPILER=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer
                      -gline-tables-only
                      -fsanitize-coverage-ignorelist=${CMAKE_CURRENT_LIST_DIR}/coverage-ignore.txt)
  add_link_options(-fsanitize=address,undefined)
  set(VUC_FUZZ_LINK -fsanitize=fuzzer)
elseif(VUC_FUZZ_ENGINE STREQUAL "afl")
  if(NOT CMAKE_C_COMPILER MATCHES "afl-")
    message(FATAL_ERROR "VUC_FUZZ_ENGINE=afl needs CC=afl-clang-fast")
  endif()
  set(VUC_FUZZ_LINK -fsanitize=fuzzer)
elseif(VUC_FUZZ_ENGINE STREQUAL "oss-fuzz")
  if(NOT DEFINED ENV{LIB_FUZZING_ENGINE})
    message(FATAL_ERROR "VUC_FUZZ_ENGINE=oss-fuzz needs $LIB_FUZZING_ENGINE")
  endif()
  separate_arguments(VUC_FUZZ_LINK UNIX_COMMAND "$ENV{LIB_FUZZING_ENGINE}")
else()
  message(FATAL_ERROR "VUC_FUZZ_ENGINE must be libfuzzer, afl or oss-fuzz")
endif()
