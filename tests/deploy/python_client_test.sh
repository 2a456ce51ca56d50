#!/usr/bin/env bash
# A Python client (Debian python3-grpcio, python3-grpc-tools, grpc-proto)
# against the real services: starts retrieval, ranking and gateway with a toy
# bundle on free loopback ports and runs tests/deploy/python_client.py (stub
# generation with grpc_tools.protoc, Recommend, Feedback, health Check,
# reflection; see its docstring).
source "$(dirname "$0")/lib.sh"
DEPLOY_TEST_TIMEOUT=${DEPLOY_TEST_TIMEOUT:-90}
deploy_test_init python_client
"$PYTHON" -c 'import grpc, grpc_tools' 2>/dev/null ||
  fail "$PYTHON lacks grpc / grpc_tools (Debian python3-grpcio python3-grpc-tools; scripts/install-deps.sh)"
[ -f /usr/share/grpc-proto/grpc/health/v1/health.proto ] ||
  fail "grpc-proto is not installed (/usr/share/grpc-proto)"

make_toy_registry
start_services
rc=0
timeout 60 "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/python_client.py" \
  --protos "$RECSYS_SOURCE_DIR/protos" --out "$WORK/py" \
  --gateway "127.0.0.1:$GATEWAY_PORT" --retrieval "127.0.0.1:$RETRIEVAL_PORT" \
  --ranking "127.0.0.1:$RANKING_PORT" --user u0 >"$WORK/client.txt" 2>&1 || rc=$?
cat "$WORK/client.txt"
[ "$rc" -eq 0 ] || fail "python client (exit $rc; see above)"
pass "$(grep -c '^ok' "$WORK/client.txt") checks from Python: stubs generated, Recommend, Feedback," \
     "errors, health and reflection on all 3 servers"
