"""The Helm releases `tubedemo cluster create` installs, and the helm command lines (pure).

Values go in a file per release, kept on disk beside the ClusterConfig, so what was asked of
each chart can be read afterwards. Charts are named by repository URL (`--repo`) or OCI
reference, so no `helm repo add` state is needed on the presenter's laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tubedemo.cluster import scaler_tls
from tubedemo.core.config import DemoConfig
from tubedemo.eks import pins
from tubedemo.eks.eksctl_config import KARPENTER_SA, LOAD_BALANCER_CONTROLLER_SA

HELM_TIMEOUT = "10m"
"""How long helm waits for a release's pods (a new cluster pulls every image once)."""


@dataclass(frozen=True)
class Release:
    """One chart installed into the cluster."""

    name: str
    namespace: str
    chart: str
    """Chart name in `repo`, or an oci:// reference."""
    version: str
    values: dict[str, Any]
    repo: str | None = None
    """Chart repository URL (`--repo`); None for an OCI chart."""
    why: str = ""
    """One line: what it is for (the plan prints it)."""

    @property
    def values_file(self) -> str:
        """File name of its values beside the ClusterConfig."""
        return f"helm-{self.name}.values.yaml"

    def values_yaml(self) -> str:
        return f"# helm values of release {self.name} ({self.chart} {self.version})\n" + (
            yaml.safe_dump(self.values, sort_keys=False)
        )

    def argv(self, folder: Path) -> list[str]:
        """`helm upgrade --install`: installs, or leaves an identical release as it is."""
        argv = ["helm", "upgrade", "--install", self.name, self.chart, "--version", self.version]
        if self.repo:
            argv += ["--repo", self.repo]
        argv += ["--namespace", self.namespace, "--create-namespace"]
        argv += ["--values", str(folder / self.values_file)]
        argv += ["--wait", "--timeout", HELM_TIMEOUT]
        return argv


def load_balancer_controller(cfg: DemoConfig, vpc_id: str) -> Release:
    """The AWS Load Balancer Controller: the audience's ALB from the gateway's Ingress. The VPC
    and region are given, not looked up: pods on AL2023 nodes may not reach instance metadata."""
    return Release(
        name="aws-load-balancer-controller",
        namespace=cfg.prerequisites.load_balancer_controller_namespace,
        chart="aws-load-balancer-controller",
        repo="https://aws.github.io/eks-charts",
        version=pins.LOAD_BALANCER_CONTROLLER_CHART,
        values={
            "clusterName": cfg.cluster.name,
            "region": cfg.cluster.region,
            "vpcId": vpc_id,
            # the chart makes the ServiceAccount eksctl's Pod Identity association names
            "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SA},
        },
        why="the audience's ALB from the gateway's Ingress",
    )


def karpenter(cfg: DemoConfig) -> Release:
    """Karpenter, as its getting-started guide installs it (controller sized 1 CPU / 1 GiB)."""
    resources = {"cpu": "1", "memory": "1Gi"}
    return Release(
        name="karpenter",
        namespace=cfg.prerequisites.karpenter_namespace,
        chart="oci://public.ecr.aws/karpenter/karpenter",
        version=pins.KARPENTER,
        values={
            "settings": {
                "clusterName": cfg.cluster.name,
                # spot interruption notices -> graceful drains (Karpenter's CloudFormation queue)
                "interruptionQueue": cfg.interruption_queue,
            },
            "serviceAccount": {"name": KARPENTER_SA},
            "controller": {"resources": {"requests": resources, "limits": resources}},
        },
        why="GPU nodes for vLLM (NodePool and EC2NodeClass come with `tubedemo up`)",
    )


def kedify_keda(cfg: DemoConfig) -> Release:
    """Kedify's KEDA build: knows `type: kedify-otel` triggers."""
    return Release(
        name="keda",
        namespace=cfg.prerequisites.keda_namespace,
        chart="keda",
        repo="https://kedify.github.io/charts",
        version=pins.KEDIFY_KEDA_CHART,
        values={},
        why="KEDA (Kedify's build) turns the queue metric into vLLM replicas",
    )


OTLP_TLS_MOUNT = "/etc/otlp-tls"
"""Where the scaler's pod mounts its OTLP certificate Secret."""


def kedify_otel_scaler(cfg: DemoConfig) -> Release:
    """Kedify's OTEL scaler, named so its Service is scaling.scaler_address; tubedemo deploys
    its own collector (it renames vllm:* metrics), so the chart's collector stays off. With
    scaling.otlp_ca_configmap set, its OTLP receiver serves TLS with the certificate in
    the Secret that `cluster create` makes first (tubedemo.cluster.bootstrap.ensure_scaler_tls;
    the chart's settings.tls). No caFile: with one the scaler also demands a client certificate
    of every exporter (mutual TLS), a step not taken here."""
    service, _, _ = cfg.scaling.scaler_address.partition(".")
    settings: dict[str, Any] = {"metricStore": {"retentionSeconds": 60}}
    if cfg.scaling.otlp_ca_configmap:
        settings["tls"] = {
            "certFile": f"{OTLP_TLS_MOUNT}/tls.crt",
            "keyFile": f"{OTLP_TLS_MOUNT}/tls.key",
            "secrets": [
                {
                    "name": scaler_tls.secret_name(cfg.scaling.scaler_address),
                    "mountPath": OTLP_TLS_MOUNT,
                }
            ],
        }
    return Release(
        name=service,
        namespace=cfg.prerequisites.keda_namespace,
        chart="oci://ghcr.io/kedify/charts/otel-add-on",
        version=pins.KEDIFY_OTEL_SCALER_CHART,
        values={
            "otelCollector": {"enabled": False},
            "otelOperator": {"enabled": False},
            "settings": settings,
        },
        why="the metric store KEDA's trigger reads (OTLP from our collector)",
    )


def releases(cfg: DemoConfig, vpc_id: str) -> list[Release]:
    """Every release, in install order: the LB controller and Karpenter first (their webhooks
    and CRDs), then KEDA before its scaler (a ScaledObject without its scaler has no metric)."""
    return [
        load_balancer_controller(cfg, vpc_id),
        karpenter(cfg),
        kedify_keda(cfg),
        kedify_otel_scaler(cfg),
    ]
