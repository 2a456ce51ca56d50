#!/usr/bin/env bash
# The serving libraries must not call LAPACK: model fitting (EASE's Cholesky
# inverse, ...) lives in recsys_fit, which only the trainer links. FAISS itself
# references LAPACK, so the server binaries still load liblapack through it;
# this checks our own archives.
#
#   serving_lapack_test.sh LIBLAPACK LIBBLAS FIT_ARCHIVE SERVING_ARCHIVE...
#
# A symbol is LAPACK's if liblapack defines it and libblas does not. The fitting
# archive must reference some (a control that the check itself works); no
# serving archive may reference any. Prints PASS/FAIL with the offenders.
set -euo pipefail

lapack=$(readlink -f "$1")
blas=$(readlink -f "$2")
fit=$3
shift 3

defined() { nm -D --defined-only "$1" | awk '{print $3}' | sort -u; }
undefined() { nm -u -P -A "$@" | awk '{print $(NF-1) " " $1}' | sort -u; }

lapack_only=$(mktemp)
trap 'rm -f "$lapack_only"' EXIT
comm -23 <(defined "$lapack") <(defined "$blas") >"$lapack_only"

fit_refs=$(undefined "$fit" | awk '{print $1}' | grep -xFf "$lapack_only" || true)
if [[ -z "$fit_refs" ]]; then
  echo "FAIL: $fit references no LAPACK symbol; the check cannot see LAPACK calls"
  exit 1
fi

offenders=$(undefined "$@" | awk 'NR == FNR { lapack[$1] = 1; next }
                                  ($1 in lapack) { print "  " $2 " " $1 }' "$lapack_only" -)
if [[ -n "$offenders" ]]; then
  echo "FAIL: serving code references LAPACK (move it to a *_fit.cc):"
  echo "$offenders"
  exit 1
fi
echo "PASS: no LAPACK symbol in $# serving archives (fitting uses: $(echo $fit_refs))"
