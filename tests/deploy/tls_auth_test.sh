#!/usr/bin/env bash
# TLS, mutual TLS, tokens and signed candidate signals across the real
# services: certificates and tokens are generated here with openssl (skipped,
# exit 77, without it). Retrieval and ranking require the gateway's client
# certificate (mTLS) and share a signals key; the gateway speaks TLS and
# checks tokens. Then recsys-cli, recsys-load and the Python client
# (clients/python) call it with and without the right token.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-150}
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl is not installed"; exit 77; }
deploy_test_init tls_auth
"$PYTHON" -c 'import grpc, grpc_tools' 2>/dev/null ||
  fail "$PYTHON lacks grpc / grpc_tools (Debian python3-grpcio python3-grpc-tools)"

# --- certificates (one CA; server certificate for localhost / 127.0.0.1,
# shared by the three services here; a client certificate for the gateway),
# tokens and the signals key.
S=$WORK/secrets
mkdir -p "$S"
(
  cd "$S"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=recsys-test-ca \
    -keyout ca.key -out ca.crt
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
  for n in server gateway-client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
      -keyout "$n.key" -out "$n.csr"
    openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.ext -out "$n.crt"
  done
  for role in read write admin; do openssl rand -hex 24 >"$role.token"; done
  { echo "# role token"
    for role in read write admin; do echo "$role $(cat "$role.token")"; done; } >tokens
  openssl rand -hex 32 >signals.key
) >"$WORK/logs/openssl.log" 2>&1 || fail "openssl could not make the test certificates"
TLS_SERVER=(--tls_cert="$S/server.crt" --tls_key="$S/server.key")
MTLS_SERVER=("${TLS_SERVER[@]}" --tls_ca="$S/ca.crt" --tls_require_client_cert)
AS_GATEWAY=(--tls_ca="$S/ca.crt" --tls_cert="$S/gateway-client.crt" --tls_key="$S/gateway-client.key")

make_toy_registry
RETRIEVAL_PORT=$(free_port); RETRIEVAL_METRICS=$(free_port)
RANKING_PORT=$(free_port); RANKING_METRICS=$(free_port)
GATEWAY_PORT=$(free_port); GATEWAY_METRICS=$(free_port)
start_retrieval "${MTLS_SERVER[@]}" --signals_key_file="$S/signals.key"
start_ranking "${MTLS_SERVER[@]}" --signals_key_file="$S/signals.key"
start_gateway "${TLS_SERVER[@]}" --auth_tokens="$S/tokens" \
  --backend_tls_ca="$S/ca.crt" --backend_tls_cert="$S/gateway-client.crt" \
  --backend_tls_key="$S/gateway-client.key"
HEALTH_CLI_FLAGS=("${AS_GATEWAY[@]}")
wait_serving "$RETRIEVAL_PORT" recsys.v1.Retrieval || fail "retrieval (mTLS) not SERVING"
wait_serving "$RANKING_PORT" recsys.v1.Ranking || fail "ranking (mTLS) not SERVING"
HEALTH_CLI_FLAGS=(--tls_ca="$S/ca.crt")
wait_serving "$GATEWAY_PORT" recsys.v1.Recommender || fail "gateway (TLS) not SERVING"
log "services SERVING over TLS (stages: mTLS)"

cli() { "$BIN/recsys-cli" --target "127.0.0.1:$GATEWAY_PORT" --deadline 5s "$@"; }
TLS=(--tls_ca="$S/ca.crt")
checks=0
ok() { checks=$((checks + 1)); log "ok: $*"; }
# expect_code CODE ARGS...: the CLI fails with that gRPC code (JSON output).
expect_code() {
  local code=$1; shift
  local out rc=0
  out=$(cli --output=json "$@" 2>/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "recsys-cli $* exited $rc, expected 1 ($code): $out"
  echo "$out" | grep -q "\"code\": \"$code\"" || fail "recsys-cli $*: expected $code, got: $out"
}

# Tokens and roles through the CLI.
expect_code UNAUTHENTICATED "${TLS[@]}" feedback u0 m1
ok "Feedback without a token: UNAUTHENTICATED"
expect_code UNAUTHENTICATED "${TLS[@]}" --token=not-a-token-of-ours-at-all feedback u0 m1
ok "Feedback with an unknown token: UNAUTHENTICATED"
expect_code PERMISSION_DENIED "${TLS[@]}" --token_file="$S/read.token" feedback u0 m1
ok "Feedback with a read token: PERMISSION_DENIED"
cli "${TLS[@]}" --token_file="$S/write.token" feedback u0 m1 >/dev/null || fail "Feedback with a write token failed"
ok "Feedback with a write token: OK"
expect_code PERMISSION_DENIED "${TLS[@]}" --token_file="$S/write.token" history u0
ok "GetHistory with a write token: PERMISSION_DENIED"
RECSYS_TOKEN=$(cat "$S/admin.token") cli "${TLS[@]}" history u0 | grep -q m1 ||
  fail "GetHistory with the admin token (\$RECSYS_TOKEN) lacks the new event"
ok "GetHistory with the admin token: OK, the event is there"
out=$(cli "${TLS[@]}" --token_file="$S/read.token" --output=json recommend u0) ||
  fail "Recommend with a read token failed: $out"
echo "$out" | grep -q '"path": "PATH_FULL"' || fail "Recommend did not take the full path (stages over mTLS): $out"
ok "Recommend with a read token: PATH_FULL through retrieval and ranking over mTLS"
cli "${TLS[@]}" health --service recsys.v1.Recommender >/dev/null || fail "health needs no token"
ok "health check without a token"

# Transport: plaintext to TLS, TLS without a client certificate to mTLS.
expect_code UNAVAILABLE --token_file="$S/read.token" recommend u0
ok "plaintext client to the TLS gateway: UNAVAILABLE"
rc=0
"$BIN/recsys-cli" --target "127.0.0.1:$RANKING_PORT" --deadline 3s --tls_ca="$S/ca.crt" \
  --service recsys.v1.Ranking health >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "ranking accepted a client without a certificate (exit $rc)"
ok "client without a certificate refused by ranking (mTLS)"

# Signals travelled signed and ranking used them.
used=$(curl -fsS --max-time 5 "http://127.0.0.1:$RANKING_METRICS/metrics" |
  awk '/^recsys_ranking_signals_total\{verdict="used"\}/{print $2}')
[ -n "$used" ] && awk -v u="$used" 'BEGIN{exit !(u > 0)}' ||
  fail "ranking used no signed signals (recsys_ranking_signals_total{verdict=\"used\"} = '$used')"
ok "ranking verified retrieval's signed signals ($used requests)"

# Refused calls never reach the service; the gateway counts them.
denied=$(curl -fsS --max-time 5 "http://127.0.0.1:$GATEWAY_METRICS/metrics" |
  awk '/^recsys_auth_rejected_total\{reason="role"\}/{print $2}')
[ "${denied:-0}" = 2 ] || fail "recsys_auth_rejected_total{reason=\"role\"} = '$denied', expected 2"
ok "the gateway counted the refused calls (recsys_auth_rejected_total)"

# The load tool over TLS with a token.
printf 'u0\nu1\n' >"$WORK/users"
"$BIN/recsys-load" --target "127.0.0.1:$GATEWAY_PORT" "${TLS[@]}" --token_file="$S/read.token" \
  --users "$WORK/users" --count 20 --duration 0 --deadline 5s >"$WORK/load.txt" 2>&1 ||
  fail "recsys-load over TLS failed: $(tail -5 "$WORK/load.txt")"
grep -qP '^\s*\[OK\]\s+20 responses' "$WORK/load.txt" ||
  fail "recsys-load over TLS: not 20 OK calls: $(grep -A4 'Status code' "$WORK/load.txt")"
ok "recsys-load: 20 Recommend calls over TLS with a token"

# The Python client over TLS with a token.
rc=0
(cd "$RECSYS_SOURCE_DIR/clients/python" && RECSYS_STUBS_DIR="$WORK/stubs" \
  CA="$S/ca.crt" TARGET="127.0.0.1:$GATEWAY_PORT" READ="$(cat "$S/read.token")" \
  WRITE="$(cat "$S/write.token")" timeout 60 "$PYTHON" - <<'PY') >"$WORK/python.txt" 2>&1 || rc=$?
import os
import grpc
from recsys_client import RecsysClient

target, ca = os.environ["TARGET"], os.environ["CA"]
with RecsysClient(target, tls_ca=ca, token=os.environ["READ"], retries=0) as c:
    answer = c.recommend("u0", k=3)
    assert answer.items and answer.path == "PATH_FULL", answer
    print("ok recommend", answer.path, len(answer.items))
    try:
        c.feedback("u0", "m2")
        raise SystemExit("feedback with a read token succeeded")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e.code()
        print("ok feedback read token", e.code().name)
with RecsysClient(target, tls_ca=ca, retries=0) as c:
    try:
        c.recommend("u0")
        raise SystemExit("recommend without a token succeeded")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.code()
        print("ok no token", e.code().name)
with RecsysClient(target, tls_ca=ca, token=os.environ["WRITE"]) as c:
    print("ok feedback write token", c.feedback("u0", "m2"))
with RecsysClient(target, token=os.environ["READ"], retries=0) as c:
    try:
        c.recommend("u0", timeout_s=3)
        raise SystemExit("plaintext reached the TLS gateway")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
        print("ok plaintext refused", e.code().name)
PY
cat "$WORK/python.txt"
[ "$rc" -eq 0 ] || fail "Python client over TLS (exit $rc; see above)"
checks=$((checks + $(grep -c '^ok' "$WORK/python.txt")))

# The whole Python interop test (tests/deploy/python_client.py) over TLS: the
# API through the client package with the admin token, health and reflection
# (no token needed) on every server, the stages with the client certificate.
rc=0
timeout 90 "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/python_client.py" \
  --protos "$RECSYS_SOURCE_DIR/protos" --out "$WORK/py" --gateway "127.0.0.1:$GATEWAY_PORT" \
  --retrieval "127.0.0.1:$RETRIEVAL_PORT" --ranking "127.0.0.1:$RANKING_PORT" --user u1 \
  --tls_ca "$S/ca.crt" --tls_cert "$S/gateway-client.crt" --tls_key "$S/gateway-client.key" \
  --token_file "$S/admin.token" >"$WORK/python_client.txt" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/python_client.txt"; fail "python_client.py over TLS (exit $rc)"; }
ok "python_client.py over TLS: $(grep -c '^ok' "$WORK/python_client.txt") checks (API, health, reflection)"

# SIGHUP re-reads the token file: a rotated read token takes effect, the old one stops.
openssl rand -hex 24 >"$S/read2.token"
{ echo "read $(cat "$S/read2.token")"; grep -E '^(write|admin) ' "$S/tokens"; } >"$S/tokens.new"
mv "$S/tokens.new" "$S/tokens"
kill -HUP "$GATEWAY_PID"
for _ in $(seq 1 50); do grep -q "SIGHUP: re-read $S/tokens: 3 tokens" "$WORK/logs/gateway.log" && break; sleep 0.1; done
grep -q "SIGHUP: re-read $S/tokens: 3 tokens" "$WORK/logs/gateway.log" || fail "SIGHUP did not re-read the token file"
expect_code UNAUTHENTICATED "${TLS[@]}" --token_file="$S/read.token" recommend u0
cli "${TLS[@]}" --token_file="$S/read2.token" recommend u0 >/dev/null || fail "the rotated read token is refused"
ok "SIGHUP: rotated read token accepted, the old one refused"

# No token in any log.
for role in read read2 write admin; do
  if grep -rqF "$(cat "$S/$role.token")" "$WORK/logs"; then fail "the $role token appears in a log"; fi
done
ok "no token in the services' logs"
pass "$checks checks: TLS gateway with tokens and roles, mTLS stages, signed signals, CLI, load tool, Python client"
