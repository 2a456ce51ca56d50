#!/usr/bin/env bash
# deploy/ghz: each config's keys are ghz config keys, its protoset is the
# build's and holds the call, its data template renders (Go-template actions
# evaluated as ghz does, on the JSON text) into a valid request of the call's
# type, and the user / item ids it draws exist in MovieLens. See ghz_check.py.
source "$(dirname "$0")/lib.sh"
TEST_NAME=ghz_configs
BUILD_DIR=${RECSYS_BUILD_DIR:-$(dirname "$RECSYS_BIN_DIR")}
out=$(timeout 60 "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/ghz_check.py" --build-dir "$BUILD_DIR" \
  --data "$RECSYS_SOURCE_DIR/data/ml-latest-small" "$RECSYS_SOURCE_DIR"/deploy/ghz/*.json 2>&1) || {
  echo "$out"; fail "ghz configs (PROBLEM lines above)"; }
echo "$out"
pass "$(ls "$RECSYS_SOURCE_DIR"/deploy/ghz/*.json | wc -l) ghz configs: keys, protoset call, templates, request types and ids valid"
