# Shared helpers of the deploy tests (sourced, not run). Each test script:
#   source "$(dirname "$0")/lib.sh"
#   deploy_test_init NAME          # temp dir, EXIT trap, overall time limit
#   make_toy_registry              # toy data + trained, promoted bundle in $WORK
#   start_services                 # retrieval, ranking, gateway on free loopback ports
#   ... checks; fail "reason" / pass "summary"
# Environment: RECSYS_BIN_DIR (the binaries; set by CMake), RECSYS_SOURCE_DIR,
# DEPLOY_TEST_TIMEOUT (seconds, whole-test watchdog, default 120).
set -euo pipefail

RECSYS_SOURCE_DIR=${RECSYS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RECSYS_BIN_DIR=${RECSYS_BIN_DIR:-$RECSYS_SOURCE_DIR/build/bin}
BIN=$RECSYS_BIN_DIR
# Debian's interpreter: python3-grpcio, python3-grpc-tools and python3-yaml are
# installed for it (a pyenv/venv python3 earlier on PATH would not have them).
PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
TEST_NAME=unnamed
WORK=""
_PIDS=()         # processes to stop on exit (started by this test only)
_WATCHDOG=""

log() { printf '[%s %s] %s\n' "$TEST_NAME" "$(date +%H:%M:%S.%3N)" "$*" >&2; }

fail() {
  echo "FAIL: $TEST_NAME: $*" >&2
  dump_logs
  exit 1
}

pass() {
  echo "PASS: $TEST_NAME: $*"
  exit 0
}

dump_logs() {
  [ -n "$WORK" ] && [ -d "$WORK/logs" ] || return 0
  local f
  for f in "$WORK"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "--- $(basename "$f") (last 30 lines) ---" >&2
    tail -n 30 "$f" >&2 || true
  done
}

_cleanup() {
  local rc=$?
  local pid
  for pid in "${_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Give them a moment to drain, then make sure.
  for _ in $(seq 1 30); do
    local alive=0
    for pid in "${_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$_WATCHDOG" ] && kill "$_WATCHDOG" 2>/dev/null || true
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$rc" -eq 0 ] || [ -z "${KEEP_DEPLOY_TEST_DIR:-}" ]; then rm -rf "$WORK"; else
      echo "(kept $WORK)" >&2; fi
  fi
  exit "$rc"
}

# deploy_test_init NAME: a fresh temp dir in $WORK, the cleanup trap, and a
# watchdog that fails the test after DEPLOY_TEST_TIMEOUT seconds.
deploy_test_init() {
  TEST_NAME=$1
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/recsys-deploy-$TEST_NAME.XXXXXX")
  mkdir -p "$WORK/logs"
  trap _cleanup EXIT
  trap 'fail "interrupted"' INT TERM
  local limit=${DEPLOY_TEST_TIMEOUT:-120}
  local self=$$
  # The watchdog's sleep dies with it (cleanup sends TERM; `wait` is interruptible).
  ( trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$limit" & s=$!
    wait "$s" || exit 0
    echo "FAIL: $TEST_NAME: timed out after ${limit}s" >&2
    # The script runs its EXIT trap only once its foreground command returns:
    # end that command (a direct child of the script) too.
    kill -TERM "$self"
    pkill -TERM -P "$self" 2>/dev/null || true ) &
  _WATCHDOG=$!
  for b in recsys-retrieval recsys-ranking recsys-gateway recsys-train recsys-registry \
           recsys-cli recsys-load; do
    [ -x "$BIN/$b" ] || fail "missing binary $BIN/$b (build first)"
  done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now (bound
# with port 0, read, released). Ports handed out in one test are distinct.
_GIVEN_PORTS=" "
free_port() {
  local p
  while true; do
    p=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    case "$_GIVEN_PORTS" in *" $p "*) continue ;; esac
    _GIVEN_PORTS="$_GIVEN_PORTS$p "
    echo "$p"
    return
  done
}

# track PID: stop this process at exit.
track() { _PIDS+=("$1"); }

# make_toy_registry: writes the toy data set into $WORK/data, trains a small
# production-kind bundle into $WORK/registry (model "toy") and promotes it.
make_toy_registry() {
  "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/toy_data.py" "$WORK/data"
  "$BIN/recsys-train" --data "$WORK/data" --registry "$WORK/registry" --name toy \
    --content_dim 8 --als_factors 8 --als_iterations 5 --tune_budget 0 --max_pool 60 \
    --holdout none >"$WORK/logs/train.log" 2>&1 || fail "recsys-train failed"
  TOY_VERSION=$(awk '/^version /{print $2}' "$WORK/logs/train.log" | tail -n 1)
  [ -n "$TOY_VERSION" ] || fail "recsys-train printed no version"
  "$BIN/recsys-registry" --registry "$WORK/registry" --name toy promote "$TOY_VERSION" --force \
    >>"$WORK/logs/train.log" 2>&1 || fail "recsys-registry promote failed"
}

# wait_serving PORT [SERVICE] [SECONDS]: polls grpc.health.v1 until SERVING.
# HEALTH_CLI_FLAGS (array, default empty): extra recsys-cli flags, e.g. TLS.
HEALTH_CLI_FLAGS=()
wait_serving() {
  local port=$1 service=${2:-} limit=${3:-30}
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    if "$BIN/recsys-cli" --target "127.0.0.1:$port" --deadline 1s --service "$service" \
      ${HEALTH_CLI_FLAGS[@]+"${HEALTH_CLI_FLAGS[@]}"} health \
      >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# wait_http URL [SECONDS]: until the URL answers 200.
wait_http() {
  local url=$1 limit=${2:-30}
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Service start-up. Ports are chosen here and exported for the test:
#   RETRIEVAL_PORT RETRIEVAL_METRICS RANKING_PORT RANKING_METRICS
#   GATEWAY_PORT GATEWAY_METRICS GATEWAY_HTTP_PORT (the gateway's HTTP/JSON API
#   and web page); pids RETRIEVAL_PID RANKING_PID GATEWAY_PID.
COMMON_FLAGS=()
_common_flags() {
  COMMON_FLAGS=(--registry="$WORK/registry" --name=toy --poll_interval=1s)
}

start_retrieval() {
  _common_flags
  "$BIN/recsys-retrieval" "${COMMON_FLAGS[@]}" --port="$RETRIEVAL_PORT" \
    --metrics_port="$RETRIEVAL_METRICS" --drain=5s "$@" >>"$WORK/logs/retrieval.log" 2>&1 &
  RETRIEVAL_PID=$!
  track "$RETRIEVAL_PID"
}

start_ranking() {
  _common_flags
  "$BIN/recsys-ranking" "${COMMON_FLAGS[@]}" --port="$RANKING_PORT" \
    --metrics_port="$RANKING_METRICS" --drain=5s "$@" >>"$WORK/logs/ranking.log" 2>&1 &
  RANKING_PID=$!
  track "$RANKING_PID"
}

# start_gateway [EXTRA FLAGS...]
start_gateway() {
  _common_flags
  "$BIN/recsys-gateway" "${COMMON_FLAGS[@]}" --port="$GATEWAY_PORT" \
    --metrics_port="$GATEWAY_METRICS" --state_dir="$WORK/state" \
    ${GATEWAY_HTTP_PORT:+--http_port="$GATEWAY_HTTP_PORT"} \
    --retrieval="dns:///127.0.0.1:$RETRIEVAL_PORT" --ranking="dns:///127.0.0.1:$RANKING_PORT" \
    --default_deadline=2s --drain=5s "$@" >>"$WORK/logs/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  track "$GATEWAY_PID"
}

# start_services [GATEWAY FLAGS...]: all three, waits until each is SERVING.
start_services() {
  RETRIEVAL_PORT=$(free_port); RETRIEVAL_METRICS=$(free_port)
  RANKING_PORT=$(free_port); RANKING_METRICS=$(free_port)
  GATEWAY_PORT=$(free_port); GATEWAY_METRICS=$(free_port); GATEWAY_HTTP_PORT=$(free_port)
  start_retrieval
  start_ranking
  start_gateway "$@"
  wait_serving "$RETRIEVAL_PORT" recsys.v1.Retrieval || fail "retrieval not SERVING within 30s"
  wait_serving "$RANKING_PORT" recsys.v1.Ranking || fail "ranking not SERVING within 30s"
  wait_serving "$GATEWAY_PORT" recsys.v1.Recommender || fail "gateway not SERVING within 30s"
  log "services SERVING: gateway :$GATEWAY_PORT (/metrics :$GATEWAY_METRICS)," \
      "retrieval :$RETRIEVAL_PORT (:$RETRIEVAL_METRICS), ranking :$RANKING_PORT (:$RANKING_METRICS)"
}
