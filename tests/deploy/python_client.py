#!/usr/bin/env python3
"""A client from another ecosystem: Python (Debian python3-grpcio and
python3-grpc-tools) against the running recsys services.

1. Generates stubs into --out with grpc_tools.protoc: the public API
   (protos/recsys/v1/recommender.proto and its imports) and, from grpc-proto,
   grpc.health.v1 and grpc.reflection.v1alpha. The two grpc-proto files are
   copied under grpc_health/ and grpc_reflection/ first, so their modules do not
   shadow grpcio's own `grpc` package (the proto packages, and so the service
   names on the wire, are unchanged). Then every other file of protos/ is
   compiled too, to show the whole API builds for Python: Debian's grpc_tools
   bundles protoc 3.5.1, which predates proto3 `optional` (ranking.proto uses
   it), so a file it rejects is compiled with the system protoc (3.21) and
   grpc_python_plugin from protobuf-compiler-grpc instead, and that is printed.
2. Through the client package clients/python/recsys_client.py: Recommend,
   Search, SimilarItems, GetModelInfo, Feedback (durable; the clicked item leaves the recommendations
   and ends the history), bad requests (INVALID_ARGUMENT, NOT_FOUND), health
   Check of every server (its own service name and "", SERVING; an unknown name
   NOT_FOUND), and reflection: list_services on every server, then
   file_containing_symbol for each recsys service, whose methods must equal the
   generated stubs'.

  python_client.py --protos protos/ --out TMP --gateway H:P --retrieval H:P --ranking H:P --user u0
With --tls_ca (and --tls_cert/--tls_key for servers that require client
certificates) every channel speaks TLS; --token_file sends that token on the
client package's calls (GetHistory needs the admin role).
Prints one line per check; exit 1 on the first failure.
"""
import argparse
import importlib
import os
import shutil
import subprocess
import sys

TIMEOUT_S = 5


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok   {msg}")


def protoc(include_dirs, out, files, use_system=False):
    inc = [f"-I{d}" for d in include_dirs]
    if use_system:
        cmd = ["protoc", *inc, f"--python_out={out}",
               "--plugin=protoc-gen-grpc_python=" + shutil.which("grpc_python_plugin"),
               f"--grpc_python_out={out}", *files]
    else:
        cmd = [sys.executable, "-m", "grpc_tools.protoc", *inc, f"--python_out={out}",
               f"--grpc_python_out={out}", *files]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def generate(protos, out):
    grpc_proto = "/usr/share/grpc-proto"
    extra = os.path.join(out, "_protos")
    for name, src in (("grpc_health/v1/health.proto", "grpc/health/v1/health.proto"),
                      ("grpc_reflection/v1alpha/reflection.proto",
                       "grpc/reflection/v1alpha/reflection.proto")):
        os.makedirs(os.path.dirname(os.path.join(extra, name)), exist_ok=True)
        shutil.copy(os.path.join(grpc_proto, src), os.path.join(extra, name))
    # The public API with its imports (protoc writes modules only for the files named).
    public = ["recsys/v1/recommender.proto", "recsys/v1/common.proto", "recsys/v1/retrieval.proto",
              "grpc_health/v1/health.proto", "grpc_reflection/v1alpha/reflection.proto"]
    r = protoc([protos, extra], out, public)
    check(r.returncode == 0, f"grpc_tools.protoc generated {', '.join(public)} {r.stderr.strip()}")
    # The rest of protos/, each file alone.
    done = set(public)
    for root, _, names in os.walk(protos):
        for n in sorted(names):
            rel = os.path.relpath(os.path.join(root, n), protos)
            if not n.endswith(".proto") or rel in done:
                continue
            r = protoc([protos], out, [rel])
            if r.returncode == 0:
                print(f"ok   grpc_tools.protoc generated {rel}")
                continue
            why = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "?"
            r2 = protoc([protos], out, [rel], use_system=True)
            check(r2.returncode == 0,
                  f"{rel}: grpc_tools' bundled protoc refused it ({why}); generated with the "
                  f"system protoc + grpc_python_plugin {r2.stderr.strip()}")
    # Packages for the generated modules (protoc writes plain directories).
    for root, _, names in os.walk(out):
        if any(n.endswith("_pb2.py") for n in names):
            d = root
            while os.path.abspath(d) != os.path.abspath(out):
                open(os.path.join(d, "__init__.py"), "a").close()
                d = os.path.dirname(d)
    sys.path.insert(0, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protos", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--retrieval", required=True)
    ap.add_argument("--ranking", required=True)
    ap.add_argument("--user", default="u0")
    ap.add_argument("--client", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "..", "clients", "python"),
                    help="directory of recsys_client.py")
    ap.add_argument("--tls_ca", default="", help="PEM CA of the servers' certificates (TLS)")
    ap.add_argument("--tls_cert", default="", help="PEM client certificate (mTLS)")
    ap.add_argument("--tls_key", default="", help="its PEM key")
    ap.add_argument("--token_file", default="", help="file holding the gateway token")
    args = ap.parse_args()

    import grpc

    generate(args.protos, args.out)
    rec = importlib.import_module("recsys.v1.recommender_pb2")
    health = importlib.import_module("grpc_health.v1.health_pb2")
    health_grpc = importlib.import_module("grpc_health.v1.health_pb2_grpc")
    refl = importlib.import_module("grpc_reflection.v1alpha.reflection_pb2")
    refl_grpc = importlib.import_module("grpc_reflection.v1alpha.reflection_pb2_grpc")
    for m in ("recsys.v1.ranking_pb2", "recsys.v1.ranking_pb2_grpc", "recsys.v1.manifest_pb2"):
        importlib.import_module(m)
    print("ok   every generated module imports (grpcio " + grpc.__version__ + ")")

    # --- the public API, through the client package (clients/python) -------------
    os.environ["RECSYS_STUBS_DIR"] = args.out  # the modules generated above
    sys.path.insert(0, args.client)
    recsys_client = importlib.import_module("recsys_client")
    tls = {k: v or None for k, v in (("tls_ca", args.tls_ca), ("tls_cert", args.tls_cert),
                                     ("tls_key", args.tls_key))}
    token = open(args.token_file).read().strip() if args.token_file else None
    client = recsys_client.RecsysClient(args.gateway, timeout_s=TIMEOUT_S, token=token, **tls)
    first = client.recommend(args.user, k=5)
    check(len(first.items) == 5, f"Recommend({args.user}, k=5) returned {len(first.items)} items: "
          + ", ".join(i.item_id for i in first.items))
    check(first.path == "PATH_FULL" and not first.degraded,
          f"Recommend path {first.path}, degraded={first.degraded}")
    check(first.model_version != "", f"Recommend model_version {first.model_version}")

    clicked = first.items[0].item_id
    seq = client.feedback(args.user, clicked, event="click")
    check(seq > 0, f"Feedback({args.user}, {clicked}) acknowledged, sequence {seq}")
    history = client.history(args.user, max_events=1000)
    last = history[-1] if history else None
    check(last is not None and last.item_id == clicked and last.title == first.items[0].title,
          f"GetHistory ends with the clicked item {clicked} ({last.title if last else None!r})")
    after = client.recommend(args.user, k=5)
    check(clicked not in [i.item_id for i in after.items],
          f"Recommend after Feedback no longer offers {clicked}")
    check(len(client.search("space robots", k=3)) > 0, "Search through the client")
    check(len(client.similar_items(clicked, k=3)["content"]) > 0, "SimilarItems through the client")
    check(client.model_info().model_version == first.model_version, "GetModelInfo through the client")

    for what, call, code in (
            ("Recommend k=0", lambda: client.recommend(args.user, k=0),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("Feedback of an unknown item", lambda: client.feedback(args.user, "no-such-item"),
             grpc.StatusCode.NOT_FOUND)):
        try:
            call()
            fail(f"{what} succeeded")
        except grpc.RpcError as e:
            check(e.code() == code, f"{what} -> {e.code().name} ({e.details()})")
    client.close()

    # --- health and reflection on every server -----------------------------------
    servers = {"gateway": (args.gateway, "recsys.v1.Recommender"),
               "retrieval": (args.retrieval, "recsys.v1.Retrieval"),
               "ranking": (args.ranking, "recsys.v1.Ranking")}
    for name, (target, service) in servers.items():
        if args.tls_ca:
            read = lambda p: open(p, "rb").read() if p else None  # noqa: E731
            ch = grpc.secure_channel(target, grpc.ssl_channel_credentials(
                read(args.tls_ca), read(args.tls_key), read(args.tls_cert)))
        else:
            ch = grpc.insecure_channel(target)
        h = health_grpc.HealthStub(ch)
        for svc in ("", service):
            resp = h.Check(health.HealthCheckRequest(service=svc), timeout=TIMEOUT_S)
            check(resp.status == health.HealthCheckResponse.SERVING,
                  f"{name}: health Check({svc!r}) = {health.HealthCheckResponse.ServingStatus.Name(resp.status)}")
        try:
            h.Check(health.HealthCheckRequest(service="no.such.Service"), timeout=TIMEOUT_S)
            fail(f"{name}: health Check of an unknown service succeeded")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.NOT_FOUND, f"{name}: health Check('no.such.Service') -> {e.code().name}")

        r = refl_grpc.ServerReflectionStub(ch)
        reqs = [refl.ServerReflectionRequest(list_services=""),
                refl.ServerReflectionRequest(file_containing_symbol=service)]
        answers = list(r.ServerReflectionInfo(iter(reqs), timeout=TIMEOUT_S))
        listed = sorted(s.name for s in answers[0].list_services_response.service)
        check({service, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= set(listed),
              f"{name}: reflection lists {', '.join(listed)}")
        from google.protobuf import descriptor_pb2
        methods = None
        for blob in answers[1].file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
            for s in fd.service:
                if f"{fd.package}.{s.name}" == service:
                    methods = sorted(m.name for m in s.method)
        module = {"gateway": rec, "retrieval": importlib.import_module("recsys.v1.retrieval_pb2"),
                  "ranking": importlib.import_module("recsys.v1.ranking_pb2")}[name]
        generated = sorted(m.name for m in module.DESCRIPTOR.services_by_name[service.split(".")[-1]].methods)
        check(methods == generated,
              f"{name}: reflection's descriptor of {service} has methods {methods} = the generated stub's")
        ch.close()
    print("PASS python client")
    return 0


if __name__ == "__main__":
    sys.exit(main())
