"""What the lab applies besides our manifests' lab variant (``tubedemo.lab.variant``): pure
functions, no side effects.

- the instance types Karpenter's KWOK provider may launch (the g5 family with
  ``nvidia.com/gpu``, spot and on-demand offerings priced from ``DemoConfig.prices``);
- KWOK stages giving pods the start-up delays of ``twin.startup`` (image pull, model load);
- the objects that wire KEDA into the API server (the ``external.metrics.k8s.io`` APIService and
  the admission webhooks, taken from KEDA's own config in its module) and the CRDs of both
  controllers, read from the pinned modules the binaries were built from;
- ``support_objects``: what an EKS cluster has before `tubedemo up` and the lab must provide (a
  node for the pods that need no GPU, a volume for the gateway's claim, the namespace and its
  Secrets).

Every delay is divided by ``speed``, the lab's one compression factor.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tubedemo.core.config import DemoConfig, PriceTable, StartupModel

Manifest = dict[str, Any]

KEDA_NAMESPACE = "keda"
METRICS_SERVICE = "keda-metrics-apiserver"
WEBHOOK_SERVICE = "keda-admission-webhooks"
EXTERNAL_METRICS_APISERVICE = "v1beta1.external.metrics.k8s.io"
ZONE = "us-west-2a"
VLLM_SELECTOR = '.metadata.labels."app.kubernetes.io/name"'
SYSTEM_NODE = "lab-system"
"""The lab's node for the pods that need no GPU (gateway, collector): on EKS they run on the
cluster's managed node group, which Karpenter does not own either."""


@dataclass(frozen=True)
class G5:
    """One EC2 g5 size: vCPUs, memory (GiB), NVIDIA A10G GPUs; on-demand $/h (us-west-2)."""

    name: str
    cpu: int
    memory_gib: int
    gpus: int
    on_demand: float


# AWS's published g5 sizes up to the first multi-GPU one (g5.16xlarge still has one GPU).
G5_FAMILY: tuple[G5, ...] = (
    G5("g5.xlarge", 4, 16, 1, 1.006),
    G5("g5.2xlarge", 8, 32, 1, 1.212),
    G5("g5.4xlarge", 16, 64, 1, 1.624),
    G5("g5.8xlarge", 32, 128, 1, 2.448),
    G5("g5.12xlarge", 48, 192, 4, 5.672),
)
SPOT_DISCOUNT = 0.45
"""Spot price as a share of on-demand where demo.yaml's price table names no spot price."""


def instance_types(prices: PriceTable) -> list[dict[str, Any]]:
    """Karpenter KWOK provider's instance-types file (its ``InstanceTypesFilePath`` JSON):
    every g5 size offered as spot and on-demand in one zone. Prices come from demo.yaml's
    ``prices`` where it names the type, so Karpenter's cheapest-first choice and the
    dashboard's $/h use the same numbers."""
    out = []
    for it in G5_FAMILY:
        on_demand = prices.on_demand.get(it.name, it.on_demand)
        spot = prices.spot.get(it.name, round(on_demand * SPOT_DISCOUNT, 4))
        offerings = [
            {
                "Price": price,
                "Available": True,
                "Requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [kind]},
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [ZONE]},
                ],
            }
            for kind, price in (("spot", spot), ("on-demand", on_demand))
        ]
        out.append(
            {
                "name": it.name,
                "offerings": offerings,
                "architecture": "amd64",
                "operatingSystems": ["linux"],
                "resources": {
                    "cpu": str(it.cpu),
                    "memory": f"{it.memory_gib}Gi",
                    "nvidia.com/gpu": str(it.gpus),
                    "pods": "110",
                },
            }
        )
    return out


def _not_vllm(stage: Manifest) -> Manifest:
    stage = copy.deepcopy(stage)
    expressions = stage["spec"].setdefault("selector", {}).setdefault("matchExpressions", [])
    expressions.append({"key": VLLM_SELECTOR, "operator": "NotIn", "values": ["vllm"]})
    return stage


def kwok_stages(upstream: list[Manifest], startup: StartupModel, speed: float) -> list[Manifest]:
    """KWOK stages: upstream's ``fast`` set for everything but vLLM pods, and for vLLM pods
    two delayed stages: Pending -> Running (not Ready) after ``image_pull``, then Ready after
    ``model_load`` — as a pod looks on EKS while it pulls the image and loads the weights."""
    stages = []
    pod_ready: Manifest | None = None
    for stage in upstream:
        ref = stage["spec"]["resourceRef"]
        if ref["kind"] == "Pod" and stage["metadata"]["name"] == "pod-ready":
            pod_ready = stage
            stages.append(_not_vllm(stage))
        else:
            stages.append(stage)
    if pod_ready is None:
        raise ValueError("the upstream KWOK stages have no pod-ready stage")
    if startup.image_pull is None or startup.model_load is None:
        raise ValueError(
            "pass tubedemo.twin.startup.resolved_startup(cfg): image_pull/model_load follow "
            "the render"
        )
    pull_ms = round(startup.image_pull / speed * 1000)
    load_ms = round(startup.model_load / speed * 1000)
    vllm = {"key": VLLM_SELECTOR, "operator": "In", "values": ["vllm"]}
    template = pod_ready["spec"]["next"]["statusTemplate"]
    started = copy.deepcopy(pod_ready)
    started["metadata"]["name"] = "vllm-pod-started"
    started["spec"]["selector"]["matchExpressions"].append(vllm)
    started["spec"]["delay"] = {"durationMilliseconds": pull_ms}
    # Running with containers started but not ready: the weights are still loading.
    not_ready = re.sub(
        r'status: "True"(\s+)type: (Ready|ContainersReady)\b',
        r'status: "False"\1type: \2',
        template,
    )
    not_ready = not_ready.replace("ready: true", "ready: false")
    started["spec"]["next"]["statusTemplate"] = _container_started(not_ready, started=False)
    ready = copy.deepcopy(pod_ready)
    ready["metadata"]["name"] = "vllm-pod-ready"
    ready["spec"]["selector"]["matchExpressions"] = [
        {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {
            "key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
            "operator": "NotIn",
            "values": ["True"],
        },
        # only a pod whose start-up probe has not passed yet: a started pod the readiness
        # probe failed later (what a busy replica's kubelet reports) stays NotReady, as no
        # prober runs here to bring it back
        {"key": ".status.containerStatuses.[] | .started", "operator": "NotIn", "values": ["true"]},
        vllm,
    ]
    ready["spec"]["delay"] = {"durationMilliseconds": load_ms}
    # The started stage already gave the pod its IPs; allocating them again here would add a
    # second podIP of the same family, which the API server refuses (the pod never got Ready).
    body = ready["spec"]["next"]["statusTemplate"]
    cut_from, cut_to = body.find("{{ $hostIPs"), body.find("phase: Running")
    if cut_from != -1 and cut_to > cut_from:
        body = body[:cut_from] + body[cut_to:]
    ready["spec"]["next"]["statusTemplate"] = _container_started(body, started=True)
    return [*stages, started, ready]


def _container_started(template: str, started: bool) -> str:
    """The stage's container statuses with ``started`` as the kubelet reports it: false until
    the startupProbe passes, then true for good (a later readiness failure leaves it)."""
    statuses = template.find("containerStatuses:")
    found = re.compile(r"\n([ \t]*)(- )?ready: (?:true|false)\n").search(template, max(statuses, 0))
    if statuses == -1 or found is None:
        raise ValueError("the upstream pod-ready stage has no container status to extend")
    indent = found.group(1) + ("  " if found.group(2) else "")
    line = f"\n{indent}started: {str(started).lower()}"
    return template[: found.end() - 1] + line + template[found.end() - 1 :]


def keda_crds(keda_module: Path) -> list[Manifest]:
    """Every CRD KEDA's operator watches (keda.sh and eventing.keda.sh), from its module."""
    return [_load(p) for p in sorted((keda_module / "config" / "crd" / "bases").glob("*.yaml"))]


def karpenter_crds(karpenter_module: Path) -> list[Manifest]:
    """The KWOK provider's CRDs as its chart installs them, plus the KWOKNodeClass CRD."""
    kwok = karpenter_module / "kwok"
    files = sorted((kwok / "charts" / "crds").glob("*.yaml"))
    files += sorted((kwok / "apis" / "crds").glob("*.yaml"))
    return [_load(p) for p in files]


def keda_wiring(
    keda_module: Path, ca_pem: bytes, adapter_port: int, webhook_port: int
) -> list[Manifest]:
    """KEDA's namespace, the metrics APIService and the admission webhooks, pointed at the
    processes on this machine.

    The APIService names a Service of type ExternalName ``localhost``: the aggregation layer
    resolves it to https://localhost:<APIService port> (an Endpoints object may not hold a
    loopback address; an ExternalName is a name), and checks the serving certificate for
    ``keda-metrics-apiserver.keda.svc`` against the APIService's caBundle. The webhooks come
    from KEDA's own ValidatingWebhookConfiguration with the service reference replaced by a
    URL (failurePolicy and rules as upstream)."""
    bundle = base64.b64encode(ca_pem).decode()
    upstream_api = _load(keda_module / "config" / "metrics-server" / "api_service.yaml")
    api_service = copy.deepcopy(upstream_api)
    api_service["spec"]["service"]["port"] = adapter_port
    api_service["spec"]["caBundle"] = bundle
    api_service["spec"].pop("insecureSkipTLSVerify", None)
    webhooks = _load(keda_module / "config" / "webhooks" / "validation_webhooks.yaml")
    for hook in webhooks["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        url = f"https://127.0.0.1:{webhook_port}{path}"
        hook["clientConfig"] = {"url": url, "caBundle": bundle}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KEDA_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": METRICS_SERVICE, "namespace": KEDA_NAMESPACE},
            "spec": {
                "type": "ExternalName",
                "externalName": "localhost",
                "ports": [{"name": "https", "port": adapter_port}],
            },
        },
        api_service,
        webhooks,
    ]


def keda_server_names() -> list[str]:
    """DNS names KEDA's serving certificate must carry (as its cert rotation would issue)."""
    names = []
    for service in (METRICS_SERVICE, WEBHOOK_SERVICE, "keda-operator"):
        host = f"{service}.{KEDA_NAMESPACE}.svc"
        names += [host, f"{host}.cluster.local"]
    return names


def _load(path: Path) -> Manifest:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ValueError(f"{path} is not one YAML object")
    return dict(data)


def load_all(paths: list[Path]) -> list[Manifest]:
    """Every document of every file (KWOK's stage files hold one each)."""
    docs: list[Manifest] = []
    for path in paths:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def support_objects(cfg: DemoConfig) -> list[Manifest]:
    """What an EKS cluster has before `tubedemo up` that the lab must provide.

    - a KWOK node outside the GPU NodePool (untainted, no ``karpenter.sh/nodepool`` label) for
      the gateway and the collector, like EKS's managed node group;
    - a PersistentVolume pre-bound to the gateway's claim, as the EBS CSI driver would provision
      (the lab has no storage provisioner);
    - the namespace with the Hugging Face token and admin token Secrets (stand-in values).
    """
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": SYSTEM_NODE,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": SYSTEM_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
        },
    }
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{cfg.cluster.namespace}-gateway-data"},
        "spec": {
            "capacity": {"storage": cfg.storage.volume_size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "",
            "hostPath": {"path": f"/var/lib/tubedemo-lab/{cfg.cluster.namespace}/gateway-data"},
            "claimRef": {"namespace": cfg.cluster.namespace, "name": "gateway-data"},
        },
    }
    ns = cfg.cluster.namespace
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    # The Secrets a presenter creates before `up` (README, cluster prerequisites); KEDA resolves
    # the scale target's env from them before it creates the HPA, so they must exist.
    secrets = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "stringData": {"token": "lab-stand-in", "vllm-api-key": "lab-stand-in"},
        }
        for name in (cfg.model.hf_token_secret, cfg.gateway.admin_token_secret)
    ]
    return [node, volume, namespace, *secrets]
