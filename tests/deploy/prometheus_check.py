#!/usr/bin/env python3
"""Asks a running Prometheus, through /api/v1/query, for every expression of the
Grafana dashboard, the recording rules and the alert rules (alerts without
their threshold, see promql_exprs.py), and requires each to return data: a
non-empty result with at least one sample that is a number (not NaN).

Polls until every expression passes or --timeout runs out (Prometheus scrapes
and evaluates rules every second in the test), then prints one line per
expression and exits 1 if any is still empty.

With --require SELECTOR@JOB,JOB... (repeatable) it also requires the live
scrape to hold SELECTOR (a series selector such as process_open_fds or
recsys_gateway_degraded_total{reason="retrieval:EMPTY"}) from every listed job,
and with --forbid NAME that no job exports NAME any more (renamed metrics).

  prometheus_check.py --prometheus http://127.0.0.1:PORT --dashboard D.json \
      --rules recording.yml alerts.yml [--timeout 60] [--expect-up 3] \
      [--require 'process_open_fds@recsys-gateway,recsys-ranking'] [--forbid recsys_wal]
"""
import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import promql_exprs


def query(base, expr):
    """(ok, result list or error text)."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            return False, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return False, str(e)
    if body.get("status") != "success":
        return False, f"{body.get('errorType')}: {body.get('error')}"
    data = body["data"]
    if data["resultType"] == "scalar":
        return True, [{"metric": {}, "value": data["result"]}]
    return True, data["result"]


def has_number(result):
    for sample in result:
        value = sample.get("value", [0, "NaN"])[1]
        try:
            if not math.isnan(float(value)):
                return True
        except ValueError:
            pass
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", nargs="+", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--expect-up", type=int, default=0,
                    help="first wait until this many recsys-* targets are up")
    ap.add_argument("--require", action="append", default=[],
                    help="SELECTOR@JOB,JOB: the scrape holds SELECTOR from each JOB")
    ap.add_argument("--forbid", action="append", default=[],
                    help="a metric name no job may export")
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    if args.expect_up:
        expr = 'count(up{job=~"recsys-.*"} == 1)'
        up = 0
        while time.monotonic() < deadline:
            ok, result = query(args.prometheus, expr)
            up = int(float(result[0]["value"][1])) if ok and result else 0
            if up >= args.expect_up:
                break
            time.sleep(0.5)
        if up < args.expect_up:
            print(f"FAIL: only {up} of {args.expect_up} recsys targets up ({expr})")
            return 1
        print(f"ok   {up} recsys targets up")

    checks = [("dashboard", title, expr) for title, expr in promql_exprs.dashboard_exprs(args.dashboard)]
    full_alerts = []
    for kind, name, expr in promql_exprs.rule_exprs(args.rules):
        if kind == "alert":
            full_alerts.append((name, expr))
        else:
            checks.append((kind, name, expr))
    if not checks:
        print("FAIL: no expressions found")
        return 1

    status = {}
    while True:
        for i, (kind, name, expr) in enumerate(checks):
            if status.get(i, (False,))[0]:
                continue
            ok, result = query(args.prometheus, expr)
            if not ok:
                status[i] = (False, f"query error: {result}")
            elif not result:
                status[i] = (False, "empty result")
            elif not has_number(result):
                status[i] = (False, f"{len(result)} series, all NaN")
            else:
                status[i] = (True, f"{len(result)} series")
        if all(s[0] for s in status.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)

    failed = 0
    # Series every named job must export (names in a live scrape).
    for req in args.require:
        selector, _, jobs = req.rpartition("@")
        ok, result = query(args.prometheus, f"count by (job) ({selector})")
        have = {r["metric"].get("job") for r in result} if ok else set()
        missing = sorted(set(jobs.split(",")) - have)
        failed += bool(missing) or not ok
        print(f"{'FAIL' if missing or not ok else 'ok  '} scrape        {selector}: "
              f"{'query error: ' + str(result) if not ok else ('missing from ' + ', '.join(missing) if missing else 'from ' + jobs)}")
    for name in args.forbid:
        ok, result = query(args.prometheus, f'count by (job) ({{__name__="{name}"}})')
        bad = not ok or bool(result)
        failed += bad
        print(f"{'FAIL' if bad else 'ok  '} scrape        {name}: "
              f"{'query error: ' + str(result) if not ok else ('still exported' if result else 'gone')}")
    for i, (kind, name, expr) in enumerate(checks):
        ok, what = status[i]
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {kind:13s} {name}: {what} <- {expr}")
    # The full alert expressions must at least evaluate; whether they fire is shown.
    for name, expr in full_alerts:
        ok, result = query(args.prometheus, expr)
        if not ok:
            failed += 1
            print(f"FAIL alert         {name}: query error: {result} <- {expr}")
        else:
            print(f"ok   alert         {name}: evaluates, {'FIRING ' + str(len(result)) if result else 'not firing'}")
    total = len(checks) + len(full_alerts) + len(args.require) + len(args.forbid)
    print(f"{total - failed}/{total} expressions ok "
          f"({sum(1 for c in checks if c[0] == 'dashboard')} dashboard queries, "
          f"{sum(1 for c in checks if c[0].startswith('record'))} recording-rule queries, "
          f"{sum(1 for c in checks if c[0] == 'alert-value')} alert value terms, {len(full_alerts)} alerts, "
          f"{len(args.require)} required series, {len(args.forbid)} retired names)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
