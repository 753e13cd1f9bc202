"""The deployment target of the cluster command tests (tests/cluster/test_up_diff.py,
test_mode_status.py, test_teardown.py, test_api_errors.py, test_preflight.py,
test_deadline_job.py): its demo.yaml, the real CLI run as a presenter runs it, and the
add-ons' stand-ins. Each test runs `python -m tubedemo ...` as a subprocess, so exit codes
and the absence of tracebacks are observed exactly as a presenter sees them. The `demo`
fixture is in conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.conftest import wait_until
from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node
from tests.kube.fixtures import Kube
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

REPO = Path(__file__).resolve().parents[2]
MANAGED = "app.kubernetes.io/managed-by=tubedemo"


@dataclass
class Demo:
    """One test's tubedemo deployment target: its namespace, NodePool and demo.yaml."""

    kube: Kube
    namespace: str
    pool: str
    config_path: Path
    raw: dict[str, Any]

    def write(self, **overrides: Any) -> None:
        raw = yaml.safe_load(yaml.safe_dump(self.raw))
        for dotted, value in overrides.items():
            node = raw
            *parents, leaf = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        self.config_path.write_text(yaml.safe_dump(raw))

    def manifests(self) -> list[dict[str, Any]]:
        return render(config_from_dict(yaml.safe_load(self.config_path.read_text())))

    def run(
        self, *args: str, kubeconfig: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(
            *args,
            "--config",
            str(self.config_path),
            "--kubeconfig",
            str(kubeconfig or self.kube.kubeconfig),
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        argv = [*args, "--config", str(self.config_path), "--kubeconfig", str(self.kube.kubeconfig)]
        return subprocess.Popen(
            [sys.executable, "-m", "tubedemo", *argv],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"  # one message, one line, even on a narrow CI terminal
    env.pop("KUBECONFIG", None)
    return env


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


ADDONS = {
    # Deployment name -> the image a Helm install of the validated release runs
    "keda-operator": "ghcr.io/kedify/keda-operator:v2.20.2",
    "karpenter": "public.ecr.aws/karpenter/controller:1.14.3",
    "aws-load-balancer-controller": "public.ecr.aws/eks/aws-load-balancer-controller:v2.15.0",
    "ebs-csi-controller": "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.50.0",
}


def addon_deployment(name: str, image: str) -> dict[str, Any]:
    """A stand-in for an add-on's controller: its Deployment name and image as Helm installs
    it, running on the KWOK node (preflight reads the name, the version and readiness)."""
    labels = {"app.kubernetes.io/name": f"standin-{name}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "controller", "image": image}],
                    "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                },
            },
        },
    }


def install_addons(kube: Kube, namespace: str, only: tuple[str, ...] | None = None) -> None:
    """What `tubedemo preflight` looks for before `up`: the add-ons' controllers (ready) and
    the EBS CSI driver's registration (the gp3 StorageClass is rendered: `up` makes it)."""
    apps = client.AppsV1Api(kube.api_client())
    names = [n for n in ADDONS if only is None or n in only]
    for name in names:
        apps.create_namespaced_deployment(namespace, addon_deployment(name, ADDONS[name]))
    kube.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": {"name": "ebs.csi.aws.com"},
            "spec": {"attachRequired": True, "podInfoOnMount": False},
        }
    )
    for name in names:
        wait_until(
            f"add-on stand-in {name} ready",
            lambda n=name: (
                (apps.read_namespaced_deployment(n, namespace).status.ready_replicas) or 0
            ),
        )


def gpu_node(demo: Demo, name: str) -> dict[str, Any]:
    node = fake_node(
        name,
        {
            "karpenter.sh/nodepool": demo.pool,
            "node.kubernetes.io/instance-type": "g5.2xlarge",
            "karpenter.sh/capacity-type": "spot",
        },
    )
    # Only the GPU taint Karpenter's NodePool sets: vLLM tolerates it, nothing else does.
    node["spec"]["taints"] = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    return node


def live_object(kube: Kube, manifest: dict[str, Any]) -> Any:
    dyn = kube.dynamic()
    resource = dyn.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    meta = manifest["metadata"]
    try:
        return resource.get(name=meta["name"], namespace=meta.get("namespace"))
    except Exception as exc:  # the dynamic client raises NotFoundError for 404
        if getattr(exc, "status", None) == 404:
            return None
        raise


def tubedemo_objects(kube: Kube, demo: Demo) -> list[str]:
    """Every object labelled as tubedemo's in the namespace, plus its cluster-scoped ones."""
    dyn = kube.dynamic()
    found = []
    for api_version, kind in (
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "Deployment"),
        ("policy/v1", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("keda.sh/v1alpha1", "ScaledObject"),
    ):
        res = dyn.resources.get(api_version=api_version, kind=kind)
        for item in res.get(namespace=demo.namespace, label_selector=MANAGED).items:
            found.append(f"{kind}/{item.metadata.name}")
    for api_version, kind in (
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ):
        res = dyn.resources.get(api_version=api_version, kind=kind)
        for item in res.get(label_selector=MANAGED).items:
            if item.metadata.name == demo.pool:
                found.append(f"{kind}/{item.metadata.name}")
    return sorted(found)
