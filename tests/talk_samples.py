"""Deterministic snapshots of a short scripted talk: the fixed input of golden, replay and report
tests. Built from the Snapshot model only, so they change when (and only when) the model does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tubedemo.core.config import PriceTable
from tubedemo.telemetry.cost import advance, priced
from tubedemo.telemetry.events import derive_events
from tubedemo.telemetry.snapshot import (
    AudienceState,
    CostState,
    GatewayState,
    GpuNode,
    HpaState,
    K6State,
    NodeClaimState,
    NodeState,
    PerfState,
    PodState,
    QueueState,
    ReplicaState,
    Snapshot,
    StartupMark,
    TalkState,
)

START = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
PHASES = [
    ("warm-up", 0, 60),
    ("audience joins", 60, 120),
    ("steady", 180, 120),
    ("survey", 300, 60),
]
CUES = {
    "audience joins": "Everyone asks now: watch the queue grow.",
    "steady": "Explain the loop: collector -> scaler -> HPA -> Karpenter.",
    "survey": "Survey time: rate the talk.",
}


def _clock(t: float) -> TalkState:
    current = next((p for p in PHASES if p[1] <= t < p[1] + p[2]), None)
    upcoming = next((p for p in PHASES if p[1] > t), None)
    return TalkState(
        elapsed_s=t,
        duration_s=360.0,
        phase=current[0] if current else None,
        phase_remaining_s=(current[1] + current[2] - t) if current else None,
        next_phase=upcoming[0] if upcoming else None,
        next_cue=CUES.get(upcoming[0]) if upcoming else None,
        next_in_s=(upcoming[1] - t) if upcoming else None,
    )


def _queue_at(t: float) -> int:
    if t < 70:
        return 0
    if t < 150:
        return int((t - 70) / 4)  # grows to 20
    if t < 240:
        return max(0, 20 - int((t - 150) / 4))
    return 0


def talk_history(seconds: int = 360, step: int = 2) -> list[Snapshot]:
    """A 6-minute talk: queue builds at 70 s, HPA scales 1 -> 5 at 90 s, nodes launch ~45 s later,
    pods get ready ~95 s after scheduling, survey at 300 s. One snapshot every ``step`` s."""
    prices = PriceTable()
    history: list[Snapshot] = []
    for t in range(0, seconds, step):
        now = START + timedelta(seconds=t)
        waiting = _queue_at(t)
        desired = 1 if t < 90 else (5 if t < 270 else 3)
        pods, nodes, launching = _cluster_at(t, desired)
        prev = history[-1] if history else None
        node_state = NodeState(nodes=priced(prices, nodes), launching=tuple(launching))
        cost = advance(
            prev.cost if prev else None, prev.time if prev else None, now, node_state.per_hour
        )
        snapshot = _snapshot(t, now, waiting, desired, pods, node_state, cost)
        snapshot = snapshot.model_copy(update={"events": derive_events(prev, snapshot)})
        history.append(snapshot)
    return history


def _cluster_at(t: int, desired: int) -> tuple[list[PodState], list[GpuNode], list[NodeClaimState]]:
    """The pods, GPU nodes and launching NodeClaims at ``t``: vllm-0 on its warm node, and each
    replica the scale-up at 90 s adds through its NodeClaim, node and start-up marks."""
    pods = [
        PodState(
            name="vllm-0",
            phase="Running",
            ready=True,
            node="gpu-a",
            created_s_ago=600 + t,
            scheduled_to_ready_s=182.0,
            created_to_ready_s=230.0,
        )
    ]
    nodes = [
        GpuNode(
            name="gpu-a",
            instance_type="g5.2xlarge",
            capacity_type="spot",
            ready=True,
            age_s=700 + t,
            launch_s=41.0,
        )
    ]
    launching: list[NodeClaimState] = []
    for i in range(1, min(desired, 5)):
        created = 90.0
        age = t - created
        if age < 0:
            continue
        name = f"vllm-{i}"
        node_ready_at = 45 + 3 * i
        node_name = f"gpu-{'bcde'[i - 1]}"
        if age < node_ready_at:
            pods.append(PodState(name=name, created_s_ago=age, pending_reason="Unschedulable"))
            launching.append(
                NodeClaimState(
                    name=f"tubedemo-gpu-{i}",
                    instance_type="g5.2xlarge" if age > 10 else None,
                    capacity_type=("on-demand" if i == 4 else "spot") if age > 10 else None,
                    age_s=age,
                    stage="launched" if age > 10 else "pending",
                )
            )
            continue
        nodes.append(
            GpuNode(
                name=node_name,
                instance_type="g5.2xlarge",
                capacity_type="on-demand" if i == 4 else "spot",
                ready=True,
                age_s=age - 5,
                launch_s=float(node_ready_at),
            )
        )
        cold = 90 + 5 * i
        ready = age >= node_ready_at + cold
        # as the Kubernetes feed reports them: the node's and pod's conditions, vLLM's log
        marks = (
            StartupMark(step="node_ready", at_s=node_ready_at, source="node"),
            StartupMark(step="scheduled", at_s=node_ready_at + 1, source="pod"),
            StartupMark(step="container_started", at_s=node_ready_at + 15, source="pod"),
            StartupMark(step="weights_loaded", at_s=node_ready_at + 50 + 2 * i, source="vllm_log"),
            StartupMark(step="compiled", at_s=node_ready_at + cold - 5, source="vllm_log"),
            StartupMark(step="ready", at_s=node_ready_at + cold, source="pod"),
        )
        pods.append(
            PodState(
                name=name,
                phase="Running",
                ready=ready,
                node=node_name,
                created_s_ago=age,
                scheduled_to_ready_s=float(cold) if ready else None,
                created_to_ready_s=float(node_ready_at + cold) if ready else None,
                pending_reason=None if ready else "ContainerCreating",
                startup=tuple(m for m in marks if m.at_s <= age),
            )
        )
    return pods, nodes, launching


def _snapshot(
    t: int,
    now: datetime,
    waiting: int,
    desired: int,
    pods: list[PodState],
    node_state: NodeState,
    cost: CostState,
) -> Snapshot:
    """The Snapshot at ``t`` around the cluster: load, latency, gateway, audience and k6 figures
    that follow the queue and the Ready pods."""
    ready_pods = sum(1 for p in pods if p.ready)
    running = min(8 * ready_pods, 4 + waiting)
    rps = 0.0 if t < 10 else round(0.4 + running * 0.12, 2)
    return Snapshot(
        time=now,
        talk=_clock(t),
        queue=QueueState(waiting=waiting, running=running, multiplier=50),
        replicas=ReplicaState(
            desired=desired,
            ready=ready_pods,
            pending=len(pods) - ready_pods,
            max=10,
            pods=tuple(pods),
        ),
        nodes=node_state,
        hpa=HpaState(
            desired=desired,
            current=len(pods),
            metric=float(max(waiting * 50, 1)),
            target=50.0,
            min=1,
            max=10,
        ),
        perf=PerfState(
            requests_per_s=rps,
            tokens_per_s=round(rps * 148, 1),
            prompt_tokens_per_s=round(rps * 120, 1),
            ttft_p50_s=round(0.14 + waiting * 0.9, 3),
            ttft_p95_s=round(0.31 + waiting * 1.7, 3),
            e2e_p50_s=round(4.2 + waiting * 0.9, 3),
            e2e_p95_s=round(6.8 + waiting * 1.7, 3),
            kv_cache_usage=min(0.95, 0.05 + running * 0.02),
            pods_scraped=ready_pods,
        ),
        gateway=GatewayState(
            requests_per_s=rps, errors_per_s=0.0, in_flight=running, questions=t // 3
        ),
        audience=AudienceState(
            mode="survey" if t >= 300 else "quiz", survey_count=max(0, (t - 300) * 2)
        ),
        k6=K6State(
            active=60 <= t < 300,
            vus=8 if 60 <= t < 300 else 0,
            requests_per_s=rps if 60 <= t < 300 else 0.0,
            failed_rate=0.0,
        ),
        cost=cost,
    )
