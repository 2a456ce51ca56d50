#!/usr/bin/env bash
# End-to-end load benchmark: starts the three services on the production bundle
# of a registry, drives the gateway with recsys-load at several concurrencies,
# and reports rps, latency and the CPU each service spent per request (from
# /proc/PID/stat, so the number does not depend on what else runs).
#
#   bench/scripts/gateway_load.sh                  # cache off and on, c = 1 8 32 64
#   CACHE=off CONCURRENCY="8 32" bench/scripts/gateway_load.sh
#   FEEDBACK_RATE=200 CACHE=on bench/scripts/gateway_load.sh   # with feedback traffic
#
# Environment: REGISTRY (registry), NAME (movielens), DATA (data/ml-latest-small),
# DURATION (8s), WARMUP (2s), CONCURRENCY ("1 8 32 64"), CACHE ("off on"),
# FEEDBACK_RATE (0: Feedback calls/s sent alongside, each changing a user's
# history and so invalidating that user's cached answer), OUT (out/bench).
# Requires a built tree (scripts/build.sh) and a promoted bundle (scripts/demo.sh
# or recsys-train + recsys-registry promote).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/bin
REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
DATA=${DATA:-data/ml-latest-small}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-"1 8 32 64"}
CACHE=${CACHE:-"off on"}
FEEDBACK_RATE=${FEEDBACK_RATE:-0}
OUT=${OUT:-out/bench}
mkdir -p "$OUT/logs"
STATE=$(mktemp -d)

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop; rm -rf "$STATE"' EXIT

wait_healthy() {  # PORT SERVICE (the service's own status, not the overall "")
  for _ in $(seq 1 240); do
    if $BIN/recsys-cli --target "localhost:$1" --service "$2" health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "service on port $1 did not become healthy (logs in $OUT/logs)" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "hits misses" of the gateway's answer cache so far.
cache_counts() {
  curl -fsS "http://localhost:9091/metrics" 2>/dev/null | awk '
    /^recsys_gateway_cache_lookups_total\{result="hit"\}/ { h = $2 }
    /^recsys_gateway_cache_lookups_total\{result="miss"\}/ { m = $2 }
    END { print h + 0, m + 0 }'
}

start() {  # $1 = gateway answer cache, MiB
  common=(--registry "$REGISTRY" --name "$NAME" --max_history 5000)
  $BIN/recsys-retrieval "${common[@]}" --port 50052 --metrics_port 9092 >"$OUT/logs/retrieval.log" 2>&1 &
  pids+=($!)
  $BIN/recsys-ranking "${common[@]}" --port 50053 --metrics_port 9093 >"$OUT/logs/ranking.log" 2>&1 &
  pids+=($!)
  rm -rf "$STATE"/*
  $BIN/recsys-gateway "${common[@]}" --port 50051 --metrics_port 9091 --state_dir "$STATE" \
    --cache_mb "$1" --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 \
    >"$OUT/logs/gateway.log" 2>&1 &
  pids+=($!)
  wait_healthy 50052 recsys.v1.Retrieval
  wait_healthy 50053 recsys.v1.Ranking
  wait_healthy 50051 recsys.v1.Recommender
}

hz=$(getconf CLK_TCK)
printf '%-6s %-5s %9s %9s %9s %9s %7s %5s  %s\n' cache conc rps p50_ms p99_ms errors load1 hits \
  "CPU ms/request: gateway retrieval ranking = total"
for cache in $CACHE; do
  cache_mb=0
  [ "$cache" = on ] && cache_mb=128
  start $cache_mb
  for c in $CONCURRENCY; do
    fb_pid=""
    if [ "$FEEDBACK_RATE" != 0 ]; then
      $BIN/recsys-load --target localhost:50051 --data "$DATA" --method feedback \
        --rate "$FEEDBACK_RATE" --duration 1h --seed 7 >/dev/null 2>&1 &
      fb_pid=$!
    fi
    # Warm-up as its own run, so the CPU window below holds only measured calls.
    $BIN/recsys-load --target localhost:50051 --data "$DATA" --concurrency "$c" \
      --duration "$WARMUP" >/dev/null 2>&1
    before=()
    for pid in "${pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
    read -r hits0 misses0 < <(cache_counts)
    json="$OUT/load_cache-${cache}_c${c}.json"
    $BIN/recsys-load --target localhost:50051 --data "$DATA" --concurrency "$c" \
      --duration "$DURATION" --json "$json" >"$OUT/load_cache-${cache}_c${c}.txt" 2>&1
    after=()
    for pid in "${pids[@]}"; do after+=("$(cpu_ticks "$pid")"); done
    read -r hits1 misses1 < <(cache_counts)
    lookups=$(( ${hits1%.*} + ${misses1%.*} - ${hits0%.*} - ${misses0%.*} ))
    hit_ratio=$(awk -v h=$(( ${hits1%.*} - ${hits0%.*} )) -v n=$lookups 'BEGIN { printf "%.2f", n ? h / n : 0 }')
    [ -n "$fb_pid" ] && { kill "$fb_pid" 2>/dev/null || true; wait "$fb_pid" 2>/dev/null || true; }
    python3 - "$json" "$hz" "${before[@]}" "${after[@]}" "$(cut -d' ' -f1 /proc/loadavg)" "$cache" "$c" "$hit_ratio" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
hz = float(sys.argv[2])
b = [float(x) for x in sys.argv[3:6]]
a = [float(x) for x in sys.argv[6:9]]
load1, cache, c, hits = sys.argv[9], sys.argv[10], sys.argv[11], sys.argv[12]
calls = report["count"]
lat = {d["percentage"]: d["latency"] / 1e6 for d in report["latencyDistribution"]}
errors = sum(v for k, v in report["statusCodeDistribution"].items() if k != "OK")
ms = [(a[i] - b[i]) / hz * 1000 / max(calls, 1) for i in range(3)]
# pids order: retrieval, ranking, gateway
print(f"{cache:<6} {c:<5} {report['rps']:9.0f} {lat.get(50, 0):9.2f} {lat.get(99, 0):9.2f} "
      f"{errors:9d} {load1:>7} {hits:>5}  {ms[2]:.3f} {ms[0]:.3f} {ms[1]:.3f} = {sum(ms):.3f}")
PY
  done
  stop
done
