"""The busy-replica probe case on the lab (issue 22): a saturated vLLM replica misses its
readiness probes and goes NotReady. It leaves the Service but keeps running, so its queue must
keep counting: the rendered collector keeps Running pods, and the lab's fleet keeps such a
pod's engine (no new requests; what it holds is served) and its scrape target. The real
collector -> scaler stand-in -> KEDA -> HPA path must not see the queue vanish.

The lab has no kubelet, so no prober: the test stands in for the kubelet's prober and sets the
pod's Ready condition False through the real API server, as the kubelet does after
failureThreshold missed probes (containers started, not ready); KWOK's stages must leave it."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, config
from kubernetes.utils import parse_quantity
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_until
from tests.prepared import unavailable
from tubedemo.lab import Lab, binaries
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions

from .conftest import SPEED, prepared_talk, read_hpa

pytestmark = pytest.mark.integration

REQUESTS = 16
"""Requests sent at once to the one replica: with one sequence per engine, fifteen wait."""
MAX_TOKENS = 600
"""Tokens per answer: ~18 talk seconds each at the twin's A10G decode step (~30 ms)."""
NOT_READY_TALK_S = 60.0
"""How long the pod stays NotReady at least: longer than preStop (10 s) + shutdown timeout
(30 s), the drain a deleted pod would get; and longer than KWOK's model-load delay, after
which a stage that matched NotReady pods would make it Ready (the queue lasts: ~7 answers of
~14)."""


def _prober_verdict(ready: bool) -> dict[str, Any]:
    """The status the kubelet writes after the readiness probe fails (or passes again)."""
    value = "True" if ready else "False"
    return {
        "status": {
            "conditions": [
                {"type": "Ready", "status": value},
                {"type": "ContainersReady", "status": value},
            ],
            "containerStatuses": [{"name": "vllm", "ready": ready, "started": True}],
        }
    }


def test_a_busy_replica_that_fails_its_readiness_probe_keeps_its_queue_counted_by_keda(
    lab: Lab, tmp_path: Path
) -> None:
    if binaries.otelcol() is None:
        unavailable("OpenTelemetry Collector not built", "otelcol")
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    cfg = prepared_talk(
        namespace,
        replicas=3,
        model={"max_num_seqs": 1},
        scaling={"target": 2},
        twin={"engine": {"output_tokens": MAX_TOKENS, "length_spread": 0}},
    )
    lines: list[str] = []
    options = SessionOptions(
        speed=SPEED, workdir=tmp_path / "run", out_dir=tmp_path, audience=False
    )
    with LabSession(cfg, options, report=lines.append, lab=lab) as session:
        assert session.collector is not None, "\n".join(lines)
        api = config.new_client_from_config(config_file=str(session.kubeconfig))
        core = client.CoreV1Api(api)
        hpas = client.AutoscalingV2Api(api)
        fleet = httpx.Client(base_url=session.fleet_url, timeout=10)

        def hpa() -> Any:
            return read_hpa(hpas, namespace)

        def keda_value() -> float:
            """KEDA's answer now, through the API server's external metrics API (the value
            the HPA divides by the target)."""
            (metric,) = hpa().spec.metrics
            name = metric.external.metric.name
            labels = metric.external.metric.selector.match_labels
            selector = ",".join(f"{k}={v}" for k, v in labels.items())
            body = api.call_api(
                f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{name}",
                "GET",
                query_params=[("labelSelector", selector)],
                response_type="object",
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )
            return float(sum(parse_quantity(item["value"]) for item in body["items"]))

        def waiting_at(pod: str) -> float | None:
            """The pod's vllm:num_requests_waiting where the collector scrapes it; None: no
            target (404)."""
            answer = fleet.get(f"/pods/{pod}/metrics")
            if answer.status_code == 404:
                return None
            families = text_string_to_metric_families(answer.text)
            family = next(f for f in families if f.name == "vllm:num_requests_waiting")
            return sum(s.value for s in family.samples)

        def ready_pods() -> list[str]:
            pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=vllm")
            return [
                p.metadata.name
                for p in pods.items
                if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            ]

        (busy,) = wait_until("the one replica Ready", ready_pods, 60)
        wait_until("KEDA's HPA", lambda: hpa() is not None and hpa().spec.metrics, 60)

        # bounded load: REQUESTS answers at once, each thread ends by its own timeout
        def ask() -> None:
            body = {
                "model": cfg.model.served_name,
                "messages": [{"role": "user", "content": "Which line is the oldest?"}],
                "max_tokens": MAX_TOKENS,
            }
            httpx.post(f"{session.fleet_url}/v1/chat/completions", json=body, timeout=120)

        senders = [threading.Thread(target=ask, daemon=True) for _ in range(REQUESTS)]
        for sender in senders:
            sender.start()
        wait_until("the busy replica's queue", lambda: (waiting_at(busy) or 0) >= REQUESTS - 2, 30)
        wanted = wait_until(
            "the HPA to want more replicas for the queue",
            lambda: (h := hpa()).status.desired_replicas and h.status.desired_replicas >= 2 and h,
            60,
        ).status.desired_replicas
        before = keda_value()
        assert before >= 2, before

        # the test stands in for the kubelet's prober: three missed probes, Ready False
        core.patch_namespaced_pod_status(busy, namespace, _prober_verdict(ready=False))
        window = max(NOT_READY_TALK_S, (lab.options.startup.model_load or 0.0) + 20) / SPEED
        window_ends = time.monotonic() + window
        seen: list[tuple[float, float | None, int]] = []

        def still_counted() -> bool:
            """One sample of the NotReady window; True once the window is over."""
            value, queue = keda_value(), waiting_at(busy)
            desired = int(hpa().status.desired_replicas or 0)
            seen.append((value, queue, desired))
            assert queue is not None, f"{busy} is no scrape target any more: {seen}"
            # KEDA's value trails the pod's queue by a scrape, an export and a poll: while the
            # queue still grows it may be below it, but never below both what KEDA said before
            # the pod went NotReady and the queue now (dropped from the scrape, it falls to 0)
            assert value >= min(before, queue) > 0, f"KEDA stopped counting {busy}'s queue: {seen}"
            assert desired >= wanted, f"the HPA's desired replicas dropped: {seen}"
            return time.monotonic() >= window_ends

        # samples the whole window (wait_until is the suite's one poll loop; the check asserts)
        wait_until("the NotReady window to pass", still_counted, window + 30, 0.5)
        pod = core.read_namespaced_pod(busy, namespace)
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready["Ready"] == "False", "KWOK made the NotReady pod Ready again"
        assert busy not in ready_pods()
        targets = {t["name"] for t in fleet.get("/twin/state").json()["targets"]}
        assert busy in targets

        # the probe passes again: back in the Service with the engine it kept
        core.patch_namespaced_pod_status(busy, namespace, _prober_verdict(ready=True))
        wait_until("the pod Ready again", lambda: busy in ready_pods(), 30)
        for sender in senders:
            sender.join(timeout=120)
        fleet.close()
