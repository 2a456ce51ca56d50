#!/usr/bin/env bash
# The evaluation report (scripts/report.py) against a leaderboard and report
# data written by recsys-train on ml-latest-small (tests/offline/testdata/report):
# every figure is a PNG, the page shows every leaderboard row and links every
# figure; bad input exits 2 with a message naming the file and the field.
# Exit 77 (skipped) without python3-matplotlib.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if ! "$PY" -c "import matplotlib" 2>/dev/null; then
  echo "SKIP: python3-matplotlib not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
DATA=tests/offline/testdata/report
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" scripts/report.py --leaderboard "$DATA/leaderboard.json" --report_data "$DATA/report-data.json" \
  --out "$OUT/full" >"$OUT/log" 2>&1 || fail "report exited $?: $(cat "$OUT/log")"
for f in metrics depth shares weights calibration; do
  [ "$(head -c 8 "$OUT/full/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "$f.png is not a PNG"
  grep -q "src='$f.png'" "$OUT/full/index.html" || fail "index.html does not show $f.png"
done
rows=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$DATA/leaderboard.json")
trs=$(grep -c "^<tr><td>" "$OUT/full/index.html")
[ "$trs" = "$rows" ] || fail "index.html has $trs leaderboard rows, the JSON $rows"
grep -q "two_stage" "$OUT/full/index.html" || fail "no two_stage row"
grep -q "Served list: <b>ranker" "$OUT/full/index.html" || fail "the served list is not named"

# Extra numeric fields of the rows become columns and a figure.
"$PY" - "$DATA/leaderboard.json" "$OUT/extra.json" <<'PYEOF'
import json, sys
rows = json.load(open(sys.argv[1]))
for i, r in enumerate(rows):
    r["novelty"] = 5.0 + i / 10
json.dump(rows, open(sys.argv[2], "w"))
PYEOF
"$PY" scripts/report.py --leaderboard "$OUT/extra.json" --out "$OUT/extra" >"$OUT/log" 2>&1 ||
  fail "report with an extra field exited $?: $(cat "$OUT/log")"
[ -s "$OUT/extra/beyond.png" ] || fail "no beyond.png for an extra field"
grep -q "<th>novelty</th>" "$OUT/extra/index.html" || fail "no novelty column"
[ ! -e "$OUT/extra/depth.png" ] || fail "depth.png drawn without report data"

# Bad input: exit 2 and a message naming the problem; nothing half-written.
expect_bad() {  # name, expected message part, args...
  local name=$1 want=$2
  shift 2
  "$PY" scripts/report.py "$@" --out "$OUT/bad-$name" >"$OUT/log" 2>&1
  local rc=$?
  [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2: $(cat "$OUT/log")"
  grep -q "$want" "$OUT/log" || fail "$name: message lacks '$want': $(cat "$OUT/log")"
  [ ! -e "$OUT/bad-$name/index.html" ] || fail "$name: wrote a page"
}
echo '{not json' >"$OUT/garbage.json"
echo '[]' >"$OUT/empty.json"
echo '[{"split": "test", "model": "x", "recall": "high", "ndcg": 0.1}]' >"$OUT/badrow.json"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['sources'][0]['recall_at_depth'].pop(); json.dump(d, open(sys.argv[2], 'w'))" \
  "$DATA/report-data.json" "$OUT/short.json"
expect_bad missing "cannot read the leaderboard" --leaderboard "$OUT/nope.json"
expect_bad garbage "is not JSON" --leaderboard "$OUT/garbage.json"
expect_bad empty "non-empty JSON array" --leaderboard "$OUT/empty.json"
expect_bad badrow "no finite 'recall'" --leaderboard "$OUT/badrow.json"
expect_bad short "recall values for" --leaderboard "$DATA/leaderboard.json" --report_data "$OUT/short.json"
echo "PASS: report.py draws 5 figures and the leaderboard; bad input exits 2"
