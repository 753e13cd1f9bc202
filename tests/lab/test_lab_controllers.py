"""The rendered objects, admitted and acted on by the real KEDA and Karpenter in the lab.

KEDA reads the queue through its built-in ``metrics-api`` scaler (the lab render variant's
stand-in for the Kedify OTEL scaler, ``render_lab(queue_url=...)``) from a Prometheus-format
endpoint this test serves on loopback: everything after that is the real chain — the
operator creates the HPA, the HPA controller reads ``external.metrics.k8s.io`` through the
API server's aggregation layer from KEDA's metrics server, Karpenter turns the pending GPU
pods into NodeClaims of g5 types and KWOK nodes, the scheduler binds the pods, KWOK runs them
through the start-up delays.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import wait_until
from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError
from tubedemo.lab.variant import render_lab

from .conftest import SPEED

pytestmark = pytest.mark.timeout(420)


class QueueEndpoint:
    """vLLM's gauges as one aggregated Prometheus series each, values set by the test."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                lines = [f"{name} {value}" for name, value in sorted(outer.values.items())]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def queue() -> Iterator[QueueEndpoint]:
    endpoint = QueueEndpoint()
    yield endpoint
    endpoint.server.shutdown()


def _config(namespace: str, **scaling: Any) -> DemoConfig:
    cfg = DemoConfig()
    return cfg.model_copy(
        update={
            "cluster": cfg.cluster.model_copy(update={"namespace": namespace}),
            "gpu_pool": cfg.gpu_pool.model_copy(update={"name": f"gpu-{namespace}"}),
            "scaling": cfg.scaling.model_copy(update=scaling),
        }
    )


def _pick(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"]))


def _hf_token(cfg: DemoConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": cfg.model.hf_token_secret, "namespace": cfg.cluster.namespace},
        "stringData": {"token": "hf_lab_not_a_real_token"},
    }


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_keda_hpa_and_karpenter_scale_the_rendered_vllm_onto_g5_kwok_nodes(
    api: Api, namespace: str, queue: QueueEndpoint
) -> None:
    cfg = _config(namespace)
    manifests = render_lab(cfg, speed=SPEED, queue_url=queue.url)
    api.apply(_pick(manifests, "Namespace"))
    # As on EKS (the preflight checks it): KEDA resolves the scale target's secret env vars.
    api.apply(_hf_token(cfg))
    for obj in (
        _pick(manifests, "KWOKNodeClass"),
        _pick(manifests, "NodePool"),
        _pick(manifests, "Deployment", "vllm"),
    ):
        api.apply(obj)
    # 3 x target waiting, none running: the default formula (queue + running while a
    # collector's heartbeat arrives) over the AverageValue target -> 3 replicas
    queue.values = {"vllm_num_requests_waiting": 3 * cfg.scaling.target}
    queue.values["vllm_num_requests_running"] = 0
    queue.values['up{tubedemo_heartbeat="collector"}'] = 1
    api.apply(_pick(manifests, "ScaledObject"))

    hpa_ref = Ref("autoscaling/v2", "HorizontalPodAutoscaler", namespace, "vllm")
    hpa = wait_until("KEDA to create the HPA", lambda: api.get(hpa_ref), timeout=60)
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "ScaledObject"
    wait_until(
        "the HPA controller to want 3 replicas from KEDA's external metric",
        lambda: (api.get(hpa_ref) or {}).get("status", {}).get("desiredReplicas") == 3,
        timeout=120,
    )

    pool = cfg.gpu_pool.name
    claims = wait_until(
        "Karpenter to launch NodeClaims for the pending GPU pods",
        lambda: [
            c
            for c in api.list(
                "karpenter.sh/v1", "NodeClaim", selector=f"karpenter.sh/nodepool={pool}"
            )
            if c.get("status", {}).get("nodeName")
        ],
        timeout=120,
    )
    for claim in claims:
        instance_type = claim["metadata"]["labels"]["node.kubernetes.io/instance-type"]
        assert instance_type in cfg.gpu_pool.instance_types
        assert claim["metadata"]["labels"]["karpenter.sh/capacity-type"] == "spot"
    pods = wait_until(
        "the scheduler to place 3 vLLM pods on the pool's nodes and KWOK to make them Ready",
        lambda: (lambda ps: ps if len(ps) == 3 and all(_ready(p) for p in ps) else None)(
            api.list("v1", "Pod", namespace, "app.kubernetes.io/name=vllm")
        ),
        timeout=180,
    )
    nodes = {
        n["metadata"]["name"]: n
        for n in api.list("v1", "Node", selector=f"karpenter.sh/nodepool={pool}")
    }
    for pod in pods:
        node = nodes[pod["spec"]["nodeName"]]
        assert int(node["status"]["allocatable"]["nvidia.com/gpu"]) >= 1


def test_a_formula_keda_cannot_compile_is_refused_by_kedas_webhook(
    api: Api, namespace: str
) -> None:
    cfg = _config(namespace, formula="clamp_min(queue * 50, 1)")
    manifests = render_lab(cfg, speed=SPEED, queue_url="http://127.0.0.1:1/metrics")
    api.apply(_pick(manifests, "Namespace"))
    api.apply(_pick(manifests, "Deployment", "vllm"))
    with pytest.raises(ClusterError) as refused:
        api.apply(_pick(manifests, "ScaledObject"))
    message = refused.value.message
    assert 'admission webhook "vscaledobject.kb.io" denied the request' in message
    assert "error validating formula in ScalingModifiers" in message


def test_a_budget_schedule_without_duration_is_refused_by_karpenters_crd(api: Api) -> None:
    pool = _pick(render_lab(DemoConfig(), speed=SPEED), "NodePool")
    pool["metadata"]["name"] = "broken-budget"
    pool["spec"]["disruption"]["budgets"] = [{"nodes": "0", "schedule": "0 9 * * *"}]
    with pytest.raises(ClusterError) as refused:
        api.apply(pool)
    assert "'schedule' must be set with 'duration'" in refused.value.message
