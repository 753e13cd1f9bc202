"""The default scrape path end to end: vLLM /metrics through the real kube-apiserver's pod proxy.

The API server will not proxy to loopback, so the exporter runs on a test host of our own (a
network namespace joined to this machine by a veth pair, tests/netns.py) and a Pod object
carries that host's address in its status, as a kubelet would report it. Every scrape then goes
dashboard -> kube-apiserver (TLS, client certificate) -> pod proxy -> exporter.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from tests import netns
from tests.cli import tubedemo
from tests.conftest import wait_until
from tests.gateway_proc import ADMIN_TOKEN, GatewayProcess, running_gateway
from tests.kube.fixtures import Kube, gateway_service_at, ready_pod_at
from tubedemo.cluster.watch import KubeWatchFeed
from tubedemo.core.config import PriceTable, TimelineConfig
from tubedemo.telemetry.assembler import Assembler
from tubedemo.telemetry.http_sources import HttpMetricsFeed
from tubedemo.telemetry.recording import read_recording

# vLLM's metric names on the test host: 4 waiting, 8 running, a few finished requests.
EXPORTER = """
import sys, time
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
registry = CollectorRegistry()
labels = {"model_name": "llama-3.1-8b", "engine": "0"}
Gauge("vllm:num_requests_waiting", "w", list(labels), registry=registry).labels(**labels).set(4)
Gauge("vllm:num_requests_running", "r", list(labels), registry=registry).labels(**labels).set(8)
done = Counter("vllm:request_success", "s", list(labels), registry=registry).labels(**labels)
ttft = Histogram("vllm:time_to_first_token_seconds", "t", list(labels), registry=registry)
server, _ = start_http_server(0, addr=sys.argv[1], registry=registry)
print(server.server_port, flush=True)
while True:
    time.sleep(0.2)
    done.inc()
    ttft.labels(**labels).observe(0.3)
"""


@pytest.fixture
def pod_on_test_host(kube: Kube, namespace: str, test_host: netns.TestHost) -> Iterator[int]:
    """A Ready vLLM pod whose IP is the test host's, with an exporter listening there."""
    core = client.CoreV1Api(kube.api_client())
    exporter = subprocess.Popen(
        test_host.wrap([sys.executable, "-c", EXPORTER, test_host.address]),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert exporter.stdout is not None
        port = int(exporter.stdout.readline())
        ready_pod_at(
            core, namespace, "vllm-0", {"app.kubernetes.io/name": "vllm"}, test_host.address
        )
        yield port
    finally:
        exporter.terminate()
        exporter.wait(10)


@pytest.fixture
def gateway_service(
    kube: Kube, namespace: str, test_host: netns.TestHost, tmp_path: Path
) -> Iterator[GatewayProcess]:
    """The real gateway on the test host behind the `gateway` and `gateway-internal` Services,
    as `up` would deploy it (with its internal port); the dashboard reaches it only through the
    API server's service proxy."""
    core = client.CoreV1Api(kube.api_client())
    with running_gateway(
        tmp_path / "store", host=test_host.address, probe=False, wrap=test_host.wrap, internal=True
    ) as gw:
        ready_pod_at(
            core, namespace, "gateway-0", {"app.kubernetes.io/name": "gateway"}, test_host.address
        )
        gateway_service_at(
            core, namespace, "gateway-0", test_host.address, gw.port, gw.internal_port
        )
        yield gw


def test_queue_and_latency_arrive_through_the_pod_proxy(
    kube: Kube, namespace: str, pod_on_test_host: int
) -> None:
    feed = KubeWatchFeed(kube.api_client(), namespace=namespace, metrics_port=pod_on_test_host)
    metrics = HttpMetricsFeed(proxy_fetch=feed.fetch_metrics, timeout=3.0)
    feed.start()
    try:
        assembler = Assembler(
            multiplier=50,
            prices=PriceTable(),
            timeline=TimelineConfig(),
            talk_duration=1800,
            talk_start=datetime.now(UTC),
            kube=feed,
            metrics=metrics,
        )
        snap = wait_until(
            "the queue through the proxy",
            lambda: (x := assembler.tick(datetime.now(UTC))).queue.waiting == 4 and x,
        )
        assert (snap.queue.running, snap.virtual_commuters) == (8, 200)
        assert not snap.queue.stale and snap.queue.error is None
        time.sleep(1.5)
        later = assembler.tick(datetime.now(UTC))
        assert later.perf.requests_per_s is not None and later.perf.requests_per_s > 0
        assert later.perf.ttft_p50_s is not None and 0.25 <= later.perf.ttft_p50_s <= 0.5
    finally:
        metrics.close()
        feed.close()


def test_watch_command_scrapes_through_the_pod_proxy_by_default(
    kube: Kube, namespace: str, pod_on_test_host: int, tmp_path: Path
) -> None:
    record = tmp_path / "talk.jsonl"
    done = tubedemo(
        "watch", "--kubeconfig", str(kube.kubeconfig), "--namespace", namespace,
        "--gateway-url", "http://127.0.0.1:9",
        "--set", f"model.port={pod_on_test_host}", "--set", "dashboard.tick=0.5",
        "--frames", "6", "--record", str(record),
        env={"COLUMNS": "80", "LINES": "24", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = read_recording(record).snapshots[-1]
    assert last.queue.waiting == 4 and not last.queue.stale
    assert last.replicas.ready == 1


def test_watch_reads_the_gateway_through_the_service_proxy_by_default(
    kube: Kube,
    namespace: str,
    pod_on_test_host: int,
    gateway_service: GatewayProcess,
    tmp_path: Path,
) -> None:
    record = tmp_path / "talk.jsonl"
    done = tubedemo(
        "watch", "--kubeconfig", str(kube.kubeconfig), "--namespace", namespace,
        "--set", f"model.port={pod_on_test_host}", "--set", "dashboard.tick=0.5",
        "--frames", "8", "--record", str(record),
        env={"COLUMNS": "80", "LINES": "24", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = read_recording(record).snapshots[-1]
    assert last.audience.mode == "survey" and not last.audience.stale  # the gateway's own mode
    assert last.gateway.in_flight == 0 and not last.gateway.stale
    assert last.queue.waiting == 4
    assert "SURVEY · 0 surveys" in done.stdout


def test_watch_shows_the_queue_and_the_forecast_apart_on_a_proactive_cluster(
    kube: Kube,
    namespace: str,
    pod_on_test_host: int,
    gateway_service: GatewayProcess,
    tmp_path: Path,
) -> None:
    """The cluster's HPA holds only KEDA's blend, max(queue, forecast): the forecast is the
    gateway's /forecast (what KEDA's trigger reads) through the API server's service proxy,
    the queue's part KEDA's formula over the pods' gauges (4 waiting + 8 running, target 8)."""
    posted = httpx.post(
        f"{gateway_service.internal_url}/api/admin/forecast",  # admin: the internal port
        json={"steps": [{"at": 0, "replicas": 5}]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
        trust_env=False,
    )
    assert posted.status_code == 200, posted.text
    record = tmp_path / "talk.jsonl"
    done = tubedemo(
        "watch", "--kubeconfig", str(kube.kubeconfig), "--namespace", namespace,
        "--set", f"model.port={pod_on_test_host}", "--set", "dashboard.tick=0.5",
        "--set", "scaling.proactive=timeline",
        "--frames", "8", "--record", str(record),
        env={"COLUMNS": "120", "LINES": "40", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = read_recording(record).snapshots[-1]
    assert (last.hpa.reactive, last.hpa.forecast) == (2, 5)
    assert "queue 2 · forecast 5" in done.stdout
