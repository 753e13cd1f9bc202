"""Pods, GPU nodes and Karpenter's instance choice, as plain data for the twin's world."""

from __future__ import annotations

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
