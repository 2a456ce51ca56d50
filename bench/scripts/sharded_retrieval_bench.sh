#!/usr/bin/env bash
# Sharded retrieval's cost and gain, side by side in one run on one machine:
# computed Recommend (answer cache off) through a gateway over one unsharded
# retrieval, and through a gateway over two catalogue shards
# (recsys-retrieval --shard 0/2, 1/2; gateway --retrieval_shards), the same
# ranking behind both. Per setup and concurrency: rps, p50/p99 end to end, the
# gateway's mean retrieval stage (fan-out + merge included), errors and
# degraded answers; then each retrieval process's resident memory.
#
#   bench/scripts/sharded_retrieval_bench.sh                       # ml-latest-small
#   REGISTRY=/tmp/scale-200k/registry NAME=synth DATA=/tmp/scale-200k/data \
#     bench/scripts/sharded_retrieval_bench.sh                     # a synthetic catalogue
#
# Environment: REGISTRY (registry), NAME (movielens), DATA (data/ml-latest-small:
# the users recsys-load sends), DURATION (8s), WARMUP (2s), CONCURRENCY
# ("1 8 32"), OUT (out/bench), PORT_BASE (21260; below the ephemeral port
# range, so no outgoing connection holds one). Both shards run on this
# machine, so they share its cores: the figures show what the fan-out and
# merge cost and what a halved scan saves per request, not the capacity of
# shards on their own machines. Requires a built tree and a promoted bundle.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/bin
REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
DATA=${DATA:-data/ml-latest-small}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
OUT=${OUT:-out/bench}
P=${PORT_BASE:-21260}
mkdir -p "$OUT/logs"
TMP=$(mktemp -d)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$TMP"' EXIT
wait_healthy() {  # PORT SERVICE: until SERVING; fails at once if a started process died
  for _ in $(seq 1 1200); do
    $BIN/recsys-cli --target "localhost:$1" --service "$2" health >/dev/null 2>&1 && return 0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "a service exited (logs in $OUT/logs)" >&2; exit 1; }
    done
    sleep 0.5
  done
  echo "service on port $1 did not become healthy (logs in $OUT/logs)" >&2
  exit 1
}
start() {  # LOG BINARY FLAGS...
  local log=$1 bin=$2
  shift 2
  "$BIN/$bin" "$@" >"$OUT/logs/$log.log" 2>&1 &
  pids+=($!)
}
common=(--registry "$REGISTRY" --name "$NAME" --max_history 5000)
WHOLE=$P S0=$((P + 1)) S1=$((P + 2)) RANK=$((P + 3)) GW1=$((P + 4)) GW2=$((P + 5))
start retrieval-whole recsys-retrieval "${common[@]}" --port $WHOLE --metrics_port $((P + 100))
start retrieval-shard0 recsys-retrieval "${common[@]}" --shard 0/2 --port $S0 --metrics_port $((P + 101))
start retrieval-shard1 recsys-retrieval "${common[@]}" --shard 1/2 --port $S1 --metrics_port $((P + 102))
start ranking recsys-ranking "${common[@]}" --port $RANK --metrics_port $((P + 103))
gw=(--registry "$REGISTRY" --name "$NAME" --cache_mb 0 --ranking "dns:///localhost:$RANK")
start gateway-whole recsys-gateway "${gw[@]}" --port $GW1 --metrics_port $((P + 104)) \
  --state_dir "$TMP/state1" --retrieval "dns:///localhost:$WHOLE"
start gateway-sharded recsys-gateway "${gw[@]}" --port $GW2 --metrics_port $((P + 105)) \
  --state_dir "$TMP/state2" --retrieval_shards "dns:///localhost:$S0,dns:///localhost:$S1"
for port in $WHOLE $S0 $S1; do wait_healthy $port recsys.v1.Retrieval; done
wait_healthy $RANK recsys.v1.Ranking
wait_healthy $GW1 recsys.v1.Recommender
wait_healthy $GW2 recsys.v1.Recommender

retrieval_stage() {  # METRICS_PORT: "sum count" of the gateway's retrieval stage
  curl -fsS "http://localhost:$1/metrics" | awk '
    /^recsys_gateway_stage_seconds_sum\{stage="retrieval"\}/ { s = $2 }
    /^recsys_gateway_stage_seconds_count\{stage="retrieval"\}/ { c = $2 }
    /^recsys_gateway_degraded_total/ { d += $2 }
    END { printf "%s %s %s\n", s + 0, c + 0, d + 0 }'
}
load() {  # SETUP PORT METRICS_PORT C
  local setup=$1 port=$2 metrics=$3 c=$4
  $BIN/recsys-load --target "localhost:$port" --data "$DATA" --concurrency "$c" \
    --duration "$WARMUP" >/dev/null 2>&1 || true
  local before after
  before=$(retrieval_stage "$metrics")
  $BIN/recsys-load --target "localhost:$port" --data "$DATA" --concurrency "$c" \
    --duration "$DURATION" --json "$TMP/load.json" >/dev/null 2>&1 || true
  after=$(retrieval_stage "$metrics")
  python3 - "$setup" "$c" "$TMP/load.json" "$before" "$after" <<'PY'
import json, sys
setup, c, path, before, after = sys.argv[1:6]
r = json.load(open(path))
lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"]}
errors = sum(v for k, v in r["statusCodeDistribution"].items() if k != "OK")
s0, n0, d0 = map(float, before.split())
s1, n1, d1 = map(float, after.split())
stage = (s1 - s0) / (n1 - n0) * 1e3 if n1 > n0 else 0.0
print(f"{setup:<20} {c:<5} {r['rps']:8.0f} {lat.get(50, 0):8.2f} {lat.get(99, 0):8.2f} "
      f"{stage:12.2f} {errors:7d} {int(d1 - d0):9d}")
PY
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "bundle: $REGISTRY/$NAME, users from $DATA"
printf '%-20s %-5s %8s %8s %8s %12s %7s %9s\n' setup conc rps p50_ms p99_ms retrieval_ms errors degraded
for c in $CONCURRENCY; do
  load "1 retrieval" $GW1 $((P + 104)) "$c"
  load "2 shards" $GW2 $((P + 105)) "$c"
done
echo
printf '%-18s %10s\n' process VmRSS_MiB
i=0
for name in retrieval-whole retrieval-shard0 retrieval-shard1; do
  printf '%-18s %10s\n' "$name" "$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/${pids[$i]}/status")"
  i=$((i + 1))
done
