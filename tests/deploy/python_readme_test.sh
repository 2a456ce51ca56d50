#!/usr/bin/env bash
# The README's Python client example, verbatim: extracts the ```python block of
# the "Python client" section and runs it from the source root against the real
# services (toy bundle on free loopback ports; RECSYS_TARGET and RECSYS_USER
# point it there). Passes when it exits 0 and prints the items it got.
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-120}
deploy_test_init python_readme
"$PYTHON" -c 'import grpc, grpc_tools' 2>/dev/null ||
  fail "$PYTHON lacks grpc / grpc_tools (Debian python3-grpcio python3-grpc-tools)"

awk '/^## Python client/{in_section=1; next} /^## /{in_section=0}
     in_section && /^```python$/{in_block=1; next} in_block && /^```$/{exit}
     in_block{print}' "$RECSYS_SOURCE_DIR/README.md" >"$WORK/example.py"
[ -s "$WORK/example.py" ] || fail "no python block in the README's Python client section"
grep -q "RecsysClient" "$WORK/example.py" || fail "the README example does not use RecsysClient"

make_toy_registry
start_services
rc=0
(cd "$RECSYS_SOURCE_DIR" &&
  RECSYS_TARGET="127.0.0.1:$GATEWAY_PORT" RECSYS_USER=u0 RECSYS_STUBS_DIR="$WORK/stubs" \
    timeout 60 "$PYTHON" "$WORK/example.py") >"$WORK/example.txt" 2>&1 || rc=$?
cat "$WORK/example.txt"
[ "$rc" -eq 0 ] || fail "the README example exited $rc (see above)"
grep -q "^PATH_FULL" "$WORK/example.txt" || fail "the README example's answer is not PATH_FULL"
grep -q "^like " "$WORK/example.txt" || fail "the README example's history lacks its like event"
pass "the README's Python example ran against the services ($(wc -l <"$WORK/example.txt") lines)"
