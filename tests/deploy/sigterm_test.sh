#!/usr/bin/env bash
# SIGTERM under load: recsys-load drives Recommend in a closed loop
# (concurrency 16) against the real gateway; the gateway gets SIGTERM mid-run
# while calls are in flight, and must answer every call it had accepted, then
# exit 0 within its grace period (--drain + 3 s).
#
# In-flight calls are made long on purpose: ranking is paused (SIGSTOP) 0.3 s
# before the signal and resumed 0.5 s after it, so every call in flight at the
# signal sits in the gateway waiting on ranking and the drain has to wait ~0.5 s
# for them (they then complete on the full path, well inside their 2 s deadline).
#
# How accepted calls are told apart from calls refused after shutdown began
# (see sigterm_analyze.py): on the client, refused calls — and only they — fail
# with UNAVAILABLE "failed to connect to all addresses" (no connection to send
# on), every other failure is an accepted call that failed; on the server, a
# /metrics scrape taken after the drain began holds the final
# grpc_server_started_total (= calls accepted), which must equal the client's
# OK count, with no non-OK handled. A negative control then repeats the run
# with --drain=100ms, shorter than the paused calls: the same analysis must
# report accepted calls that failed, or it could not detect a broken drain.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-120}
deploy_test_init sigterm
make_toy_registry
# The answer cache off: this test needs Recommend calls in flight behind the
# stalled ranking process while the gateway drains (cached answers would
# return at once and never reach ranking).
start_services --drain=5s --cache_mb=0

# run_once NAME: load + SIGTERM against the running gateway; leaves
# $WORK/NAME.{json,prom,verdict} and returns the analysis' exit code.
run_once() {
  local name=$1 drain_s=$2
  local target="127.0.0.1:$GATEWAY_PORT"
  # Scrape the gateway's /metrics every 50 ms until it exits; keep the last
  # complete scrape, stamped with the time its request started.
  ( while kill -0 "$GATEWAY_PID" 2>/dev/null; do
      t=$(date +%s.%N)
      if curl -fsS --max-time 0.5 "http://127.0.0.1:$GATEWAY_METRICS/metrics" -o "$WORK/$name.tmp" \
           2>/dev/null; then
        echo "# scraped_after $t" >>"$WORK/$name.tmp"
        mv "$WORK/$name.tmp" "$WORK/$name.prom"
      fi
      sleep 0.05
    done ) &
  local poller=$!
  track "$poller"
  "$BIN/recsys-load" --target "$target" --users "$WORK/data/users.txt" --concurrency 16 \
    --deadline 2s --duration 60s --json "$WORK/$name.json" >"$WORK/logs/load-$name.log" 2>&1 &
  local load=$!
  track "$load"
  sleep 2
  kill -STOP "$RANKING_PID"
  sleep 0.3
  local t_signal t_exit rc=0
  t_signal=$(date +%s.%N)
  kill -TERM "$GATEWAY_PID"
  sleep 0.5
  kill -CONT "$RANKING_PID"
  # Wait for the exit, bounded well past the grace period.
  local limit=$(( ${drain_s%.*} + 10 ))
  local end=$((SECONDS + limit))
  while kill -0 "$GATEWAY_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.02; done
  t_exit=$(date +%s.%N)
  if kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill -KILL "$GATEWAY_PID"; wait "$GATEWAY_PID" 2>/dev/null || true
    fail "$name: gateway still running ${limit}s after SIGTERM"
  fi
  wait "$GATEWAY_PID" || rc=$?
  wait "$poller" 2>/dev/null || true
  # Let the load hit the closed port briefly (refused calls), then stop it: it
  # reports on SIGINT.
  sleep 0.3
  kill -INT "$load" 2>/dev/null || true
  local end2=$((SECONDS + 15))
  while kill -0 "$load" 2>/dev/null && [ $SECONDS -lt $end2 ]; do sleep 0.05; done
  kill -0 "$load" 2>/dev/null && fail "$name: recsys-load did not stop after SIGINT"
  wait "$load" || fail "$name: recsys-load failed: $(tail -3 "$WORK/logs/load-$name.log")"
  [ -f "$WORK/$name.json" ] || fail "$name: recsys-load wrote no report"
  [ -f "$WORK/$name.prom" ] || fail "$name: no scrape of the gateway's /metrics"
  local grace
  grace=$(awk -v d="$drain_s" 'BEGIN { print d + 3 }')
  "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/sigterm_analyze.py" --report "$WORK/$name.json" \
    --scrape "$WORK/$name.prom" --log "$WORK/logs/gateway.log" --signal-time "$t_signal" \
    --exit-time "$t_exit" --exit-code "$rc" --grace "$grace" >"$WORK/$name.verdict" 2>&1
}

log "run 1: --drain=5s (grace 8 s), SIGTERM with calls in flight"
verdict=0
run_once drain5s 5 || verdict=$?
sed 's/^/    /' "$WORK/drain5s.verdict"
[ "$verdict" -eq 0 ] || fail "SIGTERM under load: $(grep VERDICT "$WORK/drain5s.verdict")"
summary=$(grep VERDICT "$WORK/drain5s.verdict" | sed 's/^VERDICT OK: //')

# Negative control: a drain shorter than the paused calls must show failures.
log "negative control: --drain=100ms (the in-flight calls outlive it)"
mv "$WORK/logs/gateway.log" "$WORK/logs/gateway-run1.log"
GATEWAY_PORT=$(free_port); GATEWAY_METRICS=$(free_port)
start_gateway --drain=100ms --cache_mb=0
wait_serving "$GATEWAY_PORT" recsys.v1.Recommender 30 || fail "control gateway not SERVING"
control=0
run_once drain100ms 0.1 || control=$?
sed 's/^/    /' "$WORK/drain100ms.verdict"
[ "$control" -ne 0 ] && grep -q "accepted calls failed" "$WORK/drain100ms.verdict" ||
  fail "the negative control (--drain=100ms) was not detected as failing: the check is blind"

pass "$summary; a 100 ms drain is caught ($(grep -o '[0-9]* accepted calls failed' "$WORK/drain100ms.verdict"))"
