#!/usr/bin/env bash
# deploy/prometheus without a server: `promtool check config` on prometheus.yml
# (local, static targets) and on prometheus-kubernetes.yml (Kubernetes pod
# discovery), `promtool check rules` on the rule files, `promtool test rules` on
# tests/deploy/prometheus/alerts_test.yml (the alerts fire on synthetic series
# shaped like the exported ones, and client errors do not count as errors), and
# the alert-shape convention prometheus_test.sh relies on.
#
# Debian's promtool is built without Kubernetes discovery: if it rejects
# kubernetes_sd_configs as an unknown field, prometheus-kubernetes.yml is
# checked with each kubernetes_sd_configs block replaced by an empty
# static_configs (the scrape settings and every relabel rule are still checked),
# after checking the block itself: role pod, and only __meta_kubernetes_pod_*
# source labels.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-60}
TEST_NAME=prometheus_rules
WORK=$(mktemp -d "${TMPDIR:-/tmp}/recsys-deploy-prometheus_rules.XXXXXX")
mkdir -p "$WORK/logs"
trap 'rm -rf "$WORK"' EXIT
command -v promtool >/dev/null || fail "promtool not installed (Debian package prometheus)"
P="$RECSYS_SOURCE_DIR/deploy/prometheus"

promtool check config "$P/prometheus.yml" >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "promtool check config prometheus.yml"; }
promtool check rules "$P"/rules/*.yml >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "promtool check rules"; }
rules=$(grep -o 'SUCCESS: [0-9]* rules found' "$WORK/out" | awk '{s += $2} END {print s}')
(cd "$RECSYS_SOURCE_DIR" && promtool test rules tests/deploy/prometheus/alerts_test.yml) \
  >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "promtool test rules (alert unit tests)"; }

# The Kubernetes variant.
kube_note="checked as is"
if ! promtool check config "$P/prometheus-kubernetes.yml" >"$WORK/out" 2>&1; then
  grep -q "field kubernetes_sd_configs not found" "$WORK/out" ||
    { cat "$WORK/out" >&2; fail "promtool check config prometheus-kubernetes.yml"; }
  mkdir -p "$WORK/kube"
  cp -r "$P/rules" "$WORK/kube/"
  "$PYTHON" - "$P/prometheus-kubernetes.yml" "$WORK/kube/prometheus.yml" <<'EOF' ||
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
found = 0
for job in cfg["scrape_configs"]:
    sds = job.pop("kubernetes_sd_configs", None)
    if sds is None:
        continue
    found += 1
    for sd in sds:
        if sd.get("role") != "pod":
            sys.exit(f"{job['job_name']}: kubernetes_sd role {sd.get('role')!r}, expected pod")
    for rc in job.get("relabel_configs", []):
        for label in rc.get("source_labels", []):
            if label.startswith("__meta_") and not label.startswith("__meta_kubernetes_pod_") \
                    and label != "__meta_kubernetes_namespace":
                sys.exit(f"{job['job_name']}: {label} is not a pod-role meta label")
    job["static_configs"] = [{"targets": []}]
if not found:
    sys.exit("prometheus-kubernetes.yml has no kubernetes_sd_configs job")
yaml.safe_dump(cfg, open(sys.argv[2], "w"), sort_keys=False)
EOF
    fail "prometheus-kubernetes.yml: discovery block"
  promtool check config "$WORK/kube/prometheus.yml" >"$WORK/out" 2>&1 ||
    { cat "$WORK/out" >&2; fail "promtool check config prometheus-kubernetes.yml (discovery swapped)"; }
  kube_note="Debian promtool lacks kubernetes_sd: checked with the discovery block swapped for static"
fi

# Every alert in the VALUE op THRESHOLD shape (what prometheus_test.sh evaluates).
(cd "$RECSYS_SOURCE_DIR/tests/deploy" && "$PYTHON" -c '
import sys, promql_exprs
n = sum(1 for k, _, _ in promql_exprs.rule_exprs(sys.argv[1:]) if k == "alert")
print(n)' "$P/rules/recording.yml" "$P/rules/alerts.yml") >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "an alert expression is not VALUE op THRESHOLD"; }

pass "prometheus.yml valid; $rules rules valid; alert unit tests pass; prometheus-kubernetes.yml $kube_note"
