"""Kubernetes objects (plain JSON dicts from the watches) -> the Snapshot's groups. Pure.

The watches in ``tubedemo.cluster.watch`` keep the latest objects; these functions only read
them, so they are tested with objects a real API server returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tubedemo.telemetry import vllm_log
from tubedemo.telemetry.assembler import MetricsTarget
from tubedemo.telemetry.snapshot import (
    STARTUP_STEPS,
    CapacityType,
    GpuNode,
    HpaState,
    MarkSource,
    NodeClaimState,
    NodeState,
    PodPhase,
    PodState,
    ReplicaState,
    StartupMark,
    StartupStep,
)
from tubedemo.telemetry.vllm_log import VllmStartup

Obj = Mapping[str, Any]

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
DISRUPTED_TAINT = "karpenter.sh/disrupted"
SPOT_INTERRUPTED = "SpotInterrupted"
"""Reason of the Event Karpenter's AWS provider records on a NodeClaim and its Node."""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _conditions(obj: Obj) -> dict[str, Mapping[str, Any]]:
    status = obj.get("status") or {}
    return {str(c.get("type")): c for c in status.get("conditions") or [] if isinstance(c, Mapping)}


def _true_since(obj: Obj, kind: str) -> datetime | None:
    cond = _conditions(obj).get(kind)
    if cond is None or cond.get("status") != "True":
        return None
    return _time(cond.get("lastTransitionTime")) or _time(_meta(obj).get("creationTimestamp"))


def _is_true(obj: Obj, kind: str) -> bool:
    cond = _conditions(obj).get(kind)
    return cond is not None and cond.get("status") == "True"


def _age(obj: Obj, now: datetime) -> float:
    created = _time(_meta(obj).get("creationTimestamp"))
    return max(0.0, (now - created).total_seconds()) if created else 0.0


def _capacity(value: object) -> CapacityType | None:
    if value == "spot":
        return "spot"
    if value == "on-demand":
        return "on-demand"
    return None


# --- pods and the Deployment ------------------------------------------------------------------


def _pending_reason(pod: Obj) -> str | None:
    conditions = _conditions(pod)
    scheduled = conditions.get("PodScheduled")
    if scheduled is None or scheduled.get("status") != "True":
        return str(scheduled.get("reason") or "Unschedulable") if scheduled else "Pending"
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if isinstance(waiting, Mapping) and waiting.get("reason"):
            return str(waiting["reason"])
    if status.get("phase") == "Running":
        return "Starting"  # container up, model not loaded yet (readiness not passed)
    return str(status.get("phase") or "Pending")


def startup_marks(
    pod: Obj, node_ready_at: datetime | None = None, log: VllmStartup | None = None
) -> tuple[StartupMark, ...]:
    """A pod's start-up milestones (the waterfall's bars), each in seconds after the pod's
    creation: from what the API server holds, its node's Ready condition, PodScheduled, the
    container's ``startedAt`` and Ready (on EKS the kubelet sets them; in the lab, the KWOK
    stages), and from vLLM's own log lines, when ``log`` has them, weights loaded and compiled
    (without them the bar runs from the container's start to Ready in one segment). Pure."""
    created = _time(_meta(pod).get("creationTimestamp"))
    if created is None:
        return ()
    running = None
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        state = (status or {}).get("state") or {}
        started = _time((state.get("running") or {}).get("startedAt"))
        if started is not None and (status.get("name") == "vllm" or running is None):
            running = started
    found: list[tuple[StartupStep, datetime | None, MarkSource]] = [
        ("node_ready", node_ready_at, "node"),
        ("scheduled", _true_since(pod, "PodScheduled"), "pod"),
        ("container_started", running, "pod"),
        ("ready", _true_since(pod, "Ready"), "pod"),
    ]
    marks = [
        StartupMark(step=step, at_s=round((when - created).total_seconds(), 3), source=source)
        for step, when, source in found
        if when is not None
    ]
    marks += vllm_log.startup_marks(log, created) if log is not None else ()
    return tuple(sorted(marks, key=lambda m: STARTUP_STEPS.index(m.step)))


def node_ready_times(nodes: Sequence[Obj]) -> dict[str, datetime]:
    """Node name -> when its Ready condition last became True. Pure."""
    out = {}
    for node in nodes:
        since = _true_since(node, "Ready")
        if since is not None:
            out[str(_meta(node).get("name"))] = since
    return out


def pod_state(
    pod: Obj, now: datetime, node_ready_at: datetime | None = None, log: VllmStartup | None = None
) -> PodState:
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    phase_text = str(status.get("phase") or "Pending")
    phase: PodPhase = (
        phase_text  # type: ignore[assignment]
        if phase_text in ("Pending", "Running", "Succeeded", "Failed", "Unknown")
        else "Unknown"
    )
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    created = _time(meta.get("creationTimestamp"))
    scheduled = _true_since(pod, "PodScheduled")
    ready_at = _true_since(pod, "Ready")
    ready = ready_at is not None and phase != "Terminating"
    return PodState(
        name=str(meta.get("name", "?")),
        phase=phase,
        ready=ready,
        node=spec.get("nodeName") or None,
        created_s_ago=_age(pod, now),
        scheduled_to_ready_s=(
            max(0.0, (ready_at - scheduled).total_seconds()) if ready_at and scheduled else None
        ),
        created_to_ready_s=(
            max(0.0, (ready_at - created).total_seconds()) if ready_at and created else None
        ),
        pending_reason=None if ready else _pending_reason(pod),
        startup=startup_marks(pod, node_ready_at, log),
    )


def replica_state(
    deployment: Obj | None,
    pods: Sequence[Obj],
    now: datetime,
    max_replicas: int | None = None,
    nodes: Sequence[Obj] = (),
    logs: Mapping[str, VllmStartup] | None = None,
) -> ReplicaState:
    """``nodes``: the GPU nodes, for each pod's node-Ready milestone (none: that bar segment
    starts at the pod's binding); ``logs``: pod uid -> what vLLM's log said, for the weights
    and compile milestones."""
    ready_at = node_ready_times(nodes)
    logs = logs or {}
    states = sorted(
        (
            pod_state(
                p,
                now,
                ready_at.get((p.get("spec") or {}).get("nodeName") or ""),
                logs.get(str(_meta(p).get("uid") or "")),
            )
            for p in pods
        ),
        key=lambda p: (-p.created_s_ago, p.name),
    )
    desired = 0
    if deployment is not None:
        desired = int((deployment.get("spec") or {}).get("replicas", 1) or 0)
    ready = sum(1 for p in states if p.ready)
    pending = sum(1 for p in states if not p.ready and p.phase not in ("Terminating", "Succeeded"))
    return ReplicaState(
        desired=desired, ready=ready, pending=pending, max=max_replicas, pods=tuple(states)
    )


def metrics_targets(
    pods: Sequence[Obj], namespace: str, port: int, direct: bool = False
) -> tuple[MetricsTarget, ...]:
    """Ready, not terminating pods: the ones whose /metrics describe serving replicas.

    ``direct`` scrapes each pod's IP (the dashboard runs where pod IPs are reachable); otherwise
    the target names the pod for the API server's pod proxy.
    """
    targets = []
    for pod in pods:
        meta = _meta(pod)
        if meta.get("deletionTimestamp") or not _is_true(pod, "Ready"):
            continue
        name = str(meta.get("name"))
        ip = (pod.get("status") or {}).get("podIP")
        if direct:
            if not ip:
                continue
            host = f"[{ip}]" if ":" in str(ip) else str(ip)
            targets.append(MetricsTarget(name=name, url=f"http://{host}:{port}/metrics"))
        else:
            targets.append(MetricsTarget(name=name, namespace=namespace, port=port))
    return tuple(sorted(targets, key=lambda t: t.name))


# --- nodes and NodeClaims ---------------------------------------------------------------------


def interrupted_names(events: Sequence[Obj]) -> frozenset[str]:
    """Nodes and NodeClaims that Karpenter's SpotInterrupted events name."""
    return frozenset(
        str((e.get("involvedObject") or {}).get("name"))
        for e in events
        if e.get("reason") == SPOT_INTERRUPTED
    )


def node_state(
    nodes: Sequence[Obj],
    claims: Sequence[Obj],
    now: datetime,
    interrupted: frozenset[str] = frozenset(),
) -> NodeState:
    claim_by_node = {
        str((c.get("status") or {}).get("nodeName")): c
        for c in claims
        if (c.get("status") or {}).get("nodeName")
    }
    gpu_nodes = []
    ready_names = set()
    for node in nodes:
        meta = _meta(node)
        name = str(meta.get("name", "?"))
        labels = meta.get("labels") or {}
        ready_at = _true_since(node, "Ready")
        if ready_at is not None:
            ready_names.add(name)
        claim = claim_by_node.get(name)
        started = _time(_meta(claim or node).get("creationTimestamp"))
        taints = (node.get("spec") or {}).get("taints") or []
        disruption = None
        if meta.get("deletionTimestamp"):
            disruption = "deleting"
        if any(t.get("key") == DISRUPTED_TAINT for t in taints if isinstance(t, Mapping)):
            disruption = "disrupted"
        if claim is not None and _is_true(claim, "DisruptionReason"):
            # Underutilized, Empty, Drifted, ...: why Karpenter chose to take it away
            reason = str(_conditions(claim)["DisruptionReason"].get("reason") or "disrupted")
            disruption = reason.lower()
        claim_name = str(_meta(claim).get("name")) if claim is not None else None
        if name in interrupted or (claim_name is not None and claim_name in interrupted):
            disruption = "interrupted"
        gpu_nodes.append(
            GpuNode(
                name=name,
                instance_type=str(labels.get(INSTANCE_TYPE, "unknown")),
                capacity_type=_capacity(labels.get(CAPACITY_TYPE)) or "on-demand",
                ready=ready_at is not None,
                age_s=_age(node, now),
                launch_s=(
                    max(0.0, (ready_at - started).total_seconds()) if ready_at and started else None
                ),
                disruption=disruption,
            )
        )
    launching = []
    for claim in claims:
        node_name = (claim.get("status") or {}).get("nodeName")
        if node_name and node_name in ready_names:
            continue
        labels = _meta(claim).get("labels") or {}
        stage = "pending"
        for kind, label in (
            ("Launched", "launched"),
            ("Registered", "registered"),
            ("Initialized", "initialized"),
        ):
            if _is_true(claim, kind):
                stage = label
        launching.append(
            NodeClaimState(
                name=str(_meta(claim).get("name", "?")),
                instance_type=labels.get(INSTANCE_TYPE),
                capacity_type=_capacity(labels.get(CAPACITY_TYPE)),
                age_s=_age(claim, now),
                stage=stage,
            )
        )
    gpu_nodes.sort(key=lambda n: (-n.age_s, n.name))
    launching.sort(key=lambda c: (-c.age_s, c.name))
    return NodeState(nodes=tuple(gpu_nodes), launching=tuple(launching))


# --- the HPA that KEDA owns --------------------------------------------------------------------

_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
}


def quantity(value: object) -> float | None:
    """A Kubernetes quantity ("1500m", "2k", "3") as a float; None when absent or malformed."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if suffix and value.endswith(suffix):
            number, factor = value[: -len(suffix)], _SUFFIX[suffix]
            break
    else:
        number, factor = value, Decimal(1)
    try:
        return float(Decimal(number) * factor)
    except InvalidOperation:
        return None


def _metric_value(block: Mapping[str, Any] | None) -> float | None:
    if not block:
        return None
    for key in ("averageValue", "value", "averageUtilization"):
        if key in block:
            return quantity(block[key])
    return None


def hpa_state(hpa: Obj | None) -> HpaState:
    if hpa is None:
        return HpaState()
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    target = current = None
    for metric in spec.get("metrics") or []:
        source = metric.get(str(metric.get("type", "")).lower() or "external") or {}
        target = _metric_value(source.get("target"))
        break
    for metric in status.get("currentMetrics") or []:
        source = metric.get(str(metric.get("type", "")).lower() or "external") or {}
        current = _metric_value(source.get("current"))
        break
    return HpaState(
        desired=status.get("desiredReplicas"),
        current=status.get("currentReplicas"),
        metric=current,
        target=target,
        min=spec.get("minReplicas"),
        max=spec.get("maxReplicas"),
        problem=_hpa_problem(hpa),
    )


def _hpa_problem(hpa: Obj) -> str | None:
    conditions = _conditions(hpa)
    for kind in ("AbleToScale", "ScalingActive"):
        cond = conditions.get(kind)
        if cond is not None and cond.get("status") == "False":
            return str(cond.get("reason") or f"{kind} is False")
    return None


def hpa_for(hpas: Sequence[Obj], deployment: str) -> Obj | None:
    """The HPA scaling ``deployment`` (KEDA names it keda-hpa-<scaledobject>)."""
    for hpa in hpas:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == deployment:
            return hpa
    return None
