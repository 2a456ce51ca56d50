#!/usr/bin/env bash
# Crash durability of Feedback (see docs/reliability-feedback.md): trains a
# MovieLens registry (unless REGISTRY points at one with a production alias),
# starts retrieval and ranking on loopback, then bench/scripts/feedback_crash.py
# sends Feedback continuously and kill -9s the gateway KILLS times at random
# moments, restarting it each time, and finally checks through GetHistory that
# every acknowledged event is stored. Exit status 1 if one was lost.
#
#   bench/scripts/feedback_crash.sh                 # 1000 kills, 4 senders
#   KILLS=50 SENDERS=2 bench/scripts/feedback_crash.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
KILLS=${KILLS:-1000}
SENDERS=${SENDERS:-4}
MAX_UP_S=${MAX_UP_S:-0.4}
OUT=${OUT:-out/feedback_crash}
NAME=movielens
# Debian's python3-grpcio lives under the system interpreter.
PYTHON=${PYTHON:-/usr/bin/python3}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/feedback_crash.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${REGISTRY:-}" ]]; then
  REGISTRY=$WORK/registry
  echo "== training on data/ml-latest-small (~30 s) =="
  t0=$(date +%s.%N)
  "$BIN/recsys-train" --data data/ml-latest-small --registry "$REGISTRY" --name "$NAME" \
    >"$OUT/train.txt" 2>&1
  version=$(awk '/^version /{print $2}' "$OUT/train.txt" | tail -n 1)
  "$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" promote "$version" >/dev/null
  echo "trained and promoted $version in $(echo "$(date +%s.%N) - $t0" | bc) s"
fi

ports=(--retrieval_port 56052 --ranking_port 56053 --port 56051 --metrics_port 59091)
"$BIN/recsys-retrieval" --registry "$REGISTRY" --name "$NAME" --port 56052 --metrics_port 59092 \
  >"$OUT/retrieval.log" 2>&1 &
pids+=($!)
"$BIN/recsys-ranking" --registry "$REGISTRY" --name "$NAME" --port 56053 --metrics_port 59093 \
  >"$OUT/ranking.log" 2>&1 &
pids+=($!)

echo "== $KILLS kills of the gateway under Feedback from $SENDERS senders =="
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
set +e
"$PYTHON" bench/scripts/feedback_crash.py --bin "$BIN" --registry "$REGISTRY" --name "$NAME" \
  --state "$WORK/state" ${EXTRA_ARGS:-} --kills "$KILLS" --senders "$SENDERS" --max_up_s "$MAX_UP_S" \
  "${ports[@]}" --log "$OUT/gateway.log" | tee "$OUT/result.json"
status=${PIPESTATUS[0]}
set -e
echo "damaged-copy files left in the state dir (torn tails copied aside):" \
  "$(ls "$WORK/state" | grep -c damaged || true)"
echo "torn tails cut: $(grep -c 'torn write' "$OUT/gateway.log" || true)," \
  "corruption reports: $(grep -c 'CORRUPTION' "$OUT/gateway.log" || true)"
exit "$status"
