"""vLLM's start-up lines reach the waterfall through the real kube-apiserver's pod-log endpoint.

The API server reads a pod's log from the kubelet of the pod's node, at the address and port
the Node's status gives. No kubelet runs here, so a stand-in kubelet (a MOCK, named as one: a
small HTTPS server answering only GET /containerLogs/<ns>/<pod>/<container> with a file's
text) listens on a test host of our own (tests/netns.py: the API server does not reach
loopback endpoints), and a Node object carries that address, as a kubelet would register it.
Everything between the dashboard's feed and that server is real: the client, the API server's
log endpoint, its kubelet client over TLS.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests import netns
from tests.conftest import wait_until
from tests.kube.fixtures import Kube
from tests.telemetry.test_vllm_log import COMPILED, GRAPHS, SERVING, WEIGHTS, _source_text
from tubedemo.cluster.startup_logs import due
from tubedemo.cluster.watch import KubeWatchFeed
from tubedemo.lab.pki import CertificateAuthority

STAND_IN_KUBELET = """
import http.server, pathlib, ssl, sys
address, cert, key, log, asked = sys.argv[1:6]
class Kubelet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(asked, "a") as out:
            out.write(self.path + "\\n")
        if not self.path.startswith("/containerLogs/"):
            self.send_error(404)
            return
        body = pathlib.Path(log).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((address, 0), Kubelet)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@dataclass
class Kubelet:
    """The stand-in kubelet: the log file it serves and the request paths it was asked."""

    log: Path
    asked: Path
    port: int


@pytest.fixture
def kubelet(test_host: netns.TestHost, tmp_path: Path) -> Iterator[Kubelet]:
    cert, key = CertificateAuthority.create().issue("kubelet", server=True)
    (tmp_path / "kubelet.crt").write_bytes(cert)
    (tmp_path / "kubelet.key").write_bytes(key)
    log, asked = tmp_path / "vllm.log", tmp_path / "asked"
    log.write_text("", encoding="utf-8")
    argv = [sys.executable, "-c", STAND_IN_KUBELET, test_host.address]
    argv += [str(tmp_path / "kubelet.crt"), str(tmp_path / "kubelet.key"), str(log), str(asked)]
    server = subprocess.Popen(test_host.wrap(argv), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield Kubelet(log, asked, int(server.stdout.readline()))
    finally:
        server.terminate()
        server.wait(10)


def _node(core: client.CoreV1Api, name: str, address: str, port: int) -> None:
    """A Node whose kubelet is at ``address:port``, as a kubelet registers itself."""
    core.create_node({"metadata": {"name": name}})
    core.patch_node_status(
        name,
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": address}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            }
        },
    )


def _starting_pod(core: client.CoreV1Api, namespace: str, name: str, node: str) -> datetime:
    """A vLLM pod bound to ``node`` whose container runs and is not Ready yet; its creation."""
    created = core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "vllm"}},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "vllm", "image": "registry.invalid/vllm:0"}],
            },
        },
    ).metadata.creation_timestamp
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "vllm",
                        "image": "registry.invalid/vllm:0",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": started}},
                    }
                ],
            }
        },
    )
    return created  # type: ignore[no-any-return]


def _stamped(created: datetime, at_s: float, quoted: tuple[str, str], *args: object) -> str:
    """A line as the kubelet returns it with timestamps=true: its stamp, then vLLM's line."""
    at = created + timedelta(seconds=at_s)
    message = _source_text(quoted) % args if args else _source_text(quoted)
    return f"{at.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z (EngineCore pid=57) INFO {message}\n"


def _marks(feed: KubeWatchFeed, name: str) -> list[tuple[str, float, str]]:
    pods = feed.read(datetime.now(UTC)).replicas.pods
    pod = next((p for p in pods if p.name == name), None)
    return [(m.step, m.at_s, m.source) for m in pod.startup] if pod else []


@pytest.mark.timeout(120)
def test_the_dashboards_feed_reads_weights_and_compile_from_the_pods_log(
    kube: Kube, namespace: str, test_host: netns.TestHost, kubelet: Kubelet
) -> None:
    core = client.CoreV1Api(kube.api_client())
    node = f"gpu-{namespace}"
    _node(core, node, test_host.address, kubelet.port)
    try:
        created = _starting_pod(core, namespace, "vllm-new", node)
        kubelet.log.write_text(_stamped(created, 30.5, WEIGHTS, "14.99", 9.5), encoding="utf-8")
        feed = KubeWatchFeed(kube.api_client(), namespace=namespace).start()
        try:
            wait_until(
                "the weights line through the API server",
                lambda: ("weights_loaded", 30.5, "vllm_log") in _marks(feed, "vllm-new"),
                timeout=30,
            )
            assert not any(m[0] == "compiled" for m in _marks(feed, "vllm-new"))
            # the engine goes on: torch.compile, the graphs, the API server
            with kubelet.log.open("a", encoding="utf-8") as out:
                out.write(_stamped(created, 70.0, COMPILED, "", 39.0))
                out.write(_stamped(created, 74.0, GRAPHS, 4.0, 0.5))
                out.write(_stamped(created, 80.0, SERVING))
            wait_until(
                "the compile line at the graphs' end",
                lambda: ("compiled", 74.0, "vllm_log") in _marks(feed, "vllm-new"),
                timeout=30,
            )
            assert [m[0] for m in _marks(feed, "vllm-new")] == [
                "container_started",
                "weights_loaded",
                "compiled",
            ]
        finally:
            feed.close()
        asked = kubelet.asked.read_text(encoding="utf-8").splitlines()
        assert asked[0].startswith(f"/containerLogs/{namespace}/vllm-new/vllm?")
        assert "timestamps=true" in asked[0]
    finally:
        core.delete_node(node)


@pytest.mark.timeout(120)
def test_a_node_whose_kubelet_does_not_answer_leaves_a_one_line_error_and_no_marks(
    kube: Kube, namespace: str, test_host: netns.TestHost
) -> None:
    core = client.CoreV1Api(kube.api_client())
    node = f"gpu-{namespace}"
    _node(core, node, test_host.address, 9)  # nothing listens on the discard port there
    try:
        _starting_pod(core, namespace, "vllm-new", node)
        feed = KubeWatchFeed(kube.api_client(), namespace=namespace).start()
        try:
            assert feed.logs is not None
            logs = feed.logs
            (error,) = wait_until("a failed read", lambda: list(logs.errors().values()))
            assert error.startswith("log of vllm-new: HTTP 500"), error
            assert "\n" not in error
            assert [m[0] for m in _marks(feed, "vllm-new")] == ["container_started"]
        finally:
            feed.close()
    finally:
        core.delete_node(node)


def _pod(uid: str, *, started: bool = True, ready: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "uid": uid},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}] if ready else [],
            "containerStatuses": [
                {"name": "vllm", "state": {"running": {"startedAt": "x"}} if started else {}}
            ],
        },
    }


def test_a_log_is_read_while_the_pod_starts_and_once_after_it_is_ready() -> None:
    from tubedemo.cluster.startup_logs import PodLog
    from tubedemo.telemetry.vllm_log import VllmStartup

    waiting, fresh, recent = _pod("a", started=False), _pod("b"), _pod("c")
    settled, served = _pod("d", ready=True), _pod("e")
    logs = {
        "c": PodLog(read_at=99.0),
        "d": PodLog(read_at=10.0, read_after_ready=True),
        "e": PodLog(read_at=10.0, startup=VllmStartup(serving_at=datetime.now(UTC))),
    }
    pods = [waiting, fresh, recent, settled, served]
    assert [p["metadata"]["name"] for p in due(pods, logs, 100.0, "vllm", 5.0, 4)] == ["b"]
    # every 5 s the one read 1 s ago waits; once it is 5 s old it is due again, oldest first
    assert [p["metadata"]["name"] for p in due(pods, logs, 104.0, "vllm", 5.0, 4)] == ["b", "c"]
    assert len(due(pods, logs, 104.0, "vllm", 5.0, 1)) == 1
