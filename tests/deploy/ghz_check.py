#!/usr/bin/env python3
"""Checks deploy/ghz/*.json without ghz itself (not a Debian package):

 - every key is a ghz config key (the JSON names of ghz's runner.Config, i.e.
   its long flags);
 - the protoset the config names exists in the build (build/recsys.protoset ->
   --build-dir/recsys.protoset) and holds the `call` method;
 - the `data` template renders: a small evaluator of the Go-template actions the
   configs use ({{.RequestNumber}}, {{.TimestampUnix}}, {{.WorkerID}},
   {{randomInt A B}} = [A, B), {{index (list ...) N}}, {{newUUID}},
   {{randomString N}}); an unknown function or an index out of range is an
   error. Each config is rendered --renders times with varying request numbers
   and random draws; every rendering must parse (protobuf JSON mapping, unknown
   fields rejected) into the method's request type from the protoset;
 - the ids it produces exist in the data set the deployment serves
   (--data: MovieLens ratings.csv users, movies.csv items).

  ghz_check.py --build-dir build --data data/ml-latest-small deploy/ghz/*.json
"""
import argparse
import csv
import json
import os
import random
import re
import sys
import time
import uuid

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

# ghz runner.Config JSON keys (github.com/bojand/ghz runner/config.go).
GHZ_KEYS = {
    "proto", "protoset", "call", "cacert", "cert", "key", "skipTLS", "skipFirst", "cname",
    "authority", "insecure", "total", "async", "concurrency", "concurrency-schedule",
    "concurrency-start", "concurrency-end", "concurrency-step", "concurrency-step-duration",
    "concurrency-max-duration", "connections", "rps", "duration", "duration-stop",
    "max-duration", "timeout", "data", "data-file", "binary-file", "metadata", "metadata-file",
    "stream-interval", "output", "format", "connect-timeout", "keepalive", "cpus",
    "import-paths", "name", "tags", "reflect-metadata", "debug", "host", "enable-compression",
    "load-schedule", "load-start", "load-end", "load-step", "load-step-duration",
    "load-max-duration",
}

# Go template operands: "string" (JSON-style escapes), `raw string`, integer,
# .Field, identifier, parentheses. ghz executes the template on the JSON text of
# `data`, so a "string" literal inside a JSON string arrives as \"...\" and is a
# template syntax error (ghz panics); raw strings and integers are the safe ones.
TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|`([^`]*)`|(-?\d+)|(\.[A-Za-z]+)|([A-Za-z_]\w*)|(\()|(\)))')


class Template:
    def __init__(self, fields, rng):
        self.fields = fields
        self.rng = rng
        self.funcs = {
            "randomInt": lambda a, b: self.rng.randrange(a, b),
            "list": lambda *xs: list(xs),
            "index": self._index,
            "newUUID": lambda: str(uuid.UUID(int=self.rng.getrandbits(128))),
            "randomString": lambda n: "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz")
                                              for _ in range(n if n > 0 else 8)),
        }

    @staticmethod
    def _index(xs, i):
        if not 0 <= i < len(xs):
            raise ValueError(f"index {i} out of range [0, {len(xs)})")
        return xs[i]

    def _tokens(self, text):
        pos, out = 0, []
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise ValueError(f"cannot parse template action at {text[pos:]!r}")
            pos = m.end()
            s, raw, n, field, ident, lp, rp = m.groups()
            out.append(("str", json.loads(s)) if s else ("str", raw) if raw is not None else
                       ("int", int(n)) if n else
                       ("field", field[1:]) if field else ("ident", ident) if ident else
                       ("(", None) if lp else (")", None))
        return out

    def _pipeline(self, toks, i):
        """Parses `fn arg...` or a single operand up to ')' or the end."""
        items = []
        while i < len(toks) and toks[i][0] != ")":
            kind, val = toks[i]
            if kind == "(":
                v, i = self._pipeline(toks, i + 1)
                if i >= len(toks) or toks[i][0] != ")":
                    raise ValueError("unbalanced parentheses")
                items.append(("val", v))
                i += 1
            else:
                items.append((kind, val))
                i += 1
        if not items:
            raise ValueError("empty action")
        head_kind, head = items[0]
        args = [self._operand(k, v) for k, v in items[1:]]
        if head_kind == "ident":
            if head not in self.funcs:
                raise ValueError(f"unknown template function {head!r}")
            return self.funcs[head](*args), i
        if args:
            raise ValueError(f"{head!r} is not a function")
        return self._operand(head_kind, head), i

    def _operand(self, kind, val):
        if kind == "field":
            if val not in self.fields:
                raise ValueError(f"unknown template field .{val}")
            return self.fields[val]
        if kind == "ident":
            return self._pipeline([("ident", val)], 0)[0]
        return val

    def render(self, text):
        def action(m):
            value, i = self._pipeline(self._tokens(m.group(1)), 0)
            return str(value)
        return re.sub(r"\{\{(.*?)\}\}", action, text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--renders", type=int, default=500)
    ap.add_argument("configs", nargs="+")
    args = ap.parse_args()

    with open(os.path.join(args.data, "ratings.csv"), newline="") as f:
        users = {row["userId"] for row in csv.DictReader(f)}
    with open(os.path.join(args.data, "movies.csv"), newline="") as f:
        items = {row["movieId"] for row in csv.DictReader(f)}

    problems = []
    for path in args.configs:
        name = os.path.basename(path)
        cfg = json.load(open(path))
        unknown = set(cfg) - GHZ_KEYS
        if unknown:
            problems.append(f"{name}: not ghz config keys: {sorted(unknown)}")
        for required in ("call", "host", "data"):
            if required not in cfg:
                problems.append(f"{name}: missing {required}")
        if "proto" in cfg:
            problems.append(f"{name}: use the build's protoset (or reflection), not a .proto")
        protoset = cfg.get("protoset")
        if protoset:
            if not protoset.startswith("build/"):
                problems.append(f"{name}: protoset {protoset} is not the build's")
                continue
            protoset = os.path.join(args.build_dir, protoset[len("build/"):])
        else:
            protoset = os.path.join(args.build_dir, "recsys.protoset")  # reflection serves the same
        if not os.path.exists(protoset):
            problems.append(f"{name}: {protoset} does not exist (built by the recsys_protoset target)")
            continue
        fds = descriptor_pb2.FileDescriptorSet.FromString(open(protoset, "rb").read())
        pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            pool.Add(fd)
        service_name, _, method_name = cfg["call"].rpartition(".")
        try:
            method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        except (KeyError, AttributeError):
            problems.append(f"{name}: call {cfg['call']} is not in {protoset}")
            continue
        request_cls = message_factory.MessageFactory(pool).GetPrototype(method.input_type)
        data_text = json.dumps(cfg["data"])
        meta_text = json.dumps(cfg.get("metadata", {}))
        seen_users, seen_items = set(), set()
        rng = random.Random(7)
        for n in range(args.renders):
            fields = {"RequestNumber": n, "TimestampUnix": int(time.time()),
                      "TimestampUnixMilli": int(time.time() * 1000), "WorkerID": f"g{n % 16}",
                      "UUID": str(uuid.uuid4())}
            try:
                rendered = json.loads(Template(fields, rng).render(data_text))
                json.loads(Template(fields, rng).render(meta_text))
                msg = json_format.ParseDict(rendered, request_cls())
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                problems.append(f"{name}: rendering {n}: {e}")
                break
            if getattr(msg, "user_id", ""):
                seen_users.add(msg.user_id)
            if getattr(msg, "item_id", ""):
                seen_items.add(msg.item_id)
        bad_users = sorted(seen_users - users)
        bad_items = sorted(seen_items - items)
        if bad_users:
            problems.append(f"{name}: user ids not in the data set: {bad_users[:5]}")
        if bad_items:
            problems.append(f"{name}: item ids not in the data set: {bad_items[:5]}")
        print(f"{name}: {cfg['call']} ({method.input_type.full_name}), {args.renders} renderings, "
              f"{len(seen_users)} distinct users, {len(seen_items)} distinct items")
    for p in problems:
        print(f"PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
