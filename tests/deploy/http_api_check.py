#!/usr/bin/env python3
"""Checks a running gateway's HTTP/JSON API against its own OpenAPI description.

Every route of /openapi.json is called with curl-like requests (urllib), and
every JSON answer is validated against the schema the description gives for
that status (a JSON Schema subset: $ref, type, properties, required, items,
enum). Then the unhappy paths a stranger can reach: bad parameters, bad JSON,
unknown items, wrong methods and paths, oversized bodies and heads, garbage
bytes, a request that never finishes. One line "ok ..." per check; exit 1 on
the first failure.

  http_api_check.py --base http://127.0.0.1:PORT --user u0 --item m3 --word space
"""
import argparse
import http.client
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

SPEC = {}


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def ok(msg):
    print("ok " + msg)


def resolve(schema):
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def validate(value, schema, where):
    schema = resolve(schema)
    kind = schema.get("type", "object")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in types:
        if not isinstance(value, types[kind]):
            fail(f"{where}: want {kind}, got {type(value).__name__} {value!r:.80}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"{where}: want integer, got {value!r:.80}")
    elif kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            fail(f"{where}: want number, got {value!r:.80}")
    if "enum" in schema and value not in schema["enum"]:
        fail(f"{where}: {value!r} not in {schema['enum']}")
    if kind == "string" and schema.get("format") in ("int64", "uint64"):
        try:
            int(value)
        except ValueError:
            fail(f"{where}: {value!r} is not a decimal integer")
    if kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                fail(f"{where}: required field {name} missing")
        props = schema.get("properties")
        if props is not None:
            for name, v in value.items():
                if name not in props:
                    fail(f"{where}: field {name} is not in the schema")
                validate(v, props[name], f"{where}.{name}")
    if kind == "array":
        for i, v in enumerate(value):
            validate(v, schema["items"], f"{where}[{i}]")


def call(base, method, path, body=None, headers=None, content_type="application/json"):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if content_type:
            hdrs["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def check(base, method, template, path, want, body=None, **kw):
    status, headers, raw = call(base, method, path, body, **kw)
    if status != want:
        fail(f"{method} {path}: status {status}, want {want}: {raw[:300]!r}")
    op = SPEC["paths"][template][method.lower()]
    described = op["responses"].get(str(status))
    if described is None:
        fail(f"{method} {path}: status {status} is not described for {template}")
    content = described.get("content", {})
    if "application/json" in content:
        if not headers.get("Content-Type", "").startswith("application/json"):
            fail(f"{method} {path}: Content-Type {headers.get('Content-Type')}")
        try:
            value = json.loads(raw)
        except ValueError as e:
            fail(f"{method} {path}: not JSON ({e}): {raw[:200]!r}")
        validate(value, content["application/json"]["schema"], f"{method} {path}")
        ok(f"{method} {path} -> {status}, matches the schema")
        return value
    ok(f"{method} {path} -> {status}")
    return raw


def raw_exchange(host, port, data, timeout=10):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--item", required=True)
    ap.add_argument("--word", required=True)
    args = ap.parse_args()
    base = args.base.rstrip("/")
    global SPEC
    status, _, raw = call(base, "GET", "/openapi.json")
    if status != 200:
        fail(f"/openapi.json: {status}")
    SPEC = json.loads(raw)
    ok("GET /openapi.json")
    user, item = urllib.parse.quote(args.user), urllib.parse.quote(args.item)

    # Every route, happy path.
    rec = check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?k=5&debug=true", 200)
    if len(rec["items"]) != 5 or rec["path"] != "PATH_FULL" or rec["degraded"]:
        fail(f"recommend: want 5 items on PATH_FULL, got {rec}")
    cold = check(base, "GET", "/v1/recommend/{user}", "/v1/recommend/never-seen-user?k=3", 200)
    if cold["path"] != "PATH_COLD_START":
        fail(f"unknown user: want a cold-start answer, got {cold['path']}")
    check(base, "POST", "/v1/recommend", "/v1/recommend", 200,
          {"userId": args.user, "k": 3, "excludeItemIds": [args.item]})
    target = rec["items"][0]["itemId"]
    ack = check(base, "POST", "/v1/feedback", "/v1/feedback", 200,
                {"userId": args.user, "itemId": target, "event": "click"})
    after = check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?k=5", 200)
    if target in [i["itemId"] for i in after["items"]]:
        fail(f"the clicked item {target} is still recommended")
    ok(f"Feedback (sequence {ack['sequence']}) changed the next answer")
    hist = check(base, "GET", "/v1/history/{user}", f"/v1/history/{user}?max_events=3", 200)
    if hist["events"][-1]["itemId"] != target:
        fail(f"history does not end with the clicked item: {hist}")
    search = check(base, "GET", "/v1/search", f"/v1/search?q={urllib.parse.quote(args.word)}&k=3", 200)
    if not search["items"]:
        fail("search found nothing")
    check(base, "GET", "/v1/similar/{item}", f"/v1/similar/{item}?k=3", 200)
    check(base, "GET", "/v1/model", "/v1/model", 200)
    if "/v1/ask" in SPEC["paths"]:
        ans = check(base, "POST", "/v1/ask", "/v1/ask", 200, {"question": f"{args.word} films?", "k": 3})
        if not ans["citations"] or ans["mode"] != "extractive":
            fail(f"ask: want extractive citations, got {ans}")
    check(base, "DELETE", "/v1/history/{user}", "/v1/history/never-seen-user", 200)
    check(base, "GET", "/healthz", "/healthz", 200)
    check(base, "GET", "/readyz", "/readyz", 200)

    # Bad input: the documented status and an error body.
    check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?k=0", 400)
    check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?k=abc", 400)
    check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?limit=3", 400)
    check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{'x' * 300}", 400)
    check(base, "POST", "/v1/feedback", "/v1/feedback", 404, {"userId": args.user, "itemId": "no-such-item"})
    check(base, "POST", "/v1/feedback", "/v1/feedback", 400, {"userId": args.user, "itemId": target, "event": "shout"})
    check(base, "POST", "/v1/feedback", "/v1/feedback", 400, {"userId": args.user, "itemId": target, "surprise": 1})
    check(base, "POST", "/v1/feedback", "/v1/feedback", 400, b"{\"userId\": ")
    check(base, "POST", "/v1/feedback", "/v1/feedback", 415, b"userId=u0&itemId=m1",
          content_type="application/x-www-form-urlencoded")
    check(base, "POST", "/v1/recommend", "/v1/recommend", 400,
          {"userId": args.user, "k": 3, "extraHistory": [{"itemId": target, "timestampS": "-5"}]})
    check(base, "GET", "/v1/search", "/v1/search?q=&k=3", 400)
    check(base, "GET", "/v1/similar/{item}", "/v1/similar/no-such-item?k=3", 404)

    status, headers, raw = call(base, "PUT", "/v1/feedback", b"{}")
    if status != 405 or "POST" not in headers.get("Allow", ""):
        fail(f"PUT /v1/feedback: {status} Allow={headers.get('Allow')}")
    ok("PUT /v1/feedback -> 405 with Allow")
    for path in ["/v1/nothing", "/v1/recommend", "/../../etc/passwd", "/v1/recommend/u0/extra"]:
        status, _, raw = call(base, "GET", path)
        if status not in (404, 405) or "error" not in json.loads(raw):
            fail(f"GET {path}: {status} {raw[:200]!r}")
    ok("wrong paths -> 404/405 with a JSON error")
    url = urllib.parse.urlparse(base)
    host, port = url.hostname, url.port
    # A 2 MiB body is refused from its Content-Length, before it is read (a
    # client still sending it may then see the connection reset, as with any
    # server that will not read an oversized body).
    out = raw_exchange(host, port, b"POST /v1/feedback HTTP/1.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 2097152\r\n\r\n" + b"{" * 4096)
    if b" 413 " not in out.split(b"\r\n", 1)[0] + b" ":
        fail(f"2 MiB body: {out[:120]!r}")
    ok("2 MiB body -> 413")
    for name, data, want in [
        ("garbage bytes", bytes(range(256)) * 4 + b"\r\n\r\n", b" 400 "),
        ("a 64 KiB request line", b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n", b" 414 "),
        ("a 64 KiB header block", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 12000 + b"\r\n", b" 431 "),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", b" 505 "),
        ("chunked body", b"POST /v1/feedback HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b" 501 "),
    ]:
        out = raw_exchange(host, port, data)
        if want not in out.split(b"\r\n", 1)[0] + b" ":
            fail(f"{name}: {out[:120]!r}")
        ok(f"{name} -> {want.decode().strip()}")
    # Still serving after all that.
    check(base, "GET", "/v1/recommend/{user}", f"/v1/recommend/{user}?k=2", 200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
