#!/usr/bin/env bash
# A real Prometheus (the Debian package) scraping the real services: starts
# retrieval, ranking and gateway with a toy bundle on free loopback ports,
# generates a scrape config from deploy/prometheus/prometheus.yml (same jobs and
# rule files; targets = the test's metrics ports; scrape and rule evaluation
# every 1 s), starts `prometheus` on a free loopback port with its TSDB in a
# temp dir, sends Recommend / Search / Feedback traffic with recsys-load plus
# answers that degrade (ranking paused with SIGSTOP, so the degraded series
# exist), and checks through /api/v1/query that every expression of the
# Grafana dashboard, of the recording rules and of the alert rules (each alert
# without its threshold comparison: see promql_exprs.py) returns data, that
# the process, build-info and WAL metrics and the zero-initialised label
# values are in the scrape from the right jobs, and that the retired
# recsys_wal gauge is gone.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-150}
deploy_test_init prometheus
command -v prometheus >/dev/null || fail "prometheus not installed (Debian package prometheus; scripts/install-deps.sh)"

make_toy_registry
start_services

# Prometheus config: the shipped one with the test's targets and a 1 s rhythm.
PROM_PORT=$(free_port)
mkdir -p "$WORK/prom/rules" "$WORK/prom/data"
cp "$RECSYS_SOURCE_DIR"/deploy/prometheus/rules/*.yml "$WORK/prom/rules/"
"$PYTHON" - "$RECSYS_SOURCE_DIR/deploy/prometheus/prometheus.yml" "$WORK/prom/prometheus.yml" \
  "$GATEWAY_METRICS" "$RETRIEVAL_METRICS" "$RANKING_METRICS" <<'EOF' || fail "cannot generate the scrape config"
import sys, yaml
src, dst, gateway, retrieval, ranking = sys.argv[1:]
cfg = yaml.safe_load(open(src))
ports = {"recsys-gateway": gateway, "recsys-retrieval": retrieval, "recsys-ranking": ranking}
jobs = [j["job_name"] for j in cfg["scrape_configs"]]
if sorted(jobs) != sorted(ports):
    sys.exit(f"deploy/prometheus/prometheus.yml jobs {jobs}, expected {sorted(ports)}")
cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
for job in cfg["scrape_configs"]:
    for sc in job["static_configs"]:
        sc["targets"] = [f"127.0.0.1:{ports[job['job_name']]}"]
yaml.safe_dump(cfg, open(dst, "w"), sort_keys=False)
EOF
promtool check config "$WORK/prom/prometheus.yml" >"$WORK/logs/promtool.log" 2>&1 ||
  fail "generated config invalid: $(cat "$WORK/logs/promtool.log")"
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --storage.tsdb.retention.time=1h \
  --log.level=warn >"$WORK/logs/prometheus.log" 2>&1 &
track $!
wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30 || fail "prometheus not ready on :$PROM_PORT"
log "prometheus on 127.0.0.1:$PROM_PORT scraping :$GATEWAY_METRICS :$RETRIEVAL_METRICS :$RANKING_METRICS every 1s"

# Steady traffic for the whole check (open loop, so rates are non-zero in every window).
target="127.0.0.1:$GATEWAY_PORT"
for m in "recommend 30" "search 5" "feedback 5"; do
  set -- $m
  "$BIN/recsys-load" --target "$target" --data "$WORK/data" --method "$1" --rate "$2" \
    --duration 90s --deadline 1s >"$WORK/logs/load-$1.log" 2>&1 &
  track $!
done

# Degraded answers: ranking paused, so the gateway's ranking stage runs out of
# budget and answers in retrieval order (degraded, path retrieval_only).
sleep 2
kill -STOP "$RANKING_PID"
degraded=0
for user in u1 u2 u3; do
  if "$BIN/recsys-cli" --target "$target" --deadline 300ms recommend "$user" --k 5 2>&1 |
       grep -q "(degraded)"; then degraded=$((degraded + 1)); fi
done
kill -CONT "$RANKING_PID"
[ "$degraded" -gt 0 ] || fail "no degraded answer while ranking was paused"
log "$degraded degraded answers while ranking was paused; ranking resumed"
wait_serving "$RANKING_PORT" recsys.v1.Ranking 10 || fail "ranking did not recover"

# Names a live scrape must hold: process metrics and build info from every
# service; the gateway's WAL counters and histogram; label values alerts use,
# present (at 0) before anything happened to them.
ALL=recsys-gateway,recsys-retrieval,recsys-ranking
REQUIRE=()
for m in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
         process_open_fds process_max_fds process_start_time_seconds \
         'recsys_build_info{version!="",commit!="",build_type!=""}'; do
  REQUIRE+=(--require "$m@$ALL")
done
for m in recsys_wal_appends_total recsys_wal_fsyncs_total recsys_wal_fsync_seconds_bucket \
         recsys_wal_durable_seconds_bucket 'recsys_gateway_degraded_total{reason="retrieval:EMPTY"}' \
         'recsys_gateway_degraded_total{reason="retrieval:UNAVAILABLE"}' \
         'recsys_gateway_answers_total{path="cold_start"}' \
         'grpc_server_handled_total{grpc_method="GetModelInfo",grpc_code="UNAVAILABLE"}'; do
  REQUIRE+=(--require "$m@recsys-gateway")
done

rc=0
"$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/prometheus_check.py" \
  --prometheus "http://127.0.0.1:$PROM_PORT" \
  --dashboard "$RECSYS_SOURCE_DIR/deploy/grafana/recsys-dashboard.json" \
  --rules "$WORK/prom/rules/recording.yml" "$WORK/prom/rules/alerts.yml" \
  --timeout 60 --expect-up 3 \
  "${REQUIRE[@]}" --forbid recsys_wal >"$WORK/check.txt" 2>&1 || rc=$?
cat "$WORK/check.txt"
[ "$rc" -eq 0 ] || fail "expressions without data (FAIL lines above)"
pass "$(tail -n 1 "$WORK/check.txt")"
