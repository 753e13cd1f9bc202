"""`tubedemo status`: gather once (thin), summarise (pure), so the summary is a unit test."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import (
    CAPACITY_TYPE_LABEL,
    INSTANCE_TYPE_LABEL,
    NODEPOOL_LABEL,
    WORKLOAD_KINDS,
    Ref,
    is_ours,
    workload_health,
)
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError
from tubedemo.telemetry.cost import priced
from tubedemo.telemetry.snapshot import GpuNode


def _ready(obj: Mapping[str, Any], kind_of_ready: str = "Ready") -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind_of_ready and c.get("status") == "True" for c in conds)


def gpu_nodes_of(
    nodes: Iterable[Mapping[str, Any]], pool: str, config: DemoConfig, *, now: float
) -> tuple[GpuNode, ...]:
    """Nodes of tubedemo's NodePool with type, spot/on-demand, age and $/h. Pure."""
    out: list[GpuNode] = []
    for node in nodes:
        meta = node.get("metadata", {})
        labels = meta.get("labels") or {}
        if labels.get(NODEPOOL_LABEL) != pool:
            continue
        created = meta.get("creationTimestamp")
        age = 0.0
        if created:
            stamp = datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
            age = max(0.0, now - stamp)
        capacity = "spot" if labels.get(CAPACITY_TYPE_LABEL) == "spot" else "on-demand"
        out.append(
            GpuNode(
                name=str(meta.get("name")),
                instance_type=str(labels.get(INSTANCE_TYPE_LABEL, "unknown")),
                capacity_type=capacity,
                ready=_ready(node),
                age_s=age,
            )
        )
    return priced(config.prices, sorted(out, key=lambda n: n.name))


WARM_CAPACITY_SELECTOR = "app.kubernetes.io/name=warm-capacity"
"""The warm capacity's placeholder pods (templates/warm-capacity.yaml.j2)."""


def warm_per_hour(
    placeholders: Iterable[Mapping[str, Any]],
    nodes: tuple[GpuNode, ...],
    gpus_per_node: Mapping[str, int],
) -> tuple[int, float]:
    """(placeholders bound to a GPU node, $/h of the GPUs they hold): each one its node's $/h
    over the node's GPUs (twin.startup.gpus_per_node; 1 if unlisted), the rule simulate's
    warm capacity cost follows. A pending placeholder holds nothing yet. Pure."""
    by_name = {n.name: n for n in nodes}
    held = 0
    total = 0.0
    for pod in placeholders:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        node = by_name.get(str((pod.get("spec") or {}).get("nodeName", "")))
        if node is None:
            continue
        held += 1
        total += node.price_per_hour / max(1, gpus_per_node.get(node.instance_type, 1))
    return held, total


def vllm_target(targets: Iterable[Ref]) -> Ref | None:
    """vLLM's Deployment among the ScaledObjects' targets (the warm capacity's placeholders
    are one too). Pure."""
    found = sorted(targets)
    return next((t for t in found if t.name == "vllm"), found[0] if found else None)


@dataclass(frozen=True)
class ObjectHealth:
    ref: Ref
    state: str  # "ok" | "progressing" | "missing" | "foreign"
    detail: str


@dataclass(frozen=True)
class StatusView:
    context: str
    server: str
    version: str
    namespace: str
    objects: tuple[ObjectHealth, ...]
    replicas: str
    nodes: tuple[GpuNode, ...]
    mode: str | None
    per_hour: float
    placeholders: int = 0
    """Warm capacity's placeholder pods holding a GPU now (scaling.warm_capacity)."""
    warm_per_hour: float = 0.0
    """$/h of the GPUs they hold, inside ``per_hour``."""

    @property
    def healthy(self) -> bool:
        return all(o.state == "ok" for o in self.objects)


def object_health(ref: Ref, live: Mapping[str, Any] | None) -> ObjectHealth:
    """How one inventory object looks now. Pure."""
    if live is None:
        return ObjectHealth(ref, "missing", "not found")
    if not is_ours(live):
        return ObjectHealth(ref, "foreign", "lost tubedemo's labels")
    if ref.kind in WORKLOAD_KINDS:
        health = workload_health(live)
        return ObjectHealth(ref, "ok" if health.ready else "progressing", health.summary)
    if ref.kind == "ScaledObject":
        ok = _ready(live)
        return ObjectHealth(ref, "ok" if ok else "progressing", "ready" if ok else "not ready")
    return ObjectHealth(ref, "ok", "present")


def summarise(
    *,
    context: str,
    server: str,
    version: str,
    namespace: str,
    objects: Iterable[tuple[Ref, Mapping[str, Any] | None]],
    scaled_workload: Mapping[str, Any] | None,
    max_replicas: int,
    nodes: tuple[GpuNode, ...],
    mode: str | None,
    placeholders: Iterable[Mapping[str, Any]] = (),
    gpus_per_node: Mapping[str, int] | None = None,
) -> StatusView:
    """The one-screen status from what was observed. Pure."""
    health = tuple(object_health(r, live) for r, live in objects)
    held, warm = warm_per_hour(placeholders, nodes, gpus_per_node or {})
    if scaled_workload is None:
        replicas = "not deployed"
    else:
        status = scaled_workload.get("status") or {}
        want = (scaled_workload.get("spec") or {}).get("replicas", 1)
        replicas = f"{status.get('readyReplicas', 0)}/{want} ready (max {max_replicas})"
    return StatusView(
        context=context,
        server=server,
        version=version,
        namespace=namespace,
        objects=health,
        replicas=replicas,
        nodes=nodes,
        mode=mode,
        per_hour=sum(n.price_per_hour for n in nodes),
        placeholders=held,
        warm_per_hour=warm,
    )


def gather(
    api: Api, config: DemoConfig, inventory: list[Ref], mode_ref: Ref | None, scaled: Ref | None
) -> StatusView:
    version = str(api.request("GET", "/version").get("gitVersion", "?"))
    objects: list[tuple[Ref, dict[str, Any] | None]] = []
    for ref in inventory:
        try:
            objects.append((ref, api.get(ref)))
        except ClusterError:
            objects.append((ref, None))
    mode = None
    if mode_ref is not None:
        live = api.get(mode_ref)
        mode = (live or {}).get("data", {}).get("mode") if live else None
    pool = config.gpu_pool.name
    nodes = api.list("v1", "Node", selector=f"{NODEPOOL_LABEL}={pool}")
    placeholders = (
        api.list("v1", "Pod", config.cluster.namespace, WARM_CAPACITY_SELECTOR)
        if config.scaling.warm_capacity.replicas
        else []
    )
    return summarise(
        context=api.context,
        server=api.server,
        version=version,
        namespace=config.cluster.namespace,
        objects=objects,
        scaled_workload=api.get(scaled) if scaled else None,
        max_replicas=config.scaling.max_replicas,
        nodes=gpu_nodes_of(nodes, pool, config, now=time.time()),
        mode=mode,
        placeholders=placeholders,
        gpus_per_node=config.twin.startup.gpus_per_node,
    )
