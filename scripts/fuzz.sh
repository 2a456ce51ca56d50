#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-14, ASan and UBSan into
# build-fuzz/ and runs each for a number of executions.
#
#   scripts/fuzz.sh                      # smoke: 20000 runs per target
#   scripts/fuzz.sh --runs 100000 wal    # chosen targets only
#   scripts/fuzz.sh --bench              # 10^7 runs per target, 2 targets at a time
#   scripts/fuzz.sh --max-time 5         # at most 5 s per target (ctest's smoke)
#
# Options: --runs N, --bench (= --runs 10000000), --max-time S (per target,
# 0 = none), --parallel P (targets run at once, 1 or 2; default 1, --bench 2),
# --seed S (libFuzzer's -seed; 0 = a new one each run, the default; the ctest
# smoke pins one so that a clean tree replays the same search), --build-only.
# Each target starts from fuzz/corpus/<t> and fuzz/regressions/<t>; inputs it
# finds that add coverage go to $FUZZ_OUT/corpus/<t> (default build-fuzz/; not the repository:
# copy the useful ones by hand, minimised with -merge=1). A crash, sanitizer
# report or failed invariant stops that target and its input is saved as
# fuzz/regressions/<t>/crash-<sha1> (or leak-, timeout-, oom-): fix the bug,
# keep the file (ctest then replays it on every run) and commit both.
# Figures per target go to $FUZZ_OUT/fuzz-summary.tsv (target, executions,
# exec/s, seconds, new units, corpus files, result).
# Exit: 0 all targets clean, 1 a target failed, 77 clang-14 or libFuzzer
# missing (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=20000
MAX_TIME=0
PARALLEL=1
BUILD_ONLY=0
SEED=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --bench) RUNS=10000000; PARALLEL=2; shift ;;
    --max-time) MAX_TIME=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
if [ "$PARALLEL" -lt 1 ] || [ "$PARALLEL" -gt 2 ]; then
  echo "fuzz.sh: --parallel must be 1 or 2 (2 cores)" >&2
  exit 2
fi

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
CC_BIN=${FUZZ_CC:-clang-14}
CXX_BIN=${FUZZ_CXX:-clang++-14}
if ! command -v "$CXX_BIN" >/dev/null 2>&1; then
  echo "fuzz.sh: SKIP: $CXX_BIN not installed (scripts/install-deps.sh installs clang-14)"
  exit 77
fi
RT_DIR=$("$CXX_BIN" -print-resource-dir)/lib/linux
if ! ls "$RT_DIR"/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz.sh: SKIP: libFuzzer runtime missing in $RT_DIR (install libfuzzer-14-dev)"
  exit 77
fi

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# Build type Debug with -O1 (the RECSYS_FUZZ flags): assertions on.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG= \
  -DCMAKE_C_COMPILER="$CC_BIN" -DCMAKE_CXX_COMPILER="$CXX_BIN" "${launcher[@]}" \
  -DRECSYS_FUZZ=ON -DRECSYS_BUILD_TESTS=OFF -DRECSYS_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target recsys_fuzzers
[ "$BUILD_ONLY" = 1 ] && exit 0

if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in fuzz/*_fuzzer.cc; do
    t=$(basename "$f" _fuzzer.cc)
    TARGETS+=("$t")
  done
fi

# Where runs keep their summary, logs and grown corpus (FUZZ_OUT: ctest's
# smoke uses its own, so it never mixes with a long run's).
OUT_DIR=${FUZZ_OUT:-$BUILD_DIR}
SUMMARY="$OUT_DIR/fuzz-summary.tsv"
LOG_DIR="$OUT_DIR/fuzz-logs"
mkdir -p "$LOG_DIR"
printf 'target\texecutions\texec_per_s\tseconds\tnew_units\tcorpus_files\tresult\n' >"$SUMMARY"

# Runs one target; appends its line to the summary. Never fails the script
# itself: the result column says what happened.
run_target() {
  local t=$1
  local bin="$BUILD_DIR/bin/${t}_fuzzer" log="$LOG_DIR/$t.log"
  local work="$OUT_DIR/corpus/$t" regress="fuzz/regressions/$t"
  if [ ! -x "$bin" ]; then
    printf '%s\t0\t0\t0\t0\t0\tFAILED (no such target)\n' "$t" >>"$SUMMARY"
    return
  fi
  mkdir -p "$work" "$regress" "fuzz/corpus/$t"
  local start end rc=0
  start=$(date +%s.%N)
  # -timeout: one input longer than 10 s is a bug; -rss_limit_mb: 2 GiB per
  # process (two run at once on the shared machine).
  "$bin" -runs="$RUNS" -max_total_time="$MAX_TIME" -seed="$SEED" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$regress/" \
    "$work" "fuzz/corpus/$t" "$regress" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  local execs speed added files result
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  files=$(find "$work" "fuzz/corpus/$t" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    result=clean
  else
    result="FAILED (exit $rc; $(grep -m1 -E 'ERROR: |runtime error|invariant violated' "$log" | cut -c1-120))"
  fi
  printf '%s\t%s\t%s\t%.0f\t%s\t%s\t%s\n' "$t" "${execs:-0}" "${speed:-0}" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "${added:-0}" "$files" "$result" >>"$SUMMARY"
  echo "fuzz.sh: $t: ${execs:-0} runs, ${speed:-0} exec/s: $result (log $log)"
}

export -f run_target
export BUILD_DIR OUT_DIR LOG_DIR SUMMARY RUNS MAX_TIME SEED
printf '%s\n' "${TARGETS[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'run_target "$@"' _ {}

cat "$SUMMARY"
if grep -q FAILED "$SUMMARY"; then
  echo "fuzz.sh: FAIL: see the logs in $LOG_DIR and the inputs in fuzz/regressions/"
  exit 1
fi
echo "fuzz.sh: PASS: ${#TARGETS[@]} targets clean"
