"""The twin's world: vLLM replicas, the metric pipeline, KEDA + HPA, the ReplicaSet and Karpenter.

A discrete-event loop on a float clock (seconds since the talk started). Callers schedule their
own events (load arrivals) with ``at`` and move time with ``run_until``; the rehearsal's fleet
simulator calls ``run_until(real elapsed x speed)`` from its event loop, ``simulate`` jumps
straight to the end. Everything is deterministic for a given config and seed.

What happens, in the order Kubernetes does it:

- the collector scrapes every ready replica's gauges every ``scaling.scrape_interval``;
- every ``twin.hpa.sync_period`` the HPA asks KEDA for the metric, KEDA evaluates the formula on
  the last scraped trigger values (or, when it cannot read them, applies its ``fallback``), the
  HPA decides (``tubedemo.twin.hpa``) and sets spec.replicas;
- the ReplicaSet creates pods (bound at once to a Ready node with a free GPU, else Pending) or
  deletes them (``tubedemo.twin.replicaset.scale_down_order``: unscheduled, then not ready, then
  from the node with the most replicas, then the most recently ready);
- Karpenter batches Pending pods (idle ``provisioning_batch``, at most ``provisioning_batch_max``)
  and packs the batch onto NodeClaims (``tubedemo.twin.karpenter.pack``: several instance-type
  options each, the cheapest one that fits is launched) within ``gpu_pool.gpu_limit``; a node is
  Ready after its launch delay;
- on a node the first pod pulls the image, every pod loads the model, then it is Ready and the
  router (round-robin over ready endpoints) sends it requests;
- a deleted Ready pod leaves the endpoints at once, sleeps ``prestop_sleep``, then drains for up
  to ``shutdown_timeout``; what is still running then fails;
- Karpenter's disruption loop (every ``disruption_poll``) deletes a node with no live pod
  ``consolidate_after`` after its last pod event, once it has waited
  ``consolidation_validation`` and found it still empty, except inside the talk's
  no-disruption window; a spot interruption drains its node and kills it after the notice;
- with ``scaling.warm_capacity``, placeholder pods hold GPU nodes in its window and vLLM pods
  preempt them (``warm_capacity``).

This module holds the loop, the requests, the metric pipeline, the HPA and the ReplicaSet;
Karpenter's part (batching, launches, consolidation, spot interruptions, drains) is
``karpenter_loop.KarpenterLoop`` and the placeholders' ``warm_capacity.WarmCapacity``, which
``World`` inherits: one world, one state.

On the local profile there is no Karpenter and no GPU: every pod lands on the cluster's own node
(kind/k3d, Ready before the talk, $0) and starts as the CPU stand-in does
(``tubedemo.twin.startup``); no node is launched or consolidated, and there are no spot nodes.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

from tubedemo.core import formula as keda_formula
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import TwinError
from tubedemo.twin.engine import Engine, EngineParams, Request, RequestStatus, metric_sources
from tubedemo.twin.forecast import (
    ForecastStep,
    forecast_at,
    forecast_schedule,
    warm_schedule,
    warm_window,
)
from tubedemo.twin.hpa import HpaModel, Tolerances
from tubedemo.twin.karpenter import instance_options, pack
from tubedemo.twin.karpenter_loop import LOCAL_NODE_PODS, LOCAL_NODE_TYPE, KarpenterLoop
from tubedemo.twin.milestones import pod_milestones
from tubedemo.twin.pods import CapacityType, Node, Pod, SpotNotice
from tubedemo.twin.replicaset import no_cost, node_price_cost, scale_down_order
from tubedemo.twin.startup import image_pull_seconds, model_load_seconds
from tubedemo.twin.warm_capacity import WarmCapacity

EventKind = str
"""Same words as the dashboard's event kinds: scale, node_launched, node_removed, ..."""


@dataclass(frozen=True)
class TwinEvent:
    time: float
    kind: EventKind
    message: str


RequestHook = Callable[[Request], None]


class World(KarpenterLoop, WarmCapacity):
    """The whole cluster on one clock. Not thread-safe; one owner drives it."""

    def __init__(self, config: DemoConfig, seed: int | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.twin.seed if seed is None else seed)
        self._uids = random.Random(f"pod-uids-{config.twin.seed if seed is None else seed}")
        """Pods' UIDs (the ReplicaSet's tie-break), apart from the request stream's draws."""
        self.params = EngineParams.from_config(config)
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._names = itertools.count(1)
        self._node_names = itertools.count(1)
        self._request_ids = itertools.count(1)
        self.pods: list[Pod] = []
        self.placeholders: list[Pod] = []
        """scaling.warm_capacity's placeholder pods so far (gone ones too), oldest first."""
        self._warm_names = itertools.count(1)
        self._warm_until: float | None = None
        """End of the warm capacity's window while it is open (placeholders are replaced)."""
        self.nodes: list[Node] = []
        self.notices: list[SpotNotice] = []
        """Spot interruption notices so far, oldest first."""
        self.events: list[TwinEvent] = []
        self.finished: list[Request] = []
        self.on_first_token: list[RequestHook] = []
        self.on_end: list[RequestHook] = []
        self._hooks: dict[int, RequestHook] = {}
        self._rr = 0
        self.sent = 0
        """Requests submitted so far."""
        self.events_processed = 0
        """Discrete events handled so far (the simulator's unit of work)."""
        self._engine_revision: dict[str, int] = {}
        self._batch_start: float | None = None
        """When Karpenter's current batching window opened; None: no window open."""
        self._batch_due = 0.0
        self._batch_pods: set[str] = set()
        scaling = config.scaling
        if scaling.operation_over_time != "last_one":
            raise TwinError(
                f"scaling.operation_over_time={scaling.operation_over_time!r}: the twin models "
                "only last_one"
            )
        # The same parser and evaluator `validate` uses: the twin scales by KEDA's formula.
        names = set(scaling.trigger_queries)
        self.forecast: list[ForecastStep] = []
        """The timeline's forecast (scaling.proactive: timeline), read at every HPA sync as
        KEDA's metrics-api trigger reads it on the talk's clock; empty when off."""
        if scaling.proactive != "off":
            names.add(scaling.forecast.trigger_name)
            self.forecast = forecast_schedule(config)
        self._warm_schedule = warm_schedule(config)
        self.formula = keda_formula.check(scaling.effective_formula, names)
        self.reactive_formula = keda_formula.check(scaling.reactive_formula, names)
        self._metric_sources = metric_sources(scaling.triggers)
        self.hpa = HpaModel.from_config(scaling, Tolerances.of(config.twin.hpa))
        self.metric_failures = 0
        """KEDA's status.health[metric].numberOfFailures: consecutive failed metric reads."""
        self.desired = max(scaling.min_replicas, 1)
        self.trigger_values: dict[str, float] | None = None
        self.hpa_metric: float | None = None
        self.hpa_input: dict[str, float] | None = None
        """Trigger values KEDA evaluated the formula on at the last HPA sync."""
        self.karpenter = config.profile == "eks"
        """Karpenter launches and consolidates GPU nodes (eks); local: the cluster's own node."""
        if not self.karpenter and config.twin.startup.spot_interruptions:
            raise TwinError(
                "twin.startup.spot_interruptions: the local profile has no spot nodes (no "
                "Karpenter, no GPU); remove them or use profile eks"
            )
        self.hpa_reactive: float | None = None
        """The queue's part of the formula at the last sync (without the forecast)."""
        self.capacity_type: CapacityType = (
            "spot" if "spot" in config.gpu_pool.capacity_types and self.karpenter else "on-demand"
        )
        self._options = instance_options(config, self.capacity_type) if self.karpenter else []
        self._bootstrap()
        self._schedule_loops()

    def _schedule_loops(self) -> None:
        """The controllers' clocks: the collector's scrape, the HPA's sync (from its phase),
        the configured spot interruptions, Karpenter's disruption loop and the warm window."""
        config = self.config
        self._every(0.0, config.scaling.scrape_interval, self._scrape)
        sync = config.twin.hpa.sync_period
        first = config.twin.hpa.first_sync
        self._every(sync if first is None else first, sync, self._hpa_sync)
        for offset in config.twin.startup.spot_interruptions:
            self.at(offset, self._spot_interruption)
        if self.karpenter:
            self.at(config.twin.startup.disruption_first_poll, self._disruption_loop)
            window = warm_window(config)
            if window is not None:
                self.at(window[0], lambda: self._warm_up(window[1]))
                self.at(window[1], self._warm_down)

    # -- clock --------------------------------------------------------------------------------

    def at(self, time: float, action: Callable[[], None]) -> None:
        """Run ``action`` when the clock reaches ``time`` (never in the past)."""
        heapq.heappush(self._heap, (max(time, self.now), next(self._seq), action))

    def _every(self, first: float, period: float, action: Callable[[], None]) -> None:
        def tick() -> None:
            action()
            self.at(self.now + period, tick)

        self.at(first, tick)

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_until(self, time: float) -> None:
        """Process every event up to and including ``time``; the clock ends at ``time``."""
        while self._heap and self._heap[0][0] <= time:
            when, _, action = heapq.heappop(self._heap)
            self.now = when
            self.events_processed += 1
            action()
        self.now = max(self.now, time)

    def log(self, kind: EventKind, message: str) -> None:
        self.events.append(TwinEvent(self.now, kind, message))

    # -- requests -----------------------------------------------------------------------------

    def new_request(
        self,
        source: str,
        phase: str | None = None,
        prompt_tokens: int | None = None,
        max_tokens: int | None = None,
    ) -> Request:
        """A request with lengths drawn from the engine model (or given), clipped to limits."""
        engine = self.config.twin.engine
        spread = engine.length_spread
        prompt = prompt_tokens or max(
            1, round(engine.prompt_tokens * self.rng.uniform(1 - spread, 1 + spread))
        )
        output = max(1, round(engine.output_tokens * self.rng.uniform(1 - spread, 1 + spread)))
        cap = max_tokens if max_tokens is not None else self.config.gateway.max_tokens
        limit = self.config.model.max_model_len
        prompt = min(prompt, limit - 1)
        output = max(1, min(output, cap, limit - prompt))
        return Request(
            id=next(self._request_ids),
            prompt_tokens=prompt,
            output_tokens=output,
            sent_at=self.now,
            source=source,
            phase=phase,
            max_tokens=cap,
        )

    def submit(self, request: Request, on_end: RequestHook | None = None) -> None:
        """Route to the next ready replica (round-robin); fails at once when none is ready."""
        self.sent += 1
        if on_end is not None:
            self._hooks[request.id] = on_end
        serving = [p for p in self.pods if p.serving]
        if not serving:
            request.arrived_at = self.now
            request.status = "failed"
            request.reason = "no ready replica"
            request.finished_at = self.now
            self._ended(request)
            return
        pod = serving[self._rr % len(serving)]
        self._rr += 1
        assert pod.engine is not None
        pod.engine.submit(request, self.now)
        self._sync_engine(pod)

    def abort(self, request: Request, reason: str, status: RequestStatus = "aborted") -> None:
        """The client gave up: the gateway closes the stream and vLLM frees the slot."""
        if request.status not in ("waiting", "running"):
            return
        pod = self._pod_of(request)
        if pod is None or pod.engine is None:
            return
        pod.engine.abort(request, self.now, reason, status)
        self._sync_engine(pod)
        self._ended(request)

    def _pod_of(self, request: Request) -> Pod | None:
        return next((p for p in self.pods if p.name == request.replica), None)

    def _ended(self, request: Request) -> None:
        self.finished.append(request)
        for hook in self.on_end:
            hook(request)
        own = self._hooks.pop(request.id, None)
        if own is not None:
            own(request)

    def _sync_engine(self, pod: Pod) -> None:
        engine = pod.engine
        if engine is None:
            return
        due = engine.next_event()
        key = pod.name
        revision = self._engine_revision.get(key, 0) + 1
        self._engine_revision[key] = revision
        if due is None:
            self._maybe_drained(pod)
            return

        def step_done() -> None:
            if self._engine_revision.get(key) != revision or pod.engine is None:
                return
            if pod.engine.next_event() != self.now:
                return
            before = {id(r): r.first_token_at for r in pod.engine.running}
            touched = pod.engine.complete(self.now)
            for request in touched:
                if before.get(id(request), 0.0) is None and request.first_token_at == self.now:
                    for hook in self.on_first_token:
                        hook(request)
                if request.status == "done":
                    self._ended(request)
            self._sync_engine(pod)

        self.at(due, step_done)

    # -- cluster bootstrap --------------------------------------------------------------------

    def _bootstrap(self) -> None:
        """Before the talk: min replicas Ready on warm nodes (the presenter ran `up`); on the
        local profile, the cluster's own node holds them (and every later pod)."""
        if not self.karpenter:
            own = self._new_node(LOCAL_NODE_TYPE, LOCAL_NODE_PODS, 0.0, 0.0, name="local-node")
            own.is_ready = True
            own.image_ready_at = 0.0
        for _ in range(self.desired):
            pod = self._new_pod()
            node = self._free_ready_node()
            if node is None:
                used = sum(n.gpus for n in self.nodes if n.alive)
                claims, _ = pack(self._options, 1, self.config.gpu_pool.gpu_limit - used)
                if not claims:
                    raise TwinError("gpu_pool.gpu_limit leaves no room for min_replicas")
                choice = claims[0].launch
                node = self._new_node(choice.instance_type, choice.gpus, choice.price_per_hour, 0)
                node.is_ready = True
                node.image_ready_at = 0.0
            self._bind(pod, node, ready_at=0.0)
            self._pod_ready(pod)

    # -- metrics, KEDA, HPA -------------------------------------------------------------------

    def gauges(self) -> tuple[int, int, float]:
        """Sum of waiting, running and mean KV usage over the replicas the collector scrapes."""
        waiting = running = 0
        kv = 0.0
        count = 0
        for pod in self.pods:
            if pod.scraped and pod.engine is not None:
                g = pod.engine.gauges()
                waiting += g.waiting
                running += g.running
                kv += g.kv_usage
                count += 1
        return waiting, running, (kv / count if count else 0.0)

    def saturated(self) -> bool:
        """Some replica holds waiting requests while its slots or KV cache are full."""
        for pod in self.pods:
            engine = pod.engine
            if pod.serving and engine is not None and engine.waiting:
                full = len(engine.running) >= engine.params.max_num_seqs
                if full or engine.used_blocks >= engine.params.kv_blocks * 0.95:
                    return True
        return False

    def _scrape(self) -> None:
        waiting, running, kv = self.gauges()
        scraped = sum(1 for p in self.pods if p.scraped)
        value = {"waiting": float(waiting), "running": float(running), "kv_usage": kv * scraped}
        self.trigger_values = {
            trigger: value[source] for trigger, source in self._metric_sources.items()
        }
        if self.config.scaling.heartbeat_trigger is not None:
            # every collector replica's heartbeat reaches the scaler (the twin has no
            # collector outages: hpa.metric_outages models the scaler being unreadable)
            self.trigger_values[self.config.scaling.heartbeat_trigger] = float(
                self.config.otel.replicas
            )

    @property
    def warm_now(self) -> int:
        """The warm capacity's placeholder count on the talk's clock now (0 when off): what
        the placeholders' ScaledObject reads."""
        return forecast_at(self._warm_schedule, self.now)

    @property
    def forecast_now(self) -> float:
        """The forecast trigger's value now (replicas); 0 when scaling is not proactive."""
        return float(forecast_at(self.forecast, self.now))

    def _metric_readable(self) -> bool:
        return self.trigger_values is not None and not any(
            start <= self.now < end for start, end in self.config.twin.hpa.metric_outages
        )

    def _keda_metric(self) -> float | None:
        """What KEDA's metrics server answers the HPA: the formula, its fallback, or an error.

        KEDA pkg/fallback/fallback.go (GetMetricsWithFallback, doFallback): a successful read
        resets the failure count; a failed one increments it, and once it exceeds
        fallback.failureThreshold KEDA answers ``target x fallback.replicas`` (static behaviour,
        AverageValue with scalingModifiers: normalised by scalingModifiers.target) so the HPA
        proposes fallback.replicas. Until then the HPA gets the error and holds.
        """
        if self._metric_readable():
            assert self.trigger_values is not None
            self.metric_failures = 0
            values = self.trigger_values
            if self.forecast:
                # metrics-api answers at the HPA's query (KEDA caches nothing by default)
                values = {**values, self.config.scaling.forecast.trigger_name: self.forecast_now}
            self.hpa_reactive = keda_formula.evaluate(self.reactive_formula, values)
            return keda_formula.evaluate(self.formula, values)
        self.metric_failures += 1
        fallback = self.config.scaling.fallback
        if self.metric_failures > fallback.failure_threshold:
            if self.metric_failures == fallback.failure_threshold + 1:
                self.log("info", f"KEDA fallback: metric unreadable, holding {fallback.replicas}")
            return float(self.config.scaling.target) * fallback.replicas
        return None

    def _hpa_sync(self) -> None:
        values = self.trigger_values
        self.hpa_input = values
        metric = self._keda_metric()
        self.hpa_metric = metric
        status = sum(1 for p in self.pods if p.live)
        decision = self.hpa.reconcile(self.now, self.desired, status, metric)
        if decision.desired != self.desired:
            self.log(
                "scale",
                f"HPA {self.desired} -> {decision.desired} replicas "
                f"(metric {metric:g}, {decision.reason})"
                if metric is not None
                else f"HPA {self.desired} -> {decision.desired} replicas ({decision.reason})",
            )
            self.desired = decision.desired
            self._reconcile_replicaset()

    # -- ReplicaSet and scheduling ------------------------------------------------------------

    def _new_pod(self) -> Pod:
        pod = Pod(
            name=f"vllm-{next(self._names)}",
            created_at=self.now,
            uid=f"{self._uids.getrandbits(128):032x}",
        )
        self.pods.append(pod)
        return pod

    def _reconcile_replicaset(self) -> None:
        live = [p for p in self.pods if p.live]
        if len(live) < self.desired:
            for _ in range(self.desired - len(live)):
                self._place(self._new_pod())
        elif len(live) > self.desired:
            cost = node_price_cost if self.config.scaling.deletion_cost == "node_price" else no_cost
            for pod in scale_down_order(live, self.now, cost)[: len(live) - self.desired]:
                self._delete_pod(pod, "scaled down")

    def _place(self, pod: Pod) -> None:
        """The scheduler on a new pod: a free GPU on a Ready node; for a vLLM pod, else a
        placeholder's GPU (preemption); else Pending, and Karpenter's batcher hears of it."""
        node = self._free_ready_node()
        if node is None and pod not in self.placeholders:
            node = self._preempt_for(pod)
        if node is None:
            self._want_nodes(pod)
        elif pod in self.placeholders:
            self._hold(pod, node)
        else:
            self._bind(pod, node)

    def _pending_pods(self) -> list[Pod]:
        """Live unbound pods in the scheduler's order: vLLM's (higher priority) first, then
        the placeholders, each oldest first."""
        pending = [p for p in [*self.pods, *self.placeholders] if p.live and p.node is None]
        return sorted(pending, key=lambda p: (p in self.placeholders, p.created_at))

    def _free_ready_node(self) -> Node | None:
        candidates = [
            n
            for n in self.nodes
            if n.alive and n.is_ready and n.interrupted_at is None and n.terminating_at is None
        ]
        # Fill partly used nodes first so empty ones can be consolidated.
        candidates = [n for n in candidates if n.free_gpus > 0]
        if not candidates:
            return None
        return min(candidates, key=lambda n: (n.free_gpus, n.created_at))

    def _bind(self, pod: Pod, node: Node, ready_at: float | None = None) -> None:
        pod.node = node
        pod.nominated = None
        pod.scheduled_at = self.now
        node.pods.append(pod)
        node.empty_since = None
        self._pod_event(node)
        if node.image_ready_at is None:
            node.image_ready_at = self.now + image_pull_seconds(self.config)
        if ready_at is None:
            bound = max(self.now, node.image_ready_at)
            pod.milestones = pod_milestones(self._pod_steps(), bound)
            ready_at = pod.milestones["ready"]
        pod.ready_at = ready_at
        if ready_at > self.now:
            self.at(ready_at, lambda: self._pod_ready(pod))

    def _pod_steps(self) -> tuple[tuple[str, float], ...]:
        """The steps of a pod once the image is on its node (``tubedemo.twin.startup``)."""
        return (("ready", model_load_seconds(self.config)),)

    def _pod_ready(self, pod: Pod) -> None:
        if not pod.live or pod.is_ready:
            return
        pod.is_ready = True
        pod.ready_at = self.now
        pod.engine = Engine(pod.name, self.params)
        for notice in self.notices:
            if notice.replaced_at is None and pod.created_at >= notice.at:
                notice.replaced_at = self.now
                taken = self.now - notice.at
                given = self.config.twin.startup.spot_notice
                verdict = "inside" if taken <= given else "after"
                self.log(
                    "pod_ready",
                    f"Replacement serving {taken:.0f} s after the spot notice on "
                    f"{notice.node.name} ({verdict} its {given:.0f} s)",
                )
        if self.now > 0:
            self.log("pod_ready", f"{pod.name} Ready after {self.now - pod.created_at:.0f}s")

    def _delete_pod(self, pod: Pod, why: str) -> None:
        pod.deleting_at = self.now
        if pod.node is not None:
            self._pod_event(pod.node)
        if not pod.is_ready or pod.engine is None:
            self._pod_gone(pod)
            return
        model = self.config.model

        def stop_accepting() -> None:
            pod.drain_deadline = self.now + model.shutdown_timeout
            self.at(pod.drain_deadline, lambda: self._kill(pod, "shutdown timeout"))
            self._maybe_drained(pod)

        self.at(self.now + model.prestop_sleep, stop_accepting)

    def _maybe_drained(self, pod: Pod) -> None:
        if pod.drain_deadline is None or pod.gone_at is not None:
            return
        if pod.engine is None or pod.engine.idle:
            self._pod_gone(pod)

    def _kill(self, pod: Pod, reason: str) -> None:
        if pod.gone_at is not None:
            return
        if pod.engine is not None:
            for request in pod.engine.stop(self.now, reason):
                self._ended(request)
            if pod.is_ready and self.now > 0:
                self.log("pod_failed", f"{pod.name} stopped ({reason})")
        self._pod_gone(pod)

    def _pod_gone(self, pod: Pod) -> None:
        if pod.gone_at is not None:
            return
        if pod.deleting_at is None:
            pod.deleting_at = self.now
        pod.gone_at = self.now
        if pod in self.placeholders and self._warm_until is not None:
            # the placeholder Deployment replaces a pod its node took away (spot, drain)
            self.at(self.now, self._new_placeholder)
        node = pod.node
        if node is not None and pod in node.pods:
            node.pods.remove(pod)
            for notice in self.notices:
                if notice.node is node and notice.drained_at is None and not node.pods:
                    notice.drained_at = self.now
            if not node.pods and node.alive:
                node.empty_since = self.now
                if node.terminating_at is not None:
                    self._node_gone(node)
        self._schedule_pending()

    def _schedule_pending(self) -> None:
        for pod in self._pending_pods():
            node = self._free_ready_node()
            if node is None:
                self._want_nodes(pod)
            elif pod in self.placeholders:
                self._hold(pod, node)
            else:
                self._bind(pod, node)

    # -- views --------------------------------------------------------------------------------

    def cost(self, until: float | None = None) -> float:
        end = self.now if until is None else until
        return sum(n.cost(end) for n in self.nodes)

    def per_hour(self) -> float:
        return sum(n.price_per_hour for n in self.nodes if n.alive)
