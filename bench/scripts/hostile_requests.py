#!/usr/bin/env python3
"""Worst-case requests against running services, and what they cost.

For every method of the three services, sends N concurrent requests built to
cost the server the most memory per byte on the wire (millions of empty
repeated elements, or one giant string), then reports each call's status and
the server's resident memory before and at peak (VmRSS / VmHWM of its pid).

    bench/scripts/hostile_requests.py --gateway localhost:50051 --gateway_pid P \
        --retrieval localhost:50052 --retrieval_pid P2 --ranking localhost:50053 \
        --ranking_pid P3 [--concurrency 16] [--bytes 16777216]

Needs python3-grpcio (Debian). Requests are raw protobuf bytes: no generated
code. The peak is read with /proc/PID/clear_refs (reset VmHWM; needs the same
user or root) before each method, so each row's peak is that method's.
"""
import argparse
import concurrent.futures
import json
import sys
import time

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, wire_type):
    return varint((number << 3) | wire_type)


def length_delimited(number, payload):
    return field(number, 2) + varint(len(payload)) + payload


def empties(number, size):
    """As many empty length-delimited fields `number` as fit in `size` bytes."""
    one = field(number, 2) + b"\x00"
    return one * (size // len(one))


def big_string(number, size):
    return length_delimited(number, b"x" * max(0, size - 8))


def worst_cases(size):
    """(service, method, description, request bytes)."""
    user = length_delimited(1, b"u1")
    cases = [
        ("recsys.v1.Recommender", "Recommend", "empty context_categories",
         user + field(2, 0) + varint(10) + empties(3, size)),
        ("recsys.v1.Recommender", "Recommend", "empty exclude_item_ids",
         user + field(2, 0) + varint(10) + empties(4, size)),
        ("recsys.v1.Recommender", "Recommend", "empty extra_history events",
         user + field(2, 0) + varint(10) + empties(7, size)),
        ("recsys.v1.Recommender", "Feedback", "giant user_id", big_string(1, size)),
        ("recsys.v1.Recommender", "Search", "giant query", big_string(1, size)),
        ("recsys.v1.Recommender", "SimilarItems", "giant item_id", big_string(1, size)),
        ("recsys.v1.Recommender", "GetHistory", "giant user_id", big_string(1, size)),
        ("recsys.v1.Recommender", "DeleteUser", "giant user_id", big_string(1, size)),
        ("recsys.v1.Recommender", "GetModelInfo", "unknown fields", empties(99, size)),
        ("recsys.v1.Retrieval", "Retrieve", "empty user.history events",
         length_delimited(1, empties(2, size - 8))),
        ("recsys.v1.Retrieval", "Retrieve", "empty user.categories",
         length_delimited(1, empties(4, size - 8))),
        ("recsys.v1.Retrieval", "Retrieve", "empty quotas", empties(2, size)),
        ("recsys.v1.Retrieval", "Retrieve", "empty exclude_item_ids", empties(3, size)),
        ("recsys.v1.Retrieval", "Search", "giant query", big_string(1, size)),
        ("recsys.v1.Ranking", "Rank", "empty candidates", field(3, 0) + varint(10) + empties(2, size)),
        ("recsys.v1.Ranking", "Rank", "empty exclude_item_ids",
         field(3, 0) + varint(10) + empties(5, size)),
        ("recsys.v1.Ranking", "Rank", "empty user.history events",
         field(3, 0) + varint(10) + length_delimited(1, empties(2, size - 16))),
    ]
    return cases


def memory(pid):
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def call(channel, service, method, payload, timeout):
    rpc = channel.unary_unary(f"/{service}/{method}")  # bytes in, bytes out
    start = time.perf_counter()
    try:
        rpc(payload, timeout=timeout)
        code = "OK"
    except grpc.RpcError as e:
        code = e.code().name
    return code, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("gateway", "retrieval", "ranking"):
        p.add_argument(f"--{name}", default="", help=f"{name} address host:port")
        p.add_argument(f"--{name}_pid", type=int, default=0, help=f"{name} process id")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--bytes", type=int, default=16 << 20,
                   help="request size (the client's own send limit is raised to match)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--json", default="", help="also write the rows as JSON to this file")
    args = p.parse_args()

    targets = {
        "recsys.v1.Recommender": (args.gateway, args.gateway_pid),
        "recsys.v1.Retrieval": (args.retrieval, args.retrieval_pid),
        "recsys.v1.Ranking": (args.ranking, args.ranking_pid),
    }
    options = [("grpc.max_send_message_length", args.bytes + (1 << 20)),
               ("grpc.max_receive_message_length", 64 << 20)]
    rows = []
    print(f"{'service/method':36} {'request':30} {'statuses':34} {'RSS before':>10} "
          f"{'peak':>8} {'rise':>8} {'after':>8}")
    for service, method, what, payload in worst_cases(args.bytes):
        address, pid = targets[service]
        if not address or not pid:
            continue
        channel = grpc.insecure_channel(address, options=options)
        time.sleep(0.2)
        before, _ = memory(pid)
        reset_peak(pid)
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            futures = [pool.submit(call, channel, service, method, payload, args.timeout)
                       for _ in range(args.concurrency)]
            results = [f.result() for f in futures]
        time.sleep(0.5)
        after, peak = memory(pid)
        channel.close()
        codes = {}
        for code, _ in results:
            codes[code] = codes.get(code, 0) + 1
        statuses = ", ".join(f"{c} x{n}" for c, n in sorted(codes.items()))
        mib = 1 << 20
        row = {"service": service, "method": method, "request": what, "bytes": len(payload),
               "statuses": codes, "rss_before": before, "peak": peak, "rise": peak - before,
               "rss_after": after,
               "max_seconds": max(s for _, s in results)}
        rows.append(row)
        print(f"{service.split('.')[-1] + '/' + method:36} {what:30} {statuses:34} "
              f"{before / mib:9.0f}M {peak / mib:7.0f}M {(peak - before) / mib:7.0f}M "
              f"{after / mib:7.0f}M", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    worst = max((r["rise"] for r in rows), default=0)
    ok = [r for r in rows if "OK" in r["statuses"]]
    print(f"largest peak rise: {worst / (1 << 20):.0f} MiB; methods answering OK to a "
          f"worst-case request: {len(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
