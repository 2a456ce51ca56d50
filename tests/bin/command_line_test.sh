#!/usr/bin/env bash
# The command-line contract of every recsys binary, run against the real
# binaries in RECSYS_BIN_DIR:
#   --help lists the binary's own flags (shared ones included) and exits 0;
#   --version names the version and the git commit and exits 0;
#   an unknown flag, a bad value or a missing input exits non-zero with a message;
#   recsys-registry and the services fail at once on a --registry that is not a
#   directory.
# Prints PASS, or FAIL with the reason (exit 1).
set -uo pipefail
BIN=${RECSYS_BIN_DIR:?set RECSYS_BIN_DIR to the bin/ directory of a build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run NAME ARGS...: runs $BIN/NAME with a 60 s bound; sets $rc and $out (stdout+stderr).
run() {
  local name=$1
  shift
  out=$(timeout 60 "$BIN/$name" "$@" 2>&1)
  rc=$?
}
expect_rc() {  # expect_rc WANT WHAT
  [[ $rc == "$1" ]] || fail "$2: exit $rc, want $1; output: ${out:0:300}"
}
expect_nonzero() {  # expect_nonzero WHAT
  [[ $rc != 0 && $rc != 124 ]] || fail "$1: exit $rc, want a non-zero exit; output: ${out:0:300}"
}
expect_text() {  # expect_text TEXT WHAT
  grep -qF -- "$1" <<<"$out" || fail "$2: output lacks '$1': ${out:0:300}"
}

# Each binary and flags it must list under --help (its own and, for the
# services, the shared ones from common/server/).
declare -A OWN_FLAGS=(
  [recsys-cli]="--target --output"
  [recsys-train]="--data --holdout --json"
  [recsys-eval]="--models --target --json"
  [recsys-registry]="--registry --name --keep"
  [recsys-gateway]="--port --registry --margin --max_history --metrics_address --user_store --redis_timeout"
  [recsys-retrieval]="--port --workers --max_history --metrics_address"
  [recsys-ranking]="--port --max_candidates --max_history --metrics_address"
  [recsys-load]="--target --concurrency --json"
  [recsys-synth]="--out --items --users --events --seed"
)
for name in "${!OWN_FLAGS[@]}"; do
  [[ -x $BIN/$name ]] || { fail "$name not built in $BIN"; continue; }
  run "$name" --help
  expect_rc 0 "$name --help"
  for flag in ${OWN_FLAGS[$name]}; do expect_text "$flag" "$name --help"; done
  if grep -qF "No flags matched" <<<"$out"; then fail "$name --help: 'No flags matched'"; fi
  if grep -qF -- "--flagfile" <<<"$out"; then fail "$name --help lists Abseil's own flags"; fi
  run "$name" --helpshort
  expect_rc 0 "$name --helpshort"
  expect_text "$(cut -d' ' -f1 <<<"${OWN_FLAGS[$name]}")" "$name --helpshort"
  run "$name" --version
  expect_rc 0 "$name --version"
  expect_text "$name 0.1.0" "$name --version"
  expect_text "commit" "$name --version"
  run "$name" --no_such_flag
  expect_nonzero "$name --no_such_flag"
  expect_text "no_such_flag" "$name --no_such_flag"
done

# recsys-registry: a missing registry or model is an error for every command.
run recsys-registry --registry /nonexistent/registry list
expect_nonzero "recsys-registry --registry /nonexistent list"
expect_text "/nonexistent/registry is not a directory" "recsys-registry --registry /nonexistent list"
run recsys-registry --registry /nonexistent/registry production
expect_nonzero "recsys-registry --registry /nonexistent production"
mkdir -p "$TMP/registry/movielens"
run recsys-registry --registry "$TMP/registry" --name nosuch list
expect_nonzero "recsys-registry --name nosuch list"
expect_text "no model 'nosuch'" "recsys-registry --name nosuch list"
run recsys-registry --registry "$TMP/registry" --name movielens list
expect_rc 0 "recsys-registry list of an empty model"
run recsys-registry --registry "$TMP/registry" --name movielens production
expect_nonzero "recsys-registry production without a production version"
run recsys-registry --registry "$TMP/registry" --name movielens frobnicate
expect_rc 2 "recsys-registry with an unknown command"
# Model names that would leave the registry are refused by every tool.
mkdir -p "$TMP/registry/inner"
run recsys-registry --registry "$TMP/registry/inner" --name .. promote 20260101T000000Z-000000
expect_rc 2 "recsys-registry --name .. promote"
expect_text "model name '..' is not allowed" "recsys-registry --name .. promote"
[[ ! -e "$TMP/registry/production" ]] || fail "recsys-registry --name .. wrote outside the registry"
run recsys-registry --registry "$TMP/registry" --name ../../x promote 20260101T000000Z-000000
expect_rc 2 "recsys-registry --name ../../x promote"
for name in recsys-gateway recsys-retrieval recsys-ranking recsys-train; do
  run "$name" --name ..
  expect_rc 2 "$name --name .."
  expect_text "model name '..' is not allowed" "$name --name .."
done

# The services refuse a registry that is not a directory at once (exit 1).
for name in recsys-gateway recsys-retrieval recsys-ranking; do
  extra=()
  [[ $name == recsys-gateway ]] && extra=(--state_dir "$TMP/state")
  run "$name" --registry /nonexistent/registry --port 0 --metrics_port 0 "${extra[@]}"
  expect_rc 1 "$name --registry /nonexistent"
  expect_text "is not a directory" "$name --registry /nonexistent"
  run "$name" --port 70000
  expect_rc 2 "$name --port 70000"
done

# The gateway's user store: a bad --user_store is a bad flag (exit 2); an
# unreachable Redis fails start-up (exit 1) naming it.
for bad in bogus redis://host:0/0 rediss://host:6379/0 redis://user:pw@host:6379/0; do
  run recsys-gateway --user_store "$bad" --port 0 --metrics_port 0
  expect_rc 2 "recsys-gateway --user_store $bad"
  expect_text "--user_store must be 'embedded' or redis://" "recsys-gateway --user_store $bad"
done
run recsys-gateway --user_store redis://127.0.0.1:1/0 --redis_pool 0 --port 0 --metrics_port 0
expect_rc 2 "recsys-gateway --redis_pool 0"
run recsys-gateway --redis_password_file "$TMP/none" --port 0 --metrics_port 0
expect_rc 2 "recsys-gateway --redis_password_file without a Redis store"
run recsys-gateway --registry "$TMP/registry" --user_store redis://127.0.0.1:1/0 --port 0 \
  --metrics_port 0
expect_rc 1 "recsys-gateway with an unreachable Redis"
expect_text "user store 127.0.0.1:1/0" "recsys-gateway with an unreachable Redis"

# Offline tools: missing inputs and bad values exit non-zero.
run recsys-train --data "$TMP/no-data" --registry "$TMP/registry"
expect_nonzero "recsys-train --data missing"
run recsys-train --holdout bogus
expect_nonzero "recsys-train --holdout bogus"
run recsys-eval --data "$TMP/no-data"
expect_nonzero "recsys-eval --data missing"
run recsys-load --target 127.0.0.1:1 --connect_timeout 1s --duration 1s
expect_nonzero "recsys-load against nothing"
run recsys-load --method bogus
expect_nonzero "recsys-load --method bogus"
run recsys-synth --items 10
expect_nonzero "recsys-synth without --out"
expect_text "--out is required" "recsys-synth without --out"
run recsys-synth --out "$TMP/synth" --users 10 --events 29
expect_nonzero "recsys-synth with too few events"
expect_text "--events must be at least" "recsys-synth with too few events"
run recsys-synth --out "$TMP/synth" --items 50 --users 10 --events 100
expect_rc 0 "recsys-synth small catalogue"
run recsys-synth --out "$TMP/synth" --items 50 --users 10 --events 100
expect_nonzero "recsys-synth over existing files"
expect_text "--force" "recsys-synth over existing files"

if ((failures > 0)); then
  echo "FAIL: command_line: $failures problem(s)"
  exit 1
fi
echo "PASS: command_line: --help/--version/exit codes of ${#OWN_FLAGS[@]} binaries"
