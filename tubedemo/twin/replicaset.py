"""kube-controller-manager's ReplicaSet, as the twin models it: which pods go first when it
scales down. Pure."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from tubedemo.twin.pods import Pod


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


DeletionCost = Callable[[Pod], int]
"""A pod's controller.kubernetes.io/pod-deletion-cost (0 without the annotation)."""


def no_cost(pod: Pod) -> int:
    """No pod carries the annotation: rule 4 never decides."""
    return 0


def _scale_down_less(
    a: Pod, b: Pod, rank: dict[int, int], now: float, cost: DeletionCost = no_cost
) -> bool:
    """``ActivePodsWithRanks.Less`` of Kubernetes v1.34 pkg/controller/controller_utils.go (with
    LogarithmicScaleDown and PodDeletionCost, both on by default; no restarts in the twin, so
    rule 7 never decides). True: ``a`` is deleted before ``b``."""
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
    # 4. lower pod-deletion-cost < higher
    cost_a, cost_b = cost(a), cost(b)
    if cost_a != cost_b:
        return cost_a < cost_b
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


def node_price_cost(pod: Pod) -> int:
    """The deletion cost ``scaling.deletion_cost: node_price`` gives a pod: minus its node's
    $/h in thousandths (what gateway/deletion_cost.py writes in the cluster), 0 while it has
    no node."""
    return -round(pod.node.price_per_hour * 1000) if pod.node is not None else 0


def scale_down_order(pods: Sequence[Pod], now: float, cost: DeletionCost = no_cost) -> list[Pod]:
    """The ReplicaSet's live pods in the order it deletes them when it scales down. Pure.

    Ported from Kubernetes v1.34 pkg/controller/replicaset/replica_set.go (``getPodsToDelete``,
    ``getPodsRankedByRelatedPodsOnSameNode``) and pkg/controller/controller_utils.go
    (``ActivePodsWithRanks.Less``): unscheduled, then not started, then not Ready pods go first;
    among Ready pods, the lowest pod-deletion-cost first (``cost``: with ``node_price_cost``
    the pods of the most expensive nodes), then those on the node with the most live pods of
    the Deployment ("doubled up"), and only then the most recently Ready. Without costs a
    scale-down thins the fullest nodes and keeps one pod on each node as long as it can: the
    pods stay spread and no node empties until replicas drop below the node count (what the
    lab's real controller does; "most recently Ready first" alone would empty the newest nodes
    instead), and which node keeps the last replica is chance; with node prices it is the
    cheapest.
    """
    live = [p for p in pods if p.live]
    on_node: dict[str, int] = {}
    for pod in live:
        key = pod.node.name if pod.node else ""
        on_node[key] = on_node.get(key, 0) + 1
    rank = {id(p): on_node[p.node.name if p.node else ""] for p in live}

    def compare(a: Pod, b: Pod) -> int:
        if _scale_down_less(a, b, rank, now, cost):
            return -1
        if _scale_down_less(b, a, rank, now, cost):
            return 1
        return 0

    return sorted(live, key=functools.cmp_to_key(compare))
