"""Done-when of the lab (issue #16): the real controllers act on our rendered manifests.

The lab comes up (control plane, KEDA, Karpenter with its KWOK provider), the lab render goes
up into it with `tubedemo up`'s own code, and load driven through the real gateway builds the
fleet's queue. Then, in the real objects: KEDA's HPA raises desired replicas, Karpenter creates
NodeClaims and KWOK nodes, the scheduler binds the new pods to them, the fleet serves them; after
the load the HPA scales down and Karpenter consolidates the empty nodes. Bounded by --speed.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, config

from tests.conftest import wait_until
from tests.gateway_proc import running_gateway
from tubedemo.core.config import DemoConfig
from tubedemo.lab import Lab
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions

from .conftest import SPEED, desired_replicas, prepared_talk

pytestmark = pytest.mark.integration


def _config(namespace: str) -> DemoConfig:
    # Two sequences per engine so a handful of clients build a queue; answers of ~60 tokens.
    # the prepared EKS path (snapshot + S3 weights), as the lab fixture's KWOK delays
    return prepared_talk(
        namespace, replicas=4, model={"max_num_seqs": 2}, gateway={"max_tokens": 60}
    )


@pytest.fixture
def session(lab: Lab, tmp_path: Path) -> Iterator[LabSession]:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    lines: list[str] = []
    running = LabSession(
        _config(namespace),
        SessionOptions(speed=SPEED, workdir=tmp_path / "run", out_dir=tmp_path, audience=False),
        report=lines.append,
        lab=lab,
    )
    running.start()  # `up` of the lab render; waits for the first replica on a Karpenter node
    try:
        yield running
    finally:
        running.close()


class Cluster:
    def __init__(self, kubeconfig: Path, namespace: str, pool: str) -> None:
        self.ns = namespace
        self.pool = pool
        api = config.new_client_from_config(config_file=str(kubeconfig))
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.hpa = client.AutoscalingV2Api(api)
        self.custom = client.CustomObjectsApi(api)

    def desired(self) -> int:
        """The HPA's desiredReplicas; 0 until KEDA has created the HPA."""
        return desired_replicas(self.hpa, self.ns)

    def replicas(self) -> int:
        return int(self.apps.read_namespaced_deployment("vllm", self.ns).spec.replicas or 0)

    def nodeclaims(self) -> list[dict[str, Any]]:
        found = self.custom.list_cluster_custom_object(
            "karpenter.sh", "v1", "nodeclaims", label_selector=f"karpenter.sh/nodepool={self.pool}"
        )
        return list(found["items"])

    def gpu_nodes(self) -> list[client.V1Node]:
        nodes = self.core.list_node(label_selector=f"karpenter.sh/nodepool={self.pool}").items
        return [
            n
            for n in nodes
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ]

    def ready_pods(self) -> list[client.V1Pod]:
        pods = self.core.list_namespaced_pod(self.ns, label_selector="app.kubernetes.io/name=vllm")
        return [
            p
            for p in pods.items
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]


class Load:
    """``clients`` phones asking in closed loops through the gateway until stopped (bounded)."""

    def __init__(self, gateway_url: str, clients: int, limit_s: float) -> None:
        self.url = f"{gateway_url}/v1/chat/completions"
        self.stop = threading.Event()
        self.ok = 0
        self.failed = 0
        self.deadline = time.monotonic() + limit_s
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)
        ]

    def _loop(self, index: int) -> None:
        with httpx.Client(timeout=60, trust_env=False) as http:
            # a phone: an identity obtained as the page obtains one
            base = self.url.removesuffix("/v1/chat/completions")
            token = http.post(f"{base}/api/identity").json()["token"]
            for n in itertools.count():
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    return
                body = {"messages": [{"role": "user", "content": f"Oldest line? ({n})"}]}
                try:
                    r = http.post(self.url, json=body, headers={"X-Tubedemo-Identity": token})
                    self.ok += r.status_code == 200
                    self.failed += r.status_code != 200
                except httpx.HTTPError:
                    self.failed += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(70)


@pytest.mark.timeout(900)
def test_load_through_the_gateway_makes_the_real_controllers_scale_out_and_back(
    session: LabSession, tmp_path: Path
) -> None:
    began = time.monotonic()
    cfg = session.cfg
    kube = Cluster(session.kubeconfig or Path(), cfg.cluster.namespace, cfg.gpu_pool.name)
    # `up` waited for the first replica: Karpenter launched its node, KWOK made it Ready
    assert kube.replicas() == 1
    assert len(kube.nodeclaims()) == 1 and len(kube.gpu_nodes()) == 1
    (first,) = kube.ready_pods()
    session.start_talk()
    fleet = session.fleet_url

    with running_gateway(
        tmp_path / "store",
        mode="quiz",
        upstream=fleet,
        extra_env={"TUBEDEMO_MODEL": cfg.model.served_name},
    ) as gateway:
        with Load(gateway.url, clients=20, limit_s=240) as load:
            # KEDA reads the fleet's queue; the HPA controller raises desired replicas
            wait_until("the HPA to want more than one replica", lambda: kube.desired() > 1, 120)
            wait_until("the Deployment to follow the HPA", lambda: kube.replicas() > 1, 30)
            # Karpenter turns the pending pods into NodeClaims and KWOK nodes
            wait_until("a second NodeClaim", lambda: len(kube.nodeclaims()) > 1, 60)
            nodes = wait_until(
                "new GPU nodes Ready", lambda: len(n := kube.gpu_nodes()) > 1 and n, 120
            )
            new_nodes = {n.metadata.name for n in nodes} - {first.spec.node_name}
            # the scheduler binds the new pods to the new nodes; KWOK's stages make them Ready
            pods = wait_until(
                "a new replica Ready on a new node",
                lambda: [p for p in kube.ready_pods() if p.spec.node_name in new_nodes],
                120,
            )
            for node in nodes:
                labels = node.metadata.labels
                assert labels["node.kubernetes.io/instance-type"] == "g5.2xlarge"
                assert labels["karpenter.sh/capacity-type"] == "spot"
            # the fleet serves the new pods: an engine each, answering requests
            new_pod = pods[0].metadata.name

            def served() -> bool:
                text = httpx.get(f"{fleet}/pods/{new_pod}/metrics", timeout=5).text
                return "vllm:request_success_total" in text and 'finished_reason="' in text

            wait_until(f"{new_pod} to serve requests", served, 60)
            peak = kube.desired()
        assert load.ok > 0

    # no load: the HPA scales down after its stabilization window, Karpenter consolidates
    wait_until("the HPA back at one replica", lambda: kube.desired() == 1, 180)
    wait_until("one replica left", lambda: len(kube.ready_pods()) == 1, 60)
    wait_until("the empty nodes consolidated", lambda: len(kube.gpu_nodes()) == 1, 240)
    wait_until("one NodeClaim left", lambda: len(kube.nodeclaims()) == 1, 60)
    print(
        f"lab e2e: peak desired {peak}, {load.ok} answers, {load.failed} failed, "
        f"{time.monotonic() - began:.0f}s after the lab was up"
    )
