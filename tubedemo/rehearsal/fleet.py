"""The rehearsal's fleet: the twin's world on a real clock, with vLLM's metrics per replica.

``Fleet`` owns one ``World`` and advances it to ``(clock() - start) x speed``; the HTTP layer
(``tubedemo.rehearsal.server``) submits real requests into it and streams tokens as the engine
model produces them. Each simulated replica gets its own prometheus_client registry with
vLLM's metric names and labels, so a scraper cannot tell it from a vLLM pod. ``state()`` is the
cluster as the dashboard reads it (the Snapshot groups the Kubernetes watches would fill).

In the lab (``tubedemo rehearse --lab``) the real controllers decide how many pods run and where:
``Fleet(..., pods_from_cluster=True)`` then runs a ``ClusterDrivenWorld``, whose replicas are
the Running pods of the vLLM Deployment that ``sync_pods`` is told about (a pod on a KWOK
node runs no process, so its engine lives here): a Ready pod takes requests; one that lost
readiness (a busy replica missing its probes) takes no new ones but still serves what it holds
and stays a scrape target, as the rendered collector keeps Running pods; ``queue_metrics_text``
is the one aggregated queue series KEDA's ``metrics-api`` scaler reads.

The clock is injected: tests and the server pass ``time.monotonic``; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tubedemo.core.config import (
    FORECAST_METRIC,
    HEARTBEAT_LABEL,
    HEARTBEAT_METRIC,
    WARM_CAPACITY_METRIC,
    DemoConfig,
)
from tubedemo.core.durations import check_speed
from tubedemo.rehearsal.summed_gauges import gauges
from tubedemo.rehearsal.vllm_metrics import EngineFigures, VllmMetrics
from tubedemo.twin.engine import Request
from tubedemo.twin.load import Load
from tubedemo.twin.pods import Pod
from tubedemo.twin.view import world_view
from tubedemo.twin.world import World


class ClusterDrivenWorld(World):
    """The twin's engines and router, with the cluster left to the real controllers.

    No bootstrap replica, no HPA sync, no ReplicaSet, no Karpenter, no spot notices, no
    placeholders (the lab's warm-capacity Deployment has the real ones): pods come
    and go only through ``add_pod`` (a pod of the lab became Ready, or Ready again),
    ``unready_pod`` (it lost readiness: out of the router, its engine keeps serving what it
    holds) and ``drain_pod`` (it was deleted). A drained pod leaves the router at once,
    finishes what it runs
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

    def _warm_up(self, until: float) -> None:
        return  # the real placeholders' ScaledObject reads ``warm_now`` (Fleet.forecast_text)

    def _warm_down(self) -> None:
        return

    def pod_names(self) -> set[str]:
        """Pods that have an engine and still take new requests."""
        return {p.name for p in self.pods if p.serving}

    def running_names(self) -> set[str]:
        """Pods that have an engine and are not being deleted, Ready or not."""
        return {p.name for p in self.pods if p.scraped}

    def add_pod(self, name: str) -> None:
        """A pod became Ready in the cluster: give it a fresh engine (a replaced pod of the same
        name, e.g. a StatefulSet's, gets a new one once the old one is gone); a pod Ready again
        after failed readiness probes takes requests again with the engine it kept."""
        live = next((p for p in self.pods if p.name == name and p.live), None)
        if live is not None:
            if not live.is_ready and live.engine is not None:
                live.is_ready = True
                self.log("info", f"{name} Ready again: back in the Service")
            return
        pod = Pod(name=name, created_at=self.now, scheduled_at=self.now)
        self.pods.append(pod)
        self._pod_ready(pod)

    def unready_pod(self, name: str) -> None:
        """A serving pod's readiness probe failed (the kubelet's verdict, e.g. a saturated
        replica too slow to answer): the Service drops it, so no new requests; it is not
        stopped, so what it runs and queues goes on and its queue keeps counting."""
        for pod in self.pods:
            if pod.name == name and pod.serving:
                pod.is_ready = False
                self.log("info", f"{name} not Ready: out of the Service, still serving its queue")

    def drain_pod(self, name: str, why: str = "deleted") -> None:
        """A pod was deleted: no new requests; in-flight ones drain."""
        for pod in self.pods:
            if pod.name == name and pod.live:
                if pod.engine is not None:
                    # a NotReady pod's vLLM still gets preStop and --shutdown-timeout: it drains
                    # like a Ready one (the twin stops at once only pods that never served)
                    pod.is_ready = True
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
        self.talking = not pods_from_cluster
        """The talk's clock runs: at once in a rehearsal, from ``start_talk`` in the lab."""

    def _new_world(self, load: bool) -> None:
        config = self.config
        self.started = self.clock()
        self.lab: ClusterDrivenWorld | None = (
            ClusterDrivenWorld(config) if self._pods_from_cluster else None
        )
        self.world: World = self.lab if self.lab is not None else World(config)
        self._metrics: dict[str, VllmMetrics] = {}
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
        self.talking = True
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

    def sync_pods(self, running: Mapping[str, bool], desired: int | None = None) -> None:
        """Follow the cluster's Running pods (name -> Ready): a Ready one gets an engine (or
        takes requests again), one that lost readiness keeps its engine out of the router, the
        ones gone from the list (deleted) drain. A Running pod not yet Ready (loading) gets
        nothing yet. Only for ``pods_from_cluster`` fleets."""
        lab = self.lab
        if lab is None:
            raise RuntimeError("sync_pods needs a Fleet(..., pods_from_cluster=True)")
        self.advance()
        for name, ready in sorted(running.items()):
            if ready:
                lab.add_pod(name)
            else:
                lab.unready_pod(name)
        for name in sorted(lab.running_names() - set(running)):
            lab.drain_pod(name)
        if desired is not None:
            lab.desired = desired

    def queue_metrics_text(self) -> bytes:
        """Each trigger's metric (``scaling.triggers``: the queue, the running requests) as ONE
        series summed over the running replicas, in the Prometheus text format.

        Stands in for the EKS path's collector (which renames ``vllm:num_requests_waiting`` to
        ``vllm_num_requests_waiting``) and the OTEL scaler's ``sum(...)``: KEDA's
        ``metrics-api`` scaler returns the first series matching its selector instead of
        summing, so the sum is taken here, over the pods that collector keeps: Running ones,
        Ready or not (``Pod.scraped``). Labels are ``scaling.metric_labels`` plus
        ``model_name``, so the EKS query's matchers select it; with the heartbeat trigger, one
        live collector's heartbeat too (this process is the collector here). Written by
        ``gauges``, as the scaler stand-in's is.
        """
        sums = {"waiting": 0.0, "running": 0.0, "kv_usage": 0.0}
        for pod in self.world.pods:
            if pod.scraped and pod.engine is not None:
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
        series = [(name, labels, value) for name, value in values.items()]
        if self.config.scaling.heartbeat_trigger is not None:
            # no collector on this path: the fleet is the one sending, and it is alive
            key, value = HEARTBEAT_LABEL
            series.append((HEARTBEAT_METRIC, {key: value}, 1.0))
        return gauges(series).encode()

    def forecast_text(self) -> bytes:
        """The timeline's forecast now (scaling.proactive: timeline) as the gauge KEDA's
        forecast trigger reads, in the Prometheus text format: what the gateway's /forecast
        serves on EKS once `tubedemo show` posted it, with the warm capacity's placeholder count
        beside it. 0 before the talk starts (the lab's ``up``, as a gateway before the show) and
        when the option is off."""
        value = self.world.forecast_now if self.talking else 0.0
        warm = float(self.world.warm_now) if self.talking else 0.0
        series: list[tuple[str, Mapping[str, str], float]] = [
            (FORECAST_METRIC, {}, float(round(value))),
            (WARM_CAPACITY_METRIC, {}, warm),
        ]
        return gauges(series).encode()

    # -- metrics ------------------------------------------------------------------------------

    def _pod(self, name: str | None) -> Pod | None:
        return next((p for p in self.world.pods if p.name == name), None)

    def replica_metrics(self, name: str) -> VllmMetrics | None:
        """The /metrics of a replica that runs an engine (Ready or not, or draining); None for
        unknown, gone or still loading ones."""
        pod = self._pod(name)
        if pod is None or pod.gone_at is not None or pod.engine is None:
            return None
        return self._metrics_of(pod)

    def _metrics_of(self, pod: Pod) -> VllmMetrics:
        metrics = self._metrics.get(pod.name)
        if metrics is None:
            metrics = VllmMetrics(self.model_name, lambda: {"0": EngineFigures.of(pod.engine)})
            self._metrics[pod.name] = metrics
        return metrics

    def _first_token(self, request: Request) -> None:
        pod = self._pod(request.replica)
        if pod is not None and request.ttft is not None:
            self._metrics_of(pod).first_token(request.ttft)

    def _ended(self, request: Request) -> None:
        pod = self._pod(request.replica)
        if pod is not None and request.status == "done" and request.e2e is not None:
            self._metrics_of(pod).finished(request.e2e, request.finish_reason)

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
            "interruptions": [i.model_dump(mode="json") for i in view.interruptions],
            # what the collector scrapes: Running pods, a busy one that lost readiness included
            "targets": [
                {"name": p.name, "url": metrics_url(p.name)} for p in world.pods if p.scraped
            ],
            "events": [
                {"time_s": e.time, "kind": e.kind, "message": e.message} for e in world.events[-50:]
            ],
            "cost": {"per_hour": world.per_hour(), "total": world.cost()},
        }
