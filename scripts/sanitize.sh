#!/usr/bin/env bash
# Builds the whole tree with AddressSanitizer + UndefinedBehaviorSanitizer
# (g++, -fsanitize=address,undefined -fno-omit-frame-pointer) into
# build-asan/ and runs the ctest suite there. Not part of CI: it rebuilds the
# whole tree instrumented (no ccache hits from the normal build) and runs
# every test several times slower.
#
#   scripts/sanitize.sh                 # every test but the scale label
#   scripts/sanitize.sh -R Wal          # extra arguments go to ctest
#   SANITIZE_ALL=1 scripts/sanitize.sh  # the scale smoke test too (hours under ASan)
#
# FAISS, OpenBLAS, gRPC and protobuf are Debian's uninstrumented builds: ASan
# sees their memory only through the allocator, which is enough for our code.
# Suppressions for reports inside those libraries live in
# scripts/sanitizers/ (each line says why); none is needed today.
# A sanitizer report fails its test (halt_on_error, exit code 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# RelWithDebInfo: optimised like the real build (timing-bound tests keep
# their margins) with line numbers in the reports. Benchmarks are not built.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DRECSYS_SANITIZE=address,undefined -DRECSYS_BUILD_BENCH=OFF >/dev/null
supp="$PWD/scripts/sanitizers"
# Set before the build too: gtest_discover_tests runs the test binaries.
# detect_leaks: LeakSanitizer on (gRPC's and protobuf's process-lifetime
# singletons go into lsan.supp if they show up). OpenMP and FAISS spawn
# threads ASan cannot see into; that is fine.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0:suppressions=$supp/asan.supp${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

start=$(date +%s)
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
built=$(date +%s)

label_args=(-LE scale)
[ "${SANITIZE_ALL:-0}" = 1 ] && label_args=()
rc=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2 --timeout 1800 "${label_args[@]}" "$@" || rc=$?
done_at=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, tests $((done_at - built)) s, ctest exit $rc"
exit $rc
