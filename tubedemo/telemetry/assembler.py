"""Once per tick, ask every live source for its latest values and assemble one Snapshot.

A source that raises keeps its last good values, marked stale with the error and their age; the
next successful read clears it. Nothing a source does can stop the tick: the dashboard must stay
up while the cluster, a pod or the gateway misbehaves.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from tubedemo.core import formula as keda_formula
from tubedemo.core.config import DemoConfig, PriceTable, ScalingConfig, TimelineConfig
from tubedemo.core.errors import brief
from tubedemo.telemetry.cost import advance, priced
from tubedemo.telemetry.events import derive_events
from tubedemo.telemetry.prometheus import (
    EngineSample,
    GatewaySample,
    gateway_between,
    perf_since,
    queue_totals,
)
from tubedemo.telemetry.snapshot import (
    AudienceState,
    GatewayState,
    HpaState,
    Interruption,
    K6State,
    Mode,
    NodeState,
    PerfState,
    QueueState,
    ReplicaState,
    Sampled,
    Snapshot,
)
from tubedemo.telemetry.talk_state import talk_state

S = TypeVar("S", bound=Sampled)


@dataclass(frozen=True)
class MetricsTarget:
    """A vLLM replica to scrape: by pod (through the API server) or by URL (rehearsal)."""

    name: str
    namespace: str | None = None
    port: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class KubeReading:
    """What the Kubernetes watches know now; each group carries its own freshness."""

    replicas: ReplicaState
    nodes: NodeState
    hpa: HpaState
    targets: tuple[MetricsTarget, ...]
    interruptions: tuple[Interruption, ...] = ()
    """Spot interruption notices and what followed each (the drill's figure)."""


@dataclass(frozen=True)
class GatewayReading:
    sample: GatewaySample
    mode: Mode | None
    survey_count: int


_QUEUE_GAUGES = {"num_requests_waiting": "waiting", "num_requests_running": "running"}
"""The vLLM gauges (name after vllm: / vllm_) a QueueState holds, by its field."""


def queue_replicas(
    scaling: ScalingConfig, collectors: int
) -> Callable[[QueueState], int | None] | None:
    """Replicas the queue alone asks for (KEDA's reactive formula over the queue, / target,
    rounded up as the HPA does), from a QueueState; None when scaling is not proactive or a
    trigger reads a gauge a QueueState does not hold. The heartbeat counts ``collectors``
    (the dashboard cannot see them; the HPA's problem shows a scaler outage). Pure."""
    if scaling.proactive == "off":
        return None
    fields = {}
    for trigger, metric in scaling.triggers.items():
        gauge = _QUEUE_GAUGES.get(metric.removeprefix("vllm:").removeprefix("vllm_"))
        if gauge is None:
            return None
        fields[trigger] = gauge
    node = keda_formula.parse(scaling.reactive_formula)
    target = scaling.target

    def replicas(queue: QueueState) -> int:
        values = {trigger: float(getattr(queue, gauge)) for trigger, gauge in fields.items()}
        if scaling.heartbeat_trigger is not None:
            values[scaling.heartbeat_trigger] = float(collectors)
        # the twin's rounding (view.HpaState.reactive): a float a hair above n is still n
        return max(0, math.ceil(keda_formula.evaluate(node, values) / target - 1e-9))

    return replicas


class KubeFeed(Protocol):
    def read(self, now: datetime) -> KubeReading: ...


class MetricsFeed(Protocol):
    def scrape(self, targets: tuple[MetricsTarget, ...]) -> Mapping[str, EngineSample | Exception]:
        """Per target name: the parsed sample or why it failed."""
        ...


class GatewayFeed(Protocol):
    def read(self) -> GatewayReading: ...


@dataclass
class Freshness:
    """When a source last answered and why it is failing now."""

    stale_after: float
    last_ok: datetime | None = None
    error: str | None = None

    def ok(self, now: datetime) -> None:
        self.last_ok, self.error = now, None

    def failed(self, error: str) -> None:
        self.error = error

    def mark(self, group: S, now: datetime) -> S:
        age = None if self.last_ok is None else (now - self.last_ok).total_seconds()
        stale = self.error is not None or age is None or age > self.stale_after
        return group.model_copy(update={"age_s": age, "stale": stale, "error": self.error})


@dataclass
class Assembler:
    """Builds a Snapshot per tick from the configured feeds; any feed may be absent."""

    multiplier: int
    prices: PriceTable
    timeline: TimelineConfig
    talk_duration: float
    talk_start: datetime
    stale_after: float = 5.0
    rate_window: float = 10.0
    """Seconds of scrapes that rates and latency quantiles are computed over."""
    kube: KubeFeed | None = None
    metrics: MetricsFeed | None = None
    static_targets: tuple[MetricsTarget, ...] = ()
    """Replicas scraped even without Kubernetes (rehearsal, --vllm-url)."""
    gateway: GatewayFeed | None = None
    k6: Callable[[], K6State] | None = None
    max_replicas: int | None = None
    talk_time: Callable[[datetime], float] | None = None
    """Seconds into the talk at a wall time; default: since talk_start. A sped-up rehearsal
    passes the simulator's clock, so phases, rates and cost follow simulated time."""
    reactive: Callable[[QueueState], int | None] | None = None
    """Replicas the queue alone asks for, from the queue read off the pods (``queue_replicas``):
    fills the HPA's reactive part when a feed reads the forecast but not the queue's part
    (a cluster's HPA sees only KEDA's blended formula); None: left as the feed says."""

    _previous: Snapshot | None = None
    _previous_talk: datetime | None = None
    _kube: KubeReading | None = None
    _kube_fresh: Freshness = field(init=False)
    _vllm_fresh: Freshness = field(init=False)
    _gateway_fresh: Freshness = field(init=False)
    _scrapes: deque[tuple[datetime, dict[str, EngineSample]]] = field(default_factory=deque)
    _queue: QueueState = field(init=False)
    _perf: PerfState = field(default_factory=PerfState)
    _gateway_sample: tuple[datetime, GatewaySample] | None = None
    _gateway_state: GatewayState = field(default_factory=GatewayState)
    _audience: AudienceState = field(default_factory=AudienceState)

    @classmethod
    def for_talk(
        cls,
        cfg: DemoConfig,
        *,
        talk_start: datetime,
        speed: float = 1.0,
        kube: KubeFeed | None = None,
        metrics: MetricsFeed | None = None,
        gateway: GatewayFeed | None = None,
        k6: Callable[[], K6State] | None = None,
        static_targets: tuple[MetricsTarget, ...] = (),
        talk_time: Callable[[datetime], float] | None = None,
    ) -> Assembler:
        """The Assembler of a talk configured by ``cfg`` (the one place that wires the config
        in, for ``watch``, ``show`` and ``rehearse``). ``speed``: talk seconds per wall second;
        staleness and rate windows are talk time, so a sped-up rehearsal scales them."""
        return cls(
            multiplier=cfg.scaling.multiplier,
            prices=cfg.prices,
            timeline=cfg.timeline,
            talk_duration=cfg.talk.duration,
            talk_start=talk_start,
            stale_after=cfg.dashboard.stale_after * speed,
            rate_window=cls.rate_window * speed,
            kube=kube,
            metrics=metrics,
            static_targets=static_targets,
            gateway=gateway,
            k6=k6,
            max_replicas=cfg.scaling.max_replicas,
            talk_time=talk_time,
            reactive=queue_replicas(cfg.scaling, cfg.otel.replicas),
        )

    def __post_init__(self) -> None:
        self._kube_fresh = Freshness(self.stale_after)
        self._vllm_fresh = Freshness(self.stale_after)
        self._gateway_fresh = Freshness(self.stale_after)
        self._queue = QueueState(multiplier=self.multiplier)

    # -- one tick ----------------------------------------------------------------------------

    def tick(self, now: datetime) -> Snapshot:
        replicas, nodes, hpa, targets = self._read_kube(now)
        elapsed = (
            self.talk_time(now)
            if self.talk_time is not None
            else (now - self.talk_start).total_seconds()
        )
        talk_now = self.talk_start + timedelta(seconds=elapsed)
        queue, perf = self._read_metrics(now, talk_now, targets)
        if hpa.forecast is not None and hpa.reactive is None and self.reactive is not None:
            # the cluster's HPA holds only max(queue, forecast): the queue's part comes from
            # the same vLLM gauges the collector sends KEDA, through the same formula
            hpa = hpa.model_copy(update={"reactive": None if queue.stale else self.reactive(queue)})
        gateway, audience = self._read_gateway(now)
        k6 = self._read_k6()
        nodes = nodes.model_copy(update={"nodes": priced(self.prices, nodes.nodes)})
        previous = self._previous
        cost = advance(
            previous.cost if previous else None,
            self._previous_talk,
            talk_now,
            nodes.per_hour,
        )
        snapshot = Snapshot(
            time=now,
            talk=talk_state(self.timeline, self.talk_duration, elapsed),
            queue=queue,
            replicas=replicas,
            nodes=nodes,
            hpa=hpa,
            perf=perf,
            gateway=gateway,
            audience=audience,
            k6=k6,
            cost=cost,
            interruptions=self._kube.interruptions if self._kube is not None else (),
        )
        snapshot = snapshot.model_copy(update={"events": derive_events(previous, snapshot)})
        self._previous, self._previous_talk = snapshot, talk_now
        return snapshot

    # -- sources -----------------------------------------------------------------------------

    def _read_kube(
        self, now: datetime
    ) -> tuple[ReplicaState, NodeState, HpaState, tuple[MetricsTarget, ...]]:
        if self.kube is None:
            never = Freshness(self.stale_after)
            replicas = ReplicaState(max=self.max_replicas)
            return (
                never.mark(replicas, now),
                never.mark(NodeState(), now),
                never.mark(HpaState(), now),
                self.static_targets,
            )
        try:
            reading = self.kube.read(now)
            self._kube = reading
            self._kube_fresh.ok(now)
        except Exception as exc:  # a failing source must never stop the tick
            self._kube_fresh.failed(brief(exc))
        if self._kube is None:
            return (
                self._kube_fresh.mark(ReplicaState(max=self.max_replicas), now),
                self._kube_fresh.mark(NodeState(), now),
                self._kube_fresh.mark(HpaState(), now),
                self.static_targets,
            )
        reading = self._kube
        if self._kube_fresh.error is not None:
            # whole feed failing: keep its last values, stale
            return (
                self._kube_fresh.mark(reading.replicas, now),
                self._kube_fresh.mark(reading.nodes, now),
                self._kube_fresh.mark(reading.hpa, now),
                reading.targets + self.static_targets,
            )
        replicas = reading.replicas
        if replicas.max is None and self.max_replicas is not None:
            replicas = replicas.model_copy(update={"max": self.max_replicas})
        return replicas, reading.nodes, reading.hpa, reading.targets + self.static_targets

    def _read_metrics(
        self, now: datetime, talk_now: datetime, targets: tuple[MetricsTarget, ...]
    ) -> tuple[QueueState, PerfState]:
        if self.metrics is None:
            return (
                self._vllm_fresh.mark(self._queue, now),
                self._vllm_fresh.mark(self._perf, now),
            )
        try:
            results = self.metrics.scrape(targets)
        except Exception as exc:
            results = {t.name: exc for t in targets} or {"*": exc}
        good = {k: v for k, v in results.items() if isinstance(v, EngineSample)}
        failed = [f"{k}: {brief(v)}" for k, v in results.items() if isinstance(v, Exception)]
        if good or not failed:
            # some pods answered (or there are none to ask): the figures are current
            self._vllm_fresh.ok(now)
            waiting, running = queue_totals(list(good.values()))
            self._queue = QueueState(waiting=waiting, running=running, multiplier=self.multiplier)
            # rates over talk time: in a sped-up rehearsal counters advance in simulated seconds
            self._scrapes.append((talk_now, good))
            # baseline: the newest scrape at least rate_window old, else the oldest kept
            while (
                len(self._scrapes) >= 2
                and (talk_now - self._scrapes[1][0]).total_seconds() >= self.rate_window
            ):
                self._scrapes.popleft()
            # each pod against its oldest scrape in the window: a replica that just joined
            # counts as soon as it has been scraped twice
            baselines: dict[str, tuple[EngineSample, float]] = {}
            for when, samples in self._scrapes:
                for pod, sample in samples.items():
                    if pod in good and pod not in baselines:
                        baselines[pod] = (sample, (talk_now - when).total_seconds())
            self._perf = perf_since(baselines, good)
            queue = self._vllm_fresh.mark(self._queue, now)
            perf = self._vllm_fresh.mark(self._perf, now)
            if failed:
                # partial answers: say which pods are missing without calling it stale
                note = f"{len(failed)} of {len(results)} pods not scraped ({failed[0]})"
                queue = queue.model_copy(update={"error": note})
                perf = perf.model_copy(update={"error": note})
            return queue, perf
        self._vllm_fresh.failed(failed[0])
        return self._vllm_fresh.mark(self._queue, now), self._vllm_fresh.mark(self._perf, now)

    def _read_gateway(self, now: datetime) -> tuple[GatewayState, AudienceState]:
        if self.gateway is not None:
            try:
                reading = self.gateway.read()
                earlier = self._gateway_sample
                seconds = (now - earlier[0]).total_seconds() if earlier else 0.0
                self._gateway_state = gateway_between(
                    earlier[1] if earlier else None, reading.sample, seconds
                )
                self._gateway_sample = (now, reading.sample)
                self._audience = AudienceState(mode=reading.mode, survey_count=reading.survey_count)
                self._gateway_fresh.ok(now)
            except Exception as exc:
                self._gateway_fresh.failed(brief(exc))
        return (
            self._gateway_fresh.mark(self._gateway_state, now),
            self._gateway_fresh.mark(self._audience, now),
        )

    def _read_k6(self) -> K6State:
        if self.k6 is None:
            return K6State()
        try:
            return self.k6()
        except Exception as exc:
            return K6State(stale=True, error=brief(exc))
