#!/usr/bin/env bash
# The Redis user store under kill -9 (README "Operating it", docs/reliability-feedback.md):
# trains a MovieLens registry (unless REGISTRY points at one with a production
# alias), then bench/scripts/redis_kill_cycles.py runs redis-server with
# deploy/redis/redis.conf and two gateways on it (--user_store=redis://...),
# streams Feedback with idempotency keys (every failed call retried with its
# key, alternating gateways) and SIGKILLs and restarts Redis CYCLES times, then
# checks through GetHistory that every acknowledged event is stored exactly
# once. Exit status 1 if one was lost or duplicated.
#
#   bench/scripts/redis_kill_cycles.sh                  # 200 cycles, 4 senders
#   CYCLES=20 SENDERS=2 bench/scripts/redis_kill_cycles.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
CYCLES=${CYCLES:-200}
SENDERS=${SENDERS:-4}
MAX_UP_S=${MAX_UP_S:-0.3}
OUT=${OUT:-out/redis_kill_cycles}
NAME=movielens
PYTHON=${PYTHON:-/usr/bin/python3}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
if [[ ! -x "$REDIS_SERVER" ]]; then
  echo "redis_kill_cycles: $REDIS_SERVER is absent (scripts/install-deps.sh installs redis-server)" >&2
  exit 77
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/redis_kill_cycles.XXXXXX)
cleanup() { rm -rf "$WORK"; }
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

echo "== $CYCLES kill -9 cycles of Redis under Feedback from $SENDERS senders through 2 gateways =="
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores;" \
  "$("$REDIS_SERVER" --version | cut -d' ' -f1-3)"
: >"$OUT/processes.log"
set +e
"$PYTHON" bench/scripts/redis_kill_cycles.py --bin "$BIN" --registry "$REGISTRY" --name "$NAME" \
  --redis_server "$REDIS_SERVER" --redis_dir "$WORK/redis" --cycles "$CYCLES" \
  --senders "$SENDERS" --max_up_s "$MAX_UP_S" ${EXTRA_ARGS:-} --log "$OUT/processes.log" |
  tee "$OUT/result.json"
status=${PIPESTATUS[0]}
set -e
echo "log lines naming UNAVAILABLE (access lines are rate-limited): $(grep -c UNAVAILABLE "$OUT/processes.log" || true)"
exit "$status"
