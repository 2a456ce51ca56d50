#!/bin/sh
# The recsys-train CronJob: trains and publishes a bundle, then promotes it
# through the registry's metric gate (no --force). A refused promotion is the
# gate working, not a failure: production stays as it is and the job succeeds;
# any other error fails the job (and its alert). Services pick a promoted version
# up within --poll_interval.
set -eu
flags=/etc/recsys
recsys-train --flagfile="$flags/common.flags,$flags/train.flags" >/tmp/train.out
cat /tmp/train.out
version=$(awk '/^version /{print $2}' /tmp/train.out | tail -n 1)
if [ -z "$version" ]; then
  echo "train-and-promote: recsys-train printed no version" >&2
  exit 1
fi
if recsys-registry --flagfile="$flags/common.flags" promote "$version" 2>/tmp/promote.err; then
  echo "train-and-promote: $version is production"
elif grep -q "refusing to promote" /tmp/promote.err; then
  cat /tmp/promote.err >&2
  echo "train-and-promote: gate refused $version; production unchanged"
else
  cat /tmp/promote.err >&2
  exit 1
fi
recsys-registry --flagfile="$flags/common.flags" list
