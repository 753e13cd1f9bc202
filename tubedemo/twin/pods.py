"""Pods and the GPU nodes they run on, as plain data for the twin's world (``world.World``).

The controllers' decisions about them live beside: ``karpenter`` (which nodes to launch),
``replicaset`` (which pods go first on scale-down), ``hpa`` (how many replicas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tubedemo.telemetry.snapshot import StartupStep
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
class SpotNotice:
    """A spot interruption notice on a node and what followed it (talk seconds)."""

    node: Node
    at: float
    pods: int
    """Live vLLM pods on the node when the notice came."""
    evicted_at: float | None = None
    drained_at: float | None = None
    replaced_at: float | None = None
    """The first replica created at or after the notice turned Ready."""
    gone_at: float | None = None


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
    milestones: dict[StartupStep, float] = field(default_factory=dict)
    """When each start-up milestone is (or was) reached, planned at binding; empty for a pod
    that was serving before the talk."""
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
    def scraped(self) -> bool:
        """Its queue counts for the scaler: its engine runs and it is not terminating, Ready or
        not. The rendered collector keeps Running pods, not only Ready ones: a replica saturated
        at the peak may miss readiness probes and leave the Service, but its queue is still
        there (in the twin a pod never loses readiness; the lab's can, ``fleet.sync_pods``)."""
        return self.live and self.engine is not None

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
        if self.engine is not None:
            return "NotReady"  # it served, then failed its readiness probe (the lab's busy pod)
        if self.node is None:
            return "Unschedulable"
        if self.node.image_ready_at is not None and now < self.node.image_ready_at:
            return "PullingImage"
        return "LoadingModel"
