"""The rendered collector config, run for real: the collector built from the Go module proxy
(scripts/build-otelcol) discovers the vLLM pod through the real kube-apiserver with the
rendered ServiceAccount and Role, scrapes the vLLM stand-in's /metrics, renames vllm:* to
vllm_* and ships OTLP gRPC to a test receiver.

The collector runs as in its pod: in-cluster Kubernetes config (KUBERNETES_SERVICE_HOST/PORT
and a service-account token at /var/run/secrets/kubernetes.io/serviceaccount, bind-mounted in a
private mount namespace of the collector process only) and the rendered securityContext as far
as a bare process can have it (tests/kube/in_pod.py ``as_security_context``: user 10001, no
capabilities in any set, no_new_privs, the root file system read-only; not the runtime's
seccomp profile), which the test reads back from /proc after the metric arrived. The stand-in
runs on a test host of our own (a network namespace, tests/netns.py) whose address the Pod's
status carries, as a kubelet would report it. Overridden with the collector's `--set`,
outside the pipeline's semantics: the OTLP exporter's endpoint (the Kedify scaler's address ->
the test receiver), the health check's endpoint (0.0.0.0:13133 -> a free loopback port) and
the collector's own telemetry (off, so it binds no :8888 on a shared machine).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from kubernetes import client
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)

from tests import netns
from tests.conftest import wait_until
from tests.kube.fixtures import Kube, ready_pod_at
from tests.manifests.otel.collector import (
    apply_collector_rbac,
    collector_security,
    otelcol,
    rendered_config,
    start_collector,
)

MAX_NUM_SEQS = 1
HELD_REQUESTS = 3  # one runs, two wait: the stand-in reports vllm:num_requests_waiting 2


class OtlpSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    """A test OTLP gRPC receiver: records every gauge data point it is sent."""

    def __init__(self) -> None:
        self.points: list[tuple[str, dict[str, str], float]] = []
        self.lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.HasField("gauge"):
                            for dp in metric.gauge.data_points:
                                value = dp.as_double if dp.HasField("as_double") else dp.as_int
                                attrs = {a.key: a.value.string_value for a in dp.attributes}
                                self.points.append((metric.name, attrs, float(value)))
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def count(self, name: str) -> int:
        with self.lock:
            return sum(1 for n, _, _ in self.points if n == name)

    def since(self, name: str, start: int) -> list[float]:
        """Values of ``name`` received after its first ``start`` points."""
        with self.lock:
            return [v for n, _, v in self.points if n == name][start:]

    def last(self, name: str) -> float | None:
        with self.lock:
            values = [v for n, _, v in self.points if n == name]
        return values[-1] if values else None

    def names(self) -> set[str]:
        with self.lock:
            return {n for n, _, _ in self.points}


@pytest.fixture
def sink() -> Iterator[tuple[OtlpSink, int]]:
    servicer = OtlpSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(grace=None)


LOAD = """
import sys, threading, urllib.request, json
url, n = sys.argv[1], int(sys.argv[2])
def one():
    ask = [{"role": "user", "content": "tell me about the tube"}]
    body = {"model": "llama-3.1-8b", "stream": True, "max_tokens": 400, "messages": ask}
    headers = {"Content-Type": "application/json"}
    url_ = url + "/v1/chat/completions"
    req = urllib.request.Request(url_, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
    except Exception:
        pass
threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
[t.start() for t in threads]
print("sent", flush=True)
[t.join(150) for t in threads]
"""

METRICS = """
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=10).read().decode())
"""


def _waiting_reported(host: netns.TestHost, base: str) -> float | None:
    """vllm:num_requests_waiting as the stand-in reports it on /metrics (read in its netns)."""
    text = subprocess.run(
        host.wrap([sys.executable, "-c", METRICS, base]),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for line in text.splitlines():
        if line.startswith("vllm:num_requests_waiting{") or line.startswith(
            "vllm:num_requests_waiting "
        ):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_renamed_queue_metric_flows_from_the_standin_through_the_real_collector(
    kube: Kube,
    namespace: str,
    test_host: netns.TestHost,
    sink: tuple[OtlpSink, int],
    tmp_path: Path,
) -> None:
    binary = otelcol()
    assert kube.control_plane is not None
    raw = {
        "profile": "local",
        "cluster": {"namespace": namespace},
        "scaling": {"scrape_interval": "1s"},
    }
    apply_collector_rbac(kube, namespace, raw)
    config = tmp_path / "config.yaml"
    config.write_text(rendered_config(raw))

    standin = start_standin(test_host)
    load = collector = None
    try:
        assert standin.stdout is not None
        line = standin.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        base = f"http://{test_host.address}:{port}"
        ready_pod_at(
            client.CoreV1Api(kube.api_client()),
            namespace,
            "vllm-0",
            {"app.kubernetes.io/name": "vllm"},
            test_host.address,
            {
                "name": "vllm",
                "image": "registry.invalid/standin:0",
                "ports": [{"name": "http", "containerPort": port}],
            },
        )
        load = subprocess.Popen(
            test_host.wrap([sys.executable, "-c", LOAD, base, str(HELD_REQUESTS)]),
            stdout=subprocess.DEVNULL,
        )
        expected = float(HELD_REQUESTS - MAX_NUM_SEQS)
        wait_until(
            "the stand-in to report two waiting requests",
            lambda: _waiting_reported(test_host, base) == expected,
            timeout=60,
            interval=0.5,
        )

        servicer, sink_port = sink
        collector = start_collector(kube, namespace, binary, config, sink_port, tmp_path, raw)

        def arrived() -> float | None:
            assert collector is not None
            if collector.poll() is not None:
                raise AssertionError(
                    f"the collector exited {collector.returncode}:\n"
                    + (tmp_path / "otelcol.log").read_text()[-4000:]
                )
            return servicer.last("vllm_num_requests_waiting")

        try:
            value = wait_until("vllm_num_requests_waiting at the OTLP receiver", arrived, 90, 0.5)
        except AssertionError:
            print((tmp_path / "otelcol.log").read_text()[-6000:])
            raise
        assert value == expected == _waiting_reported(test_host, base)
        # ... and it did so under the rendered securityContext (the same pid: unshare, sh and
        # setpriv each exec the next)
        sc = {**collector_security(raw)[0], **collector_security(raw)[1]}
        assert locked_down(collector.pid) == {
            "Uid": str(sc["runAsUser"]),
            "Gid": str(sc["runAsGroup"]),
            "Groups": "",
            "CapEff": "0000000000000000",
            "CapBnd": "0000000000000000",
            "NoNewPrivs": "1",
            "root": "ro",
        }
        names = servicer.names()
        assert not any(n.startswith("vllm:") for n in names), sorted(names)
        assert {"vllm_num_requests_running", "vllm_kv_cache_usage_perc"} <= names

        # The busy replica: saturated at the peak, it misses its readiness probes and the
        # kubelet marks it NotReady (out of the Service), but it still runs and its queue is
        # still there. The scrape keeps it (Running, not only Ready), so the queue the scaler
        # sums does not drop to 0 exactly at the peak.
        mark_not_ready(kube, namespace, "vllm-0")
        flipped = servicer.count("vllm_num_requests_waiting")
        # 15 scrapes (1 s apart): well past the discovery's update (Prometheus applies target
        # changes every 5 s), after which a Ready-only scrape would have dropped the pod
        wait_until(
            "15 scrapes of the NotReady replica at the OTLP receiver",
            lambda: len(servicer.since("vllm_num_requests_waiting", flipped)) >= 15,
            timeout=60,
            interval=0.5,
        )
        assert set(servicer.since("vllm_num_requests_waiting", flipped)) == {expected}
    finally:
        for proc in (collector, load, standin):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (collector, load, standin):
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def start_standin(test_host: netns.TestHost) -> subprocess.Popen[str]:
    """The vLLM stand-in on the test host, in slow time: held requests stay running/waiting for
    minutes. It prints ``PORT <n>`` once it listens."""
    return subprocess.Popen(
        test_host.wrap(
            [
                sys.executable,
                "-m",
                "tubedemo.rehearsal.standin",
                "--served-model-name=llama-3.1-8b",
                "--port=0",
                f"--max-num-seqs={MAX_NUM_SEQS}",
                f"--host={test_host.address}",
                "--speed=0.05",
            ]
        ),
        stdout=subprocess.PIPE,
        text=True,
    )


def locked_down(pid: int) -> dict[str, str]:
    """What the kernel says of a process's identity and privileges, and of its root mount."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    root = next(
        line.split()[5]
        for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        if line.split()[4] == "/"
    )
    seen = {k: status[k].split()[0] for k in ("Uid", "Gid", "CapEff", "CapBnd", "NoNewPrivs")}
    return {**seen, "Groups": status["Groups"].strip(), "root": root.split(",")[0]}


def mark_not_ready(kube: Kube, namespace: str, pod: str) -> None:
    """What the kubelet does to a replica that misses its readiness probes."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.CoreV1Api(kube.api_client()).patch_namespaced_pod_status(
        pod,
        namespace,
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]
            }
        },
    )
