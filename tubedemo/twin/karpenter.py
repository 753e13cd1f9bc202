"""Karpenter's provisioning, as the twin models it: the pool's instance options and how one
batch of pending pods is packed onto new NodeClaims. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import TwinError
from tubedemo.twin.pods import CapacityType


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
