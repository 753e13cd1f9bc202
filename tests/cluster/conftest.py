"""The `demo` fixture of the cluster command tests: a namespace prepared as a presenter would
(tests/cluster/demo.py holds the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.demo import Demo, gpu_node, install_addons
from tests.kube.controlplane import fake_node
from tests.kube.fixtures import Kube
from tubedemo.cluster import scaler_tls


@pytest.fixture
def demo(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[Demo]:
    """A namespace prepared as a presenter would: HF token Secret, the scaler's Service, and
    schedulable KWOK nodes: one general node and one GPU node of the pool (`<pool>-0`), as
    Karpenter would have launched for the first vLLM replica."""
    kube.require_kwok()
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_test"}}
    )
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "tubedemo-admin"},
            # as `cluster create` makes it: the admin token and vLLM's API key
            "stringData": {"token": "admin-test", "vllm-api-key": "vllm-test"},
        },
    )
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "keda-otel-scaler"},
            "spec": {"ports": [{"name": "scaler", "port": 4318}]},
        },
    )
    # as `cluster create` makes it: the CA the collector checks the scaler's certificate with
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {"name": "otel-scaler-ca"},
            "data": {"ca.crt": scaler_tls.issue(["keda-otel-scaler"]).ca_pem},
        },
    )
    general = f"general-{namespace}"
    node = fake_node(general)
    node["spec"] = {}  # untainted: collector and gateway pods may land here
    kube.apply(node)
    pool = f"gpu-{namespace}"
    raw = {
        "profile": "eks",
        "cluster": {"namespace": namespace, "account_id": "123456789012"},
        # phones reach no one here: no load balancer controller runs in this control plane
        "web": {"exposure": "none"},
        # the add-ons' stand-ins live in the test's namespace; the AWS side has its own tests
        # (tests/cluster/test_aws_preflight.py, against moto's server)
        "prerequisites": {
            "keda_namespace": namespace,
            "karpenter_namespace": namespace,
            "load_balancer_controller_namespace": namespace,
            "ebs_csi_namespace": namespace,
            "vpc_cni_namespace": namespace,
            "aws_checks": False,
        },
        # the cold path, chosen explicitly: `auto` would need the AWS account (`tubedemo
        # prepare`; tests/cluster/test_prepare.py covers it against moto), and these tests
        # check the hub token Secret the cold path reads
        "gpu_pool": {"name": pool, "image_snapshot_id": ""},
        "model": {"weights_uri": ""},
        # as after `tubedemo images push --write` (no image is pulled here: KWOK nodes)
        "gateway": {"image": "registry.invalid/tubedemo/gateway:test"},
        # KWOK's collector pods run no collector, so none ever exports: `up` would hold the
        # ScaledObject (tests/cluster/test_first_export.py runs a real one)
        "otel": {"first_export_timeout": "0s"},
        "scaling": {
            "scaler_address": f"keda-otel-scaler.{namespace}.svc:4318",
            "otlp_endpoint": f"keda-otel-scaler.{namespace}.svc:4317",
        },
    }
    d = Demo(kube, namespace, pool, tmp_path / "demo.yaml", raw)
    d.write()
    storage = client.StorageV1Api(kube.api_client())
    # a new EKS cluster has no gp3 class: the render's, made by `up` (one class, cluster-scoped:
    # an earlier test's `up` may have left it)
    ignore_404(lambda: storage.delete_storage_class("gp3"))
    install_addons(kube, namespace)
    kube.apply(gpu_node(d, f"{pool}-0"))
    # The gateway's volume (store or S3 spool) needs storage; this control plane has no
    # provisioner, so a static PersistentVolume reserved for the claim stands in for the EBS
    # volume that EKS's CSI driver would create. The PV controller binds it for real.
    volume = f"gateway-data-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",  # the class the EKS render's claim names
                "hostPath": {"path": f"/tmp/{volume}"},
                "claimRef": {"namespace": namespace, "name": "gateway-data"},
                "persistentVolumeReclaimPolicy": "Delete",
            },
        }
    )
    try:
        yield d
    finally:
        ignore_404(lambda: core.delete_persistent_volume(volume))
        ignore_404(lambda: storage.delete_storage_class("gp3"))
        cleanup_cluster_scoped(kube, pool, [general])


def cleanup_cluster_scoped(kube: Kube, pool: str, nodes: list[str]) -> None:
    core = client.CoreV1Api(kube.api_client())
    custom = client.CustomObjectsApi(kube.api_client())
    for name in nodes:
        ignore_404(lambda n=name: core.delete_node(n))
    for node in core.list_node(label_selector=f"karpenter.sh/nodepool={pool}").items:
        ignore_404(lambda n=node.metadata.name: core.delete_node(n))
    ignore_404(lambda: custom.delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", pool))
    ignore_404(
        lambda: custom.delete_cluster_custom_object(
            "karpenter.k8s.aws", "v1", "ec2nodeclasses", pool
        )
    )


def ignore_404(call: Any) -> None:
    try:
        call()
    except client.ApiException as exc:
        if exc.status != 404:
            raise
