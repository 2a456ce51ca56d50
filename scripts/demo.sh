#!/usr/bin/env bash
# The main job on the bundled data: installs dependencies, builds, trains and
# evaluates every model on MovieLens latest-small, publishes the bundle to
# registry/ and promotes it to production (the gate refuses a worse version).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
REGISTRY=${REGISTRY:-registry}
NAME=${NAME:-movielens}
build/bin/recsys-train --data data/ml-latest-small --registry "$REGISTRY" --name "$NAME" \
  --json out/leaderboard.json | tee out/train.txt
version=$(awk '/^version /{print $2}' out/train.txt | tail -n 1)
build/bin/recsys-registry --registry "$REGISTRY" --name "$NAME" promote "$version" || \
  echo "promotion refused (see above); production unchanged"
build/bin/recsys-registry --registry "$REGISTRY" --name "$NAME" list
echo "leaderboard JSON: out/leaderboard.json"
