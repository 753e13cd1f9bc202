"""The autoscaling loop as rendered: KEDA's ScaledObject (triggers, formula, fallback) and the
HPA behaviour it carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from tubedemo.core.config.fields import Duration, Section

HEARTBEAT_METRIC = "up"
"""The heartbeat series each collector sends: its own scrape job's synthetic `up` (sent every
scrape whether the target answers or not, so it exists exactly while the collector runs)."""
HEARTBEAT_LABEL = ("tubedemo_heartbeat", "collector")
"""The label that marks the heartbeat job's `up` (the vLLM job's `up` lacks it)."""


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


def _off_is_off(value: Any) -> Any:
    """YAML 1.1 reads an unquoted `off` as false: in demo.yaml and --set it still means off."""
    return "off" if value is False else value


FORECAST_METRIC = "tubedemo_forecast_replicas"
"""The gauge the gateway's /forecast serves (Prometheus text): replicas the timeline asks for now
(gateway/routes/forecast.py has the same name; a test keeps them equal)."""


WARM_CAPACITY_METRIC = "tubedemo_warm_capacity_replicas"
"""The gauge the gateway's /forecast serves beside the forecast: placeholder pods the warm
capacity's window asks for now (gateway/routes/forecast.py has the same name; a test keeps them
equal)."""


class ForecastConfig(Section):
    """Proactive scaling from the timeline: what the forecast trigger reads and how early."""

    trigger_name: str = "forecast"
    """Name of the forecast trigger (KEDA's built-in metrics-api scaler); the formula reads it."""
    url: str | None = None
    """Where KEDA reads the forecast (Prometheus text, tubedemo_forecast_replicas); None: the
    gateway's /forecast inside the cluster, where `tubedemo show` posts it on the talk's clock."""
    concurrency: int = Field(16, ge=1)
    """Requests in flight per replica the forecast sizes a phase for: the A10G's knee, where
    throughput stops growing (290 output tok/s at 16 streams, 301 at 64; TTFT 0.3 s vs 1.1 s).
    The queue's formula keeps its own target; the forecast only has the capacity Ready."""
    lead: Duration | None = None
    """How long before a phase its forecast applies (s); None: a new replica's start-up on a
    new node (the twin's steps) plus one HPA sync, so the replicas are Ready as it begins."""


class WarmCapacityConfig(Section):
    """Headroom GPUs kept Ready by placeholder pods at a negative priority: a vLLM pod preempts
    one and starts on its Ready node (no node launch), and Karpenter replaces the headroom."""

    replicas: int = Field(0, ge=0)
    """Placeholder pods held in the window, one GPU each like a vLLM pod (count); 0: off.
    Rendered as a Deployment of pause containers that a second ScaledObject scales on the
    talk's clock (the gateway's /forecast, posted by `tubedemo show`); eks profile only."""
    lead: Duration = 60.0
    """How long before the busiest phase (the first with the most replicas needed) the
    placeholders are created (s): Karpenter then has their nodes Ready when the room joins."""
    until: str | None = None
    """The phase at whose end the placeholders go (a timeline phase name); None: the end of the
    busiest phase, so the headroom is paid for only around the burst."""
    priority: int = Field(-10, lt=0)
    """The placeholders' PriorityClass value (negative): below vLLM's (no class: 0), so the
    scheduler preempts a placeholder for a vLLM pod, never the other way round."""
    image: str = "registry.k8s.io/pause:3.10.1"
    """The placeholder's container: pause, which only sleeps. 3.10.1 is the pause Kubernetes
    itself moved to in 2025 (kubernetes hack/testdata "update pause version to 3.10.1"), the
    newest found; registry.k8s.io could not be listed from the build machine to check for a
    later tag. A few hundred KB, pulled once per node."""


class ScalingConfig(Section):
    scaler: Literal["kedify-otel", "external"] = "kedify-otel"
    """Trigger type: kedify-otel (Kedify's KEDA) or external + scaler_address (upstream KEDA)."""
    scaler_address: str = "keda-otel-scaler.keda.svc:4318"
    """Kedify OTEL scaler gRPC address (its scaler port, 4318); rendered into both trigger types."""
    otlp_endpoint: str = "keda-otel-scaler.keda.svc:4317"
    """Where the collector sends OTLP gRPC metrics (the scaler's receiver, 4317)."""
    otlp_ca_configmap: str = "otel-scaler-ca"
    """eks: ConfigMap (demo namespace, key ca.crt) with the CA of the scaler's OTLP certificate;
    the collector verifies the scaler with it (`cluster create` makes both). "": plaintext OTLP,
    for a scaler installed without TLS. The local profile always sends plaintext."""
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
        stabilization=100.0,
        policies=[HpaPolicy(type="Percent", value=100, period=60.0)],
    )
    """HPA scale-down behaviour: the highest proposal of the last 100 s, then straight down.
    100 s, not 60: the steady load's in flight wanders around 3 x target with 4 Ready, and a
    60 s lull deleted a replica the queue asked for again (a cold start in steady, 7 of 50
    twin runs); 100 s still brings the talk back to 1 inside the 2-minute cool-down (README:
    the sweep)."""
    fallback: FallbackConfig = FallbackConfig()
    """Replicas to hold when the metric cannot be read."""
    deletion_cost: Literal["node_price", "off"] = "node_price"
    """Which replicas a scale-down removes first. node_price: each vLLM pod carries
    controller.kubernetes.io/pod-deletion-cost = minus its node's $/h in thousandths (the
    deletion-cost controller keeps it current, in the cluster), so the ReplicaSet empties the
    most expensive nodes first and consolidation leaves the warm replica on the cheapest one;
    off: the ReplicaSet's own order (it keeps pods spread, and which node survives is chance)."""
    proactive: Annotated[Literal["off", "timeline"], BeforeValidator(_off_is_off)] = "off"
    """timeline: a forecast of the replicas each phase needs (its load and the engine model),
    applied a start-up ahead of it, is blended into the formula as max(queue-based, forecast x
    target), so the HPA still decides and replicas are Ready when the room joins; off: only the
    queue scales (reactive: the room waits out the cold start, the drama). README: the sweep."""
    forecast: ForecastConfig = ForecastConfig()
    """The forecast trigger (scaling.proactive: timeline)."""
    warm_capacity: WarmCapacityConfig = WarmCapacityConfig()
    """Headroom GPUs around the burst (placeholder pods vLLM preempts); replicas 0: off."""
    heartbeat_trigger: str | None = "collectors"
    """Trigger counting the live `up` series at the scaler (each collector's heartbeat; a vLLM
    target's `up` matches too, as the scaler matches a series lacking a label): 0 only when no
    collector sends, and the formula then holds fallback.replicas. Kedify's scaler answers 0,
    not an error, for stale series, so without it a collector outage scales vLLM down
    mid-burst. None: no guard."""

    @model_validator(mode="after")
    def _bounds(self) -> ScalingConfig:
        if self.trigger_name in self.extra_triggers:
            raise ValueError(
                f"extra_triggers repeats the main trigger name {self.trigger_name!r}; rename one"
            )
        if self.forecast.trigger_name in {*self.triggers, self.heartbeat_trigger}:
            raise ValueError(
                f"forecast.trigger_name {self.forecast.trigger_name!r} is also another trigger; "
                "rename one"
            )
        if self.heartbeat_trigger is not None and self.heartbeat_trigger in self.triggers:
            raise ValueError(
                f"heartbeat_trigger {self.heartbeat_trigger!r} is also a metric trigger; rename one"
            )
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})"
            )
        return self

    @property
    def scaling_formula(self) -> str:
        """What scales vLLM: the explicit formula or every metric trigger summed (requests in
        flight: waiting + running)."""
        return self.formula or " + ".join(self.triggers)

    @property
    def effective_formula(self) -> str:
        """The formula KEDA evaluates: the scaling formula while a collector's heartbeat
        reaches the scaler, else fallback.replicas x target (KEDA then proposes
        fallback.replicas, as its own fallback would on a metric error)."""
        return self.blended(self.reactive_formula)

    @property
    def reactive_formula(self) -> str:
        """The queue's part: the scaling formula while a collector's heartbeat reaches the
        scaler, else fallback.replicas x target."""
        held = self.fallback.replicas * self.target
        if self.heartbeat_trigger is None:
            return self.scaling_formula
        return f"{self.heartbeat_trigger} > 0 ? {self.scaling_formula} : {held}"

    def blended(self, reactive: str) -> str:
        """``reactive`` with the timeline's forecast (replicas, x target) blended in by max when
        scaling is proactive: the forecast never lowers what the queue asks for."""
        if self.proactive == "off":
            return reactive
        return f"max({reactive}, {self.forecast.trigger_name} * {self.target})"

    @property
    def trigger_queries(self) -> dict[str, str]:
        """Every trigger of the ScaledObject -> its Kedify metricQuery: the metric triggers'
        sums over the pods, then the heartbeat's count of live collectors."""
        queries = {name: self.query_for(metric) for name, metric in self.triggers.items()}
        if self.heartbeat_trigger is not None:
            key, value = HEARTBEAT_LABEL
            queries[self.heartbeat_trigger] = f"count({HEARTBEAT_METRIC}{{{key}={value}}})"
        return queries

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
