#!/usr/bin/env bash
# Scale smoke test: a synthetic catalogue of 50,000 items, 20,000 users and
# 1,000,000 events goes through the whole path with bench/scripts/scale_run.sh:
# generate, train (short tuning budget), promote, start the three services,
# real Recommend calls through recsys-cli that must return items, and a short
# load step. Asserts on outcomes only (never on times); prints PASS, or FAIL
# with the logs.
#   RECSYS_BIN_DIR=build/bin tests/bench/scale_smoke_test.sh
# Environment: SMOKE_ITEMS / SMOKE_USERS / SMOKE_EVENTS override the size;
# SCALE_SMOKE_OUT, if set, receives the run's output, summary.json and logs
# (the work directory itself is removed).
set -uo pipefail
BIN=${RECSYS_BIN_DIR:?set RECSYS_BIN_DIR to the bin/ directory of a build}
BIN=$(cd "$BIN" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
keep() {
  if [ -n "${SCALE_SMOKE_OUT:-}" ]; then
    mkdir -p "$SCALE_SMOKE_OUT"
    cp -r "$WORK/run.txt" "$WORK/run/summary.json" "$WORK/run/logs" "$SCALE_SMOKE_OUT/" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap keep EXIT

# A free block of three consecutive ports (and their metrics ports at +100).
port_base=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 20000))
  busy=0
  for p in $candidate $((candidate + 1)) $((candidate + 2)) \
           $((candidate + 100)) $((candidate + 101)) $((candidate + 102)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy=1; break; fi
  done
  if [ "$busy" = 0 ]; then port_base=$candidate; break; fi
done
[ -n "$port_base" ] || { echo "FAIL: no free ports"; exit 1; }

start=$(date +%s)
RECSYS_BIN_DIR=$BIN WORK=$WORK/run PORT_BASE=$port_base \
  TRAIN_ARGS="--tune_budget 10s --eval_users 2000 --ranker_cases 1000 --flat_max_items 20000" CONCURRENCY="1 8" DURATION=3s WARMUP=1s CHECK_USERS=5 \
  bash "$SRC/bench/scripts/scale_run.sh" "${SMOKE_ITEMS:-50000}" "${SMOKE_USERS:-20000}" \
  "${SMOKE_EVENTS:-1000000}" >"$WORK/run.txt" 2>&1
rc=$?
cat "$WORK/run.txt"
echo "scale_smoke: $(($(date +%s) - start)) s in all"
fail() {
  echo "FAIL: $*"
  for log in "$WORK"/run/logs/*; do
    [ -f "$log" ] || continue
    echo "---- $log (last 40 lines)"
    tail -n 40 "$log"
  done
  exit 1
}
[ "$rc" = 0 ] || fail "scale_run.sh exited $rc"
summary=$WORK/run/summary.json
[ -f "$summary" ] || fail "no summary.json"
python3 - "$summary" <<'PY' || fail "summary check"
import json, sys
s = json.load(open(sys.argv[1]))
problems = []
for key in ("train_seconds", "train_peak_rss_mib", "version", "check_paths",
            "retrieval_loaded_vmrss_mib", "ranking_loaded_vmrss_mib", "gateway_loaded_vmrss_mib"):
    if key not in s:
        problems.append(f"missing {key}")
for c in (1, 8):
    calls = s.get(f"load_c{c}_calls", 0)
    errors = s.get(f"load_c{c}_errors", -1)
    if not calls:
        problems.append(f"no calls at concurrency {c}")
    # Errors under load (deadlines on a busy machine) are reported, not fatal,
    # unless nothing succeeded.
    if errors >= calls:
        problems.append(f"every call failed at concurrency {c}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
echo PASS
