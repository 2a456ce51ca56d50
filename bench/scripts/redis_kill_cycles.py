#!/usr/bin/env python3
"""Redis user store under kill -9: two gateways share one redis-server
(deploy/redis/redis.conf: appendfsync always); senders stream Feedback, each
call with its own idempotency key, retrying every failed call (alternating
between the two gateways) with the same key until it is acknowledged, while
Redis is SIGKILLed and restarted --cycles times at random moments. At the end
every user's history (GetHistory) must hold each acknowledged event exactly
once and nothing else: 0 lost, 0 duplicated.

Started by bench/scripts/redis_kill_cycles.sh, which trains a registry; this
tool owns redis-server and the two gateways (no retrieval or ranking: Feedback
needs only the bundle's catalogue). Prints one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "clients", "python"))
from recsys_client import pb, pb_grpc  # noqa: E402

FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 100),
]


def redis_options(text: str):
    """'--appendonly=no --save=' → ['--appendonly', 'no', '--save', '']."""
    out = []
    for token in text.split():
        out.extend(token.split("=", 1) if token.startswith("--") and "=" in token else [token])
    return out


class Redis:
    def __init__(self, a, log):
        self.a = a
        self.log = log
        self.proc = None

    def start(self) -> float:
        """Starts redis-server (loading its AOF) and returns the seconds until PING answers."""
        a = self.a
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [a.redis_server, a.redis_conf, "--port", str(a.redis_port), "--bind", "127.0.0.1",
             "--dir", a.redis_dir, "--appendonly", "yes", "--appendfsync", "always",
             *redis_options(a.redis_args)],
            stdout=self.log, stderr=self.log)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", a.redis_port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.005)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


class Gateway:
    def __init__(self, a, index, log):
        self.a = a
        self.port = a.port + index
        self.metrics_port = a.metrics_port + index
        self.log = log
        self.proc = None
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=FAST_RECONNECT)
        self.stub = pb_grpc.RecommenderStub(self.channel)

    def start(self) -> None:
        a = self.a
        self.proc = subprocess.Popen(
            [os.path.join(a.bin, "recsys-gateway"), "--registry", a.registry, "--name", a.name,
             "--port", str(self.port), "--metrics_port", str(self.metrics_port),
             "--user_store", f"redis://127.0.0.1:{a.redis_port}/0",
             "--redis_timeout", a.redis_timeout, "--retrieval", "dns:///127.0.0.1:1",
             "--ranking", "dns:///127.0.0.1:1", "--poll_interval", "60s"],
            stdout=self.log, stderr=self.log)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode} (see log)")
            try:
                self.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=0.5, wait_for_ready=True)
                return
            except grpc.RpcError:
                time.sleep(0.01)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def metric(self, name: str) -> float:
        """The value of an unlabelled series on the gateway's /metrics (0 if absent)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0


class Sender(threading.Thread):
    """Sends Feedback in a loop, each call retried with its key until acknowledged."""

    clock_lock = threading.Lock()
    next_ts = 1_000_000_000  # 2001: in the past, and unique per event

    def __init__(self, index, gateways, items, per_user, stop, keys=True):
        super().__init__(daemon=True)
        self.keys = keys
        self.index = index
        self.gateways = gateways
        self.items = items
        self.per_user = per_user
        self.stop_event = stop
        self.acked = {}  # user -> list of (item, timestamp, sequence)
        self.acked_count = 0
        self.failed_calls = 0
        self.retried_events = 0
        self.max_attempts = 0
        self.latencies = []  # first send → acknowledgement, seconds
        self.rng = random.Random(index)

    @classmethod
    def unique_ts(cls) -> int:
        with cls.clock_lock:
            cls.next_ts += 1
            return cls.next_ts

    def run(self):
        n = 0
        while not self.stop_event.is_set():
            user = f"kc-{self.index}-{n // self.per_user}"
            item = self.rng.choice(self.items)
            ts = self.unique_ts()
            key = f"kc-{self.index}-{n}" if self.keys else ""
            t0 = time.monotonic()
            attempt = 0
            while True:
                gw = self.gateways[(self.index + attempt) % len(self.gateways)]
                attempt += 1
                try:
                    r = gw.stub.Feedback(pb.FeedbackRequest(user_id=user, item_id=item,
                                                            event="click", timestamp_s=ts,
                                                            idempotency_key=key),
                                         timeout=2.0, wait_for_ready=True)
                    break
                except grpc.RpcError:
                    self.failed_calls += 1  # not acknowledged: retried with the same key
                    time.sleep(0.005)
            self.latencies.append(time.monotonic() - t0)
            if attempt > 1:
                self.retried_events += 1
            self.max_attempts = max(self.max_attempts, attempt)
            self.acked.setdefault(user, []).append((item, ts, r.sequence))
            self.acked_count += 1
            n += 1


def catalogue_items(data_dir: str, limit: int = 2000):
    items = []
    with open(os.path.join(data_dir, "movies.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            items.append(line.split(",", 1)[0])
            if len(items) == limit:
                break
    return items


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="build/bin")
    p.add_argument("--registry", required=True)
    p.add_argument("--name", default="movielens")
    p.add_argument("--data", default="data/ml-latest-small")
    p.add_argument("--redis_server", default="/usr/bin/redis-server")
    p.add_argument("--redis_conf", default="deploy/redis/redis.conf")
    p.add_argument("--redis_dir", required=True)
    p.add_argument("--redis_port", type=int, default=56379)
    p.add_argument("--redis_timeout", default="200ms")
    p.add_argument("--redis_args", default="",
                   help="more redis-server options, last, as --name=value (e.g. "
                        "--appendonly=no: a negative control that must report lost events)")
    p.add_argument("--port", type=int, default=56061, help="first gateway; the second is +1")
    p.add_argument("--metrics_port", type=int, default=59101)
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--per_user", type=int, default=400)
    p.add_argument("--max_up_s", type=float, default=0.3,
                   help="each kill comes uniformly in [0.02, max_up_s] after Redis is ready")
    p.add_argument("--max_down_s", type=float, default=0.05,
                   help="Redis stays down uniformly in [0, max_down_s]")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no_keys", action="store_true",
                   help="negative control: send no idempotency keys (a retry of a call whose "
                        "answer was lost then stores the event twice)")
    p.add_argument("--log", default="redis-kill-cycles.log")
    a = p.parse_args()

    rng = random.Random(a.seed)
    items = catalogue_items(a.data)
    os.makedirs(a.redis_dir, exist_ok=True)
    log = open(a.log, "ab")
    redis = Redis(a, log)
    redis.start()
    gateways = [Gateway(a, i, log) for i in range(2)]
    for g in gateways:
        g.start()
    t_start = time.monotonic()
    stop = threading.Event()
    senders = [Sender(i, gateways, items, a.per_user, stop, keys=not a.no_keys)
               for i in range(a.senders)]
    for s in senders:
        s.start()
    restarts = []
    acked_at_kill = []
    try:
        for c in range(a.cycles):
            time.sleep(rng.uniform(0.02, a.max_up_s))
            acked_at_kill.append(sum(s.acked_count for s in senders))
            redis.kill()
            time.sleep(rng.uniform(0, a.max_down_s))
            restarts.append(redis.start())
            if (c + 1) % 50 == 0:
                print(f"{c + 1} kills, {acked_at_kill[-1]} acknowledged, "
                      f"{time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
        time.sleep(0.2)
        stop.set()
        for s in senders:
            s.join()
        run_s = time.monotonic() - t_start
        # One more kill after the load stopped: what Redis reloads is checked.
        redis.kill()
        restarts.append(redis.start())

        lost, duplicated, extra, checked, users = 0, 0, 0, 0, 0
        examples = []
        seqs = set()
        seq_reused = 0
        for s in senders:
            for user, events in s.acked.items():
                users += 1
                r = None
                for _ in range(100):  # the gateways reconnect after the last restart
                    try:
                        r = gateways[1].stub.GetHistory(
                            pb.GetHistoryRequest(user_id=user, max_events=10000), timeout=10)
                        break
                    except grpc.RpcError:
                        time.sleep(0.05)
                stored = {}
                for e in r.events:
                    stored[(e.item_id, e.timestamp_s)] = stored.get((e.item_id, e.timestamp_s), 0) + 1
                wanted = {(item, ts) for item, ts, _ in events}
                for item, ts, seq in events:
                    checked += 1
                    if seq in seqs:
                        seq_reused += 1
                    seqs.add(seq)
                    count = stored.get((item, ts), 0)
                    if count == 0:
                        lost += 1
                        if len(examples) < 10:
                            examples.append({"user": user, "item": item, "timestamp_s": ts})
                    elif count > 1:
                        duplicated += count - 1
                extra += sum(c for k, c in stored.items() if k not in wanted)
        replays = sum(g.metric("recsys_user_store_idempotent_replays_total") for g in gateways)
        reconnects = sum(g.metric("recsys_user_store_pool_reconnects_total") for g in gateways)
    finally:
        stop.set()
        for g in gateways:
            g.stop()
        redis.stop()
    latencies = [x for s in senders for x in s.latencies]
    result = {
        "redis_kills": a.cycles + 1,
        "kills_under_load": sum(1 for i in range(len(acked_at_kill))
                                if acked_at_kill[i] > (acked_at_kill[i - 1] if i else 0)),
        "acknowledged": checked,
        "acknowledged_lost": lost,
        "duplicated": duplicated,
        "unacknowledged_stored": extra,
        "sequence_reused": seq_reused,
        "lost_examples": examples,
        "users": users,
        "failed_calls_retried": sum(s.failed_calls for s in senders),
        "events_needing_retries": sum(s.retried_events for s in senders),
        "max_attempts_for_one_event": max(s.max_attempts for s in senders),
        # Retries the store answered from the key: the earlier attempt was stored
        # but its answer lost (without keys each would be a duplicate).
        "retries_answered_from_key": int(replays),
        "gateway_reconnects_to_redis": int(reconnects),
        "idempotency_keys": not a.no_keys,
        "ack_seconds_p50": round(percentile(latencies, 0.5), 4),
        "ack_seconds_p99": round(percentile(latencies, 0.99), 4),
        "ack_seconds_max": round(max(latencies), 4) if latencies else 0,
        "redis_restart_seconds_median": round(percentile(restarts, 0.5), 3),
        "redis_restart_seconds_max": round(max(restarts), 3),
        "senders": a.senders,
        "run_seconds": round(run_s, 1),
    }
    print(json.dumps(result, indent=2))
    ok = lost == 0 and duplicated == 0 and extra == 0 and seq_reused == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
