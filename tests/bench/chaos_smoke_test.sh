#!/usr/bin/env bash
# Chaos smoke test: bench/scripts/chaos.sh end to end in a few seconds per
# scenario, on two bundles trained from the tiny MovieLens fixture (a second
# seed gives the second version the alias flips to). Checks the mechanics only,
# never the reliability targets or any time: every scenario prints its row with
# calls > 0, the stage kills happened, the flips happened, the overload run has
# a rate, and the production alias is back where it was. Prints PASS, FAIL
# with the reason (and the script's output), or SKIP (exit 77).
#   RECSYS_BIN_DIR=build/bin tests/bench/chaos_smoke_test.sh
set -uo pipefail
BIN=${RECSYS_BIN_DIR:?set RECSYS_BIN_DIR to the bin/ directory of a build}
BIN=$(cd "$BIN" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$WORK/run.txt" ] && cat "$WORK/run.txt"
  exit 1
}

reg=(--registry "$WORK/registry" --name tiny)
for seed in 1 2; do
  "$BIN/recsys-train" --data "$SRC/tests/fixtures/movielens" "${reg[@]}" --seed "$seed" \
    --tune_budget 0s >"$WORK/train$seed.txt" 2>&1 || fail "training (seed $seed)"
  # Version names carry the creation second: keep the two apart.
  [ "$seed" = 1 ] && sleep 1.1
done
first=$(awk '/^version /{print $2}' "$WORK/train1.txt")
[ -n "$first" ] || fail "no version in the training output"
"$BIN/recsys-registry" "${reg[@]}" promote "$first" >/dev/null 2>&1 || fail "promote $first"

BIN=$BIN REGISTRY="$WORK/registry" NAME=tiny DATA="$SRC/tests/fixtures/movielens" \
  timeout 150 bash "$SRC/bench/scripts/chaos.sh" --out "$WORK/out" --duration 4 --kill_every 2 \
  --flip_every 1 --concurrency 2 --warmup 1 --sat_concurrency 2 --sat_duration 2 \
  --max_inflight 4 >"$WORK/run.txt" 2>&1 || fail "chaos.sh exited non-zero"

python3 - "$WORK/out/rows.tsv" <<'PY' || fail "rows"
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
names = [r[0] for r in rows]
want = ["kill-retrieval", "kill-ranking", "flip-steady", "flip", "saturation c=2",
        "overload 2x, max_inflight 4"]
if names != want:
    sys.exit(f"scenarios {names}, expected {want}")
for r in rows:
    if len(r) != 9 or int(r[2]) <= 0:
        sys.exit(f"row without calls: {r}")
for r in rows[:2]:
    if "1 kills" not in r[8]:
        sys.exit(f"no kill in {r}")
if "3 flips" not in rows[3][8]:
    sys.exit(f"no flips in {rows[3]}")
if "open loop" not in rows[5][1]:
    sys.exit(f"no open-loop rate in {rows[5]}")
PY
production=$("$BIN/recsys-registry" "${reg[@]}" list 2>/dev/null | awk '$1 == "*" { print $2 }')
[ "$production" = "$first" ] || fail "production is $production after the run, expected $first"
echo "PASS: chaos.sh ran every scenario ($(wc -l <"$WORK/out/rows.tsv") rows)"
