#!/usr/bin/env bash
# The main job on the bundled data: installs dependencies, builds, and prints the
# leave-last-out leaderboard of the baseline models on MovieLens latest-small.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
build/bin/recsys-eval --data data/ml-latest-small --models random,popularity,trending --k 10 \
  --json out/leaderboard.json
echo "leaderboard JSON written to out/leaderboard.json"
