#!/usr/bin/env bash
# Recommend over HTTP/JSON vs gRPC, one run, same gateway: starts the three
# services on the production bundle of a registry (answer cache off, so every
# call is computed), then at each concurrency drives the same users through
# gRPC (recsys-load) and HTTP (wrk, keep-alive connections, bench/scripts/
# recommend_users.lua), and reports rps, p50, p99, errors and the gateway's CPU
# per request (/proc/PID/stat) for each.
#
#   bench/scripts/http_vs_grpc.sh
#   CONCURRENCY="1 8 32" DURATION=15s bench/scripts/http_vs_grpc.sh
#
# Environment: REGISTRY (registry), NAME (movielens), DATA (data/ml-latest-small),
# DURATION (10s), WARMUP (2s), CONCURRENCY ("1 8"), OUT (out/bench). Both
# transports get the same 1 s budget (gRPC: the call's deadline; HTTP: the
# gateway's --default_deadline), so neither degrades for lack of time.
# Requires wrk (Debian wrk; scripts/install-deps.sh), a built tree and a
# promoted bundle (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/bin
REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
DATA=${DATA:-data/ml-latest-small}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-"1 8"}
OUT=${OUT:-out/bench}
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$OUT/logs"
STATE=$(mktemp -d)
USERS=$(mktemp)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop; rm -rf "$STATE" "$USERS"' EXIT

wait_healthy() {
  for _ in $(seq 1 240); do
    $BIN/recsys-cli --target "localhost:$1" --service "$2" health >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "service on port $1 did not become healthy (logs in $OUT/logs)" >&2
  exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The users recsys-load draws from: the data set's user ids.
if [ -f "$DATA/ratings.csv" ]; then
  tail -n +2 "$DATA/ratings.csv" | cut -d, -f1 | sort -u | shuf --random-source=<(yes) >"$USERS"
else
  tail -n +2 "$DATA/interactions.csv" | cut -d, -f1 | sort -u | shuf --random-source=<(yes) >"$USERS"
fi

common=(--registry "$REGISTRY" --name "$NAME" --max_history 5000)
$BIN/recsys-retrieval "${common[@]}" --port 50052 --metrics_port 9092 >"$OUT/logs/retrieval.log" 2>&1 &
pids+=($!)
$BIN/recsys-ranking "${common[@]}" --port 50053 --metrics_port 9093 >"$OUT/logs/ranking.log" 2>&1 &
pids+=($!)
$BIN/recsys-gateway "${common[@]}" --port 50051 --metrics_port 9091 --state_dir "$STATE" \
  --cache_mb 0 --default_deadline 1s --http_port 8080 --fsync=false \
  --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 >"$OUT/logs/gateway.log" 2>&1 &
gateway=$!
pids+=($gateway)
wait_healthy 50052 recsys.v1.Retrieval
wait_healthy 50053 recsys.v1.Ranking
wait_healthy 50051 recsys.v1.Recommender

hz=$(getconf CLK_TCK)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
printf '%-5s %-5s %9s %9s %9s %8s %14s\n' proto conc rps p50_ms p99_ms errors gw_cpu_ms/req
for c in $CONCURRENCY; do
  # gRPC
  $BIN/recsys-load --target localhost:50051 --data "$DATA" --concurrency "$c" \
    --duration "$WARMUP" --deadline 1s >/dev/null 2>&1
  t0=$(cpu_ticks $gateway)
  json="$OUT/http_vs_grpc_grpc_c$c.json"
  $BIN/recsys-load --target localhost:50051 --data "$DATA" --concurrency "$c" \
    --duration "$DURATION" --deadline 1s --json "$json" >/dev/null 2>&1
  t1=$(cpu_ticks $gateway)
  python3 - "$json" "$c" "$t0" "$t1" "$hz" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"]}
errors = sum(v for k, v in r["statusCodeDistribution"].items() if k != "OK")
cpu = (float(sys.argv[4]) - float(sys.argv[3])) / float(sys.argv[5]) * 1000 / max(r["count"], 1)
print(f"{'grpc':<5} {sys.argv[2]:<5} {r['rps']:9.0f} {lat.get(50, 0):9.2f} {lat.get(99, 0):9.2f} {errors:8d} {cpu:14.3f}")
PY
  # HTTP (wrk: one thread, c keep-alive connections)
  USERS=$USERS wrk -t1 -c"$c" -d"$WARMUP" -s bench/scripts/recommend_users.lua \
    http://127.0.0.1:8080 >/dev/null 2>&1
  t0=$(cpu_ticks $gateway)
  txt="$OUT/http_vs_grpc_http_c$c.txt"
  USERS=$USERS wrk -t1 -c"$c" -d"$DURATION" --latency -s bench/scripts/recommend_users.lua \
    http://127.0.0.1:8080 >"$txt" 2>&1
  t1=$(cpu_ticks $gateway)
  python3 - "$txt" "$c" "$t0" "$t1" "$hz" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]
pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", text, re.M))
total = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = int(non2xx.group(1)) if non2xx else 0
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if sock:
    errs += sum(int(x) for x in sock.groups())
cpu = (float(sys.argv[4]) - float(sys.argv[3])) / float(sys.argv[5]) * 1000 / max(total, 1)
print(f"{'http':<5} {sys.argv[2]:<5} {rps:9.0f} {ms(pct['50']):9.2f} {ms(pct['99']):9.2f} {errs:8d} {cpu:14.3f}")
PY
done
