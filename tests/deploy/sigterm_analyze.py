#!/usr/bin/env python3
"""Verdict of one SIGTERM-under-load run (tests/deploy/sigterm_test.sh).

Inputs: recsys-load's ghz-style JSON report (statusCodeDistribution,
errorDistribution), the last /metrics scrape of the gateway taken before it
exited (with `# scraped_after <unix s>`: the scrape started at or after that
time), the gateway's log, and the signal / exit times.

How accepted and refused calls are told apart, two independent ways:

 client side  A call the server never accepted fails in the client with
              UNAVAILABLE "failed to connect to all addresses ... Connection
              refused": the channel had no connection to send it on (listener
              closed; a call sent just as GOAWAY arrived is refused by the server
              at the transport level and retried by gRPC onto a new, refused,
              connection). Every other non-OK outcome — CANCELLED or UNAVAILABLE
              "Cancelling all calls" (drain deadline passed), "Socket closed" or
              "Connection reset" (process died mid-call), DEADLINE_EXCEEDED,
              INTERNAL ... — is a call that had been sent on a live connection,
              i.e. accepted, and then failed. There must be none.
 server side  grpc_server_started_total{Recommend} counts exactly the calls the
              gateway accepted (a handler ran). Once Shutdown has begun no call
              starts, so a scrape taken after that moment holds the final count S.
              Every OK the client saw was an accepted call, so
              client OK == S  <=>  every accepted call succeeded;
              and grpc_server_handled_total{Recommend, code != OK} must be 0.

  sigterm_analyze.py --report load.json --scrape last.prom --log gateway.log \
      --signal-time T --exit-time T2 --exit-code C --grace SECONDS
Prints the numbers and a verdict line; exit 0 = no accepted call failed and
the process exited 0 within the grace period.
"""
import argparse
import datetime
import json
import re
import sys

REFUSED = re.compile(r"^UNAVAILABLE: failed to connect to all addresses")


def metric(text, name, labels):
    """Sum of the samples of `name` whose labels include `labels` (dict)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"^(\w+)(?:\{([^}]*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v if not v.startswith("!") else have.get(k) != v[1:]
               for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


def log_time(log, pattern):
    """Unix time of the first gateway log line matching `pattern` (absl-style
    "I2026-11-29T05:24:26.866Z file:line] ..." timestamps, UTC)."""
    for line in log.splitlines():
        if re.search(pattern, line):
            m = re.match(r"^[IWEF](\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
            if m:
                return datetime.datetime.fromisoformat(m.group(1)).replace(
                    tzinfo=datetime.timezone.utc).timestamp()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--scrape", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--signal-time", type=float, required=True)
    ap.add_argument("--exit-time", type=float, required=True)
    ap.add_argument("--exit-code", type=int, required=True)
    ap.add_argument("--grace", type=float, required=True)
    args = ap.parse_args()

    report = json.load(open(args.report))
    codes = report.get("statusCodeDistribution", {})
    errors = report.get("errorDistribution", {})
    ok = codes.get("OK", 0)
    refused = sum(n for msg, n in errors.items() if REFUSED.match(msg))
    failed_accepted = {msg: n for msg, n in errors.items() if not REFUSED.match(msg)}
    # Codes without an error text (should not happen: every non-OK has a message).
    unexplained = sum(codes.values()) - ok - sum(errors.values())

    log = open(args.log).read()
    drain_start = log_time(log, r"draining the gRPC server")
    m = re.search(r"gRPC server stopped after ([0-9.]+)(ms|s)", log)
    drained_s = (float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)) if m else None

    scrape = open(args.scrape).read() if args.scrape else ""
    sm = re.search(r"^# scraped_after ([0-9.]+)", scrape, re.M)
    scraped_after = float(sm.group(1)) if sm else None
    rec = {"grpc_service": "recsys.v1.Recommender", "grpc_method": "Recommend"}
    started = metric(scrape, "grpc_server_started_total", rec)
    handled_ok = metric(scrape, "grpc_server_handled_total", {**rec, "grpc_code": "OK"})
    handled_bad = metric(scrape, "grpc_server_handled_total", {**rec, "grpc_code": "!OK"})
    inflight = metric(scrape, "recsys_gateway_inflight", {})

    exit_after = args.exit_time - args.signal_time
    print(f"client: {sum(codes.values())} calls: OK {ok}, refused before reaching the server "
          f"{refused}, accepted-then-failed {sum(failed_accepted.values()) + unexplained}")
    for msg, n in sorted(failed_accepted.items(), key=lambda kv: -kv[1]):
        print(f"  accepted-then-failed [{n}] {msg}")
    print(f"gateway: SIGTERM at +0, drain began "
          f"{'?' if drain_start is None else f'+{drain_start - args.signal_time:.3f} s'}, "
          f"gRPC server drained in {drained_s} s, process exited {args.exit_code} after "
          f"{exit_after:.3f} s (grace {args.grace:g} s)")
    print(f"server (last scrape, taken >= +{(scraped_after or 0) - args.signal_time:.3f} s): "
          f"Recommend started {started}, handled OK {handled_ok}, handled non-OK {handled_bad}, "
          f"in flight then {inflight}")

    problems = []
    if sum(failed_accepted.values()) + unexplained:
        problems.append(f"{sum(failed_accepted.values()) + unexplained} accepted calls failed")
    if args.exit_code != 0:
        problems.append(f"exit code {args.exit_code}")
    if exit_after > args.grace:
        problems.append(f"exited after {exit_after:.2f} s > grace {args.grace:g} s")
    if ok == 0:
        problems.append("no OK calls: the load never ran")
    if started is None or drain_start is None or scraped_after is None:
        problems.append("no usable server-side evidence (scrape or drain log missing)")
    elif scraped_after < drain_start + 0.05:
        problems.append("the last scrape predates the drain: server counts are not final")
    else:
        if handled_bad:
            problems.append(f"the gateway recorded {handled_bad:g} non-OK Recommend calls")
        if started != ok:
            problems.append(f"server accepted {started:g} calls but the client saw {ok} OK")
    if problems:
        print("VERDICT FAIL: " + "; ".join(problems))
        return 1
    print(f"VERDICT OK: all {ok} accepted calls succeeded (server started {started:g} = client OK), "
          f"{refused} refused after shutdown began, exit 0 after {exit_after:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
