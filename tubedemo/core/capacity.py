"""What the GPU pool may launch: vCPUs and network bandwidth per instance type, and the most
vCPUs Karpenter can bring up within the NodePool's limits (the G/VT quota the account needs).
Pure.

Karpenter picks among every type the NodePool allows: the cheapest that fits one batch, and on
spot EC2 Fleet's price-capacity-optimized choice among them, so any allowed type may come up
(a scarce g5.2xlarge makes it launch g5.4xlarge). A quota below the most it may launch gets
``MaxSpotInstanceCountExceeded`` mid-burst: Karpenter then marks that offering unavailable for 3
minutes and the pool tops out below its GPU limit. Hence the need is the worst case over the
allowed types, not the twin's one packing of the default talk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VCPUS: dict[str, int] = {
    "g5.xlarge": 4,
    "g5.2xlarge": 8,
    "g5.4xlarge": 16,
    "g5.8xlarge": 32,
    "g5.12xlarge": 48,
    "g5.16xlarge": 64,
    "g5.24xlarge": 96,
    "g5.48xlarge": 192,
    "g6.xlarge": 4,
    "g6.2xlarge": 8,
    "g6.4xlarge": 16,
    "g6.8xlarge": 32,
    "g6.12xlarge": 48,
    "g6.16xlarge": 64,
    "g6.24xlarge": 96,
    "g6.48xlarge": 192,
}
"""vCPUs per instance type (EC2 instance type specifications)."""

NETWORK_GBPS: dict[str, float] = {
    "g5.xlarge": 10.0,
    "g5.2xlarge": 10.0,
    "g5.4xlarge": 25.0,
    "g5.8xlarge": 25.0,
    "g5.12xlarge": 40.0,
    "g5.16xlarge": 25.0,
    "g5.24xlarge": 50.0,
    "g5.48xlarge": 100.0,
    "g6.xlarge": 10.0,
    "g6.2xlarge": 10.0,
    "g6.4xlarge": 25.0,
    "g6.8xlarge": 25.0,
    "g6.12xlarge": 40.0,
    "g6.16xlarge": 25.0,
    "g6.24xlarge": 50.0,
    "g6.48xlarge": 100.0,
}
"""Network bandwidth per instance type (Gbit/s; EC2 instance type specifications). Up to 8xlarge
it is an "up to" figure: the burst a freshly launched node has credit for (5-60 min), which is
what one replica's start-up uses. One flow is capped at 5 Gbit/s, so the weights need parallel
streams to reach it."""


@dataclass(frozen=True)
class VcpuNeed:
    """The most vCPUs the pool may hold at once, and one set of nodes that reaches it."""

    vcpus: int
    nodes: tuple[str, ...]
    """Instance types (one per node) of a launch that reaches ``vcpus``."""
    capped_by_cpu_limit: bool
    """The NodePool's cpu limit, not its GPU limit, bounds the need."""

    @property
    def example(self) -> str:
        """``10 x g5.4xlarge`` or ``2 x g5.12xlarge + 2 x g5.2xlarge``."""
        counts: dict[str, int] = {}
        for name in self.nodes:
            counts[name] = counts.get(name, 0) + 1
        return " + ".join(f"{n} x {t}" for t, n in sorted(counts.items(), key=lambda i: -i[1]))


def most_vcpus(
    instance_types: Sequence[str],
    gpus_per_node: Mapping[str, int],
    gpu_limit: int,
    cpu_limit: int,
) -> VcpuNeed:
    """The most vCPUs of nodes of ``instance_types`` whose GPUs stay within ``gpu_limit`` (an
    unbounded knapsack over the types), never more than ``cpu_limit``: what Karpenter may
    launch before the NodePool's limits stop it. Types missing from ``VCPUS`` or with no GPU
    count are skipped (they cannot be launched for a GPU pod either)."""
    types = [t for t in instance_types if t in VCPUS and gpus_per_node.get(t, 0) >= 1]
    best: list[tuple[int, tuple[str, ...]]] = [(0, ())] * (gpu_limit + 1)
    for gpus in range(1, gpu_limit + 1):
        best[gpus] = best[gpus - 1]
        for t in types:
            g = gpus_per_node[t]
            if g <= gpus:
                vcpus, nodes = best[gpus - g]
                if vcpus + VCPUS[t] > best[gpus][0]:
                    best[gpus] = (vcpus + VCPUS[t], (*nodes, t))
    vcpus, nodes = best[gpu_limit]
    if vcpus > cpu_limit:
        return VcpuNeed(cpu_limit, nodes, True)
    return VcpuNeed(vcpus, nodes, False)
