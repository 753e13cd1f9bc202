"""The rehearsal's fleet: the twin's world on a real clock, with vLLM's metrics per replica.

``Fleet`` owns one ``World`` and advances it to ``(clock() - start) x speed``; the HTTP layer
(``tubedemo.rehearsal.server``) submits real requests into it and streams tokens as the engine
model produces them. Each simulated replica gets its own prometheus_client registry with
vLLM's metric names and labels, so a scraper cannot tell it from a vLLM pod. ``state()`` is the
cluster as the dashboard reads it (the Snapshot groups the Kubernetes watches would fill).

In the lab (``tubedemo rehearse --lab``) the real controllers decide how many pods run and where:
``Fleet(..., pods_from_cluster=True)`` then runs a ``ClusterDrivenWorld``, whose replicas are
exactly the Ready pods of the vLLM Deployment that ``sync_pods`` is told about (a pod on a KWOK
node runs no process, so its engine lives here), and ``queue_metrics_text`` is the one
aggregated queue series KEDA's ``metrics-api`` scaler reads.

The clock is injected: tests and the server pass ``time.monotonic``; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tubedemo.core.config import DemoConfig
from tubedemo.core.durations import check_speed
from tubedemo.rehearsal.summed_gauges import summed_gauges
from tubedemo.twin.cluster import Pod
from tubedemo.twin.engine import Request
from tubedemo.twin.load import Load
from tubedemo.twin.view import world_view
from tubedemo.twin.world import World

# vLLM's own bucket boundaries (vllm/v1/metrics/loggers.py), so histograms line up with real pods.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
    240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip


class _EngineCollector(Collector):
    """Gauges and counters read from the engine at scrape time, like vLLM's stat logger."""

    def __init__(self, pod: Pod, labels: dict[str, str]) -> None:
        self.pod = pod
        self.labels = labels

    def collect(self) -> Iterable[Metric]:
        names = list(self.labels)
        values = list(self.labels.values())
        engine = self.pod.engine
        waiting = running = 0
        kv = 0.0
        prompt = generated = 0
        if engine is not None:
            gauges = engine.gauges()
            waiting, running, kv = gauges.waiting, gauges.running, gauges.kv_usage
            prompt, generated = engine.prompt_tokens_total, engine.generation_tokens_total
        for name, doc, value in (
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting),
            (
                "vllm:num_requests_running",
                "Number of requests in model execution batches.",
                running,
            ),
            ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv),
        ):
            gauge = GaugeMetricFamily(name, doc, labels=names)
            gauge.add_metric(values, float(value))
            yield gauge
        for name, doc, value in (
            ("vllm:prompt_tokens", "Number of prefill tokens processed.", prompt),
            ("vllm:generation_tokens", "Number of generation tokens processed.", generated),
        ):
            counter = CounterMetricFamily(name, doc, labels=names)
            counter.add_metric(values, float(value))
            yield counter


@dataclass
class ReplicaMetrics:
    """One simulated vLLM pod's /metrics."""

    registry: CollectorRegistry
    ttft: Histogram
    e2e: Histogram
    success: dict[str, int]

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _SuccessCollector(Collector):
    def __init__(self, metrics: ReplicaMetrics, labels: dict[str, str]) -> None:
        self.metrics = metrics
        self.labels = labels

    def collect(self) -> Iterable[Metric]:
        names = [*self.labels, "finished_reason"]
        counter = CounterMetricFamily(
            "vllm:request_success", "Count of successfully processed requests.", labels=names
        )
        for reason, count in sorted(self.metrics.success.items()):
            counter.add_metric([*self.labels.values(), reason], float(count))
        yield counter


class ClusterDrivenWorld(World):
    """The twin's engines and router, with the cluster left to the real controllers.

    No bootstrap replica, no HPA sync, no ReplicaSet, no Karpenter, no spot notices: pods come
    and go only through ``add_pod`` (a pod of the lab became Ready) and ``drain_pod`` (it was
    deleted or lost readiness). A drained pod leaves the router at once, finishes what it runs
    for up to ``model.shutdown_timeout`` after ``model.prestop_sleep``, exactly as a twin pod
    the ReplicaSet deletes. ``desired`` is the Deployment's spec.replicas when known.
    """

    def _bootstrap(self) -> None:
        self.desired = 0

    def _hpa_sync(self) -> None:
        return  # the real HPA controller decides (KEDA's metrics through the aggregation layer)

    def _want_nodes(self, pod: Pod) -> None:
        return  # the real Karpenter launches nodes

    def _spot_interruption(self) -> None:
        return

    def pod_names(self) -> set[str]:
        """Pods that have an engine and still take new requests."""
        return {p.name for p in self.pods if p.serving}

    def add_pod(self, name: str) -> None:
        """A pod became Ready in the cluster: give it a fresh engine (a replaced pod of the same
        name, e.g. a StatefulSet's, gets a new one once the old one is gone)."""
        if any(p.name == name and p.live for p in self.pods):
            return
        pod = Pod(name=name, created_at=self.now, scheduled_at=self.now)
        self.pods.append(pod)
        self._pod_ready(pod)

    def drain_pod(self, name: str, why: str = "deleted") -> None:
        """A pod was deleted or stopped being Ready: no new requests; in-flight ones drain."""
        for pod in self.pods:
            if pod.name == name and pod.live:
                self._delete_pod(pod, why)
                if self.now > 0:
                    self.log("info", f"{name} draining ({why})")


_SUMMED_SOURCES = {
    "num_requests_waiting": "waiting",
    "num_requests_running": "running",
    "kv_cache_usage_perc": "kv_usage",
}
"""vLLM gauge (after vllm: / vllm_) -> the engine gauge the fleet sums for it."""


class Fleet:
    """The world on a clock. Call ``advance()`` before reading or submitting."""

    def __init__(
        self,
        config: DemoConfig,
        clock: Callable[[], float],
        speed: float = 1.0,
        audience: bool = False,
        pods_from_cluster: bool = False,
        k6_model: bool = False,
    ) -> None:
        """``audience``: the room's phones (twin.audience) send requests into the world;
        ``k6_model``: so do the timeline's k6 VUs as the twin models them (``lab compare``
        feeds the lab exactly the load ``simulate`` puts on the twin); ``pods_from_cluster``:
        replicas are the lab's Ready pods (``sync_pods``), not the twin's autoscaler's."""
        check_speed(speed)
        self.config = config
        self.clock = clock
        self.speed = speed
        self.model_name = config.model.served_name
        self._audience = audience
        self._k6_model = k6_model
        self._pods_from_cluster = pods_from_cluster
        # the lab's load waits for start_talk: `up` runs first, with the fleet answering KEDA
        self._new_world(load=not pods_from_cluster)

    def _new_world(self, load: bool) -> None:
        config = self.config
        self.started = self.clock()
        self.lab: ClusterDrivenWorld | None = (
            ClusterDrivenWorld(config) if self._pods_from_cluster else None
        )
        self.world: World = self.lab if self.lab is not None else World(config)
        self._metrics: dict[str, ReplicaMetrics] = {}
        if load and (self._audience or self._k6_model):
            Load(self.world, audience=self._audience, k6=self._k6_model)
        self.world.on_first_token.append(self._first_token)
        self.world.on_end.append(self._ended)

    def start_talk(self) -> None:
        """Talk second 0 is now: a fresh world whose load (audience, k6 model) starts from the
        beginning.

        The lab needs this: its fleet must answer KEDA while ``up`` waits for the first
        replica (minutes of simulated node launch and model load), and the talk starts after;
        a lab fleet sends no simulated load before. Only for a fleet that has served no
        request yet; the lab's serving pods keep (fresh) engines.
        """
        if self.world.sent:
            raise RuntimeError("start_talk after requests were served would lose them")
        serving = self.lab.pod_names() if self.lab is not None else set()
        self._new_world(load=True)
        if self.lab is not None:
            for name in sorted(serving):  # before second 0's load arrives
                self.lab.add_pod(name)

    @property
    def now(self) -> float:
        """Seconds on the talk's clock (real seconds x speed since start)."""
        return self.world.now

    def advance(self) -> None:
        self.world.run_until((self.clock() - self.started) * self.speed)

    def real_delay(self, talk_seconds: float) -> float:
        """Wall seconds for a span of talk time."""
        return talk_seconds / self.speed

    def wall_until_next_event(self) -> float | None:
        due = self.world.next_time()
        if due is None:
            return None
        return max(0.0, self.started + due / self.speed - self.clock())

    # -- requests -----------------------------------------------------------------------------

    def submit(self, prompt_tokens: int, max_tokens: int | None) -> Request:
        request = self.world.new_request("http", prompt_tokens=prompt_tokens, max_tokens=max_tokens)
        self.world.submit(request)
        return request

    def tokens_so_far(self, request: Request) -> int:
        pod = self._pod(request.replica)
        if pod is None or pod.engine is None or request.status != "running":
            return request.generated
        return pod.engine.tokens_at(request, self.world.now)

    def abort(self, request: Request) -> None:
        self.world.abort(request, "client disconnected")

    # -- the lab's pods -----------------------------------------------------------------------

    def sync_pods(self, ready: Mapping[str, object], desired: int | None = None) -> None:
        """Serve exactly the cluster's Ready pods (names; values are ignored here): new ones get
        an engine, the ones no longer Ready drain. Only for ``pods_from_cluster`` fleets."""
        lab = self.lab
        if lab is None:
            raise RuntimeError("sync_pods needs a Fleet(..., pods_from_cluster=True)")
        self.advance()
        serving = lab.pod_names()
        for name in sorted(set(ready) - serving):
            lab.add_pod(name)
        for name in sorted(serving - set(ready)):
            lab.drain_pod(name)
        if desired is not None:
            lab.desired = desired

    def queue_metrics_text(self) -> bytes:
        """Each trigger's metric (``scaling.triggers``: the queue, the running requests) as ONE
        series summed over the serving replicas, in the Prometheus text format.

        Stands in for the EKS path's collector (which renames ``vllm:num_requests_waiting`` to
        ``vllm_num_requests_waiting``) and the OTEL scaler's ``sum(...)``: KEDA's
        ``metrics-api`` scaler returns the first series matching its selector instead of
        summing, so the sum is taken here. Labels are ``scaling.metric_labels`` plus
        ``model_name``, so the EKS query's matchers select it. Written by ``summed_gauges``, as
        the scaler stand-in's is.
        """
        sums = {"waiting": 0.0, "running": 0.0, "kv_usage": 0.0}
        for pod in self.world.pods:
            if pod.serving and pod.engine is not None:
                g = pod.engine.gauges()
                sums["waiting"] += g.waiting
                sums["running"] += g.running
                sums["kv_usage"] += g.kv_usage
        values = {}
        for name in sorted(set(self.config.scaling.triggers.values())):
            source = _SUMMED_SOURCES.get(name.replace("vllm:", "").replace("vllm_", ""))
            if source is not None:  # else not a gauge the engines have: KEDA reports it missing
                values[name] = sums[source]
        labels = {"model_name": self.config.model.served_name, **self.config.scaling.metric_labels}
        return summed_gauges(values, labels).encode()

    # -- metrics ------------------------------------------------------------------------------

    def _pod(self, name: str | None) -> Pod | None:
        return next((p for p in self.world.pods if p.name == name), None)

    def replica_metrics(self, name: str) -> ReplicaMetrics | None:
        """The registry of a replica that is serving or draining; None for unknown/gone ones."""
        pod = self._pod(name)
        if pod is None or pod.gone_at is not None or not pod.is_ready:
            return None
        metrics = self._metrics.get(name)
        if metrics is None:
            metrics = self._new_metrics(pod)
        return metrics

    def _new_metrics(self, pod: Pod) -> ReplicaMetrics:
        labels = {"engine": "0", "model_name": self.model_name}
        registry = CollectorRegistry(auto_describe=True)
        ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            labelnames=list(labels),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            labelnames=list(labels),
            buckets=E2E_BUCKETS,
            registry=registry,
        )
        metrics = ReplicaMetrics(registry, ttft, e2e, {})
        registry.register(_EngineCollector(pod, labels))
        registry.register(_SuccessCollector(metrics, labels))
        self._metrics[pod.name] = metrics
        return metrics

    def _labels(self) -> dict[str, str]:
        return {"engine": "0", "model_name": self.model_name}

    def _first_token(self, request: Request) -> None:
        metrics = self._metrics_for(request)
        if metrics is not None and request.ttft is not None:
            metrics.ttft.labels(**self._labels()).observe(request.ttft)

    def _ended(self, request: Request) -> None:
        metrics = self._metrics_for(request)
        if metrics is None or request.status != "done" or request.e2e is None:
            return
        metrics.e2e.labels(**self._labels()).observe(request.e2e)
        reason = request.finish_reason
        metrics.success[reason] = metrics.success.get(reason, 0) + 1

    def _metrics_for(self, request: Request) -> ReplicaMetrics | None:
        pod = self._pod(request.replica)
        if pod is None:
            return None
        return self._metrics.get(pod.name) or self._new_metrics(pod)

    # -- cluster state ------------------------------------------------------------------------

    def state(self, metrics_url: Callable[[str], str]) -> dict[str, Any]:
        """The cluster as the dashboard's Kubernetes feed would see it, as JSON-ready data."""
        world = self.world
        now = world.now
        scaling = self.config.scaling
        view = world_view(world, now)
        return {
            "time_s": now,
            "speed": self.speed,
            "replicas": view.replicas(scaling).model_dump(mode="json"),
            "nodes": view.node_state().model_dump(mode="json"),
            "hpa": view.hpa(scaling).model_dump(mode="json"),
            "targets": [{"name": p.name, "url": metrics_url(p.name)} for p in view.pods if p.ready],
            "events": [
                {"time_s": e.time, "kind": e.kind, "message": e.message} for e in world.events[-50:]
            ],
            "cost": {"per_hour": world.per_hour(), "total": world.cost()},
        }
