"""Snapshot: everything the dashboard, the recorder and the report know about one instant.

A Snapshot is immutable and plain data (no clients, no sockets), so the dashboard can be a pure
function of a sequence of them and a recording is one ``model_dump_json`` per line. Live sources
(Kubernetes watches, vLLM and gateway /metrics, k6), the rehearsal's fleet simulator and the
twin's fast-forward all produce this same shape.

Every group carries ``age_s`` (seconds since its source last answered; ``None`` = never) and
``stale``, decided by whoever assembles the snapshot: a failing source shows as stale with its last
good values instead of crashing the screen. Values constructed directly (simulator, tests) are
fresh by default.

Times: ``time`` is an aware UTC datetime; durations are seconds (float); money is US dollars.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 2
"""Bumped when a field changes meaning or one is added (a reader refuses keys it does not know);
readers refuse recordings from a newer schema and read every older one (new fields have neutral
defaults). 2: pods' start-up milestones, spot interruptions."""

PodPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Unknown", "Terminating"]
CapacityType = Literal["spot", "on-demand"]
Mode = Literal["quiz", "survey"]
EventKind = Literal[
    "scale",
    "node_launched",
    "node_removed",
    "spot_interruption",
    "pod_ready",
    "pod_failed",
    "phase",
    "mode",
    "source",
    "info",
]


class Frozen(BaseModel):
    """Base of every snapshot part: immutable, unknown keys refused (a typo is a bug)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Sampled(Frozen):
    """A group of values read from one source, with how fresh they are."""

    age_s: float | None = 0.0
    """Seconds since the source last answered; None when it never has."""
    stale: bool = False
    """True when the source is failing or older than the dashboard's stale_after."""
    error: str | None = None
    """Last error of the source, one line, while it is failing."""


class QueueState(Sampled):
    """vLLM's scheduler queue, summed over every ready replica."""

    waiting: int = Field(0, ge=0)
    """vllm:num_requests_waiting summed over pods (requests)."""
    running: int = Field(0, ge=0)
    """vllm:num_requests_running summed over pods (requests)."""
    multiplier: int = Field(1, ge=1)
    """Virtual commuters per waiting request (scaling.multiplier)."""

    @property
    def virtual_commuters(self) -> int:
        """The talk's amplified queue: waiting x multiplier."""
        return self.waiting * self.multiplier


StartupStep = Literal[
    "node_ready", "scheduled", "container_started", "weights_loaded", "compiled", "ready"
]
"""A pod's start-up milestones, in the order they happen: the waterfall's bar ends."""
STARTUP_STEPS: tuple[StartupStep, ...] = (
    "node_ready",
    "scheduled",
    "container_started",
    "weights_loaded",
    "compiled",
    "ready",
)
MarkSource = Literal["node", "pod", "vllm_log", "kwok", "twin"]
"""Who said when a milestone happened: the node's Ready condition, the pod's own status
(PodScheduled, the container's startedAt, Ready), a line of vLLM's log, a KWOK stage's
condition (the lab), the twin's start-up model."""


class StartupMark(Frozen):
    """One start-up milestone of a pod: when it happened and who said so."""

    step: StartupStep
    at_s: float
    """Seconds after the pod was created; negative for a node that was Ready before the pod."""
    source: MarkSource


class PodState(Frozen):
    """One vLLM pod as the dashboard shows it."""

    name: str
    phase: PodPhase = "Pending"
    """Pod phase; Terminating when deletionTimestamp is set."""
    ready: bool = False
    """Ready condition is True (the model answers /v1/models)."""
    node: str | None = None
    """Node the pod is bound to; None while unscheduled."""
    created_s_ago: float = 0.0
    """Seconds since the pod was created."""
    scheduled_to_ready_s: float | None = None
    """PodScheduled -> Ready (s): the node-side cold start; None until Ready."""
    created_to_ready_s: float | None = None
    """Created -> Ready (s): includes waiting for a node; None until Ready."""
    pending_reason: str | None = None
    """Why it is not ready yet (Unschedulable, ContainerCreating, ...); None once ready."""
    startup: tuple[StartupMark, ...] = ()
    """The start-up milestones reached so far, in the order of STARTUP_STEPS; empty for a
    replica that was serving before the recording (the warm one) or a source that cannot
    tell."""


class ReplicaState(Sampled):
    """The vLLM Deployment: what the HPA asked for and what is serving."""

    desired: int = Field(0, ge=0)
    """spec.replicas of the Deployment (what the HPA last asked for)."""
    ready: int = Field(0, ge=0)
    """Pods Ready and serving."""
    pending: int = Field(0, ge=0)
    """Pods created but not Ready (waiting for a node, pulling, loading the model)."""
    max: int | None = None
    """scaling.max_replicas, for the x/max figure; None when unknown."""
    pods: tuple[PodState, ...] = ()
    """Every pod of the Deployment, oldest first."""


class GpuNode(Frozen):
    """A node of the GPU NodePool."""

    name: str
    instance_type: str = "unknown"
    """node.kubernetes.io/instance-type."""
    capacity_type: CapacityType = "on-demand"
    """karpenter.sh/capacity-type."""
    ready: bool = False
    """Node Ready condition is True."""
    age_s: float = 0.0
    """Seconds since the node object was created."""
    launch_s: float | None = None
    """NodeClaim created -> node Ready (s); None while not ready or unknown."""
    price_per_hour: float = 0.0
    """$/h from the price table for its instance and capacity type (0 when unlisted)."""
    disruption: str | None = None
    """Why Karpenter is taking it away (e.g. interrupted, consolidated, expired); None if not."""


class NodeClaimState(Frozen):
    """A Karpenter NodeClaim that has not become a Ready node yet."""

    name: str
    instance_type: str | None = None
    """Chosen instance type once launched; None while Karpenter is still deciding."""
    capacity_type: CapacityType | None = None
    """spot / on-demand once launched."""
    age_s: float = 0.0
    """Seconds since the NodeClaim was created."""
    stage: Literal["pending", "launched", "registered", "initialized"] = "pending"
    """Furthest Karpenter condition reached that is True."""


class NodeState(Sampled):
    """GPU capacity: nodes of the pool and NodeClaims still launching."""

    nodes: tuple[GpuNode, ...] = ()
    """Nodes of the GPU NodePool, oldest first."""
    launching: tuple[NodeClaimState, ...] = ()
    """NodeClaims without a Ready node yet."""

    @property
    def ready_count(self) -> int:
        return sum(1 for n in self.nodes if n.ready)

    @property
    def per_hour(self) -> float:
        """$/h of every node that exists (a not-yet-ready node is already billed)."""
        return sum(n.price_per_hour for n in self.nodes)


class HpaState(Sampled):
    """The HPA that KEDA's ScaledObject owns."""

    desired: int | None = None
    """status.desiredReplicas."""
    current: int | None = None
    """status.currentReplicas."""
    metric: float | None = None
    """Current value of the scaling metric (formula output, per replica for AverageValue)."""
    target: float | None = None
    """Target value of the scaling metric."""
    min: int | None = None
    max: int | None = None
    problem: str | None = None
    """Why the HPA cannot scale now (reason of a False AbleToScale/ScalingActive condition,
    e.g. FailedGetExternalMetric when the scaler is down); None when it can."""
    reactive: int | None = None
    """Replicas the queue alone asks for: the formula's reactive part / target, rounded up."""
    forecast: int | None = None
    """Replicas the timeline's forecast asks for now (scaling.proactive: timeline); None when
    scaling is reactive only."""


class PerfState(Sampled):
    """vLLM performance over the rate window (~10 s), from counter and histogram deltas."""

    requests_per_s: float | None = None
    """Finished requests per second (vllm:request_success_total delta)."""
    tokens_per_s: float | None = None
    """Generated tokens per second (vllm:generation_tokens_total delta)."""
    prompt_tokens_per_s: float | None = None
    """Prompt tokens per second (vllm:prompt_tokens_total delta)."""
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    """Time to first token quantiles of requests finished in the window (s)."""
    e2e_p50_s: float | None = None
    e2e_p95_s: float | None = None
    """End-to-end request latency quantiles in the window (s)."""
    kv_cache_usage: float | None = None
    """Mean vllm:kv_cache_usage_perc over pods (0-1)."""
    pods_scraped: int = 0
    """Ready pods whose /metrics answered this tick."""

    @property
    def tokens_per_request(self) -> float | None:
        if not self.requests_per_s or self.tokens_per_s is None:
            return None
        return self.tokens_per_s / self.requests_per_s


class GatewayState(Sampled):
    """The FastAPI gateway the phones talk to."""

    requests_per_s: float | None = None
    """Chat completions per second through the gateway."""
    errors_per_s: float | None = None
    """Responses with status >= 500 (or upstream failures) per second."""
    in_flight: int | None = None
    """Streams currently open to vLLM."""
    questions: int | None = None
    """Counted audience questions this session."""


class AudienceState(Sampled):
    """What the audience page shows and how many answered the survey."""

    mode: Mode | None = None
    """quiz or survey; None when the gateway was never reached."""
    survey_count: int = Field(0, ge=0)
    """Survey submissions this session."""


class K6State(Sampled):
    """The laptop's load generator."""

    active: bool = False
    vus: int | None = None
    """Virtual users running now."""
    requests_per_s: float | None = None
    """Requests k6 completed per second."""
    failed_rate: float | None = None
    """Fraction of failed requests so far (0-1)."""


class TalkState(Frozen):
    """Where the talk is on its timeline."""

    elapsed_s: float = 0.0
    """Seconds since the talk started."""
    duration_s: float = 1800.0
    """Planned length of the talk (s)."""
    phase: str | None = None
    """Timeline phase running now; None between phases."""
    phase_remaining_s: float | None = None
    """Seconds left in the current phase."""
    next_phase: str | None = None
    """The phase after this one."""
    next_cue: str | None = None
    """What the presenter says or does at the next phase (its cue)."""
    next_in_s: float | None = None
    """Seconds until the next phase starts."""


class CostState(Frozen):
    """What the GPU nodes cost."""

    per_hour: float = 0.0
    """$/h of the nodes that exist now."""
    total: float = 0.0
    """$ spent on GPU nodes since the talk (or the recording) started."""


class Interruption(Frozen):
    """A spot interruption notice on a GPU node and what followed it (the drill's figure):
    every time is seconds after the notice."""

    node: str
    instance_type: str = "unknown"
    notice_s_ago: float = 0.0
    """Seconds since the notice (Karpenter's SpotInterrupted event, the drill, the twin)."""
    notice_s: float = 120.0
    """How long EC2 gives between the notice and taking the instance (s)."""
    pods: int = Field(0, ge=0)
    """vLLM pods on the node when the notice came (or still on it, for a source that only sees
    the present)."""
    pods_left: int = Field(0, ge=0)
    """vLLM pods still on the node (draining or not yet evicted)."""
    evicted_s: float | None = None
    """Notice -> the first vLLM pod on the node evicted (the drain began); None before."""
    drained_s: float | None = None
    """Notice -> no vLLM pod left on the node; None while one is."""
    replaced_s: float | None = None
    """Notice -> the first replica created after the notice serves (Ready); None before."""
    gone_s: float | None = None
    """Notice -> the node gone (EC2 took it, or Karpenter deleted it first); None while it is
    there."""


class Event(Frozen):
    """Something worth a line on the ticker; each event appears in exactly one snapshot."""

    time: datetime
    kind: EventKind = "info"
    message: str


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time must be timezone-aware (UTC)")
    return value.astimezone(UTC)


class Snapshot(Frozen):
    """One tick of the talk. Build with keyword arguments; every group has a neutral default."""

    schema_version: int = SCHEMA_VERSION
    time: datetime
    """When the snapshot was assembled (aware, UTC)."""
    talk: TalkState = TalkState()
    queue: QueueState = QueueState()
    replicas: ReplicaState = ReplicaState()
    nodes: NodeState = NodeState()
    hpa: HpaState = HpaState()
    perf: PerfState = PerfState()
    gateway: GatewayState = GatewayState()
    audience: AudienceState = AudienceState()
    k6: K6State = K6State()
    cost: CostState = CostState()
    interruptions: tuple[Interruption, ...] = ()
    """Spot interruption notices of the talk so far, oldest first (a drill's or EC2's)."""
    events: tuple[Event, ...] = ()
    """Events that happened since the previous snapshot."""

    @field_validator("time")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"recorded with snapshot schema {value}, this tubedemo reads up to "
                f"{SCHEMA_VERSION}; upgrade tubedemo"
            )
        return value

    @property
    def virtual_commuters(self) -> int:
        return self.queue.virtual_commuters

    def to_json(self) -> str:
        """One line of JSON (no newline), the recording format."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, line: str | bytes) -> Snapshot:
        """Parse one recorded line; raises pydantic.ValidationError on a malformed one."""
        return cls.model_validate_json(line)
