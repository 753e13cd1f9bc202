"""Karpenter as the twin's world runs it (``world.World`` inherits this): the batcher that
gathers pending pods, provisioning onto NodeClaims (``karpenter.pack`` decides the instances),
a node's launch and Ready, the disruption loop that consolidates empty nodes, spot
interruptions, and the drain that honours the vLLM PodDisruptionBudget.

The world's clock, its pods and its ReplicaSet live in ``world``; this is the node side of the
same discrete-event loop, on the same state (declared below for the type checker), so the world
module holds the loop and the pods and this one the GPU nodes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from tubedemo.core.config import DemoConfig
from tubedemo.twin.karpenter import InstanceChoice, pack
from tubedemo.twin.pods import CapacityType, Node, Pod, SpotNotice

PDB_MAX_UNAVAILABLE = 1
"""maxUnavailable of the vLLM PodDisruptionBudget that templates/vllm.yaml.j2 renders."""

DRAIN_RETRY = 5.0
"""Seconds between Karpenter's eviction attempts on a node it drains (s)."""

LOCAL_NODE_TYPE = "local"
"""The instance type shown for the local profile's node: the kind/k3d cluster's own machine."""
LOCAL_NODE_PODS = 110
"""Stand-in pods the local node holds: kubelet's default maxPods (a stand-in asks 100m CPU and
128 Mi, templates/vllm.yaml.j2), more than any max_replicas the HPA may ask for."""


class KarpenterLoop:
    """The GPU nodes' half of ``world.World``: Karpenter's provisioning and disruption."""

    # The world's state this half reads and moves (World.__init__ sets it).
    config: DemoConfig
    now: float
    pods: list[Pod]
    placeholders: list[Pod]
    nodes: list[Node]
    notices: list[SpotNotice]
    desired: int
    karpenter: bool
    capacity_type: CapacityType
    _options: list[InstanceChoice]
    _node_names: itertools.count[int]
    _batch_start: float | None
    _batch_due: float
    _batch_pods: set[str]

    if TYPE_CHECKING:  # the world's clock and pods (world.World)

        def at(self, time: float, action: Callable[[], None]) -> None: ...
        def log(self, kind: str, message: str) -> None: ...
        def _bind(self, pod: Pod, node: Node, ready_at: float | None = None) -> None: ...
        def _kill(self, pod: Pod, reason: str) -> None: ...
        def _delete_pod(self, pod: Pod, why: str) -> None: ...
        def _reconcile_replicaset(self) -> None: ...
        def _pending_pods(self) -> list[Pod]: ...
        def _hold(self, pod: Pod, node: Node) -> None: ...

    def _want_nodes(self, pod: Pod) -> None:
        """A pending pod triggers Karpenter's batcher (pkg/controllers/provisioning/batcher.go):
        the first trigger opens a window; each *new* pod within it restarts the idle timer
        (BATCH_IDLE_DURATION) up to BATCH_MAX_DURATION from the window's start; then one
        scheduling round packs the whole batch."""
        if not self.karpenter:
            self.log("info", f"{pod.name} pending: the local node holds {LOCAL_NODE_PODS} pods")
            return
        startup = self.config.twin.startup
        if self._batch_start is None:
            self._batch_start = self.now
            self._batch_pods = set()
            self._batch_due = self.now + startup.provisioning_batch
            self.at(self._batch_due, self._batch_check)
        if pod.name not in self._batch_pods:
            self._batch_pods.add(pod.name)
            self._batch_due = min(
                self.now + startup.provisioning_batch,
                self._batch_start + startup.provisioning_batch_max,
            )

    def _batch_check(self) -> None:
        if self._batch_start is None:
            return
        if self.now < self._batch_due - 1e-9:
            self.at(self._batch_due, self._batch_check)
            return
        self._batch_start = None
        self._provision()

    def _provision(self) -> None:
        pending = self._pending_pods()
        in_flight = [n for n in self.nodes if n.alive and not n.is_ready]
        slots = {
            id(n): n.free_gpus - sum(1 for p in pending if p.nominated is n) for n in in_flight
        }
        unplaced: list[Pod] = []
        for pod in pending:
            if pod.nominated is not None and pod.nominated.alive:
                continue
            # addToExistingNode: in-flight NodeClaims from earlier rounds first.
            spot = next((n for n in in_flight if slots[id(n)] > 0), None)
            if spot is not None:
                pod.nominated = spot
                slots[id(spot)] -= 1
            else:
                unplaced.append(pod)
        if not unplaced:
            return
        used = sum(n.gpus for n in self.nodes if n.alive)
        budget = self.config.gpu_pool.gpu_limit - used
        claims, left = pack(self._options, len(unplaced), budget)
        if left:
            self.log("info", f"{left} pod(s) pending: gpu_pool.gpu_limit reached")
        queue = list(unplaced)
        for claim in claims:
            choice = claim.launch
            node = self._launch(choice.instance_type, choice.gpus, choice.price_per_hour)
            for _ in range(claim.pods):
                if queue:
                    queue.pop(0).nominated = node

    def _launch(self, instance_type: str, gpus: int, price: float, why: str = "") -> Node:
        startup = self.config.twin.startup
        delay = startup.node_launch_by_type.get(instance_type, startup.node_launch)
        node = self._new_node(instance_type, gpus, price, self.now + delay)
        self.log(
            "node_launched", f"{node.name} {instance_type} ({self.capacity_type}) launching{why}"
        )
        self.at(node.ready_at, functools.partial(self._node_ready, node))
        return node

    def _new_node(
        self, instance_type: str, gpus: int, price: float, ready_at: float, name: str = ""
    ) -> Node:
        node = Node(
            name=name or f"gpu-node-{next(self._node_names)}",
            instance_type=instance_type,
            capacity_type=self.capacity_type,
            gpus=gpus,
            created_at=self.now,
            ready_at=ready_at,
            price_per_hour=price,
        )
        self.nodes.append(node)
        return node

    def _node_ready(self, node: Node) -> None:
        if not node.alive:
            return
        node.is_ready = True
        # the scheduler's queue: priority (vLLM before placeholders), then the pods nominated
        # to this node, then the oldest
        queue = sorted(
            self._pending_pods(),
            key=lambda p: (p in self.placeholders, p.nominated is not node, p.created_at),
        )
        for pod in queue:
            if node.free_gpus <= 0:
                break
            if pod in self.placeholders:
                self._hold(pod, node)
            else:
                self._bind(pod, node)
        replacing = node.replaces is not None and node.replaces.alive
        if not node.pods and not replacing:
            node.empty_since = self.now
        for pod in self._pending_pods():
            self._want_nodes(pod)

    def _disruption_blocked_until(self) -> float | None:
        talk = self.config.talk
        if talk.window_start is None:
            return None
        # The twin's clock starts at window_start: the talk begins when the window opens.
        return talk.window

    def _pod_event(self, node: Node) -> None:
        """A pod bound to the node or began terminating on it: the NodeClaim's lastPodEventTime
        moves, unless it moved within ``pod_event_dedupe`` (Karpenter
        pkg/controllers/nodeclaim/podevents/controller.go)."""
        last = node.last_pod_event
        if last is None or self.now - last >= self.config.twin.startup.pod_event_dedupe:
            node.last_pod_event = self.now

    def _empty_candidates(self) -> list[Node]:
        """The nodes Karpenter's Emptiness method would delete now, as
        pkg/controllers/disruption/emptiness.go and nodeclaim/disruption/consolidation.go decide:
        no live pod on it (a terminating pod is not reschedulable, so it does not count), the
        NodeClaim Consolidatable (consolidateAfter elapsed since its lastPodEventTime, or since
        it was initialized), and the NodePool's budget for Empty not 0 (the talk window)."""
        blocked = self._disruption_blocked_until()
        if blocked is not None and self.now < blocked:
            return []
        after = self.config.gpu_pool.consolidate_after
        out = []
        for node in self.nodes:
            if not node.alive or not node.is_ready or node.terminating_at is not None:
                continue
            if node.interrupted_at is not None:
                continue
            if node.replaces is not None and node.replaces.alive:
                continue
            if any(p.live for p in node.pods):
                continue
            since = node.last_pod_event if node.last_pod_event is not None else node.ready_at
            if self.now < since + after - 1e-9:
                continue
            out.append(node)
        return out

    def _disruption_loop(self) -> None:
        """One pass of Karpenter's disruption controller over empty nodes.

        sigs.k8s.io/karpenter v1.14 pkg/controllers/disruption/controller.go ``Reconcile``: when
        no method acts it requeues after ``pollingPeriod`` (10 s); Emptiness
        (emptiness.go ``ComputeCommands``) takes every empty consolidatable node the budget
        allows, then waits ``commandValidationDelay`` (15 s, consolidation.go) and validates
        them again (validation.go ``EmptinessValidator``): the nodes still empty are deleted,
        and if none is, the attempt is abandoned ("pod churn"). After a command the loop runs
        again at once. So an empty node goes consolidateAfter + up to 10 s + 15 s after its last
        pod event, not after consolidateAfter alone.
        """
        startup = self.config.twin.startup
        poll = max(startup.disruption_poll, 1e-3)
        chosen = self._empty_candidates()
        if not chosen:
            self.at(self.now + poll, self._disruption_loop)
            return

        def validate() -> None:
            still = self._empty_candidates()
            valid = [n for n in chosen if n in still]
            if not valid:
                self.at(self.now + poll, self._disruption_loop)
                return
            for node in valid:
                node.disruption = "consolidated"
                node.terminating_at = self.now
                if not node.pods:
                    self._node_gone(node)
            self._disruption_loop()

        self.at(self.now + startup.consolidation_validation, validate)

    def _node_gone(self, node: Node) -> None:
        """A consolidated node's instance is terminated once its draining pods are gone."""
        if not node.alive:
            return
        node.gone_at = self.now
        self.log("node_removed", f"{node.name} consolidated (empty)")

    def _spot_interruption(self) -> None:
        candidates = [
            n
            for n in self.nodes
            if n.alive and n.is_ready and n.capacity_type == "spot" and n.interrupted_at is None
        ]
        if not candidates:
            self.log("info", "spot interruption injected, but no spot node is running")
            return
        node = min(candidates, key=lambda n: n.created_at)
        node.interrupted_at = self.now
        node.disruption = "interrupted"
        notice = SpotNotice(node, self.now, pods=sum(1 for p in node.pods if p.live))
        self.notices.append(notice)
        self.log("spot_interruption", f"{node.name} gets a spot interruption notice")
        # "For Spot interruptions, the NodePool will start a new node as soon as it sees the
        # Spot interruption warning" (Karpenter docs, Disruption > Interruption).
        used = sum(n.gpus for n in self.nodes if n.alive and n is not node)
        if used + node.gpus <= self.config.gpu_pool.gpu_limit:
            spare = self._launch(
                node.instance_type, node.gpus, node.price_per_hour, f" to replace {node.name}"
            )
            spare.replaces = node
        self._drain(node)

        def terminate() -> None:
            for pod in list(node.pods):
                self._kill(pod, "node terminated")
            self._reconcile_replicaset()
            node.gone_at = self.now
            notice.gone_at = self.now
            if notice.drained_at is None:
                notice.drained_at = self.now
            self.log("node_removed", f"{node.name} reclaimed by EC2")
            for spare in self.nodes:
                if spare.replaces is node and spare.alive and spare.is_ready and not spare.pods:
                    spare.empty_since = self.now

        self.at(self.now + self.config.twin.startup.spot_notice, terminate)

    def _eviction_allowed(self, pod: Pod) -> bool:
        """The vLLM PodDisruptionBudget (maxUnavailable) lets this eviction through."""
        healthy = sum(1 for p in self.pods if p.serving)
        desired_healthy = self.desired - PDB_MAX_UNAVAILABLE
        if pod.serving:
            return healthy - 1 >= desired_healthy
        # An unready pod may go while the budget is healthy (IfHealthyBudget, the default).
        return healthy >= desired_healthy

    def _drain(self, node: Node) -> None:
        """Karpenter's drain of a disrupted node: evict what the PDB allows, retry the rest."""
        if not node.alive:
            return
        evicted = False
        for pod in list(node.pods):
            if pod.live and self._eviction_allowed(pod):
                self._delete_pod(pod, "evicted")
                evicted = True
        if evicted:
            for notice in self.notices:
                if notice.node is node and notice.evicted_at is None:
                    notice.evicted_at = self.now
            self._reconcile_replicaset()
        if any(p.live for p in node.pods):
            self.at(self.now + DRAIN_RETRY, lambda: self._drain(node))
