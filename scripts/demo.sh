#!/usr/bin/env bash
# The main job on the bundled data: installs dependencies, builds, trains and
# evaluates every model on MovieLens latest-small, publishes and promotes the
# evaluation bundle, starts the retrieval, ranking and gateway services, sends
# real requests (recommend, search, similar items, feedback and the changed
# recommendation), runs the served evaluation over gRPC against that evaluation
# bundle (its held-out events are what the served metrics are measured on),
# then trains the production bundle (--holdout none: refit on every event),
# promotes it, has the running services pick it up at once with SIGHUP, and
# stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
STATE=${STATE:-state}
BIN=build/bin
mkdir -p out/logs

echo "== training (evaluation bundle) =="
$BIN/recsys-train --data data/ml-latest-small --registry "$REGISTRY" --name "$NAME" \
  --json out/leaderboard.json --report_data out/report-data.json | tee out/train.txt
version=$(awk '/^version /{print $2}' out/train.txt | tail -n 1)
echo "== evaluation report =="
/usr/bin/python3 scripts/report.py --leaderboard out/leaderboard.json \
  --report_data out/report-data.json --out out/report
$BIN/recsys-registry --registry "$REGISTRY" --name "$NAME" promote "$version" ||
  echo "promotion refused (see above); production unchanged"
# Keep the registry bounded across repeated runs (production and its rollback
# targets are never removed).
$BIN/recsys-registry --registry "$REGISTRY" --name "$NAME" gc --keep 3
$BIN/recsys-registry --registry "$REGISTRY" --name "$NAME" list

echo "== starting services =="
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
# MovieLens users have up to ~2,700 ratings; the default --max_history (5000)
# keeps whole histories.
common=(--registry "$REGISTRY" --name "$NAME")
$BIN/recsys-retrieval "${common[@]}" --port 50052 --metrics_port 9092 >out/logs/retrieval.log 2>&1 &
pids+=($!)
$BIN/recsys-ranking "${common[@]}" --port 50053 --metrics_port 9093 >out/logs/ranking.log 2>&1 &
pids+=($!)
$BIN/recsys-gateway "${common[@]}" --port 50051 --metrics_port 9091 --state_dir "$STATE" \
  --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 --http_port 8080 \
  >out/logs/gateway.log 2>&1 &
pids+=($!)
# Each service's own health status (the overall "" one reads SERVING for an
# instant at start-up, before the server marks itself NOT_SERVING).
for target in 50052=recsys.v1.Retrieval 50053=recsys.v1.Ranking 50051=recsys.v1.Recommender; do
  port=${target%%=*} service=${target#*=}
  for _ in $(seq 1 120); do
    if $BIN/recsys-cli --target "localhost:$port" --service "$service" health >/dev/null 2>&1; then
      break
    fi
    sleep 0.5
  done
  $BIN/recsys-cli --target "localhost:$port" --service "$service" health >/dev/null || {
    echo "service on port $port did not become healthy; logs in out/logs/"; exit 1; }
done
echo "all three services SERVING (logs in out/logs/, metrics on :9091-9093/metrics)"
echo "web page: http://localhost:8080/  (API docs: /docs; DEMO_KEEP_SERVING=1 keeps the services up after the demo)"

cli=($BIN/recsys-cli --target localhost:50051)
echo "== recommendations =="
for user in 1 414 600; do "${cli[@]}" recommend "$user" --k 5 --debug; echo; done
echo "== search: 'space adventure' =="
"${cli[@]}" search space adventure --k 5
echo "== similar to Toy Story (1) =="
"${cli[@]}" similar 1 --k 5
echo "== feedback: user 1 watches The Matrix (2571), then recommend again =="
"${cli[@]}" feedback 1 2571
"${cli[@]}" recommend 1 --k 5
"${cli[@]}" info
echo "== the same API over HTTP/JSON =="
curl -sS 'localhost:8080/v1/recommend/414?k=3'
curl -sS -H 'Content-Type: application/json' \
  -d '{"question": "animated films for children", "k": 3}' localhost:8080/v1/ask

echo "== served evaluation (every test user's history through the gateway) =="
$BIN/recsys-eval --data data/ml-latest-small --target localhost:50051 --json out/served.json
echo "leaderboards: out/leaderboard.json (offline), out/served.json (served)"

echo "== training (production bundle: --holdout none) =="
$BIN/recsys-train --data data/ml-latest-small --registry "$REGISTRY" --name "$NAME" \
  --holdout none --json out/leaderboard-production.json | tee out/train-production.txt
production=$(awk '/^version /{print $2}' out/train-production.txt | tail -n 1)
if $BIN/recsys-registry --registry "$REGISTRY" --name "$NAME" promote "$production"; then
  # SIGHUP: each service re-reads the production alias at once (instead of at
  # its next --poll_interval) and logs the result; none of them stops. A
  # service whose own poll got there first answers "unchanged, serving".
  for pid in "${pids[@]}"; do kill -HUP "$pid"; done
  loaded="(reloaded|unchanged, serving) $production"
  for log in retrieval ranking gateway; do
    for _ in $(seq 1 240); do
      grep -qE "$loaded" "out/logs/$log.log" && break
      sleep 0.5
    done
    grep -qE "$loaded" "out/logs/$log.log" || {
      echo "$log did not load $production after SIGHUP; see out/logs/$log.log"; exit 1; }
  done
  echo "all three services now serve the production bundle $production"
  "${cli[@]}" recommend 1 --k 5
  "${cli[@]}" info
else
  echo "promotion of $production refused (see above); production unchanged"
fi

if [ "${DEMO_KEEP_SERVING:-0}" = 1 ]; then
  echo "services keep serving: web page http://localhost:8080/, gRPC localhost:50051; Ctrl-C stops them"
  wait
fi
