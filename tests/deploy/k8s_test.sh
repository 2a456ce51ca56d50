#!/usr/bin/env bash
# deploy/k8s: renders the kustomize base and the small and large overlays, validates every
# object against the Kubernetes schemas (npm kubernetes-models, run with the
# machine's Node.js) plus unknown-field and recsys cross-checks (flags exist in
# the binaries' --helpfull, ports, probes, Services, shutdown timing: see
# k8s/validate.mjs), proves the validator is not vacuous on a broken copy, and
# finally starts each server with a toy bundle and asks grpc.health.v1 for the
# exact service name its probes use (SERVING), and for a wrong one (not).
#
# Environment: RECSYS_BIN_DIR, RECSYS_SOURCE_DIR, DEPLOY_NODE_DIR (where npm ci
# installs the validator's packages; default $TMPDIR/recsys-deploy-node).
# Exit 77 (ctest SKIP) when kubectl or node/npm is missing.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-150}
deploy_test_init k8s

for tool in kubectl node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: k8s: $tool not found (kubectl is not a Debian package; install it to run this test)"
    exit 77
  fi
done

# 1. Render.
kubectl kustomize "$RECSYS_SOURCE_DIR/deploy/k8s" >"$WORK/base.yaml" 2>"$WORK/logs/kustomize.log" ||
  fail "kubectl kustomize deploy/k8s: $(cat "$WORK/logs/kustomize.log")"
kubectl kustomize "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/small" >"$WORK/small.yaml" \
  2>"$WORK/logs/kustomize.log" ||
  fail "kubectl kustomize deploy/k8s/overlays/small: $(cat "$WORK/logs/kustomize.log")"
kubectl kustomize "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/large" >"$WORK/large.yaml" \
  2>"$WORK/logs/kustomize.log" ||
  fail "kubectl kustomize deploy/k8s/overlays/large: $(cat "$WORK/logs/kustomize.log")"
grep -q 'memory: 5Gi' "$WORK/large.yaml" || fail "overlays/large: the gateway's measured memory request is missing"
kubectl kustomize "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/scaled-out" >"$WORK/scaled.yaml" \
  2>"$WORK/logs/kustomize.log" ||
  fail "kubectl kustomize deploy/k8s/overlays/scaled-out: $(cat "$WORK/logs/kustomize.log")"
# Scaled out: the gateway is a Deployment with an HPA from 2 over Redis, and no
# StatefulSet of the gateway is left.
"$PYTHON" - "$WORK/scaled.yaml" <<'PY' || fail "overlays/scaled-out: wrong shape (see above)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
problems = []
if ("StatefulSet", "recsys-gateway") in by: problems.append("the gateway StatefulSet is still there")
dep = by.get(("Deployment", "recsys-gateway"))
if not dep: problems.append("no gateway Deployment")
hpa = by.get(("HorizontalPodAutoscaler", "recsys-gateway"))
if not hpa or hpa["spec"]["minReplicas"] < 2 or hpa["spec"]["scaleTargetRef"]["kind"] != "Deployment":
    problems.append("no gateway HPA from >= 2 replicas on the Deployment")
pdb = by.get(("PodDisruptionBudget", "recsys-gateway"))
if not pdb or pdb["spec"].get("minAvailable") != 1: problems.append("gateway PDB is not minAvailable 1")
redis = by.get(("StatefulSet", "recsys-redis"))
if not redis: problems.append("no Redis StatefulSet")
else:
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    pairs = dict(zip(args[::2], args[1::2]))
    if pairs.get("--appendonly") != "yes" or pairs.get("--appendfsync") != "always":
        problems.append("Redis must run with appendonly yes / appendfsync always")
    if not redis["spec"].get("volumeClaimTemplates"): problems.append("Redis has no volume")
flags = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("recsys-flags")][0]
if "--user_store=redis://recsys-redis:6379/0" not in flags["data"].get("gateway-redis.flags", ""):
    problems.append("gateway-redis.flags does not point the store at recsys-redis")
if dep and "gateway-redis.flags" not in dep["spec"]["template"]["spec"]["containers"][0]["args"][0]:
    problems.append("the gateway Deployment does not read gateway-redis.flags")
for p in problems: print("overlays/scaled-out:", p)
sys.exit(1 if problems else 0)
PY
log "rendered base ($(grep -c '^kind:' "$WORK/base.yaml") objects), overlays/small ($(grep -c '^kind:' "$WORK/small.yaml") objects), overlays/large ($(grep -c '^kind:' "$WORK/large.yaml") objects) and overlays/scaled-out ($(grep -c '^kind:' "$WORK/scaled.yaml") objects)"

# 2. The validator's packages: npm ci from the committed lock file, into a
# directory outside the source tree; skipped when that lock is already installed.
NODE_DIR=${DEPLOY_NODE_DIR:-${TMPDIR:-/tmp}/recsys-deploy-node}
mkdir -p "$NODE_DIR"
src="$RECSYS_SOURCE_DIR/tests/deploy/k8s"
cp "$src/package.json" "$src/package-lock.json" "$src/validate.mjs" "$NODE_DIR/"
stamp="$NODE_DIR/node_modules/.recsys-lock.sha256"
want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci (kubernetes-models, yaml) into $NODE_DIR"
  (cd "$NODE_DIR" && timeout 120 npm ci --prefer-offline --no-audit --no-fund --loglevel=error) \
    >"$WORK/logs/npm.log" 2>&1 || fail "npm ci failed: $(tail -5 "$WORK/logs/npm.log")"
  echo "$want" >"$stamp"
fi

# 3. Validate both renders.
node "$NODE_DIR/validate.mjs" --bin-dir "$BIN" --summary "$WORK/summary.json" \
  "$WORK/base.yaml" "$WORK/small.yaml" "$WORK/large.yaml" "$WORK/scaled.yaml" >"$WORK/validate.txt" 2>&1 || {
  cat "$WORK/validate.txt" >&2; fail "manifest validation (problems above)"; }
cat "$WORK/validate.txt"

# 4. The validator must reject a broken copy: a misspelt field, a flag the binary
# does not have, a port mismatch and a grace period shorter than the drain.
sed -e '0,/terminationGracePeriodSeconds: 30/s//terminationGracePeriodSecond: 30/' \
    -e 's/--workers=4/--wokers=4/' \
    -e 's/containerPort: 9093/containerPort: 9193/' \
    -e '0,/--drain=20s/s//--drain=40s/' \
    -e '0,/^ *- --tls_ca=\/etc\/recsys-tls\/ca.crt$/{//d}' "$WORK/base.yaml" >"$WORK/broken.yaml"
if node "$NODE_DIR/validate.mjs" --bin-dir "$BIN" "$WORK/broken.yaml" >"$WORK/broken.txt" 2>&1; then
  fail "the validator accepted a deliberately broken manifest"
fi
for want in 'unknown field "terminationGracePeriodSecond"' 'has no flag --wokers' \
            'containerPort metrics 9193 != --metrics_port 9093' 'terminationGracePeriodSeconds 30 <' \
            'the gRPC port speaks TLS (--tls_cert); the probe must too'; do
  grep -qF "$want" "$WORK/broken.txt" || { cat "$WORK/broken.txt" >&2;
    fail "the validator missed: $want"; }
done
log "the validator rejects a broken copy (unknown field, unknown flag, port mismatch, short grace, plaintext probe of a TLS port)"

# 4b. The Secrets' contents from deploy/k8s/secrets/make-secrets.sh: every
# certificate chains to the CA and names its Service, and every file the
# manifests' flags and probes read from /etc/recsys-tls exists in the Secret
# of that service.
if command -v openssl >/dev/null; then
  bash "$RECSYS_SOURCE_DIR/deploy/k8s/secrets/make-secrets.sh" "$WORK/secrets" recsys 2 \
    >"$WORK/logs/secrets.log" 2>&1 || fail "make-secrets.sh failed: $(tail -3 "$WORK/logs/secrets.log")"
  for svc in gateway retrieval ranking; do
    d="$WORK/secrets/$svc"
    openssl verify -CAfile "$d/ca.crt" "$d/tls.crt" >/dev/null 2>&1 || fail "$svc: tls.crt does not chain to ca.crt"
    openssl x509 -in "$d/tls.crt" -noout -ext subjectAltName | grep -q "DNS:recsys-$svc," ||
      fail "$svc: tls.crt does not name recsys-$svc"
    for f in $(grep -ho '/etc/recsys-tls/[A-Za-z0-9._-]*' "$RECSYS_SOURCE_DIR/deploy/k8s/base/$svc.yaml" \
                 "$RECSYS_SOURCE_DIR/deploy/k8s/base/flags/$svc.flags" | sort -u); do
      [ -s "$d/$(basename "$f")" ] || fail "$svc reads $f, which make-secrets.sh does not put in recsys-$svc-tls"
    done
  done
  for f in $(grep -ho '/etc/recsys-tls/[A-Za-z0-9._-]*' \
               "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/scaled-out/flags/"*.flags | sort -u); do
    [ -s "$WORK/secrets/gateway/$(basename "$f")" ] ||
      fail "overlays/scaled-out: the gateway reads $f, which make-secrets.sh does not write"
  done
  cmp -s "$WORK/secrets/redis/password" "$WORK/secrets/gateway/redis-password" ||
    fail "Redis and the gateway get different Redis passwords"
  cmp -s "$WORK/secrets/retrieval/signals.key" "$WORK/secrets/ranking/signals.key" ||
    fail "retrieval and ranking get different signals keys"
  [ "$(grep -c '^[a-z]* [0-9a-f]\{64\}$' "$WORK/secrets/gateway/tokens")" -eq 3 ] ||
    fail "the gateway's token file lacks its read, write and admin tokens"
  log "make-secrets.sh: certificates chain and name their Services; every mounted file the manifests use exists"
else
  log "openssl not installed: make-secrets.sh not checked"
fi

# 5. Probe service names against the real servers: each binary the manifests run
# as a server, started on free ports with a toy bundle, must answer SERVING for
# the probes' service name, and must not for a name nobody registered.
make_toy_registry
"$PYTHON" - "$WORK/summary.json" >"$WORK/probes.txt" <<'EOF'
import json, sys
seen = set()
for servers in json.load(open(sys.argv[1])).values():
    for s in servers["servers"]:
        for svc in s["probeServices"]:
            if (s["binary"], svc) not in seen:
                seen.add((s["binary"], svc))
                print(s["binary"], svc)
EOF
[ -s "$WORK/probes.txt" ] || fail "no probe services in the validator's summary"
RETRIEVAL_PORT=$(free_port); RETRIEVAL_METRICS=$(free_port)
RANKING_PORT=$(free_port); RANKING_METRICS=$(free_port)
GATEWAY_PORT=$(free_port); GATEWAY_METRICS=$(free_port)
start_retrieval; start_ranking; start_gateway
checked=0
while read -r binary service; do
  case "$binary" in
    recsys-retrieval) port=$RETRIEVAL_PORT ;;
    recsys-ranking) port=$RANKING_PORT ;;
    recsys-gateway) port=$GATEWAY_PORT ;;
    *) fail "unexpected server binary $binary" ;;
  esac
  wait_serving "$port" "$service" 30 ||
    fail "$binary does not report SERVING for its probes' service \"$service\""
  if "$BIN/recsys-cli" --target "127.0.0.1:$port" --service "$service.Bogus" health >/dev/null 2>&1; then
    fail "$binary reports SERVING for an unregistered service name (the check would be vacuous)"
  fi
  log "$binary: probes' service \"$service\" is SERVING (an unknown name is not)"
  checked=$((checked + 1))
done <"$WORK/probes.txt"
[ "$checked" -eq 3 ] || fail "expected 3 server binaries in the manifests, found $checked"

# 6. The CronJob's script, taken from the rendered ConfigMap, run for real with
# /etc/recsys pointed at a temp dir (toy data instead of the image's MovieLens):
# it trains and promotes; then a deliberately worse model is refused by the
# gate, which leaves production alone and still succeeds; a broken run fails.
cj="$WORK/cronjob"
mkdir -p "$cj/flags"
"$PYTHON" - "$WORK/base.yaml" "$cj/flags" <<'EOF' || fail "no recsys-flags ConfigMap with train-and-promote.sh"
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("recsys-flags"):
        for key, text in doc["data"].items():
            open(f"{sys.argv[2]}/{key}", "w").write(text)
        break
else:
    sys.exit(1)
EOF
sed -i "s#/etc/recsys#$cj/flags#g" "$cj/flags/train-and-promote.sh"
printf -- '--registry=%s\n--name=toy\n' "$cj/registry" >"$cj/flags/common.flags"
toy_train() {  # toy_train EXTRA_FLAGS...: train.flags for the toy data
  printf -- '--data=%s\n--holdout=none\n--tune_budget=0s\n--max_pool=60\n' "$WORK/data" >"$cj/flags/train.flags"
  printf -- '%s\n' "$@" >>"$cj/flags/train.flags"
}
run_cronjob() { PATH="$BIN:$PATH" timeout 60 sh "$cj/flags/train-and-promote.sh" >"$WORK/logs/cronjob.log" 2>&1; }
toy_train --content_dim=8 --als_factors=8
run_cronjob || fail "CronJob script, first run: $(tail -3 "$WORK/logs/cronjob.log")"
first=$("$BIN/recsys-registry" --registry "$cj/registry" --name toy production)
toy_train --content_dim=2 --als_factors=2 --als_iterations=1 --ease=false --max_pool=10
run_cronjob || fail "CronJob script, worse model: exit non-zero ($(tail -3 "$WORK/logs/cronjob.log"))"
grep -q "gate refused" "$WORK/logs/cronjob.log" || fail "CronJob script: the worse model was not refused"
[ "$("$BIN/recsys-registry" --registry "$cj/registry" --name toy production)" = "$first" ] ||
  fail "CronJob script: production moved to a worse model"
printf -- '--data=%s/missing\n' "$WORK" >"$cj/flags/train.flags"
if run_cronjob; then fail "CronJob script: a failed training exited 0"; fi
log "CronJob script: promotes, gate refusal exits 0 with production unchanged, a failure exits non-zero"

pass "base + overlays/small + overlays/large render and validate (schemas, fields, flags, ports, services, grace, TLS probes, NetworkPolicies);" \
     "probe services match the 3 running servers; the CronJob script trains and gates promotion"
