#!/usr/bin/env bash
# Two gateways on one Redis in front of real retrieval and ranking (toy bundle,
# free loopback ports, answer cache on): an answer cached by gateway A is
# served again from A's cache; a Feedback through gateway B changes the
# user's history in Redis, so A's next answer is computed afresh (a cache miss:
# the key fingerprints the history it used) and no longer offers the item.
# Skipped (77) only without redis-server.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-120}
deploy_test_init redis_replicas
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 77; }

make_toy_registry
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server "$RECSYS_SOURCE_DIR/deploy/redis/redis.conf" --port "$REDIS_PORT" \
  --dir "$WORK/redis" >"$WORK/logs/redis.log" 2>&1 &
track $!
start_services --user_store="redis://127.0.0.1:$REDIS_PORT/0" --cache_mb=16
A_PORT=$GATEWAY_PORT A_METRICS=$GATEWAY_METRICS
B_PORT=$(free_port) B_METRICS=$(free_port)
"$BIN/recsys-gateway" "${COMMON_FLAGS[@]}" --port="$B_PORT" --metrics_port="$B_METRICS" \
  --state_dir="$WORK/state-b" --retrieval="dns:///127.0.0.1:$RETRIEVAL_PORT" \
  --ranking="dns:///127.0.0.1:$RANKING_PORT" --default_deadline=2s --drain=5s \
  --user_store="redis://127.0.0.1:$REDIS_PORT/0" --cache_mb=16 >>"$WORK/logs/gateway-b.log" 2>&1 &
track $!
wait_serving "$B_PORT" recsys.v1.Recommender || fail "gateway B not SERVING within 30s"

cli() { "$BIN/recsys-cli" --target "127.0.0.1:$1" --deadline 5s --output json "${@:2}"; }
hits() {  # cache hits of the gateway whose /metrics is on port $1
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk '/^recsys_gateway_cache_lookups_total\{result="hit"\}/ { print $2 + 0 }'
}
items() { "$PYTHON" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("path",""), " ".join(i["item_id"] for i in a.get("items", [])))'; }

# Full-path answers (backends up) until the first one is cached.
first=""
for _ in $(seq 1 50); do
  first=$(cli "$A_PORT" recommend u0 --k 5 | items)
  case "$first" in PATH_FULL*) break ;; esac
  sleep 0.2
done
case "$first" in PATH_FULL*) ;; *) fail "gateway A never answered on the full path: $first" ;; esac
h0=$(hits "$A_METRICS")
again=$(cli "$A_PORT" recommend u0 --k 5 | items)
h1=$(hits "$A_METRICS")
[ "$again" = "$first" ] || fail "A's second answer differs without any change: '$first' vs '$again'"
[ "${h1%.*}" -gt "${h0%.*}" ] || fail "A's second answer was not served from its cache (hits $h0 -> $h1)"
log "A: '$first' (second time from its cache)"

liked=$(echo "$first" | awk '{print $2}')
cli "$B_PORT" feedback u0 "$liked" >/dev/null || fail "Feedback through B failed"
after=$(cli "$A_PORT" recommend u0 --k 5 | items)
h2=$(hits "$A_METRICS")
[ "${h2%.*}" -eq "${h1%.*}" ] || fail "A served a cached answer after the history changed through B"
case " $after " in *" $liked "*) fail "A still offers $liked after B recorded it: $after" ;; esac
case "$after" in PATH_FULL*) ;; *) fail "A's answer after the Feedback is not on the full path: $after" ;; esac
cli "$A_PORT" history u0 | grep -q "\"$liked\"" || fail "A's history of u0 lacks $liked"
pass "an answer cached by one gateway is not served after a Feedback through the other (history fingerprint); the item is gone from A's next answer"
