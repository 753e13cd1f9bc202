"""The test control plane: the product's (tubedemo.lab.controlplane: etcd, kube-apiserver with
the aggregation layer, kube-controller-manager, kube-scheduler, KWOK, built from pinned Go
modules by scripts/build-controlplane), plus test-only helpers (fake nodes).

The upstream CRDs come from tubedemo.manifests.crds (pinned upstream modules,
`tubedemo crds fetch`).
"""

from __future__ import annotations

from pathlib import Path

from tubedemo.core.processes import free_port
from tubedemo.lab.binaries import control_plane_dir
from tubedemo.lab.controlplane import (
    ADMIN_CN,
    FAKE_NODE_ANNOTATION,
    NOBODY_CN,
    ControlPlane,
    ControlPlaneError,
)
from tubedemo.lab.pki import CertificateAuthority, write_kubeconfig

__all__ = [
    "ADMIN_CN",
    "FAKE_NODE_ANNOTATION",
    "NOBODY_CN",
    "NOT_BUILT",
    "CertificateAuthority",
    "ControlPlane",
    "ControlPlaneError",
    "binary_dir",
    "fake_node",
    "free_port",
    "write_kubeconfig",
]

NOT_BUILT = "control plane not built"


def binary_dir() -> Path | None:
    """The folder holding the built binaries, or None when the build has not run."""
    return control_plane_dir()


def fake_node(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    """A KWOK-managed node: the annotation selects it, the taint keeps real workloads off."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {FAKE_NODE_ANNOTATION: "fake"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", **(labels or {})},
        },
        "spec": {
            "taints": [{"key": FAKE_NODE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}]
        },
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
        },
    }
