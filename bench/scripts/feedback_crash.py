#!/usr/bin/env python3
"""Crash durability of Feedback: kill -9 the gateway at random moments under a
continuous Feedback load, restart it each time, and check at the end (through
GetHistory) that every acknowledged event is stored.

Started by bench/scripts/feedback_crash.sh, which trains a registry and starts
retrieval and ranking; this tool owns the gateway process. Every Feedback call
carries a timestamp no other call uses, so an acknowledged (user, item,
timestamp) triple identifies its event. Users change every --per_user
acknowledged events, well below the store's per-user cap (1000), so nothing is
dropped by policy. Prints one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "clients", "python"))
from recsys_client import pb, pb_grpc  # noqa: E402

FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 100),
]


class Gateway:
    """The gateway process: start, wait until it answers Feedback's needs
    (a bundle is loaded: GetModelInfo succeeds), kill -9."""

    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.proc = None
        self.channel = grpc.insecure_channel(f"127.0.0.1:{args.port}", options=FAST_RECONNECT)
        self.stub = pb_grpc.RecommenderStub(self.channel)

    def start(self) -> float:
        """Starts it and returns the seconds until it served GetModelInfo."""
        a = self.args
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(a.bin, "recsys-gateway"), "--registry", a.registry, "--name", a.name,
             "--port", str(a.port), "--metrics_port", str(a.metrics_port),
             "--state_dir", a.state, "--retrieval", f"dns:///127.0.0.1:{a.retrieval_port}",
             "--ranking", f"dns:///127.0.0.1:{a.ranking_port}", "--poll_interval", "60s"],
            stdout=self.log, stderr=self.log)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode} (see log)")
            try:
                # wait_for_ready: without it a channel that met a dead server
                # fails calls fast for seconds of reconnect backoff.
                self.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=0.5, wait_for_ready=True)
                return time.monotonic() - t0
            except grpc.RpcError:
                time.sleep(0.01)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


class Sender(threading.Thread):
    """Sends Feedback in a loop; remembers every acknowledged event."""

    clock_lock = threading.Lock()
    next_ts = 1_000_000_000  # 2001: in the past, and unique per call

    def __init__(self, index, target, items, per_user, stop):
        super().__init__(daemon=True)
        self.index = index
        self.items = items
        self.per_user = per_user
        self.stop_event = stop
        self.channel = grpc.insecure_channel(target, options=FAST_RECONNECT)
        self.stub = pb_grpc.RecommenderStub(self.channel)
        self.acked = {}  # user -> list of (item, timestamp)
        self.acked_count = 0
        self.sent = 0
        self.failed = 0
        self.rng = random.Random(index)

    @classmethod
    def unique_ts(cls) -> int:
        with cls.clock_lock:
            cls.next_ts += 1
            return cls.next_ts

    def run(self):
        block, in_block = 0, 0
        while not self.stop_event.is_set():
            user = f"crash-{self.index}-{block}"
            item = self.rng.choice(self.items)
            ts = self.unique_ts()
            self.sent += 1
            try:
                self.stub.Feedback(pb.FeedbackRequest(user_id=user, item_id=item, event="click",
                                                      timestamp_s=ts), timeout=2.0,
                                   wait_for_ready=True)
            except grpc.RpcError:
                self.failed += 1  # not acknowledged: may or may not be stored
                time.sleep(0.02)
                continue
            self.acked.setdefault(user, []).append((item, ts))
            self.acked_count += 1
            in_block += 1
            if in_block == self.per_user:
                block, in_block = block + 1, 0


def catalogue_items(data_dir: str, limit: int = 2000):
    """Item ids of the MovieLens catalogue (movies.csv's first column)."""
    items = []
    with open(os.path.join(data_dir, "movies.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            items.append(line.split(",", 1)[0])
            if len(items) == limit:
                break
    return items


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="build/bin")
    p.add_argument("--registry", required=True)
    p.add_argument("--name", default="movielens")
    p.add_argument("--data", default="data/ml-latest-small")
    p.add_argument("--state", required=True)
    p.add_argument("--port", type=int, default=56051)
    p.add_argument("--metrics_port", type=int, default=59091)
    p.add_argument("--retrieval_port", type=int, default=56052)
    p.add_argument("--ranking_port", type=int, default=56053)
    p.add_argument("--kills", type=int, default=1000)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--per_user", type=int, default=400)
    p.add_argument("--max_up_s", type=float, default=0.4,
                   help="each kill comes uniformly in [0, max_up_s] after the gateway is ready")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log", default="gateway-crash.log")
    p.add_argument("--drop_one_user", action="store_true",
                   help="negative control: erase one user's history (DeleteUser) before the "
                        "check, which must then report its events lost")
    a = p.parse_args()

    rng = random.Random(a.seed)
    items = catalogue_items(a.data)
    log = open(a.log, "ab")
    gw = Gateway(a, log)
    t_start = time.monotonic()
    restarts = [gw.start()]
    stop = threading.Event()
    senders = [Sender(i, f"127.0.0.1:{a.port}", items, a.per_user, stop) for i in range(a.senders)]
    for s in senders:
        s.start()
    acked_at_kill = []
    for k in range(a.kills):
        time.sleep(rng.uniform(0, a.max_up_s))
        acked_at_kill.append(sum(s.acked_count for s in senders))
        gw.kill()
        restarts.append(gw.start())
        if (k + 1) % 100 == 0:
            print(f"{k + 1} kills, {acked_at_kill[-1]} acknowledged, "
                  f"{time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
    stop.set()
    for s in senders:
        s.join()
    run_s = time.monotonic() - t_start
    # One more crash after the load stopped, then verify what restart serves.
    gw.kill()
    restarts.append(gw.start())

    if a.drop_one_user:
        victim = next(u for s in senders for u in s.acked)
        gw.stub.DeleteUser(pb.DeleteUserRequest(user_id=victim), timeout=10)
    lost, checked, users = 0, 0, 0
    examples = []
    for s in senders:
        for user, events in s.acked.items():
            users += 1
            r = gw.stub.GetHistory(pb.GetHistoryRequest(user_id=user, max_events=10000),
                                   timeout=10)
            stored = {(e.item_id, e.timestamp_s) for e in r.events}
            for ev in events:
                checked += 1
                if ev not in stored:
                    lost += 1
                    if len(examples) < 10:
                        examples.append({"user": user, "item": ev[0], "timestamp_s": ev[1]})
    gw.stop()
    restarts_sorted = sorted(restarts[1:])
    result = {
        "kills": a.kills + 1,
        # Kills with events acknowledged since the previous one (load was running).
        "kills_under_load": sum(1 for i in range(len(acked_at_kill))
                                if acked_at_kill[i] > (acked_at_kill[i - 1] if i else 0)),
        "acknowledged": checked,
        "acknowledged_lost": lost,
        "lost_examples": examples,
        "users": users,
        "feedback_sent": sum(s.sent for s in senders),
        "feedback_failed": sum(s.failed for s in senders),
        "senders": a.senders,
        "run_seconds": round(run_s, 1),
        "first_start_seconds": round(restarts[0], 3),
        "restart_seconds_median": round(restarts_sorted[len(restarts_sorted) // 2], 3),
        "restart_seconds_p99": round(restarts_sorted[int(len(restarts_sorted) * 0.99)], 3),
        "restart_seconds_max": round(restarts_sorted[-1], 3),
        "max_up_s": a.max_up_s,
    }
    print(json.dumps(result, indent=2))
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
