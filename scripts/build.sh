#!/usr/bin/env bash
# Configures and builds the tree into build/ (Release, Ninja, 2 jobs by default).
#   BUILD_DIR=build-asan CMAKE_ARGS="-DRECSYS_SANITIZE=address,undefined" scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
