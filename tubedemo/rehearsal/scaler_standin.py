"""A stand-in for the Kedify OTEL scaler, in the lab only: OTLP gRPC in, KEDA ``metrics-api`` out.

On EKS the collector ships the renamed vLLM gauges over OTLP to the Kedify OTEL scaler, which
sums each trigger's metric over the pods (``sum(vllm_num_requests_waiting{...})``) and answers
KEDA. The Kedify scaler cannot be built here (its module is not on the Go module proxy), so in
the lab the real collector (scripts/build-otelcol) exports to this process instead. It is a
stand-in, named as one: it keeps the newest value of every series the collector sends (a series
is the metric name with its resource and point attributes, i.e. one pod), forgets a series on
the collector's staleness marker (a point flagged "no recorded value", sent when a pod stops
being a scrape target) or when it was not refreshed within ``--retention`` seconds, and serves
``GET /metrics``: per ``--query`` (each trigger's rendered ``metricQuery``, read as Kedify's
parser reads it: tubedemo.core.metric_query), the aggregation (sum, count, ...) over its live
series whose labels match (a series lacking a label still matches), as one series at the
query's selector, in the Prometheus text format that KEDA's built-in ``metrics-api`` scaler
reads (``format: prometheus``). A query with no live series answers 0, not an error, as the
Kedify scaler (v0.1.4) answers for a stale series: a collector outage is seen only through the
heartbeat trigger's count.

Run: ``python -m tubedemo.rehearsal.scaler_standin --query 'sum(vllm_num_requests_waiting)'
... [--tls-cert cert.pem --tls-key key.pem]`` (OTLP over TLS, as the scaler serves it on EKS);
it prints ``PORTS <otlp> <http>`` once both listen on 127.0.0.1, and stops on SIGTERM/SIGINT.
Needs ``grpcio`` and ``opentelemetry-proto`` (the ``lab`` extra).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tubedemo.core import metric_query
from tubedemo.core.metric_query import MetricQuery
from tubedemo.rehearsal.summed_gauges import gauges

NO_RECORDED_VALUE = 1
"""DataPointFlags.FLAG_NO_RECORDED_VALUE: the Prometheus receiver's staleness marker."""

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Point:
    labels: dict[str, str]
    value: float
    seen: float


class SeriesStore:
    """The newest value per series, thread-safe. ``clock`` is monotonic seconds."""

    def __init__(self, retention: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retention = retention
        self.clock = clock
        self._series: dict[tuple[str, Labels], _Point] = {}
        self._lock = threading.Lock()

    def put(self, name: str, labels: dict[str, str], value: float, flags: int = 0) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            if flags & NO_RECORDED_VALUE:
                self._series.pop(key, None)
            else:
                self._series[key] = _Point(labels, value, self.clock())

    def answer(self, query: MetricQuery) -> float:
        """The query's aggregation over the live series of its metric that it matches."""
        now = self.clock()
        with self._lock:
            for key in [k for k, p in self._series.items() if now - p.seen > self.retention]:
                del self._series[key]
            return query.fold(
                p.value
                for (n, _), p in self._series.items()
                if n == query.metric and query.matches(p.labels)
            )

    def series(self, name: str) -> int:
        with self._lock:
            return sum(1 for n, _ in self._series if n == name)


def exposition(store: SeriesStore, queries: Sequence[MetricQuery]) -> str:
    """Prometheus text: one series per query, its answer, at the query's selector (the lab
    trigger's valueLocation: the EKS query without its aggregation)."""
    return gauges((q.metric, dict(q.matchers), store.answer(q)) for q in queries)


def _attributes(attrs: Iterable[Any]) -> dict[str, str]:
    out = {}
    for a in attrs:
        v = a.value
        kind = v.WhichOneof("value")
        out[a.key] = str(getattr(v, kind)) if kind else ""
    return out


def ingest(store: SeriesStore, request: Any) -> int:
    """Every gauge and sum point of an ExportMetricsServiceRequest into ``store``; returns how
    many points it took."""
    taken = 0
    for rm in request.resource_metrics:
        resource = _attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind not in ("gauge", "sum"):
                    continue
                for dp in getattr(metric, kind).data_points:
                    value = dp.as_double if dp.WhichOneof("value") == "as_double" else dp.as_int
                    labels = {**resource, **_attributes(dp.attributes)}
                    store.put(metric.name, labels, float(value), dp.flags)
                    taken += 1
    return taken


def serve(
    store: SeriesStore,
    queries: Sequence[MetricQuery],
    tls: tuple[bytes, bytes] | None = None,
) -> tuple[Any, ThreadingHTTPServer]:
    """Start the OTLP gRPC receiver and the HTTP server on 127.0.0.1, free ports. ``tls``:
    (certificate PEM, key PEM) the receiver serves, as the Kedify scaler does on EKS
    (its chart's settings.tls); None: plaintext."""
    # untyped libraries (no stubs): imported as Any, and only here (the lab extra)
    grpc: Any = importlib.import_module("grpc")
    proto = "opentelemetry.proto.collector.metrics.v1"
    service: Any = importlib.import_module(f"{proto}.metrics_service_pb2")
    service_grpc: Any = importlib.import_module(f"{proto}.metrics_service_pb2_grpc")

    class Receiver:
        """The MetricsService servicer (gRPC needs only its Export method)."""

        def Export(self, request: Any, context: Any) -> Any:
            ingest(store, request)
            return service.ExportMetricsServiceResponse()

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    service_grpc.add_MetricsServiceServicer_to_server(Receiver(), grpc_server)
    if tls is None:
        grpc_server.otlp_port = grpc_server.add_insecure_port("127.0.0.1:0")
    else:
        cert, key = tls
        credentials = grpc.ssl_server_credentials([(key, cert)])
        grpc_server.otlp_port = grpc_server.add_secure_port("127.0.0.1:0", credentials)
    grpc_server.start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition(store, queries).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, name="metrics-api", daemon=True).start()
    return grpc_server, http


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tubedemo.rehearsal.scaler_standin")
    parser.add_argument(
        "--query", action="append", required=True, help="a trigger's metricQuery, as rendered"
    )
    parser.add_argument(
        "--retention", type=float, default=30.0, help="wall s a series lives without a refresh"
    )
    parser.add_argument("--tls-cert", help="PEM file: serve OTLP over TLS with this certificate")
    parser.add_argument("--tls-key", help="PEM file: the certificate's private key")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("a TLS certificate and its key go together: give both or neither")
    try:
        queries = [metric_query.parse(q) for q in args.query]
    except ValueError as exc:
        parser.error(str(exc))
    store = SeriesStore(args.retention)
    tls = None
    if args.tls_cert is not None:
        try:
            tls = (Path(args.tls_cert).read_bytes(), Path(args.tls_key).read_bytes())
        except OSError as exc:
            parser.error(f"cannot read the TLS files: {exc}")
    grpc_server, http = serve(store, queries, tls)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"PORTS {grpc_server.otlp_port} {http.server_address[1]}", flush=True)
    done.wait()
    http.shutdown()
    grpc_server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
