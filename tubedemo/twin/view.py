"""The twin's cluster as the dashboard sees it: one ``world_view`` for ``simulate`` and the fleet.

``world_view(world, now)`` copies what the Kubernetes watches would report (pods, nodes, the
HPA's desired count and metric) out of a ``World`` into plain frozen data, cheap enough to take
every tick of a fast-forward. ``WorldView.replicas/nodes/hpa`` turn it into the Snapshot groups
(``ReplicaState``, ``NodeState``, ``HpaState``). ``simulate`` keeps one view per frame and builds
Snapshots later (only when recording); the rehearsal's fleet builds them at once for its
``/state`` endpoint. Both therefore report the same figures for the same world.

Pure: no clock, no files; ``now`` is talk seconds passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from tubedemo.core.config import ScalingConfig
from tubedemo.telemetry.snapshot import (
    GpuNode,
    HpaState,
    NodeClaimState,
    NodeState,
    PodState,
    ReplicaState,
)
from tubedemo.twin.cluster import CapacityType, PodPhase
from tubedemo.twin.world import World


@dataclass(frozen=True)
class PodView:
    """One pod that still exists (not yet gone), as ``kubectl get pod`` would show it."""

    name: str
    phase: PodPhase
    ready: bool
    """An endpoint of the Service: Ready and not terminating."""
    node: str | None
    created_at: float
    scheduled_at: float | None
    ready_at: float | None
    """When it became Ready; None while it is not (yet) Ready."""
    pending_reason: str | None


@dataclass(frozen=True)
class NodeView:
    """One GPU node or NodeClaim still alive."""

    name: str
    instance_type: str
    capacity_type: CapacityType
    ready: bool
    created_at: float
    ready_at: float
    price_per_hour: float
    disruption: str | None


@dataclass(frozen=True)
class WorldView:
    """The twin's cluster at ``time`` (talk seconds)."""

    time: float
    desired: int
    ready: int
    """Pods serving (Ready and not terminating)."""
    pending: int
    """Pods counted by the ReplicaSet but not Ready yet (unscheduled, pulling, loading)."""
    hpa_metric: float | None
    """The scaler's total metric (the formula's value) at the last HPA sync; None before one."""
    pods: tuple[PodView, ...]
    nodes: tuple[NodeView, ...]

    @property
    def live(self) -> int:
        """Pods the ReplicaSet counts (not terminating): the HPA's current replicas.

        ``ready + pending`` by construction: a live pod is either serving or not Ready yet,
        and a terminating pod is neither. (The two spellings used to be computed separately.)
        """
        return self.ready + self.pending

    def replicas(self, scaling: ScalingConfig) -> ReplicaState:
        now = self.time
        return ReplicaState(
            desired=self.desired,
            ready=self.ready,
            pending=self.pending,
            max=scaling.max_replicas,
            pods=tuple(
                PodState(
                    name=p.name,
                    phase=p.phase,
                    ready=p.ready,
                    node=p.node,
                    created_s_ago=now - p.created_at,
                    scheduled_to_ready_s=(
                        p.ready_at - p.scheduled_at
                        if p.ready_at is not None and p.scheduled_at is not None
                        else None
                    ),
                    created_to_ready_s=(
                        p.ready_at - p.created_at if p.ready_at is not None else None
                    ),
                    pending_reason=p.pending_reason,
                )
                for p in self.pods
            ),
        )

    def node_state(self) -> NodeState:
        now = self.time
        return NodeState(
            nodes=tuple(
                GpuNode(
                    name=n.name,
                    instance_type=n.instance_type,
                    capacity_type=n.capacity_type,
                    ready=True,
                    age_s=now - n.created_at,
                    launch_s=n.ready_at - n.created_at,
                    price_per_hour=n.price_per_hour,
                    disruption=n.disruption,
                )
                for n in self.nodes
                if n.ready
            ),
            launching=tuple(
                NodeClaimState(
                    name=n.name,
                    instance_type=n.instance_type,
                    capacity_type=n.capacity_type,
                    age_s=now - n.created_at,
                    stage="launched",
                )
                for n in self.nodes
                if not n.ready
            ),
        )

    def hpa(self, scaling: ScalingConfig) -> HpaState:
        live = self.live
        return HpaState(
            desired=self.desired,
            current=live,
            metric=self.hpa_metric / max(live, 1) if self.hpa_metric is not None else None,
            target=float(scaling.target),
            min=scaling.min_replicas,
            max=scaling.max_replicas,
        )


def world_view(world: World, now: float) -> WorldView:
    """The world's pods, nodes and HPA figures at ``now`` (the time ``world`` has run to)."""
    pods = [p for p in world.pods if p.gone_at is None]
    return WorldView(
        time=now,
        desired=world.desired,
        ready=sum(1 for p in pods if p.serving),
        pending=sum(1 for p in pods if p.live and not p.is_ready),
        hpa_metric=world.hpa_metric,
        pods=tuple(
            PodView(
                p.name,
                p.phase,
                p.serving,
                p.node.name if p.node is not None else None,
                p.created_at,
                p.scheduled_at,
                p.ready_at if p.is_ready else None,
                p.pending_reason(now),
            )
            for p in pods
        ),
        nodes=tuple(
            NodeView(
                n.name,
                n.instance_type,
                n.capacity_type,
                n.is_ready,
                n.created_at,
                n.ready_at,
                n.price_per_hour,
                n.disruption,
            )
            for n in world.nodes
            if n.alive
        ),
    )
