#!/usr/bin/env bash
# The gateway's HTTP/JSON API against the real services (toy bundle, free
# loopback ports): every route of /openapi.json answers with JSON its schema
# describes, and bad input, wrong paths, oversized and garbage requests get the
# documented statuses (tests/deploy/http_api_check.py); then the same API with
# tokens on, through curl: 401 without one, 403 for a role too low.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-120}
deploy_test_init http_api
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps.sh)"

make_toy_registry
start_services
BASE="http://127.0.0.1:$GATEWAY_HTTP_PORT"
wait_http "$BASE/readyz" 30 || fail "/readyz not 200 within 30 s"
timeout 90 "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/http_api_check.py" --base "$BASE" \
  --user u0 --item m3 --word space >"$WORK/check.txt" 2>&1 || {
  cat "$WORK/check.txt"
  fail "HTTP API checks (see above)"
}
cat "$WORK/check.txt"
checks=$(grep -c '^ok' "$WORK/check.txt")

# Tokens: the gateway restarted with a token file.
kill "$GATEWAY_PID"; wait "$GATEWAY_PID" 2>/dev/null || true
printf 'read  read-token-0123456789\nwrite write-token-0123456789\n' >"$WORK/tokens"
start_gateway --auth_tokens="$WORK/tokens"
wait_http "$BASE/readyz" 30 || fail "/readyz not 200 within 30 s after the restart with tokens"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$BASE/v1/recommend/u0?k=2")" = 401 ] || fail "no token: want 401"
[ "$(code -H 'Authorization: Bearer nope-nope-nope-nope' "$BASE/v1/recommend/u0?k=2")" = 401 ] ||
  fail "unknown token: want 401"
[ "$(code -H 'Authorization: Bearer read-token-0123456789' "$BASE/v1/recommend/u0?k=2")" = 200 ] ||
  fail "read token: want 200"
[ "$(code -H 'Authorization: Bearer read-token-0123456789' -H 'Content-Type: application/json' \
  -d '{"userId":"u0","itemId":"m3"}' "$BASE/v1/feedback")" = 403 ] || fail "read token on Feedback: want 403"
[ "$(code -H 'Authorization: Bearer write-token-0123456789' -H 'Content-Type: application/json' \
  -d '{"userId":"u0","itemId":"m3"}' "$BASE/v1/feedback")" = 200 ] || fail "write token on Feedback: want 200"
[ "$(code "$BASE/readyz")" = 200 ] || fail "/readyz needs no token"
pass "$checks HTTP checks against the OpenAPI description; tokens and roles as on the gRPC port"
