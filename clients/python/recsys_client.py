"""A small typed Python client of the recsys gateway (recsys.v1.Recommender).

    from recsys_client import RecsysClient

    with RecsysClient("localhost:50051") as client:
        answer = client.recommend("414", k=5)
        for item in answer.items:
            print(item.item_id, round(item.score, 4), item.title)
        client.feedback("414", answer.items[0].item_id, event="like")
        print([e.title for e in client.history("414", max_events=3)])

A gateway with TLS and tokens (see the README's "Security"):

    RecsysClient("recsys.example:50051", tls_ca="ca.crt", token=open("token").read().strip())

Every call has a deadline (`timeout_s`, default 2 s) and is retried on
UNAVAILABLE (a gateway restarting or not yet connected) with exponential
backoff, `retries` times (default 3), within no more than the same deadline per
attempt. Other errors raise `grpc.RpcError` at once (`e.code()`, `e.details()`).
Feedback and DeleteUser are retried too: the gateway acknowledges them only once
they are durable, and an UNAVAILABLE answer means they were not acknowledged.
Each Feedback call sends an idempotency key, the same on every retry, so a
first attempt that was written but whose answer was lost is not recorded
twice (as long as the gateway remembers the key: 24 h with the Redis store,
in memory until a restart with the embedded one).

The gRPC stubs are generated from protos/ with grpc_tools.protoc (Debian's
python3-grpc-tools) the first time this module is imported, into
$RECSYS_STUBS_DIR (default: _generated/ next to this file), from
$RECSYS_PROTOS_DIR (default: ../../protos relative to this file). Run
`python3 recsys_client.py --generate` to do it ahead of time. Needs python3-grpcio.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, TypeVar

import grpc

_HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS_DIR = os.environ.get("RECSYS_PROTOS_DIR", os.path.join(_HERE, "..", "..", "protos"))
STUBS_DIR = os.environ.get("RECSYS_STUBS_DIR", os.path.join(_HERE, "_generated"))

def _api_protos(protos_dir: str) -> List[str]:
    """recommender.proto and every project .proto it imports, recursively:
    protoc writes modules only for the files it is given. (Only this closure:
    Debian's grpc_tools bundles an older protoc that rejects some internal files.)"""
    todo, seen = ["recsys/v1/recommender.proto"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        with open(os.path.join(protos_dir, name), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("import ") and '"recsys/' in line:
                    todo.append(line.split('"')[1])
    return sorted(seen)


def generate_stubs(out_dir: str = STUBS_DIR, protos_dir: str = PROTOS_DIR) -> str:
    """Generates the Python modules of the public API into out_dir; returns it."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{protos_dir}", f"--python_out={out_dir}",
           f"--grpc_python_out={out_dir}", *_api_protos(protos_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed: {r.stderr.strip()}")
    for d in (os.path.join(out_dir, "recsys"), os.path.join(out_dir, "recsys", "v1")):
        open(os.path.join(d, "__init__.py"), "a").close()
    return out_dir


def _load_stubs():
    marker = os.path.join(STUBS_DIR, "recsys", "v1", "recommender_pb2_grpc.py")
    newest_proto = max(os.path.getmtime(os.path.join(PROTOS_DIR, p)) for p in _api_protos(PROTOS_DIR))
    if not os.path.exists(marker) or os.path.getmtime(marker) < newest_proto:
        generate_stubs()  # missing, or older than the .proto files
    if STUBS_DIR not in sys.path:
        sys.path.insert(0, STUBS_DIR)
    from recsys.v1 import recommender_pb2, recommender_pb2_grpc, retrieval_pb2  # noqa: E402
    return recommender_pb2, recommender_pb2_grpc, retrieval_pb2


pb, pb_grpc, retrieval_pb = _load_stubs()

T = TypeVar("T")

# Feedback event types by name (the gateway's weights: click 1, view 0.5,
# like 2, purchase 3, dislike -1 = negative feedback).
EVENT_TYPES = {
    "click": pb.EVENT_CLICK,
    "view": pb.EVENT_VIEW,
    "like": pb.EVENT_LIKE,
    "purchase": pb.EVENT_PURCHASE,
    "dislike": pb.EVENT_DISLIKE,
}


@dataclass(frozen=True)
class Item:
    item_id: str
    score: float  # meaning depends on the answer's path (see the README's "Scores")
    title: str
    categories: List[str]


@dataclass(frozen=True)
class Recommendation:
    items: List[Item]
    path: str  # "PATH_FULL", "PATH_RETRIEVAL_ONLY", "PATH_TRENDING_FALLBACK", "PATH_COLD_START"
    degraded: bool
    model_version: str
    notes: List[str]


@dataclass(frozen=True)
class HistoryEvent:
    item_id: str
    timestamp_s: int
    weight: float
    event: str
    title: str


@dataclass(frozen=True)
class ModelInfo:
    model_name: str
    model_version: str
    retrieval_version: str
    ranking_version: str
    num_items: int
    num_users: int


def _items(items: Iterable) -> List[Item]:
    return [Item(i.item_id, i.score, i.title, list(i.categories)) for i in items]


def _read(path: Optional[str]) -> Optional[bytes]:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def _make_channel(target: str, tls_ca: Optional[str], tls_cert: Optional[str],
                  tls_key: Optional[str], tls_server_name: Optional[str]) -> grpc.Channel:
    """Plaintext without tls_ca; TLS (mutual with tls_cert + tls_key) with it."""
    if not tls_ca:
        if tls_cert or tls_key or tls_server_name:
            raise ValueError("tls_cert, tls_key and tls_server_name need tls_ca")
        return grpc.insecure_channel(target)
    if bool(tls_cert) != bool(tls_key):
        raise ValueError("tls_cert and tls_key go together")
    creds = grpc.ssl_channel_credentials(root_certificates=_read(tls_ca),
                                         private_key=_read(tls_key),
                                         certificate_chain=_read(tls_cert))
    options = [("grpc.ssl_target_name_override", tls_server_name)] if tls_server_name else []
    return grpc.secure_channel(target, creds, options=options)


class RecsysClient:
    """One channel to the gateway; thread-safe (gRPC channels and stubs are)."""

    def __init__(self, target: str = "localhost:50051", timeout_s: float = 2.0, retries: int = 3,
                 backoff_s: float = 0.1, channel: Optional[grpc.Channel] = None, *,
                 token: Optional[str] = None, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 tls_server_name: Optional[str] = None):
        """token: sent as "authorization: Bearer TOKEN" with every call (default
        $RECSYS_TOKEN, if set). tls_ca: path of the PEM CA the gateway's certificate
        chains to -> TLS (else plaintext); tls_cert / tls_key: a client certificate for
        a gateway that requires one; tls_server_name: the name to check the certificate
        against instead of the target's host."""
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        token = token if token is not None else os.environ.get("RECSYS_TOKEN") or None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        if channel is None:
            channel = _make_channel(target, tls_ca, tls_cert, tls_key, tls_server_name)
        self._channel = channel
        self._stub = pb_grpc.RecommenderStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "RecsysClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, fn: Callable[..., T], request, timeout_s: Optional[float]) -> T:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        for attempt in range(self.retries + 1):
            try:
                return fn(request, timeout=timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == self.retries:
                    raise
                time.sleep(self.backoff_s * (2 ** attempt))
        raise AssertionError("unreachable")

    def recommend(self, user_id: str, k: int = 10, *, exclude: Sequence[str] = (),
                  categories: Sequence[str] = (), timeout_s: Optional[float] = None
                  ) -> Recommendation:
        r = self._call(self._stub.Recommend,
                       pb.RecommendRequest(user_id=user_id, k=k, exclude_item_ids=list(exclude),
                                           context_categories=list(categories)), timeout_s)
        return Recommendation(_items(r.items), pb.Path.Name(r.path), r.degraded, r.model_version,
                              list(r.notes))

    def feedback(self, user_id: str, item_id: str, event: str = "click", *,
                 timestamp_s: int = 0, idempotency_key: Optional[str] = None,
                 timeout_s: Optional[float] = None) -> int:
        """Records an event (a name of EVENT_TYPES); returns its durable sequence number.

        Every call carries an idempotency key (a random one unless given), so the
        client's retries after UNAVAILABLE never store the event twice while the
        gateway remembers the key (see FeedbackRequest.idempotency_key)."""
        if event not in EVENT_TYPES:
            raise ValueError(f"unknown event {event!r}; accepted: {', '.join(EVENT_TYPES)}")
        key = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
        r = self._call(self._stub.Feedback,
                       pb.FeedbackRequest(user_id=user_id, item_id=item_id, event=event,
                                          event_type=EVENT_TYPES[event], timestamp_s=timestamp_s,
                                          idempotency_key=key),
                       timeout_s)
        return r.sequence

    def search(self, query: str, k: int = 10, *, timeout_s: Optional[float] = None) -> List[Item]:
        r = self._call(self._stub.Search, retrieval_pb.SearchRequest(query=query, k=k),
                       timeout_s)
        return _items(r.items)

    def similar_items(self, item_id: str, k: int = 10, *, timeout_s: Optional[float] = None
                      ) -> dict:
        """{"content": [Item...], "collaborative": [Item...]}."""
        r = self._call(self._stub.SimilarItems,
                       retrieval_pb.SimilarItemsRequest(item_id=item_id, k=k), timeout_s)
        return {"content": _items(r.content), "collaborative": _items(r.collaborative)}

    def model_info(self, *, timeout_s: Optional[float] = None) -> ModelInfo:
        r = self._call(self._stub.GetModelInfo, pb.GetModelInfoRequest(), timeout_s)
        return ModelInfo(r.model_name, r.model_version, r.retrieval_version, r.ranking_version,
                         r.num_items, r.num_users)

    def history(self, user_id: str, max_events: int = 100, *,
                timeout_s: Optional[float] = None) -> List[HistoryEvent]:
        """The stored history, oldest first."""
        r = self._call(self._stub.GetHistory,
                       pb.GetHistoryRequest(user_id=user_id, max_events=max_events), timeout_s)
        return [HistoryEvent(e.item_id, e.timestamp_s, e.weight, e.event, e.title)
                for e in r.events]

    def delete_user(self, user_id: str, *, timeout_s: Optional[float] = None) -> int:
        """Admin: erases the user's stored history durably; returns the events erased."""
        r = self._call(self._stub.DeleteUser, pb.DeleteUserRequest(user_id=user_id), timeout_s)
        return r.erased_events


if __name__ == "__main__":
    if sys.argv[1:] == ["--generate"]:
        print(generate_stubs())
    else:
        print(__doc__)
