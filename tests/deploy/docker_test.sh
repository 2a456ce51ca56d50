#!/usr/bin/env bash
# deploy/docker/Dockerfile, reviewed statically (no Docker engine on the test
# machines): stages on Debian 12, the build stage runs scripts/install-deps.sh
# and scripts/build.sh, the runtime packages equal ldd + dpkg -S of the copied
# binaries, hadolint-style rules, non-root user, the .dockerignore. See
# docker_check.py. With a Docker engine, `docker build -f deploy/docker/Dockerfile .`
# is the real test.
source "$(dirname "$0")/lib.sh"
TEST_NAME=docker
for tool in ldd dpkg dpkg-query; do
  command -v "$tool" >/dev/null || { echo "SKIP: docker: $tool not found (not Debian?)"; exit 77; }
done
out=$(timeout 60 "$PYTHON" "$RECSYS_SOURCE_DIR/tests/deploy/docker_check.py" \
  --dockerfile "$RECSYS_SOURCE_DIR/deploy/docker/Dockerfile" --bin-dir "$RECSYS_BIN_DIR" \
  --repo "$RECSYS_SOURCE_DIR" 2>&1) || { echo "$out"; fail "Dockerfile review (PROBLEM lines above)"; }
echo "$out"
pass "Dockerfile: Debian 12 multi-stage, install-deps.sh in the build stage, runtime libraries = ldd/dpkg -S, non-root"
