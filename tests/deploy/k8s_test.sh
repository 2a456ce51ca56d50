#!/usr/bin/env bash
# deploy/k8s: renders the kustomize base and the small, large, scaled-out and
# sharded overlays (checking the shape of the last two), validates every
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
kubectl kustomize "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/sharded" >"$WORK/sharded.yaml" \
  2>"$WORK/logs/kustomize.log" ||
  fail "kubectl kustomize deploy/k8s/overlays/sharded: $(cat "$WORK/logs/kustomize.log")"
# Sharded: retrieval as 2 shard groups (Deployment with --shard i/2, >= 2
# replicas, headless Service, HPA from 2, PDB, NetworkPolicy each), the gateway
# listing both in order with the signals key, no unsharded retrieval left, and
# each shard's pod the base retrieval pod (scaled-out's render) but for its
# labels and its extra flagfile.
"$PYTHON" - "$WORK/sharded.yaml" "$WORK/scaled.yaml" <<'PY' || fail "overlays/sharded: wrong shape (see above)"
import copy, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
ref = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(sys.argv[2])) if d}
ref = ref[("Deployment", "recsys-retrieval")]
N = 2
problems = []
for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
    if (kind, "recsys-retrieval") in by: problems.append(f"the unsharded retrieval {kind} is still there")
flagfiles = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("recsys-flags")][0]["data"]
def flags_of(dep):  # the flags a Deployment's container passes, flagfiles expanded, later wins
    out = {}
    for arg in dep["spec"]["template"]["spec"]["containers"][0].get("args", []):
        if arg.startswith("--flagfile="):
            for path in arg.split("=", 1)[1].split(","):
                text = flagfiles.get(path.removeprefix("/etc/recsys/"))
                if text is None: problems.append(f"{dep['metadata']['name']}: no flagfile {path}"); continue
                for line in text.splitlines():
                    line = line.strip()
                    if line.startswith("--"):
                        k, _, v = line[2:].partition("=")
                        out[k] = v
        elif arg.startswith("--"):
            k, _, v = arg[2:].partition("=")
            out[k] = v
    return out
def strip_hash(name): return re.sub(r"-[a-z0-9]{10}$", "", name)
def pod_shape(dep):  # the pod template minus what may differ between shard groups
    spec = copy.deepcopy(dep["spec"]["template"]["spec"])
    for c in spec["containers"]: c.pop("args", None)
    for t in spec.get("topologySpreadConstraints", []): t.pop("labelSelector", None)
    for v in spec.get("volumes", []):
        if "configMap" in v: v["configMap"]["name"] = strip_hash(v["configMap"]["name"])
    rest = {k: v for k, v in dep["spec"].items() if k not in ("selector", "template", "replicas")}
    return spec, dep["spec"]["template"]["metadata"].get("annotations"), rest
gw = by.get(("Deployment", "recsys-gateway"))
if not gw: problems.append("no gateway Deployment")
else:
    gf = flags_of(gw)
    want = ",".join(f"dns:///recsys-retrieval-shard-{i}:50052" for i in range(N))
    if gf.get("retrieval_shards") != want:
        problems.append(f"gateway --retrieval_shards={gf.get('retrieval_shards')}, want {want}")
    if not gf.get("signals_key_file") or gf.get("signals_key_file") != flags_of(ref).get("signals_key_file"):
        problems.append("the gateway's --signals_key_file is not retrieval's key path")
    if "--user_store=redis://" not in flagfiles.get("gateway-redis.flags", "") or \
       "gateway-redis.flags" not in gw["spec"]["template"]["spec"]["containers"][0]["args"][0]:
        problems.append("the gateway lost scaled-out's Redis user store")
shards = sorted(n for k, n in by if k == "Deployment" and n.startswith("recsys-retrieval-shard-"))
if shards != [f"recsys-retrieval-shard-{i}" for i in range(N)]: problems.append(f"shard Deployments {shards}")
selectors = []
for i in range(N):
    name = f"recsys-retrieval-shard-{i}"
    dep = by.get(("Deployment", name))
    if not dep: continue
    sel = dep["spec"]["selector"]["matchLabels"]
    selectors.append(sel)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in sel.items()): problems.append(f"{name}: selector does not select its pods")
    if labels.get("app.kubernetes.io/part-of") != "recsys": problems.append(f"{name}: pods lack part-of=recsys (scraping, policies)")
    if dep["spec"].get("replicas", 1) < 2: problems.append(f"{name}: fewer than 2 replicas")
    if flags_of(dep).get("shard") != f"{i}/{N}": problems.append(f"{name}: --shard={flags_of(dep).get('shard')}, want {i}/{N}")
    want_args = [ref["spec"]["template"]["spec"]["containers"][0]["args"][0] + f",/etc/recsys/retrieval-shard-{i}.flags"]
    if dep["spec"]["template"]["spec"]["containers"][0].get("args") != want_args:
        problems.append(f"{name}: args are not the base retrieval's plus retrieval-shard-{i}.flags")
    if pod_shape(dep) != pod_shape(ref):
        problems.append(f"{name}: pod differs from the base retrieval's (probes, resources, volumes, security...)")
    for t in dep["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
        if t.get("labelSelector", {}).get("matchLabels") != sel: problems.append(f"{name}: topology spread not over its own group")
    svc = by.get(("Service", name))
    if not svc or svc["spec"].get("clusterIP") != "None" or svc["spec"].get("selector") != sel or \
       [p["port"] for p in svc["spec"]["ports"]] != [50052]:
        problems.append(f"{name}: no headless Service on :50052 selecting exactly its pods")
    hpa = by.get(("HorizontalPodAutoscaler", name))
    if not hpa or hpa["spec"]["minReplicas"] < 2 or hpa["spec"]["scaleTargetRef"] != {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}:
        problems.append(f"{name}: no HPA from >= 2 replicas on its Deployment")
    pdb = by.get(("PodDisruptionBudget", name))
    if not pdb or pdb["spec"]["selector"]["matchLabels"] != sel: problems.append(f"{name}: no PDB over its pods")
    pol = by.get(("NetworkPolicy", name))
    if not pol or pol["spec"]["podSelector"]["matchLabels"] != sel: problems.append(f"{name}: no NetworkPolicy over its pods")
for a in range(len(selectors)):
    for b in range(a + 1, len(selectors)):
        if selectors[a] == selectors[b]: problems.append(f"shards {a} and {b} share a selector")
for p in problems: print("overlays/sharded:", p)
sys.exit(1 if problems else 0)
PY
log "rendered base ($(grep -c '^kind:' "$WORK/base.yaml") objects), overlays/small ($(grep -c '^kind:' "$WORK/small.yaml") objects), overlays/large ($(grep -c '^kind:' "$WORK/large.yaml") objects), overlays/scaled-out ($(grep -c '^kind:' "$WORK/scaled.yaml") objects) and overlays/sharded ($(grep -c '^kind:' "$WORK/sharded.yaml") objects)"

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

# 3. Validate every render.
node "$NODE_DIR/validate.mjs" --bin-dir "$BIN" --summary "$WORK/summary.json" \
  "$WORK/base.yaml" "$WORK/small.yaml" "$WORK/large.yaml" "$WORK/scaled.yaml" "$WORK/sharded.yaml" \
  >"$WORK/validate.txt" 2>&1 || {
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
# ... and a broken sharded copy: the shard targets swapped, the gateway's
# signals key dropped, a third shard group that no gateway lists.
sed -e 's#--retrieval_shards=dns:///recsys-retrieval-shard-0:50052,dns:///recsys-retrieval-shard-1:50052#--retrieval_shards=dns:///recsys-retrieval-shard-1:50052,dns:///recsys-retrieval-shard-0:50052#' \
    -e '/--retrieval_shards=/,/--signals_key_file=/{/--signals_key_file=/d}' \
    -e 's#--shard=1/2#--shard=1/3#' "$WORK/sharded.yaml" >"$WORK/broken-sharded.yaml"
if node "$NODE_DIR/validate.mjs" --bin-dir "$BIN" "$WORK/broken-sharded.yaml" >"$WORK/broken-sharded.txt" 2>&1; then
  fail "the validator accepted a deliberately broken sharded manifest"
fi
for want in 'target 0 (dns:///recsys-retrieval-shard-1:50052) reaches Deployment/recsys-retrieval-shard-1 with --shard=1/3, not 0/2' \
            'target 1 (dns:///recsys-retrieval-shard-0:50052) reaches Deployment/recsys-retrieval-shard-0 with --shard=0/2, not 1/2' \
            'needs --signals_key_file'; do
  grep -qF -- "$want" "$WORK/broken-sharded.txt" || { cat "$WORK/broken-sharded.txt" >&2;
    fail "the validator missed: $want"; }
done
"$PYTHON" - "$WORK/sharded.yaml" >"$WORK/unlisted-shard.yaml" <<'PY' || fail "cannot write the unlisted-shard copy"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
# A copy of shard 1's Deployment and Service as "shard-2" (still --shard=1/2),
# and shard 0 without its NetworkPolicy (the default deny alone shuts it off).
extra = [yaml.safe_load(yaml.safe_dump(d).replace("recsys-retrieval-shard-1", "recsys-retrieval-shard-2"))
         for d in docs if d["kind"] in ("Deployment", "Service") and d["metadata"]["name"] == "recsys-retrieval-shard-1"]
docs = [d for d in docs if (d["kind"], d["metadata"]["name"]) != ("NetworkPolicy", "recsys-retrieval-shard-0")]
yaml.safe_dump_all(docs + extra, sys.stdout)
PY
if node "$NODE_DIR/validate.mjs" --bin-dir "$BIN" "$WORK/unlisted-shard.yaml" >"$WORK/unlisted-shard.txt" 2>&1; then
  fail "the validator accepted a shard group no gateway lists"
fi
for want in 'Deployment/recsys-retrieval-shard-2: serves --shard=1/2, but no gateway lists it' \
            "Deployment/recsys-retrieval-shard-0: no NetworkPolicy admits the gateway's pods to gRPC port 50052" \
            "Deployment/recsys-retrieval-shard-0: no NetworkPolicy admits Prometheus' namespace to /metrics port 9092"; do
  grep -qF -- "$want" "$WORK/unlisted-shard.txt" || { cat "$WORK/unlisted-shard.txt" >&2;
    fail "the validator missed: $want"; }
done
log "the validator rejects broken sharding (targets out of order, a wrong N, no signals key on the gateway, an unlisted shard group, a shard group the gateway cannot reach)"

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
               "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/scaled-out/flags/"*.flags \
               "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/sharded/flags/gateway-"*.flags | sort -u); do
    [ -s "$WORK/secrets/gateway/$(basename "$f")" ] ||
      fail "overlays/scaled-out or sharded: the gateway reads $f, which make-secrets.sh does not write"
  done
  # Sharded: the gateway dials each shard group by its Service name, which the
  # shards' (retrieval's) certificate must carry; the gateway re-signs with
  # the stages' signals key.
  for svc in $(grep -o 'recsys-retrieval-shard-[0-9]*' \
                 "$RECSYS_SOURCE_DIR/deploy/k8s/overlays/sharded/flags/gateway-shards.flags" | sort -u); do
    openssl x509 -in "$WORK/secrets/retrieval/tls.crt" -noout -ext subjectAltName | grep -q "DNS:$svc," ||
      fail "overlays/sharded: retrieval's tls.crt does not name $svc, which the gateway dials"
  done
  cmp -s "$WORK/secrets/retrieval/signals.key" "$WORK/secrets/gateway/signals.key" ||
    fail "the gateway and retrieval get different signals keys"
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

pass "base + overlays/small + overlays/large + overlays/scaled-out + overlays/sharded render and validate (schemas, fields, flags, ports, services, grace, TLS probes, NetworkPolicies);" \
     "probe services match the 3 running servers; the CronJob script trains and gates promotion"
