#!/usr/bin/env bash
# The gateway's web page (gateway/http/web/) in a real browser: starts
# retrieval, ranking and the gateway (with its HTTP/JSON API) on a toy bundle
# (plus a second gateway that checks bearer tokens) and runs
# tests/gateway/web_page_test.py, which drives headless Chromium
# through chromedriver (Debian chromium, chromium-driver, python3-selenium;
# scripts/install-deps.sh). Skipped (exit 77) only when one of those three is
# missing.
#
# The Ask panel must answer with citations when the gateway has the Ask RPC
# (protos/recsys/v1/recommender.proto); before that, a clear "not available"
# message passes. WEB_PAGE_ASK=required|optional overrides.
# Screenshots go to WEB_PAGE_SHOTS (default $RECSYS_BUILD_DIR/Testing/web_page
# when run by ctest; none when neither is set).
RECSYS_SOURCE_DIR=${RECSYS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
if [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: chromium is not installed (/usr/bin/chromium; Debian package chromium)"; exit 77
fi
if [ ! -x /usr/bin/chromedriver ]; then
  echo "SKIP: chromedriver is not installed (/usr/bin/chromedriver; Debian package chromium-driver)"; exit 77
fi
if ! "$PY" -c 'import selenium' 2>/dev/null; then
  echo "SKIP: $PY cannot import selenium (Debian package python3-selenium)"; exit 77
fi

source "$RECSYS_SOURCE_DIR/tests/deploy/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-170}
deploy_test_init web_page

# Static: nothing in the page's script parses API text as HTML.
web=$RECSYS_SOURCE_DIR/gateway/http/web
for f in index.html app.js style.css; do [ -f "$web/$f" ] || fail "missing $web/$f"; done
if grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function' "$web/app.js"; then
  fail "app.js builds HTML from strings (above); use textContent"
fi
if grep -nE '(src|href)="(https?:)?//' "$web"/*.html "$web"/*.css; then
  fail "the page loads something from the network (above); it must work offline"
fi

ask=${WEB_PAGE_ASK:-}
if [ -z "$ask" ]; then
  if grep -qE '^\s*rpc Ask\(' "$RECSYS_SOURCE_DIR"/protos/recsys/v1/*.proto; then ask=required; else ask=optional; fi
fi

make_toy_registry
start_services
[ -n "${GATEWAY_HTTP_PORT:-}" ] || fail "start_services set no GATEWAY_HTTP_PORT"
base="http://127.0.0.1:$GATEWAY_HTTP_PORT"
wait_http "$base/readyz" 30 || fail "the gateway's $base/readyz is not 200 within 30s"

# A second gateway on the same backends that checks tokens (loopback clients
# need no TLS): read and admin roles.
mkdir -p "$WORK/secrets"
read_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
admin_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
printf 'read %s\nadmin %s\n' "$read_token" "$admin_token" >"$WORK/secrets/tokens"
GATEWAY_PORT=$(free_port); GATEWAY_METRICS=$(free_port); GATEWAY_HTTP_PORT=$(free_port)
start_gateway --auth_tokens="$WORK/secrets/tokens" --state_dir="$WORK/state-tokens"
token_base="http://127.0.0.1:$GATEWAY_HTTP_PORT"
wait_http "$token_base/readyz" 30 || fail "the token-checking gateway's $token_base/readyz is not 200 within 30s"

shots=${WEB_PAGE_SHOTS:-${RECSYS_BUILD_DIR:+$RECSYS_BUILD_DIR/Testing/web_page}}
log "browser against $base (ask $ask)"
rc=0
timeout 150 "$PY" "$RECSYS_SOURCE_DIR/tests/gateway/web_page_test.py" --base "$base" --work "$WORK" \
  --user u0 --search "Movie 5" --ask "$ask" --shots "$shots" \
  --token-base "$token_base" --read-token "$read_token" --admin-token "$admin_token" \
  >"$WORK/browser.txt" 2>&1 || rc=$?
cat "$WORK/browser.txt"
if [ "$rc" -ne 0 ]; then
  [ -f "$WORK/chromedriver.log" ] && { echo "--- chromedriver.log (last 20 lines) ---"; tail -n 20 "$WORK/chromedriver.log"; } >&2
  fail "web page checks (exit $rc; see above)"
fi
pass "$(grep -c '^ok' "$WORK/browser.txt") checks in headless Chromium: recommendations, feedback" \
     "refresh, errors, similar items, search, ask ($ask), cold start, phone width, tokens, no JS errors"
