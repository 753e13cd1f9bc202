"""The lab's data plane against a real API server, controller-manager, scheduler and KWOK: the
fleet simulator serves one engine per Ready pod of the vLLM Deployment, follows the pods it
watches (a new Ready pod gets an engine, a deleted pod's engine drains) and exposes the queue
as the one aggregated series KEDA's metrics-api scaler reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_until
from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node
from tests.kube.fixtures import Kube
from tubedemo.cluster.ready_pods import ReadyPodWatch
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.rehearsal import server as fleet_server

LABELS = {"app.kubernetes.io/name": "vllm"}


class LabFleet:
    """The real fleet server (uvicorn on a loopback port, own loop in a thread), its pods
    taken from the cluster through ReadyPodWatch."""

    def __init__(self, config: DemoConfig, watch: ReadyPodWatch, speed: float = 1.0) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._args = (config, watch, speed)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        config, watch, speed = self._args
        asyncio.set_event_loop(self._loop)

        def listening(port: int) -> None:
            self.port = port
            self._ready.set()

        serving = fleet_server.serve(config, speed=speed, on_listening=listening, pods=watch.read)
        self._task = self._loop.create_task(serving)
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    def __enter__(self) -> LabFleet:
        self._thread.start()
        assert self._ready.wait(10), "fleet server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def serving(self) -> list[str]:
        return sorted(t["name"] for t in self.get("/twin/state").json()["targets"])

    def queue(self) -> float:
        text = self.get("/metrics").text
        (family,) = [
            f for f in text_string_to_metric_families(text) if f.name == "vllm_num_requests_waiting"
        ]
        (sample,) = family.samples  # one series: the sum over the serving replicas
        assert sample.labels == {"model_name": "llama-3.1-8b"}
        return float(sample.value)


def _config() -> DemoConfig:
    # One sequence per engine so a second request waits; a short preStop so a drain is quick.
    return config_from_dict(
        {
            "model": {"max_num_seqs": 1, "prestop_sleep": "1s", "shutdown_timeout": "30s"},
            "twin": {"engine": {"output_tokens": 150, "length_spread": 0}},
        }
    )


def _deployment(namespace: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm", "namespace": namespace, "labels": LABELS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "containers": [{"name": "vllm", "image": "registry.invalid/vllm:1"}],
                    "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                    # KWOK deletes a terminating pod at once; a grace period changes nothing
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }


@pytest.fixture
def node(kube: Kube) -> Iterator[str]:
    kube.require_kwok()
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    kube.apply(fake_node(name))
    yield name
    with contextlib.suppress(client.ApiException):
        client.CoreV1Api(kube.api_client()).delete_node(name)


@pytest.fixture
def watch(kube: Kube, namespace: str) -> Iterator[ReadyPodWatch]:
    w = ReadyPodWatch(kube.api_client(), namespace=namespace, backoff_max=1.0).start()
    wait_until("the pod watch to sync", lambda: w.read() is not None, 30)
    yield w
    w.close()


def _pods(kube: Kube, namespace: str) -> list[client.V1Pod]:
    core = client.CoreV1Api(kube.api_client())
    return list(core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name").items)


def _chat(url: str, stream: bool, max_tokens: int = 150) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "llama-3.1-8b",
            "messages": [{"role": "user", "content": "Which line is the oldest?"}],
            "stream": stream,
            "max_tokens": max_tokens,
        },
        timeout=60,
    )


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def test_a_pod_that_becomes_ready_gets_an_engine_that_serves_and_reports_vllm_metrics(
    kube: Kube, namespace: str, node: str, watch: ReadyPodWatch
) -> None:
    with LabFleet(_config(), watch) as fleet:
        assert fleet.serving() == []
        assert fleet.get("/v1/models").status_code == 503  # no Ready pod, no engine
        kube.apply(_deployment(namespace, 1), namespace)
        (name,) = wait_until("an engine for the Ready pod", fleet.serving)
        assert [p.metadata.name for p in _pods(kube, namespace)] == [name]

        answer = _chat(f"http://127.0.0.1:{fleet.port}", stream=False, max_tokens=5)
        assert answer.status_code == 200, answer.text
        text = fleet.get(f"/pods/{name}/metrics").text
        success = {
            s.labels["finished_reason"]: s.value
            for f in text_string_to_metric_families(text)
            if f.name == "vllm:request_success"
            for s in f.samples
            if s.name.endswith("_total")
        }
        assert success == {"length": 1.0}

        apps = client.AppsV1Api(kube.api_client())
        apps.patch_namespaced_deployment_scale("vllm", namespace, {"spec": {"replicas": 3}})
        serving = wait_until("three engines", lambda: len(s := fleet.serving()) == 3 and s)
        assert set(serving) == {p.metadata.name for p in _pods(kube, namespace)}
        state = fleet.get("/twin/state").json()
        assert state["replicas"]["desired"] == 3  # the Deployment's spec.replicas


def test_a_deleted_pods_engine_drains_its_requests_and_the_queue_is_one_summed_series(
    kube: Kube, namespace: str, node: str, watch: ReadyPodWatch
) -> None:
    with LabFleet(_config(), watch) as fleet:
        url = f"http://127.0.0.1:{fleet.port}"
        kube.apply(_deployment(namespace, 1), namespace)
        (first,) = wait_until("an engine for the first pod", fleet.serving)

        # max_num_seqs=1: the second request waits behind the first on the only engine
        streaming, streamed = _in_thread(lambda: _chat(url, stream=True))
        waiting, waited = _in_thread(lambda: _chat(url, stream=False))
        assert wait_until("one request waiting in the summed queue", lambda: fleet.queue() == 1)

        client.CoreV1Api(kube.api_client()).delete_namespaced_pod(first, namespace)
        # the ReplicaSet replaces it; the old engine leaves the router and drains
        (second,) = wait_until(
            "only the replacement pod serving",
            lambda: (s := fleet.serving()) and first not in s and s,
        )
        assert second != first
        streaming.join(60)
        waiting.join(60)
        (stream,) = streamed
        lines = [line for line in stream.text.splitlines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"  # finished while draining, not cut off
        tokens = sum(
            1
            for line in lines[:-1]
            for choice in json.loads(line[6:])["choices"]
            if choice["delta"].get("content")
        )
        assert tokens == 150
        (queued,) = waited
        assert queued.status_code == 200  # the waiting request was served during the drain
        wait_until(
            "the drained engine gone",
            lambda: fleet.get(f"/pods/{first}/metrics").status_code == 404,
        )
        assert fleet.queue() == 0

        answer = _chat(url, stream=False, max_tokens=3)
        assert answer.status_code == 200
        text = fleet.get(f"/pods/{second}/metrics").text
        assert 'vllm:request_success_total{engine="0",finished_reason="length"' in text
