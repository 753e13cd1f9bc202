"""The busy replica: vLLM's rendered readiness probe, run against a slow server with the
rendered timeout.

On GPUs the probe is the rendered python one-liner (an exec probe: an HTTP probe cannot send
the API key from a Secret). It runs here exactly as rendered, in a network namespace of the
test's own (tests/netns.py), where 127.0.0.1:<model.port> is a TEST STAND-IN for a saturated
vLLM: it answers /v1/models after a set delay, and 401 without vLLM's API key, as vLLM does
with VLLM_API_KEY set. The kubelet is not run (no kubelet here): its rule for an exec probe is
applied as it applies it — the command's exit status, and failure once timeoutSeconds pass.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import netns, prepared
from tubedemo.core.config import DemoConfig
from tubedemo.manifests.render import render

pytestmark = pytest.mark.integration

API_KEY = "test-vllm-api-key"

SLOW_VLLM = """
import http.server, sys, time
port, delay, key = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("AUTH", self.headers.get("Authorization"), flush=True)
        if self.headers.get("Authorization") != "Bearer " + key:
            self.send_response(401); self.end_headers(); return
        time.sleep(delay)  # a replica streaming max_num_seqs answers: its API loop is late
        body = b'{"object": "list", "data": [{"id": "llama-3.1-8b", "object": "model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("LISTENING", flush=True)
server.serve_forever()
"""


def _vllm_container() -> dict[str, Any]:
    (deployment,) = [
        o
        for o in render(DemoConfig())
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    ]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.fixture(scope="module")
def host() -> Iterator[netns.TestHost]:
    reason = netns.unavailable_reason()
    if reason is not None:
        prepared.unavailable(f"cannot make a test host: {reason}", "iproute2")
    with netns.test_host() as made:
        yield made


class SlowVllm:
    """The stand-in on the test host's 127.0.0.1:<model.port>, answering after ``delay`` s."""

    def __init__(self, host: netns.TestHost, port: int, delay: float) -> None:
        argv = [sys.executable, "-c", SLOW_VLLM, str(port), str(delay), API_KEY]
        self.proc = subprocess.Popen(host.wrap(argv), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "LISTENING"

    def stop(self) -> list[str]:
        """Stop it; the Authorization headers it was sent."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("AUTH ")]


def probe(host: netns.TestHost, command: list[str], timeout_s: int, key: str) -> bool:
    """One exec probe as the kubelet runs it: success iff the command exits 0 within
    timeoutSeconds (a command still running then is a failure)."""
    try:
        done = subprocess.run(
            host.wrap(command),
            env={"PATH": "/usr/bin:/bin", "VLLM_API_KEY": key},
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@pytest.fixture
def rendered() -> tuple[list[str], int, int]:
    """The rendered readiness probe's command, its timeoutSeconds and vLLM's port."""
    container = _vllm_container()
    ready = container["readinessProbe"]
    port = DemoConfig().model.port
    assert f"127.0.0.1:{port}/v1/models" in " ".join(ready["exec"]["command"])
    # absent, Kubernetes probes with its default timeoutSeconds, 1 s
    return ready["exec"]["command"], ready.get("timeoutSeconds", 1), port


def test_a_busy_replica_answering_in_3_s_stays_ready_where_the_1_s_default_dropped_it(
    host: netns.TestHost, rendered: tuple[list[str], int, int]
) -> None:
    command, timeout_s, port = rendered
    vllm = SlowVllm(host, port, delay=3.0)
    try:
        began = time.monotonic()
        assert probe(host, command, timeout_s, API_KEY)
        assert time.monotonic() - began >= 3.0  # it did wait for the slow answer
        assert not probe(host, command, 1, API_KEY)  # Kubernetes' default timeoutSeconds
    finally:
        sent = vllm.stop()
    assert sent == [f"Bearer {API_KEY}"] * 2  # the key from the Secret's env, as vLLM wants


def test_a_replica_slower_than_the_rendered_timeout_fails_its_probe(
    host: netns.TestHost, rendered: tuple[list[str], int, int]
) -> None:
    command, timeout_s, port = rendered
    vllm = SlowVllm(host, port, delay=timeout_s + 2.0)
    try:
        began = time.monotonic()
        assert not probe(host, command, timeout_s, API_KEY)
        assert time.monotonic() - began < timeout_s + 1.0
    finally:
        vllm.stop()


def test_a_probe_without_vllms_api_key_fails(
    host: netns.TestHost, rendered: tuple[list[str], int, int]
) -> None:
    command, timeout_s, port = rendered
    vllm = SlowVllm(host, port, delay=0.0)
    try:
        assert not probe(host, command, timeout_s, "not-the-key")
    finally:
        assert vllm.stop() == ["Bearer not-the-key"]
