"""Pods, GPU nodes and Karpenter's instance choice, as plain data for the twin's world."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import TwinError
from tubedemo.twin.engine import Engine

CapacityType = Literal["spot", "on-demand"]
PodPhase = Literal["Pending", "Running", "Succeeded", "Terminating"]


@dataclass(eq=False)
class Node:
    """A GPU node from its NodeClaim's creation (billing starts) to its termination."""

    name: str
    instance_type: str
    capacity_type: CapacityType
    gpus: int
    created_at: float
    ready_at: float
    """When it is (or will be) Ready."""
    price_per_hour: float
    is_ready: bool = False
    image_ready_at: float | None = None
    """When the vLLM image is on the node; None until the first pod pulls it."""
    pods: list[Pod] = field(default_factory=list)
    empty_since: float | None = None
    last_pod_event: float | None = None
    """The NodeClaim's status.lastPodEventTime: a pod bound to it or began terminating on it."""
    terminating_at: float | None = None
    """Karpenter deleted its NodeClaim; it goes once its draining pods are gone."""
    interrupted_at: float | None = None
    gone_at: float | None = None
    disruption: str | None = None
    replaces: Node | None = None
    """The interrupted node this one was launched to replace (kept while that one lives)."""

    @property
    def alive(self) -> bool:
        return self.gone_at is None

    @property
    def free_gpus(self) -> int:
        return self.gpus - len(self.pods)

    def cost(self, until: float) -> float:
        """$ billed from creation to termination (or ``until``)."""
        end = until if self.gone_at is None else min(self.gone_at, until)
        return max(end - self.created_at, 0.0) / 3600.0 * self.price_per_hour


@dataclass(eq=False)
class Pod:
    """One vLLM pod: created by the ReplicaSet, bound to a node, Ready once the model answers."""

    name: str
    created_at: float
    node: Node | None = None
    nominated: Node | None = None
    """In-flight node Karpenter launched for it (kube-scheduler binds it once Ready)."""
    scheduled_at: float | None = None
    ready_at: float | None = None
    """When it becomes (or became) Ready."""
    is_ready: bool = False
    deleting_at: float | None = None
    drain_deadline: float | None = None
    gone_at: float | None = None
    engine: Engine | None = None
    uid: str = ""
    """metadata.uid: random in a cluster, where it breaks the ReplicaSet's scale-down ties."""

    @property
    def live(self) -> bool:
        """Counted by the ReplicaSet: not being deleted."""
        return self.deleting_at is None and self.gone_at is None

    @property
    def serving(self) -> bool:
        """An endpoint of the Service: Ready and not terminating."""
        return self.is_ready and self.live

    @property
    def phase(self) -> PodPhase:
        if self.gone_at is not None:
            return "Succeeded"
        if self.deleting_at is not None:
            return "Terminating"
        if self.node is None:
            return "Pending"
        return "Running"

    def pending_reason(self, now: float) -> str | None:
        """Why it is not serving yet, in kubectl's words; None once Ready or terminating."""
        if self.is_ready or not self.live:
            return None
        if self.node is None:
            return "Unschedulable"
        if self.node.image_ready_at is not None and now < self.node.image_ready_at:
            return "PullingImage"
        return "LoadingModel"


@dataclass(frozen=True)
class InstanceChoice:
    instance_type: str
    gpus: int
    price_per_hour: float


def instance_options(config: DemoConfig, capacity_type: CapacityType) -> list[InstanceChoice]:
    """The pool's instance types with their GPU counts and prices, cheapest per GPU first."""
    prices = config.prices.spot if capacity_type == "spot" else config.prices.on_demand
    options = []
    for name in config.gpu_pool.instance_types:
        gpus = config.twin.startup.gpus_per_node.get(name)
        if gpus is None:
            raise TwinError(
                f"gpu_pool.instance_types lists {name!r} but twin.startup.gpus_per_node does not; "
                "add its GPU count"
            )
        options.append(InstanceChoice(name, gpus, prices.get(name, 0.0)))
    return options


@dataclass
class NodeClaimPlan:
    """One NodeClaim of a provisioning round: the pods packed on it and the instance types that
    still fit them all (Karpenter scheduling/nodeclaim.go: every pod added filters the options)."""

    pods: int
    options: list[InstanceChoice]

    def can_add(self) -> bool:
        return any(o.gpus >= self.pods + 1 for o in self.options)

    def add(self) -> None:
        self.pods += 1
        self.options = [o for o in self.options if o.gpus >= self.pods]

    @property
    def launch(self) -> InstanceChoice:
        """The type the cloud provider launches: the cheapest option (InstanceTypes.OrderByPrice
        in Karpenter pkg/cloudprovider/types.go; fewer GPUs first on a price tie)."""
        return min(self.options, key=lambda o: (o.price_per_hour, o.gpus, o.instance_type))


def pack(
    options: list[InstanceChoice], pods: int, gpu_budget: int
) -> tuple[list[NodeClaimPlan], int]:
    """Karpenter's packing of one batch of ``pods`` one-GPU pods onto new NodeClaims.

    Ported from Karpenter pkg/controllers/provisioning/scheduling/scheduler.go (``add``,
    ``addToInflightNode``, ``addToNewNodeClaim``, ``subtractMax``, ``filterByRemainingResources``):
    each pod goes to the first NodeClaim of this round (fewest pods first) that some option
    still fits with it; else a new NodeClaim opens with every type that fits within the pool's
    remaining GPU limit, and the limit is charged the *largest* option's GPUs. So 2-4 pods share
    one 4-GPU node, and a tight gpu_limit forces 1-GPU nodes. Returns the NodeClaims and how many
    pods did not fit (limit reached).
    """
    claims: list[NodeClaimPlan] = []
    remaining = gpu_budget
    unplaced = 0
    for _ in range(pods):
        claims.sort(key=lambda c: c.pods)
        target = next((c for c in claims if c.can_add()), None)
        if target is not None:
            target.add()
            continue
        fitting = [o for o in options if 1 <= o.gpus <= remaining]
        if not fitting:
            unplaced += 1
            continue
        claims.append(NodeClaimPlan(1, fitting))
        remaining -= max(o.gpus for o in fitting)
    return claims, unplaced


# --- kube-controller-manager's ReplicaSet: which pods go first on scale-down ------------------


def _k8s_phase_ordinal(pod: Pod, now: float) -> int:
    """podPhaseToOrdinal: Pending 0 < Unknown 1 < Running 2. A bound pod stays Pending until
    its container starts (the image is on the node), then Running (loading the model)."""
    node = pod.node
    if node is None or (node.image_ready_at is not None and now < node.image_ready_at):
        return 0
    return 2


def _log2_bucket(since: float, now: float) -> int:
    """int64(math.Log2(float64(d))) of a time.Duration in nanoseconds; -1 when d <= 0."""
    d = (now - since) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def _scale_down_less(a: Pod, b: Pod, rank: dict[int, int], now: float) -> bool:
    """``ActivePodsWithRanks.Less`` of Kubernetes v1.34 pkg/controller/controller_utils.go (with
    LogarithmicScaleDown, on by default; no pod-deletion-cost annotations and no restarts in
    the twin, so rules 4 and 7 never decide). True: ``a`` is deleted before ``b``."""
    a_node = a.node.name if a.node else ""
    b_node = b.node.name if b.node else ""
    # 1. unassigned < assigned
    if a_node != b_node and (not a_node or not b_node):
        return not a_node
    # 2. Pending < Unknown < Running
    pa, pb = _k8s_phase_ordinal(a, now), _k8s_phase_ordinal(b, now)
    if pa != pb:
        return pa < pb
    # 3. not ready < ready
    if a.is_ready != b.is_ready:
        return not a.is_ready
    # 5. doubled up < not doubled up: more colocated pods of the Deployment first
    if rank[id(a)] != rank[id(b)]:
        return rank[id(a)] > rank[id(b)]
    # 6. ready more recently first, in log2 buckets of the time since Ready; a tie in the bucket
    # goes by UID (random: the twin draws its pods' UIDs from the seed)
    both_ready = a.is_ready and b.is_ready
    if (
        both_ready
        and a.ready_at is not None
        and b.ready_at is not None
        and a.ready_at != b.ready_at
    ):
        diff = _log2_bucket(a.ready_at, now) - _log2_bucket(b.ready_at, now)
        if diff == 0:
            return _uid(a) < _uid(b)
        return diff < 0
    # 8. newer creation first, in log2 buckets, then UID
    if a.created_at != b.created_at:
        diff = _log2_bucket(a.created_at, now) - _log2_bucket(b.created_at, now)
        if diff == 0:
            return _uid(a) < _uid(b)
        return diff < 0
    return False


def _uid(pod: Pod) -> tuple[str, str]:
    return (pod.uid, pod.name)


def scale_down_order(pods: Sequence[Pod], now: float) -> list[Pod]:
    """The ReplicaSet's live pods in the order it deletes them when it scales down. Pure.

    Ported from Kubernetes v1.34 pkg/controller/replicaset/replica_set.go (``getPodsToDelete``,
    ``getPodsRankedByRelatedPodsOnSameNode``) and pkg/controller/controller_utils.go
    (``ActivePodsWithRanks.Less``): unscheduled, then not started, then not Ready pods go first;
    among Ready pods, those on the node with the most live pods of the Deployment ("doubled
    up") go first, and only then the most recently Ready. So a scale-down thins the fullest
    nodes and keeps one pod on each node as long as it can: the pods stay spread and no node
    empties until replicas drop below the node count (what the lab's real controller does;
    "most recently Ready first" alone would empty the newest nodes instead).
    """
    live = [p for p in pods if p.live]
    on_node: dict[str, int] = {}
    for pod in live:
        key = pod.node.name if pod.node else ""
        on_node[key] = on_node.get(key, 0) + 1
    rank = {id(p): on_node[p.node.name if p.node else ""] for p in live}

    def compare(a: Pod, b: Pod) -> int:
        if _scale_down_less(a, b, rank, now):
            return -1
        if _scale_down_less(b, a, rank, now):
            return 1
        return 0

    return sorted(live, key=functools.cmp_to_key(compare))
