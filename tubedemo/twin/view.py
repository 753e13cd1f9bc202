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

import math
from dataclasses import dataclass

from tubedemo.core.config import ScalingConfig
from tubedemo.telemetry.snapshot import (
    GpuNode,
    HpaState,
    Interruption,
    NodeClaimState,
    NodeState,
    PodState,
    ReplicaState,
    StartupMark,
    StartupStep,
)
from tubedemo.twin.pods import CapacityType, Pod, PodPhase, SpotNotice
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
    startup: tuple[StartupMark, ...] = ()
    """The start-up milestones reached by the view's time (seconds after creation)."""


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
    interruptions: tuple[Interruption, ...] = ()
    """Spot interruption notices so far (``Interruption.notice_s_ago`` at ``time``)."""
    hpa_reactive: float | None = None
    """The formula's queue part at the last HPA sync (without the forecast)."""
    forecast: int | None = None
    """The timeline's forecast now (replicas); None when scaling is not proactive."""

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
                    startup=p.startup,
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
            reactive=(
                math.ceil(self.hpa_reactive / scaling.target - 1e-9)
                if self.hpa_reactive is not None
                else None
            ),
            forecast=self.forecast,
        )


def startup_marks(pod: Pod, now: float) -> tuple[StartupMark, ...]:
    """The milestones ``pod`` has reached by ``now``, as the twin's start-up model plans them:
    node Ready and scheduled, then the pod's own steps; none for the warm replica."""
    if not pod.milestones or pod.node is None or pod.scheduled_at is None:
        return ()
    times: dict[StartupStep, float] = {
        "node_ready": pod.node.ready_at,
        "scheduled": pod.scheduled_at,
        **pod.milestones,
    }
    return tuple(
        StartupMark(step=step, at_s=at - pod.created_at, source="twin")
        for step, at in times.items()
        if at <= now
    )


def interruption(notice: SpotNotice, now: float, notice_s: float) -> Interruption:
    """One notice as the dashboard shows it at ``now``."""

    def after(at: float | None) -> float | None:
        return at - notice.at if at is not None and at <= now else None

    node = notice.node
    return Interruption(
        node=node.name,
        instance_type=node.instance_type,
        notice_s_ago=now - notice.at,
        notice_s=notice_s,
        pods=notice.pods,
        pods_left=sum(1 for p in node.pods if p.gone_at is None),
        evicted_s=after(notice.evicted_at),
        drained_s=after(notice.drained_at),
        replaced_s=after(notice.replaced_at),
        gone_s=after(notice.gone_at),
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
        hpa_reactive=world.hpa_reactive,
        forecast=round(world.forecast_now) if world.forecast else None,
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
                startup_marks(p, now),
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
        interruptions=tuple(
            interruption(n, now, world.config.twin.startup.spot_notice) for n in world.notices
        ),
    )
