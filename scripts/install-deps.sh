#!/usr/bin/env bash
# Installs every Debian package that building, testing and running recsys needs.
# Idempotent: packages already present are skipped; apt-get runs only if something
# is missing. Must run as root (or through sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libfaiss-dev libabsl-dev libeigen3-dev prometheus-cpp-dev
  libopenblas-dev libopenblas0-pthread
  # SHA-256 for bundle checksums, HMAC of ranking signals, token digests (libcrypto)
  libssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (scripts/fuzz.sh and its ctest smoke): clang with libFuzzer and
  # the ASan/UBSan runtimes
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  python3 python3-grpcio python3-grpc-tools grpc-proto
  prometheus curl procps
  # test certificates and keys (TLS / token tests, deploy/k8s/secrets/make-secrets.sh)
  openssl
  # deploy tests: YAML for the Prometheus checks, Node.js for the Kubernetes
  # schema validator (its npm packages come from tests/deploy/k8s/package-lock.json)
  python3-yaml nodejs
  # the web page's test: a real headless browser driven by Selenium
  chromium chromium-driver python3-selenium
  # the evaluation report's figures (scripts/report.py)
  python3-matplotlib
  # HTTP load for the HTTP-vs-gRPC benchmark
  wrk
  # the gateway's optional Redis user store: the hiredis client library, and a
  # real server for its tests and the kill-cycle benchmark
  redis-server libhiredis-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm: Debian ships it as its own package; NodeSource's nodejs bundles it and
# conflicts with Debian's npm. So: only if no npm command exists.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
