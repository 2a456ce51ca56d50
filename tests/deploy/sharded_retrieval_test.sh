#!/usr/bin/env bash
# Scaled out on ml-latest-small, with the real binaries on free loopback ports:
#   two gateways on one Redis, retrieval as two catalogue shards
#   (--shard 0/2, 1/2), one ranking, one signals key shared by all;
# against one gateway over one unsharded retrieval and the same ranking.
# Checks:
#   - the served evaluation (every validation and test user, recsys-eval
#     --target) through each scaled-out gateway equals the unsharded one,
#     metric for metric, and the trainer's offline two_stage row to 4 decimals;
#   - ranking used the merged signals (re-signed by the gateways: none refused);
#   - with one shard killed (kill -9), every Recommend still answers, degraded,
#     naming the shard, from the other shard's items; after the shard is
#     back, answers are complete again.
# SHARDED_TEST_TRAIN_FLAGS: the trainer's flags (default --tune_budget 0: fast,
# untuned; "" for the tuned default bundle).
# Skipped (77) only without redis-server.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-600}
deploy_test_init sharded_retrieval
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 77; }

NAME=movielens
REG="$WORK/registry"
"$BIN/recsys-train" --data "$RECSYS_SOURCE_DIR/data/ml-latest-small" --registry "$REG" \
  --name "$NAME" ${SHARDED_TEST_TRAIN_FLAGS---tune_budget 0} --threads 2 --json "$WORK/offline.json" \
  >"$WORK/logs/train.log" 2>&1 || fail "recsys-train failed"
VERSION=$(awk '/^version /{print $2}' "$WORK/logs/train.log" | tail -n 1)
"$BIN/recsys-registry" --registry "$REG" --name "$NAME" promote "$VERSION" --force \
  >>"$WORK/logs/train.log" 2>&1 || fail "promote failed"
log "trained and promoted $VERSION"

openssl rand -hex 32 >"$WORK/signals.key"
KEY=(--signals_key_file="$WORK/signals.key")
SVC=(--registry="$REG" --name="$NAME" --poll_interval=1s --drain=2s)
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server "$RECSYS_SOURCE_DIR/deploy/redis/redis.conf" --port "$REDIS_PORT" \
  --dir "$WORK/redis" >"$WORK/logs/redis.log" 2>&1 &
track $!

start() {  # start NAME BINARY FLAGS...: runs it in the background, sets PID_<NAME>
  local name=$1 bin=$2
  shift 2
  "$BIN/$bin" "$@" >>"$WORK/logs/$name.log" 2>&1 &
  track $!
  eval "PID_$name=$!"
}
P_WHOLE=$(free_port) P_S0=$(free_port) P_S1=$(free_port) P_RANK=$(free_port)
P_G0=$(free_port) P_GA=$(free_port) P_GB=$(free_port)
start retrieval recsys-retrieval "${SVC[@]}" "${KEY[@]}" --port="$P_WHOLE" --metrics_port="$(free_port)"
start shard0 recsys-retrieval "${SVC[@]}" "${KEY[@]}" --shard=0/2 --port="$P_S0" --metrics_port="$(free_port)"
start shard1 recsys-retrieval "${SVC[@]}" "${KEY[@]}" --shard=1/2 --port="$P_S1" --metrics_port="$(free_port)"
RANK_METRICS=$(free_port)
start ranking recsys-ranking "${SVC[@]}" "${KEY[@]}" --port="$P_RANK" --metrics_port="$RANK_METRICS"
GW=(--default_deadline=5s --ranking="dns:///127.0.0.1:$P_RANK" --cache_mb=0)
start gateway0 recsys-gateway "${SVC[@]}" "${GW[@]}" --port="$P_G0" --metrics_port="$(free_port)" \
  --state_dir="$WORK/state0" --retrieval="dns:///127.0.0.1:$P_WHOLE"
SHARDS="dns:///127.0.0.1:$P_S0,dns:///127.0.0.1:$P_S1"
for g in A B; do
  port_var=P_G$g
  start "gateway$g" recsys-gateway "${SVC[@]}" "${GW[@]}" "${KEY[@]}" --port="${!port_var}" \
    --metrics_port="$(free_port)" --user_store="redis://127.0.0.1:$REDIS_PORT/0" \
    --retrieval_shards="$SHARDS"
done
for p in "$P_WHOLE" "$P_S0" "$P_S1"; do
  wait_serving "$p" recsys.v1.Retrieval 60 || fail "retrieval on :$p not SERVING"
done
wait_serving "$P_RANK" recsys.v1.Ranking 60 || fail "ranking not SERVING"
for p in "$P_G0" "$P_GA" "$P_GB"; do
  wait_serving "$p" recsys.v1.Recommender 60 || fail "gateway on :$p not SERVING"
done
grep -q "catalogue shard 1/2" "$WORK/logs/shard1.log" || fail "shard 1 does not say it serves 1/2"
log "3 retrieval services (whole, 0/2, 1/2), ranking, 3 gateways (2 on Redis, sharded) SERVING"

DATA="$RECSYS_SOURCE_DIR/data/ml-latest-small"
for g in 0 A B; do
  port_var=P_G$g
  "$BIN/recsys-eval" --data "$DATA" --target "127.0.0.1:${!port_var}" --threads 2 \
    --json "$WORK/served-$g.json" >"$WORK/logs/eval-$g.log" 2>&1 || fail "served evaluation via gateway $g failed"
done
"$PYTHON" - "$WORK" <<'EOF' || fail "served evaluations differ (see above)"
import json, sys
work = sys.argv[1]
def rows(name):
    return {(r["split"], r["model"]): r for r in json.load(open(f"{work}/{name}.json"))}
whole = rows("served-0")
for g in "AB":
    sharded = rows(f"served-{g}")
    for key, r in whole.items():
        s = sharded[key]
        for m in ("recall", "ndcg", "map", "coverage", "users"):
            if r[m] != s[m]:
                sys.exit(f"gateway {g} {key} {m}: sharded {s[m]} != unsharded {r[m]}")
offline = rows("offline")
for split in ("validation", "test"):
    o, s = offline[(split, "two_stage")], whole[(split, "served")]
    for m in ("recall", "ndcg"):
        if round(o[m], 4) != round(s[m], 4):
            sys.exit(f"{split} {m}: served {s[m]} != offline two_stage {o[m]}")
t = whole[("test", "served")]
print(f"served test recall@10 {t['recall']:.4f} NDCG@10 {t['ndcg']:.4f}: "
      "unsharded = gateway A (2 shards) = gateway B (2 shards) = offline two_stage")
EOF
signals() {  # ranking's signals verdict counter
  curl -fsS "http://127.0.0.1:$RANK_METRICS/metrics" |
    awk -v v="$1" '$0 ~ "^recsys_ranking_signals_total\\{verdict=\"" v "\"\\}" { print $2 + 0 }'
}
refused=$(signals unauthenticated)
used=$(signals used)
[ "${refused%.*}" -eq 0 ] || fail "ranking refused $refused signal sets (merged MAC did not verify)"
[ "${used%.*}" -gt 2000 ] || fail "ranking used merged signals only $used times"
log "ranking used retrieval's signals $used times, refused none"

cli() { "$BIN/recsys-cli" --target "127.0.0.1:$1" --deadline 5s --output json "${@:2}"; }
summary() {
  "$PYTHON" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("path",""), a.get("degraded", False), len(a.get("items", [])), "|".join(a.get("notes", [])))'
}
cli "$P_GA" feedback u-shard 1 >/dev/null || fail "Feedback through A failed"
cli "$P_GA" feedback u-shard 260 >/dev/null || fail "Feedback through A failed"
before=$(cli "$P_GB" recommend u-shard --k 10 | summary)
case "$before" in "PATH_FULL False 10 "*) ;; *) fail "B's answer before the kill: $before" ;; esac

kill -9 "$PID_shard1"
wait "$PID_shard1" 2>/dev/null || true
ok=0
for i in $(seq 1 20); do
  out=$(cli "$P_GB" recommend u-shard --k 10 | summary) || fail "Recommend $i failed with a shard down"
  case "$out" in
    "PATH_FULL True 10 "*"retrieval shard 1/2 unavailable"*) ok=$((ok + 1)) ;;
    *) fail "answer $i with shard 1 down: $out" ;;
  esac
done
log "shard 1 killed: $ok/20 answers full-path, degraded, naming shard 1/2"

start shard1 recsys-retrieval "${SVC[@]}" "${KEY[@]}" --shard=1/2 --port="$P_S1" --metrics_port="$(free_port)"
wait_serving "$P_S1" recsys.v1.Retrieval 60 || fail "shard 1 not SERVING after restart"
after=""
for _ in $(seq 1 50); do
  after=$(cli "$P_GB" recommend u-shard --k 10 | summary)
  case "$after" in "PATH_FULL False 10 "*) break ;; esac
  sleep 0.2
done
[ "$after" = "$before" ] || fail "after shard 1 came back: '$after', before the kill: '$before'"
pass "served evaluation through 2 Redis gateways x 2 retrieval shards equals the unsharded one and the offline two_stage row; one shard killed: 20/20 answers degraded, none failed; recovered"
