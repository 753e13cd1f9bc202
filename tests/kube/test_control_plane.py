"""The control plane fixture itself: the API semantics later tests rely on are really there."""

from __future__ import annotations

import time

from kubernetes import client

from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node
from tests.kube.fixtures import FIELD_MANAGER, Kube


def test_server_side_apply_records_the_field_manager(kube: Kube, namespace: str) -> None:
    applied = kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "mode", "namespace": namespace},
            "data": {"mode": "quiz"},
        },
        namespace,
    )
    managers = [m["manager"] for m in applied.metadata.managedFields]
    assert managers == [FIELD_MANAGER]
    assert applied.data["mode"] == "quiz"


def test_scaled_object_is_validated_by_the_upstream_crd(kube: Kube, namespace: str) -> None:
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "vllm", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": "vllm"},
            "minReplicaCount": 0,
            "maxReplicaCount": 4,
            "triggers": [
                {
                    "type": "external",
                    "name": "queue",
                    "metadata": {"scalerAddress": "keda-otel-scaler.keda.svc:4318"},
                }
            ],
        },
    }
    applied = kube.apply(scaled, namespace)
    assert applied.spec.maxReplicaCount == 4
    scaled["spec"]["scaleTargetRef"] = {"kind": "Deployment"}  # the schema requires name
    try:
        kube.apply(scaled, namespace)
    except client.ApiException as exc:
        assert exc.status == 422
    else:
        raise AssertionError("the upstream CRD schema accepted a target without a name")


def test_pod_on_a_kwok_node_becomes_ready(kube: Kube, namespace: str) -> None:
    kube.require_kwok()
    node = f"kwok-{namespace}"
    kube.apply(fake_node(node))
    core = client.CoreV1Api(kube.api_client())
    try:
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {
                    "containers": [{"name": "web", "image": "registry.invalid/web:1"}],
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                },
            },
            namespace,
        )
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and not ready:
            pod = core.read_namespaced_pod("web", namespace)
            conds = pod.status.conditions or []
            ready = any(c.type == "Ready" and c.status == "True" for c in conds)
            time.sleep(0.3)
        assert ready, f"pod never became Ready: {pod.status}"
        # Bound by the real scheduler, made Ready by KWOK.
        assert pod.spec.node_name == node
        node_conds = core.read_node(node).status.conditions or []
        assert any(c.type == "Ready" and c.status == "True" for c in node_conds)
    finally:
        core.delete_node(node)
