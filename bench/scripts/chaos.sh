#!/usr/bin/env bash
# Chaos benchmark: the three services on loopback under Recommend load through
# the gateway (answer cache off, so every call runs both stages), one scenario
# at a time, each on freshly started services. One table row per run:
#
#   kill-retrieval  closed loop; retrieval kill -9'd and restarted every
#                   --kill_every s. Target: 0 non-OK answers (the gateway
#                   degrades to trending instead of failing).
#   kill-ranking    the same for ranking (the gateway degrades to retrieval order).
#   flip            a steady run, then a run of the same length in which the
#                   production alias moves between two versions every
#                   --flip_every s (recsys-registry promote --force, then SIGHUP
#                   to the three services; only the first promotion trial-loads
#                   the bundle). Target: 0 non-OK, p99 <= steady + 20 %.
#   overload        saturation throughput S (closed loop, best of
#                   --sat_concurrency), then an open loop at --overload_factor x S
#                   against a gateway started with each --max_inflight value.
#                   Target: the excess refused with RESOURCE_EXHAUSTED (no other
#                   error) and a client-side refusal p99 < 1 ms, OK p99 below
#                   the call deadline. The row notes add the gateway's own time
#                   to refuse, from the latency_ms of its access-log lines.
#
#   bench/scripts/chaos.sh                         # every scenario, 60 s each
#   bench/scripts/chaos.sh --duration 10 --sat_duration 5   # quick mode, ~2 min
#   bench/scripts/chaos.sh --scenarios "kill-ranking flip" --duration 20
#
# Options (defaults in brackets): --duration S [60] measured seconds of each
# run; --kill_every S [5]; --flip_every S [2]; --concurrency N [8] closed-loop
# calls outstanding (kill and flip runs); --rate R [0] open loop at R calls/s
# instead (kill and flip runs); --deadline D [1s] per call;
# --sat_concurrency "N ..." ["8 16 32"]; --sat_duration S [10];
# --overload_factor F [2]; --max_inflight "N ..." ["512 64 16"] gateway
# admission limits tried under overload (512 is the gateway's default);
# --scenarios "..." [all four]; --out DIR [out/chaos]; --poll_interval D [10s]
# of the services (flips use SIGHUP); --warmup S [2] unmeasured load after
# each start.
# Servers log to OUT/logs/SCENARIO.ROLE.log (a restarted one appends).
# Environment: REGISTRY (registry), NAME (movielens), DATA (data/ml-latest-small),
# BIN (build/bin).
#
# Needs a built tree and a registry holding at least two versions of NAME, one
# of them production (the flip scenario moves the alias between production and
# the newest other version, and puts it back at the end), e.g.:
#   build/bin/recsys-train --registry registry --name movielens
#   build/bin/recsys-train --registry registry --name movielens --seed 7
#   build/bin/recsys-registry --registry registry --name movielens promote VERSION
# Every command run is echoed with a leading "+ " into OUT/commands.txt; the
# load reports (recsys-load --json) and service logs stay in OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
DATA=${DATA:-data/ml-latest-small}

DURATION=60
KILL_EVERY=5
FLIP_EVERY=2
CONCURRENCY=8
RATE=0
DEADLINE=1s
SAT_CONCURRENCY="8 16 32"
SAT_DURATION=10
OVERLOAD_FACTOR=2
MAX_INFLIGHT="512 64 16"
SCENARIOS="kill-retrieval kill-ranking flip overload"
OUT=out/chaos
POLL_INTERVAL=10s
WARMUP=2

die() { echo "chaos: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "option $1 needs a value"
  case "$1" in
    --duration) DURATION=$2 ;;
    --kill_every) KILL_EVERY=$2 ;;
    --flip_every) FLIP_EVERY=$2 ;;
    --concurrency) CONCURRENCY=$2 ;;
    --rate) RATE=$2 ;;
    --deadline) DEADLINE=$2 ;;
    --sat_concurrency) SAT_CONCURRENCY=$2 ;;
    --sat_duration) SAT_DURATION=$2 ;;
    --overload_factor) OVERLOAD_FACTOR=$2 ;;
    --max_inflight) MAX_INFLIGHT=$2 ;;
    --scenarios) SCENARIOS=$2 ;;
    --out) OUT=$2 ;;
    --poll_interval) POLL_INTERVAL=$2 ;;
    --warmup) WARMUP=$2 ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
  shift 2
done
if [ "$RATE" = 0 ]; then
  LOAD=(--concurrency "$CONCURRENCY")
  LOAD_NAME="closed loop c=$CONCURRENCY"
else
  LOAD=(--rate "$RATE")
  LOAD_NAME="open loop $RATE/s"
fi
for tool in recsys-retrieval recsys-ranking recsys-gateway recsys-load recsys-cli recsys-registry; do
  [ -x "$BIN/$tool" ] || die "$BIN/$tool missing: build first (scripts/build.sh)"
done
command -v python3 >/dev/null || die "python3 is needed to read the load reports"
[ -d "$REGISTRY/$NAME" ] || die "no model $NAME in registry $REGISTRY (see the header of $0)"

mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log
OUT=$(cd "$OUT" && pwd)
ROWS="$OUT/rows.tsv"
COMMANDS="$OUT/commands.txt"
: >"$ROWS"
: >"$COMMANDS"
STATE=$(mktemp -d)

# Free loopback ports, so a run never meets another server on the defaults.
read -r GW_PORT RET_PORT RANK_PORT GW_METRICS RET_METRICS RANK_METRICS < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()')

# CPU seconds (user + system) the three services have used so far.
services_cpu() {
  local role ticks=0
  for role in retrieval ranking gateway; do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/${PID[$role]}/stat")))
  done
  python3 -c "print($ticks / $(getconf CLK_TCK))"
}
log_cmd() { echo "+ $*" >>"$COMMANDS"; }
run() { log_cmd "$@"; "$@"; }
# Time in microseconds from bash itself: the timing loops below start no
# process, so the harness takes no CPU from the services while a run measures.
now_us() { echo "${EPOCHREALTIME/./}"; }
elapsed() { local d=$(($(now_us) - $1)); printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000)); }
sleep_until() {  # T0_US SECONDS: returns SECONDS after T0_US (at once if passed)
  local d=$(($1 + $2 * 1000000 - $(now_us)))
  [ "$d" -gt 0 ] && sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
  return 0
}
before() { [ "$(now_us)" -lt $(($1 + $2)) ]; }  # T0_US OFFSET_US: not yet at T0 + OFFSET

declare -A PID=()
GATEWAY_EXTRA=()
service_cmd() {  # ROLE -> the command line in CMD
  local common=(--registry "$REGISTRY" --name "$NAME" --poll_interval "$POLL_INTERVAL")
  case "$1" in
    retrieval) CMD=("$BIN/recsys-retrieval" "${common[@]}" --port "$RET_PORT" --metrics_port "$RET_METRICS") ;;
    ranking) CMD=("$BIN/recsys-ranking" "${common[@]}" --port "$RANK_PORT" --metrics_port "$RANK_METRICS") ;;
    gateway) CMD=("$BIN/recsys-gateway" "${common[@]}" --port "$GW_PORT" --metrics_port "$GW_METRICS"
      --state_dir "$STATE" --cache_mb 0 --retrieval "dns:///localhost:$RET_PORT"
      --ranking "dns:///localhost:$RANK_PORT" "${GATEWAY_EXTRA[@]}") ;;
  esac
}
start_role() {  # ROLE
  service_cmd "$1"
  log_cmd "${CMD[@]}" "&"
  "${CMD[@]}" >>"$OUT/logs/$SCENARIO.$1.log" 2>&1 &
  PID[$1]=$!
}
port_of() { case "$1" in retrieval) echo "$RET_PORT" ;; ranking) echo "$RANK_PORT" ;; gateway) echo "$GW_PORT" ;; esac; }
service_of() { case "$1" in retrieval) echo recsys.v1.Retrieval ;; ranking) echo recsys.v1.Ranking ;; gateway) echo recsys.v1.Recommender ;; esac; }
healthy() { "$BIN/recsys-cli" --target "localhost:$(port_of "$1")" --service "$(service_of "$1")" health >/dev/null 2>&1; }
wait_healthy() {  # ROLE [SECONDS]
  local tries=$(( ${2:-120} * 5 ))
  for _ in $(seq 1 "$tries"); do healthy "$1" && return 0; sleep 0.2; done
  die "$1 did not become healthy (log: $OUT/logs/$SCENARIO.$1.log)"
}
stop_all() {
  local role
  for role in "${!PID[@]}"; do kill -TERM "${PID[$role]}" 2>/dev/null || true; done
  for role in "${!PID[@]}"; do wait "${PID[$role]}" 2>/dev/null || true; done
  PID=()
}
start_all() {
  rm -rf "${STATE:?}"/*
  start_role retrieval
  start_role ranking
  start_role gateway
  wait_healthy retrieval
  wait_healthy ranking
  wait_healthy gateway
}

ORIGINAL_PRODUCTION=""
cleanup() {
  stop_all
  if [ -n "$ORIGINAL_PRODUCTION" ]; then
    "$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" promote --force \
      "$ORIGINAL_PRODUCTION" >/dev/null 2>&1 || true
  fi
  rm -rf "$STATE"
}
trap cleanup EXIT

load_cmd() {  # JSON LOAD-ARGS... -> the command line in CMD
  local json=$1
  shift
  CMD=("$BIN/recsys-load" --target "localhost:$GW_PORT" --data "$DATA" --deadline "$DEADLINE"
    "$@" --json "$json")
}
warm_up() {
  "$BIN/recsys-load" --target "localhost:$GW_PORT" --data "$DATA" --concurrency "$CONCURRENCY" \
    --duration "${WARMUP}s" >/dev/null 2>&1
}

# One table row from a recsys-load report: SCENARIO LOAD JSON TARGET-KIND [EXTRA].
# TARGET-KIND: zero (0 non-OK), flip:BASE_P99_MS, overload:REFUSE_MS:OK_P99_BOUND_MS.
row() {
  python3 - "$@" "$(cut -d' ' -f1 /proc/loadavg)" >>"$ROWS" <<'PY'
import json, sys
scenario, load, path, kind, extra, load1 = sys.argv[1:7]
r = json.load(open(path))
codes = r.get("statusCodeDistribution", {})
calls = r["count"]
non_ok = sum(n for c, n in codes.items() if c != "OK")
by_code = r.get("latencyByStatusCode", {})
ok_p99 = by_code.get("OK", {}).get("p99", 0) / 1e6
degraded = r.get("degraded", 0)
notes = []
if kind == "zero":
    target = "0 non-OK"
    met = non_ok == 0
elif kind.startswith("flip:"):
    base = float(kind.split(":")[1])
    target = f"0 non-OK, p99 <= {1.2 * base:.2f} ms"
    met = non_ok == 0 and ok_p99 <= 1.2 * base
    notes.append(f"p99 {ok_p99 / base - 1:+.0%} vs steady" if base > 0 else "")
elif kind.startswith("overload:"):
    _, refuse_ms, bound_ms = kind.split(":")
    refused = by_code.get("RESOURCE_EXHAUSTED", {})
    refuse_p99 = refused.get("p99", 0) / 1e6
    other = sum(n for c, n in codes.items() if c not in ("OK", "RESOURCE_EXHAUSTED"))
    target = (f"excess refused: RESOURCE_EXHAUSTED p99 < {refuse_ms} ms, no other error, "
              f"OK p99 < deadline")
    met = (refused.get("count", 0) > 0 and refuse_p99 < float(refuse_ms) and other == 0
           and ok_p99 < float(bound_ms))
    if refused:
        notes.append(f"refusal p50/p99 {refused['p50'] / 1e6:.2f}/{refuse_p99:.2f} ms")
    else:
        notes.append("no RESOURCE_EXHAUSTED")
else:
    target, met = "-", True
if non_ok:
    notes.append(" ".join(f"{c}={n}" for c, n in sorted(codes.items()) if c != "OK"))
if degraded:
    notes.append(f"degraded {degraded / calls:.1%}")
if extra:
    notes.append(extra)
notes.append(f"rps {r['rps']:.0f}, load1 {load1}")
print("\t".join([scenario, load, str(calls), str(non_ok), str(degraded), f"{ok_p99:.2f}",
                 target, "yes" if met else "NO", "; ".join(n for n in notes if n)]))
PY
  tail -n 1 "$ROWS" | tr '\t' '|'
}

# --- scenarios -------------------------------------------------------------------

kill_scenario() {  # ROLE
  local role=$1 json="$OUT/$SCENARIO.json"
  start_all
  warm_up
  load_cmd "$json" "${LOAD[@]}" --duration "${DURATION}s"
  log_cmd "${CMD[@]}" "&"
  "${CMD[@]}" >"$OUT/$SCENARIO.txt" 2>&1 &
  local load_pid=$! t0 kills=0 restarts=()
  t0=$(now_us)
  # Kill at KILL_EVERY, 2 KILL_EVERY, ... while the load runs; after each
  # restart, note how long the stage took to report SERVING again.
  local next=$KILL_EVERY
  while [ "$next" -lt "$DURATION" ]; do
    sleep_until "$t0" "$next"
    log_cmd kill -9 "${PID[$role]}"
    kill -9 "${PID[$role]}"
    wait "${PID[$role]}" 2>/dev/null || true
    kills=$((kills + 1))
    local k0
    k0=$(now_us)
    start_role "$role"
    local up="-"
    while before "$t0" $(((next + KILL_EVERY) * 1000000 - 300000)); do
      if healthy "$role"; then up=$(elapsed "$k0"); break; fi
      sleep 0.1
    done
    restarts+=("$up")
    next=$((next + KILL_EVERY))
  done
  wait "$load_pid" || die "recsys-load failed (see $OUT/$SCENARIO.txt)"
  echo "$SCENARIO: seconds from kill to SERVING: ${restarts[*]}" >>"$OUT/notes.txt"
  row "$SCENARIO" "$LOAD_NAME, ${DURATION}s" "$json" zero \
    "$kills kills, back to SERVING after ${restarts[*]} s"
  stop_all
}

flip_scenario() {
  local versions production other
  versions=$("$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" list)
  production=$(awk '$1 == "*" { print $2 }' <<<"$versions" | head -n 1)
  other=$(awk '$1 != "*" && $1 ~ /^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T/ { v = $1 } END { print v }' <<<"$versions")
  [ -n "$production" ] || die "no production version of $NAME in $REGISTRY"
  [ -n "$other" ] || die "flip needs a second version of $NAME in $REGISTRY (train one more)"
  ORIGINAL_PRODUCTION=$production
  start_all
  warm_up
  local steady="$OUT/flip-steady.json" json="$OUT/flip.json"
  SCENARIO=flip-steady
  load_cmd "$steady" "${LOAD[@]}" --duration "${DURATION}s"
  local cpu0 cpu1
  cpu0=$(services_cpu)
  run "${CMD[@]}" >"$OUT/flip-steady.txt" 2>&1 || die "recsys-load failed"
  cpu1=$(services_cpu)
  row flip-steady "$LOAD_NAME, ${DURATION}s" "$steady" zero \
    "no flips (baseline); services used $(python3 -c "print(f'{$cpu1 - $cpu0:.1f}')") CPU s"
  local base_p99
  base_p99=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['latencyByStatusCode']['OK']['p99'] / 1e6)" "$steady")

  SCENARIO=flip
  load_cmd "$json" "${LOAD[@]}" --duration "${DURATION}s"
  log_cmd "${CMD[@]}" "&"
  "${CMD[@]}" >"$OUT/flip.txt" 2>&1 &
  local load_pid=$! t0 flips=0 next=$FLIP_EVERY target=$other
  t0=$(now_us)
  cpu0=$(services_cpu)
  # The first promotion of each version trial-loads it (--load_check, the
  # default); later flips between the same two, already checked versions skip
  # that check: a trial load is the operator's tool working on the services'
  # own 2 cores, not what the services do during a flip.
  local check=true
  while [ "$next" -lt "$DURATION" ]; do
    sleep_until "$t0" "$next"
    run "$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" promote --force \
      --load_check="$check" "$target" \
      >>"$OUT/logs/flip.registry.log" 2>&1 || die "promote $target failed (see $OUT/logs/flip.registry.log)"
    check=false
    log_cmd kill -HUP "${PID[retrieval]}" "${PID[ranking]}" "${PID[gateway]}"
    kill -HUP "${PID[retrieval]}" "${PID[ranking]}" "${PID[gateway]}"
    flips=$((flips + 1))
    if [ "$target" = "$other" ]; then target=$production; else target=$other; fi
    next=$((next + FLIP_EVERY))
  done
  wait "$load_pid" || die "recsys-load failed (see $OUT/flip.txt)"
  cpu1=$(services_cpu)
  stop_all
  local reloads
  reloads=$(cat "$OUT"/logs/flip.*.log | grep -c "production alias: reloaded" || true)
  row flip "$LOAD_NAME, ${DURATION}s" "$json" "flip:$base_p99" \
    "$flips flips $production <-> $other, $reloads reloads logged; services used $(python3 -c "print(f'{$cpu1 - $cpu0:.1f}')") CPU s"
  run "$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" promote --force "$production" \
    >>"$OUT/logs/flip.registry.log" 2>&1
  ORIGINAL_PRODUCTION=""
}

overload_scenario() {
  SCENARIO=overload-saturation
  GATEWAY_EXTRA=()
  start_all
  warm_up
  local best=0 c
  for c in $SAT_CONCURRENCY; do
    local json="$OUT/overload-saturation-c$c.json"
    load_cmd "$json" --concurrency "$c" --duration "${SAT_DURATION}s"
    run "${CMD[@]}" >"$OUT/overload-saturation-c$c.txt" 2>&1 || die "recsys-load failed"
    row "saturation c=$c" "closed loop c=$c, ${SAT_DURATION}s" "$json" none ""
    best=$(python3 -c "import json, sys; print(max(float(sys.argv[2]), json.load(open(sys.argv[1]))['rps']))" "$json" "$best")
  done
  stop_all
  local rate bound_ms
  rate=$(python3 -c "print(round($best * $OVERLOAD_FACTOR))")
  bound_ms=$(python3 -c "
s = '$DEADLINE'
units = {'ms': 1, 's': 1000}
for u in ('ms', 's'):
    if s.endswith(u): print(float(s[:-len(u)]) * units[u]); break")
  echo "saturation ${best} calls/s; open loop at $rate calls/s" >>"$OUT/notes.txt"
  local m
  for m in $MAX_INFLIGHT; do
    SCENARIO=overload-max_inflight-$m
    GATEWAY_EXTRA=(--max_inflight "$m")
    start_all
    warm_up
    local json="$OUT/$SCENARIO.json"
    load_cmd "$json" --rate "$rate" --duration "${DURATION}s"
    run "${CMD[@]}" >"$OUT/$SCENARIO.txt" 2>&1 || die "recsys-load failed"
    local lag server
    lag=$(awk '/^Send lag/ { print $NF }' "$OUT/$SCENARIO.txt")
    stop_all
    # The gateway's own time to refuse: the access log's latency_ms of the
    # RESOURCE_EXHAUSTED lines (a sample: error lines are rate-limited, not
    # chosen by latency), from the call reaching the server to its answer.
    server=$(python3 - "$OUT/logs/$SCENARIO.gateway.log" <<'PY'
import re, sys
lat = sorted(float(m.group(1)) for m in
             (re.search(r"code=RESOURCE_EXHAUSTED latency_ms=([0-9.]+)", l) for l in open(sys.argv[1]))
             if m)
if lat:
    pick = lambda p: lat[min(len(lat) - 1, max(0, -(-len(lat) * p // 100) - 1))]
    print(f"in-server refusal p50/p99 {pick(50):.3f}/{pick(99):.3f} ms ({len(lat)} logged)")
PY
)
    row "overload ${OVERLOAD_FACTOR}x, max_inflight $m" \
      "open loop $rate/s (sat. $(printf '%.0f' "$best")/s), ${DURATION}s" "$json" \
      "overload:1:$bound_ms" "${server:+$server; }client send lag $lag"
  done
  GATEWAY_EXTRA=()
}

echo "chaos: ports gateway $GW_PORT retrieval $RET_PORT ranking $RANK_PORT; out $OUT"
echo "chaos: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" |
  tee "$OUT/notes.txt"
echo "scenario|load|calls|non-OK|degraded|p99 ms (OK)|target|met?|notes"
for s in $SCENARIOS; do
  SCENARIO=$s
  case "$s" in
    kill-retrieval) kill_scenario retrieval ;;
    kill-ranking) kill_scenario ranking ;;
    flip) flip_scenario ;;
    overload) overload_scenario ;;
    *) die "unknown scenario $s (kill-retrieval, kill-ranking, flip, overload)" ;;
  esac
done
echo "chaos: load $(cut -d' ' -f1-3 /proc/loadavg) at the end" | tee -a "$OUT/notes.txt"
echo "rows: $ROWS; commands: $COMMANDS; reports and logs: $OUT"
