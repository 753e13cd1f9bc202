"""The spot drill in the lab: what Karpenter does when EC2's interruption notice reaches it,
done to the node of one vLLM replica.

On EKS, Karpenter's interruption controller reads the notice from its SQS queue and deletes the
node's NodeClaim at once (it does not wait out the two minutes): the NodeClaim's termination
finalizer taints the node and evicts its pods, the ReplicaSet makes a replacement, Karpenter
launches a node for it, and the instance goes. The lab's Karpenter (KWOK provider) has no
queue, so the drill deletes the NodeClaim itself: from there on it is the same path, with the
real controllers. The twin's drill is ``twin.startup.spot_interruptions`` (the oldest spot node).

``pick`` is the pure choice: the oldest NodeClaim (spot first, as EC2 interrupts spot only)
whose node carries a Ready vLLM pod; ``interrupt`` does it through ``tubedemo.cluster.api``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tubedemo.cluster.plan import Ref

NODECLAIM_API = "karpenter.sh/v1"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
VLLM_SELECTOR = "app.kubernetes.io/name=vllm"


@dataclass(frozen=True)
class Drill:
    """The node the drill interrupts and what ran there."""

    nodeclaim: str
    node: str
    capacity_type: str
    pods: tuple[str, ...]
    """The Ready vLLM pods on it (the replicas the room loses)."""


def _ready(pod: Mapping[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pick(
    pods: Sequence[Mapping[str, Any]], nodeclaims: Sequence[Mapping[str, Any]]
) -> Drill | None:
    """The NodeClaim to interrupt: among those whose node has a Ready vLLM pod, spot before
    on-demand, then the oldest (then by name). None when no replica serves on a NodeClaim's
    node. Pure."""
    serving: dict[str, list[str]] = {}
    for pod in pods:
        node = pod.get("spec", {}).get("nodeName")
        if node and _ready(pod):
            serving.setdefault(node, []).append(pod["metadata"]["name"])
    candidates = []
    for claim in nodeclaims:
        meta = claim.get("metadata", {})
        node = claim.get("status", {}).get("nodeName")
        if not node or node not in serving or meta.get("deletionTimestamp"):
            continue
        capacity = (meta.get("labels") or {}).get(CAPACITY_TYPE, "on-demand")
        key = (capacity != "spot", meta.get("creationTimestamp", ""), meta["name"])
        candidates.append((key, Drill(meta["name"], node, capacity, tuple(sorted(serving[node])))))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def interrupt(api: Any, namespace: str) -> Drill | None:
    """Delete the picked NodeClaim (``api``: a ``tubedemo.cluster.api.Api``), as Karpenter does
    on EC2's notice; None when no replica serves on a Karpenter node."""
    pods = api.list("v1", "Pod", namespace, VLLM_SELECTOR)
    claims = api.list(NODECLAIM_API, "NodeClaim")
    drill = pick(pods, claims)
    if drill is not None:
        api.delete(Ref(NODECLAIM_API, "NodeClaim", "", drill.nodeclaim))
    return drill
