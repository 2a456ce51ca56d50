#!/usr/bin/env bash
# The user store's cost, side by side in one run: computed Recommend (answer
# cache off) with the embedded store vs Redis, one gateway vs two gateways on
# the same Redis, at each concurrency; then Feedback with each store (the
# embedded log fsynced per group commit, Redis with appendfsync always).
# Retrieval and ranking are shared by every gateway.
#
#   bench/scripts/user_store_bench.sh
#   CONCURRENCY="1 8 32" DURATION=10s bench/scripts/user_store_bench.sh
#
# Environment: REGISTRY (registry), NAME (movielens), DATA (data/ml-latest-small),
# DURATION (8s), WARMUP (2s), CONCURRENCY ("1 8 32"), OUT (out/bench).
# Two gateways: two recsys-load processes, each with half the concurrency on
# its own gateway; rps adds up, p99 is the larger of the two. Requires
# redis-server (scripts/install-deps.sh), a built tree and a promoted bundle.
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
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }
mkdir -p "$OUT/logs"
TMP=$(mktemp -d)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$TMP"' EXIT
wait_healthy() {
  for _ in $(seq 1 240); do
    $BIN/recsys-cli --target "localhost:$1" --service "$2" health >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "service on port $1 did not become healthy (logs in $OUT/logs)" >&2
  exit 1
}
common=(--registry "$REGISTRY" --name "$NAME" --max_history 5000)
$BIN/recsys-retrieval "${common[@]}" --port 50052 --metrics_port 9092 >"$OUT/logs/retrieval.log" 2>&1 &
pids+=($!)
$BIN/recsys-ranking "${common[@]}" --port 50053 --metrics_port 9093 >"$OUT/logs/ranking.log" 2>&1 &
pids+=($!)
mkdir -p "$TMP/redis"
redis-server deploy/redis/redis.conf --port 6390 --dir "$TMP/redis" >"$OUT/logs/redis.log" 2>&1 &
pids+=($!)
wait_healthy 50052 recsys.v1.Retrieval
wait_healthy 50053 recsys.v1.Ranking

gw_pids=()
start_gateway() {  # PORT METRICS_PORT STORE
  local state="$TMP/state-$1"
  mkdir -p "$state"
  $BIN/recsys-gateway "${common[@]}" --port "$1" --metrics_port "$2" --state_dir "$state" \
    --user_store "$3" --cache_mb 0 --retrieval dns:///localhost:50052 \
    --ranking dns:///localhost:50053 >"$OUT/logs/gateway-$1.log" 2>&1 &
  gw_pids+=($!)
  wait_healthy "$1" recsys.v1.Recommender
}
stop_gateways() {
  for pid in "${gw_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${gw_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  gw_pids=()
}

# load SETUP METHOD C PORT... : one recsys-load per port, c split among them.
load() {
  local setup=$1 method=$2 c=$3
  shift 3
  local n=$# i=0 jsons=() loads=()
  local per=$(( (c + n - 1) / n ))
  for port in "$@"; do
    $BIN/recsys-load --target "localhost:$port" --data "$DATA" --method "$method" \
      --concurrency "$per" --duration "$WARMUP" >/dev/null 2>&1 &
    loads+=($!)
  done
  wait "${loads[@]}" || true
  loads=()
  for port in "$@"; do
    i=$((i + 1))
    jsons+=("$TMP/${setup// /_}-$method-$c-$i.json")
    $BIN/recsys-load --target "localhost:$port" --data "$DATA" --method "$method" \
      --concurrency "$per" --duration "$DURATION" --seed "$i" --json "${jsons[-1]}" \
      >/dev/null 2>&1 &
    loads+=($!)
  done
  wait "${loads[@]}" || true
  python3 - "$setup" "$method" "$c" "${jsons[@]}" <<'PY'
import json, sys
setup, method, c = sys.argv[1:4]
rps = p50 = p99 = 0.0
errors = 0
for path in sys.argv[4:]:
    r = json.load(open(path))
    lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"]}
    rps += r["rps"]
    p50 = max(p50, lat.get(50, 0))
    p99 = max(p99, lat.get(99, 0))
    errors += sum(v for k, v in r["statusCodeDistribution"].items() if k != "OK")
print(f"{setup:<22} {method:<10} {c:<5} {rps:9.0f} {p50:9.2f} {p99:9.2f} {errors:8d}")
PY
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
printf '%-22s %-10s %-5s %9s %9s %9s %8s\n' setup method conc rps p50_ms p99_ms errors
REDIS=redis://127.0.0.1:6390/0
start_gateway 50061 9161 embedded
for c in $CONCURRENCY; do load "embedded, 1 gateway" recommend "$c" 50061; done
for c in $CONCURRENCY; do load "embedded, 1 gateway" feedback "$c" 50061; done
stop_gateways
start_gateway 50061 9161 "$REDIS"
for c in $CONCURRENCY; do load "redis, 1 gateway" recommend "$c" 50061; done
for c in $CONCURRENCY; do load "redis, 1 gateway" feedback "$c" 50061; done
start_gateway 50062 9162 "$REDIS"
for c in $CONCURRENCY; do load "redis, 2 gateways" recommend "$c" 50061 50062; done
for c in $CONCURRENCY; do load "redis, 2 gateways" feedback "$c" 50061 50062; done
stop_gateways
