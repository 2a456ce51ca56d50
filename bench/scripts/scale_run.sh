#!/usr/bin/env bash
# Scale measurement on a synthetic catalogue: generates it with recsys-synth,
# trains (wall time and peak RSS from /usr/bin/time -v), promotes, starts the
# three services on their own ports (gateway answer cache off, so every answer
# is computed), records each service's bundle load time and memory
# (VmRSS / VmHWM), checks that real Recommend calls return items, drives the
# gateway with recsys-load at several concurrencies, and prints a summary table
# (also written as JSON to $WORK/summary.json).
#
#   bench/scripts/scale_run.sh 20000 5000 200000                 # small, ~minutes
#   bench/scripts/scale_run.sh 1000000 1000000 50000000          # the target size
#   DATA=/tmp/synth-1m bench/scripts/scale_run.sh 1000000 1000000 50000000  # reuse data
#
# Arguments: ITEMS USERS EVENTS (the catalogue's size).
# Environment:
#   WORK         work directory (out/scale-ITEMS-USERS-EVENTS): data, registry, logs,
#                load reports, summary.json
#   DATA         use this existing generated directory instead of generating one
#   TRAINED      a registry already holding a trained bundle of DATA (name NAME, default
#                synth): skips training and serves its newest version
#   NAME         the model name in the registry (synth)
#   SEED (1)     recsys-synth --seed
#   TRAIN_ARGS   extra recsys-train flags, e.g. "--tune_budget 10s --threads 2"
#   CONCURRENCY  ("1 8 32"), DURATION (10s), WARMUP (2s): the load steps; CONCURRENCY=""
#                skips the load
#   PORT_BASE    (50151): gateway PORT_BASE, retrieval +1, ranking +2; metrics +100..+102
#   CHECK_USERS  (5) users sent through recsys-cli recommend; each answer must be non-empty
#   HEALTH_TIMEOUT (600) seconds each service may take to become healthy
# Requires a built tree (scripts/build.sh). Exit status non-zero on any failure,
# with the log to read.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${RECSYS_BIN_DIR:-build/bin}
if [ $# -ne 3 ]; then
  echo "usage: $0 ITEMS USERS EVENTS" >&2
  exit 2
fi
ITEMS=$1 USERS=$2 EVENTS=$3
WORK=${WORK:-out/scale-$ITEMS-$USERS-$EVENTS}
SEED=${SEED:-1}
TRAIN_ARGS=${TRAIN_ARGS:-}
CONCURRENCY=${CONCURRENCY-"1 8 32"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT_BASE=${PORT_BASE:-50151}
CHECK_USERS=${CHECK_USERS:-5}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-600}
GW_PORT=$PORT_BASE RET_PORT=$((PORT_BASE + 1)) RANK_PORT=$((PORT_BASE + 2))
mkdir -p "$WORK/logs"
WORK=$(cd "$WORK" && pwd)
REGISTRY=${TRAINED:-$WORK/registry}
NAME=${NAME:-synth}
LOGS=$WORK/logs
SUMMARY=$WORK/summary.tsv  # key<TAB>value, turned into summary.json at the end
: >"$SUMMARY"
put() { printf '%s\t%s\n' "$1" "$2" >>"$SUMMARY"; }
die() { echo "scale_run: $*" >&2; exit 1; }

pids=()
names=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop EXIT

# --- 1. data ---------------------------------------------------------------
if [ -n "${DATA:-}" ]; then
  [ -f "$DATA/interactions.csv" ] || die "DATA=$DATA has no interactions.csv"
  echo "== data: reusing $DATA"
else
  DATA=$WORK/data
  echo "== generating $ITEMS items, $USERS users, $EVENTS events into $DATA"
  /usr/bin/time -v "$BIN/recsys-synth" --out "$DATA" --items "$ITEMS" --users "$USERS" \
    --events "$EVENTS" --seed "$SEED" --force >"$LOGS/synth.txt" 2>"$LOGS/synth.time" ||
    die "recsys-synth failed; see $LOGS/synth.time"
  cat "$LOGS/synth.txt"
fi
put items "$ITEMS"; put users "$USERS"; put events "$EVENTS"; put data "$DATA"
put items_csv_bytes "$(stat -c %s "$DATA/items.csv" 2>/dev/null || echo 0)"
put interactions_csv_bytes "$(stat -c %s "$DATA/interactions.csv")"

# "/usr/bin/time -v" file -> "wall_seconds peak_rss_mib"
time_figures() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "%.1f %.0f\n", s, rss }' "$1"
}
if [ -f "$LOGS/synth.time" ] && [ "$DATA" = "$WORK/data" ]; then
  read -r s rss < <(time_figures "$LOGS/synth.time")
  put synth_seconds "$s"; put synth_peak_rss_mib "$rss"
fi

# --- 2. train and promote ----------------------------------------------------
if [ -n "${TRAINED:-}" ]; then
  version=$("$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" list |
    awk '{ f = ($1 == "*") ? $2 : $1 } f ~ /^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T/ { v = f }
         END { print v }')  # "*" marks the production version
  [ -n "$version" ] || die "no version of $NAME in $REGISTRY"
  echo "== serving the trained bundle $version from $REGISTRY"
  put version "$version"
  put bundle_mib "$(du -sm "$REGISTRY/$NAME/$version" | cut -f1)"
else
echo "== training (recsys-train --format generic $TRAIN_ARGS)"
# shellcheck disable=SC2086
/usr/bin/time -v "$BIN/recsys-train" --data "$DATA" --format generic --registry "$REGISTRY" \
  --name "$NAME" --json "$WORK/leaderboard.json" $TRAIN_ARGS \
  >"$LOGS/train.txt" 2>"$LOGS/train.log" || {
  tail -n 30 "$LOGS/train.log" >&2
  die "recsys-train failed; see $LOGS/train.log"
}
read -r s rss < <(time_figures "$LOGS/train.log")
put train_seconds "$s"; put train_peak_rss_mib "$rss"
version=$(awk '/^version /{print $2}' "$LOGS/train.txt" | tail -n 1)
[ -n "$version" ] || die "no version in $LOGS/train.txt"
put version "$version"
bundle_dir=$REGISTRY/$NAME/$version
[ -d "$bundle_dir" ] && put bundle_mib "$(du -sm "$bundle_dir" | cut -f1)"
echo "trained $version in ${s}s, peak RSS ${rss} MiB"
fi
"$BIN/recsys-registry" --registry "$REGISTRY" --name "$NAME" promote --force "$version" \
  >"$LOGS/promote.txt" 2>&1 || die "promotion failed; see $LOGS/promote.txt"

# --- 3. services ------------------------------------------------------------
echo "== starting services (gateway :$GW_PORT, retrieval :$RET_PORT, ranking :$RANK_PORT)"
common=(--registry "$REGISTRY" --name "$NAME")
t_start=$(date +%s.%N)
"$BIN/recsys-retrieval" "${common[@]}" --port "$RET_PORT" --metrics_port $((RET_PORT + 100)) \
  >"$LOGS/retrieval.log" 2>&1 &
pids+=($!); names+=(retrieval)
"$BIN/recsys-ranking" "${common[@]}" --port "$RANK_PORT" --metrics_port $((RANK_PORT + 100)) \
  >"$LOGS/ranking.log" 2>&1 &
pids+=($!); names+=(ranking)
rm -rf "$WORK/state"
"$BIN/recsys-gateway" "${common[@]}" --port "$GW_PORT" --metrics_port $((GW_PORT + 100)) \
  --state_dir "$WORK/state" --cache_mb 0 --retrieval "dns:///localhost:$RET_PORT" \
  --ranking "dns:///localhost:$RANK_PORT" >"$LOGS/gateway.log" 2>&1 &
pids+=($!); names+=(gateway)

wait_healthy() {  # NAME PORT SERVICE PID
  local deadline=$(($(date +%s) + HEALTH_TIMEOUT))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$4" 2>/dev/null || { tail -n 20 "$LOGS/$1.log" >&2; die "$1 exited; see $LOGS/$1.log"; }
    if "$BIN/recsys-cli" --target "localhost:$2" --service "$3" health >/dev/null 2>&1; then
      put "${1}_seconds_to_healthy" "$(awk -v a="$(date +%s.%N)" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }')"
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$LOGS/$1.log" >&2
  die "$1 on port $2 not healthy after ${HEALTH_TIMEOUT}s; see $LOGS/$1.log"
}
wait_healthy retrieval "$RET_PORT" recsys.v1.Retrieval "${pids[0]}"
wait_healthy ranking "$RANK_PORT" recsys.v1.Ranking "${pids[1]}"
wait_healthy gateway "$GW_PORT" recsys.v1.Recommender "${pids[2]}"

memory() {  # PREFIX: VmRSS and VmHWM (MiB) of each service
  for i in "${!pids[@]}"; do
    local status=/proc/${pids[$i]}/status
    put "${names[$i]}_${1}_vmrss_mib" "$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "$status")"
    put "${names[$i]}_${1}_vmhwm_mib" "$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "$status")"
  done
}
memory loaded
for name in "${names[@]}"; do
  # "serving bundle synth version V (loaded in 1.234s)"
  load=$(sed -n 's/.*serving bundle .* (loaded in \([^,)]*\).*/\1/p' "$LOGS/$name.log" | head -n 1)
  put "${name}_bundle_load" "${load:-unknown}"
done

# --- 4. real requests -----------------------------------------------------------
# User ids "u<n>", n in [0, USERS): recsys-synth's naming.
awk -v n="$USERS" 'BEGIN { for (i = 0; i < n; i++) print "u" i }' >"$WORK/users.txt"
echo "== checking Recommend for $CHECK_USERS users"
step=$((USERS / CHECK_USERS > 0 ? USERS / CHECK_USERS : 1))
paths=""
for ((i = 0; i < CHECK_USERS; i++)); do
  user=u$(((i * step + 1) % USERS))
  out=$("$BIN/recsys-cli" --target "localhost:$GW_PORT" --output json --deadline 5s \
    recommend "$user" --k 10 2>&1) || die "recommend $user failed: $out"
  read -r n path < <(python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(len(r.get("items", [])), r.get("path", "?"))' <<<"$out")
  [ "$n" -gt 0 ] || die "recommend $user returned no items: $out"
  echo "  $user: $n items, path $path"
  paths="$paths $path"
done
put check_paths "${paths# }"

# --- 5. load --------------------------------------------------------------------
for c in $CONCURRENCY; do
  echo "== load: concurrency $c, $DURATION (warm-up $WARMUP)"
  json=$WORK/load_c$c.json
  "$BIN/recsys-load" --target "localhost:$GW_PORT" --users "$WORK/users.txt" --concurrency "$c" \
    --duration "$DURATION" --warmup "$WARMUP" --json "$json" >"$LOGS/load_c$c.txt" 2>&1 ||
    die "recsys-load failed; see $LOGS/load_c$c.txt"
  python3 - "$json" "$c" >>"$SUMMARY" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = sys.argv[2]
lat = {d["percentage"]: d["latency"] / 1e6 for d in r.get("latencyDistribution") or []}
errors = sum(v for k, v in r.get("statusCodeDistribution", {}).items() if k != "OK")
for key, value in (("rps", f"{r['rps']:.0f}"), ("p50_ms", f"{lat.get(50, 0):.2f}"),
                   ("p99_ms", f"{lat.get(99, 0):.2f}"), ("errors", str(errors)),
                   ("calls", str(r["count"]))):
    print(f"load_c{c}_{key}\t{value}")
PY
done
[ -n "$CONCURRENCY" ] && memory after_load

# --- 6. summary --------------------------------------------------------------------
stop
python3 - "$SUMMARY" "$WORK/summary.json" "$CONCURRENCY" <<'PY'
import json, sys
rows = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1]) if "\t" in line]
s = {k: v for k, v in rows}
def num(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v
json.dump({k: num(v) for k, v in s.items()}, open(sys.argv[2], "w"), indent=2)
g = s.get
print()
print(f"catalogue   {g('items')} items, {g('users')} users, {g('events')} events "
      f"(interactions.csv {int(g('interactions_csv_bytes', 0)) / 2**20:.0f} MiB)")
if "synth_seconds" in s:
    print(f"generate    {g('synth_seconds')} s, peak RSS {g('synth_peak_rss_mib')} MiB")
print(f"train       {g('train_seconds')} s, peak RSS {g('train_peak_rss_mib')} MiB, "
      f"bundle {g('bundle_mib', '?')} MiB ({g('version')})")
print(f"{'service':<10} {'load':>10} {'healthy_s':>10} {'RSS_MiB':>8} {'HWM_MiB':>8} "
      f"{'RSS_after':>9} {'HWM_after':>9}")
for n in ("retrieval", "ranking", "gateway"):
    print(f"{n:<10} {g(n + '_bundle_load', '?'):>10} {g(n + '_seconds_to_healthy', '?'):>10} "
          f"{g(n + '_loaded_vmrss_mib', '?'):>8} {g(n + '_loaded_vmhwm_mib', '?'):>8} "
          f"{g(n + '_after_load_vmrss_mib', '-'):>9} {g(n + '_after_load_vmhwm_mib', '-'):>9}")
print(f"check       paths: {g('check_paths')}")
if sys.argv[3].split():
    print(f"{'conc':>5} {'rps':>8} {'p50_ms':>8} {'p99_ms':>8} {'errors':>7} {'calls':>8}")
    for c in sys.argv[3].split():
        p = f"load_c{c}_"
        print(f"{c:>5} {g(p + 'rps'):>8} {g(p + 'p50_ms'):>8} {g(p + 'p99_ms'):>8} "
              f"{g(p + 'errors'):>7} {g(p + 'calls'):>8}")
print(f"summary: {sys.argv[2]}")
PY
