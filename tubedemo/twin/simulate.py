"""Fast-forward the whole talk through the twin and summarise it. Pure: no clock, no files.

``simulate(config)`` runs the timeline (plus ``twin.tail``) through the world, takes a light
``Tick`` (a frame) every ``dashboard.tick`` seconds and returns a ``SimulationResult``: the
figures the presenter tunes by (peak queue, replicas, nodes, reaction time, TTFT per phase,
cost) and the frames, which ``snapshots`` turns into the recorder's Snapshot stream for
``tubedemo report``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tubedemo.core.config import DemoConfig, Phase
from tubedemo.core.timeline import mode_at
from tubedemo.telemetry.quantiles import quantile
from tubedemo.telemetry.snapshot import (
    AudienceState,
    CostState,
    Event,
    K6State,
    PerfState,
    QueueState,
    Snapshot,
)
from tubedemo.telemetry.talk_state import talk_state
from tubedemo.twin.engine import Request
from tubedemo.twin.load import Load
from tubedemo.twin.view import NodeView, WorldView, world_view
from tubedemo.twin.world import World

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Snapshot time of talk second 0 when talk.window_start is unset (recordings stay reproducible)."""


@dataclass(frozen=True)
class Tick:
    """The twin at one dashboard tick, as plain data (one of ``SimulationResult.frames``; the
    dashboard's own ``Frame`` is what one drawn screen needs)."""

    time: float
    waiting: int
    running: int
    kv_usage: float
    queued: bool
    """A request waits because a replica is full (slots or KV), not just for the next step."""
    vus: int
    per_hour: float
    cost: float
    finished: tuple[Request, ...]
    """Requests that ended since the previous frame."""
    sent: int
    """Requests sent since the previous frame."""
    generated_tokens: int
    prompt_tokens: int
    events: tuple[tuple[float, str, str], ...]
    view: WorldView
    """Pods, nodes and the HPA's figures (the Snapshot's cluster groups)."""

    @property
    def desired(self) -> int:
        return self.view.desired

    @property
    def ready(self) -> int:
        return self.view.ready

    @property
    def pending(self) -> int:
        return self.view.pending

    @property
    def nodes(self) -> tuple[NodeView, ...]:
        return self.view.nodes


@dataclass(frozen=True)
class PhaseShape:
    """The talk's shape within one named phase of the timeline: what the room sees."""

    phase: str
    start: float
    end: float
    desired_min: int
    desired_max: int
    desired_end: int
    """spec.replicas at the phase's last tick."""
    ready_min: int
    ready_max: int
    ready_end: int
    """Replicas serving at the phase's last tick."""
    new_nodes: tuple[str, ...]
    """Instance type of every node launched within the phase, in launch order."""
    direction_changes: int
    """How often desired replicas turned round (up then down, or down then up) in the phase,
    counting from the value the phase started with."""
    requests: int
    """Requests sent in this phase that ended (any source)."""
    failed: int
    ttft_p50: float | None
    ttft_p95: float | None
    audience_ttft_p50: float | None
    """The simulated room's phones only (None when the room sent nothing in the phase)."""
    audience_ttft_p95: float | None
    cost: float
    """$ of GPU nodes accrued within the phase."""

    @property
    def oscillates(self) -> bool:
        """More than two direction changes within one phase: the presenter sees flapping."""
        return self.direction_changes > 2

    def as_json(self) -> dict[str, object]:
        return {
            "start_s": self.start,
            "end_s": self.end,
            "desired": {"min": self.desired_min, "max": self.desired_max, "end": self.desired_end},
            "ready": {"min": self.ready_min, "max": self.ready_max, "end": self.ready_end},
            "new_nodes": len(self.new_nodes),
            "new_node_types": list(self.new_nodes),
            "direction_changes": self.direction_changes,
            "requests": self.requests,
            "failed": self.failed,
            "ttft_p50_s": self.ttft_p50,
            "ttft_p95_s": self.ttft_p95,
            "audience_ttft_p50_s": self.audience_ttft_p50,
            "audience_ttft_p95_s": self.audience_ttft_p95,
            "cost": round(self.cost, 4),
        }


def direction_changes(values: list[int]) -> int:
    """Turns in a sequence: 1 2 2 3 2 has one (up, then down); flat steps are ignored."""
    turns = 0
    last = 0
    for before, after in itertools.pairwise(values):
        sign = (after > before) - (after < before)
        if sign == 0:
            continue
        if last != 0 and sign != last:
            turns += 1
        last = sign
    return turns


@dataclass(frozen=True)
class SimulationResult:
    label: str
    horizon: float
    peak_queue: int
    peak_queue_at: float | None
    max_replicas: int
    """Most replicas Ready at once."""
    max_desired: int
    max_nodes: int
    first_queue_at: float | None
    first_new_ready_at: float | None
    requests: int
    failed: int
    phases: tuple[PhaseShape, ...]
    cost: float
    """$ for GPU nodes over the talk and the tail."""
    warm_cost: float
    """$ of it for the GPUs placeholder pods held (scaling.warm_capacity; 0 when off)."""
    events_processed: int
    frames: tuple[Tick, ...] = field(repr=False)

    @property
    def warnings(self) -> list[str]:
        """One line per phase whose desired replicas flap (more than two direction changes)."""
        return [
            f"warning: desired replicas changed direction {p.direction_changes} times in "
            f"phase {p.phase!r}: the scaling oscillates (widen the scale-down window or the "
            "tolerance)"
            for p in self.phases
            if p.oscillates
        ]

    def as_json(self) -> dict[str, object]:
        """The same figures as the summary table, as one JSON-ready document."""
        return {
            "label": self.label,
            "simulated_s": self.horizon,
            "requests": self.requests,
            "failed": self.failed,
            "peak_queue": self.peak_queue,
            "peak_queue_at_s": self.peak_queue_at,
            "max_replicas_ready": self.max_replicas,
            "max_replicas_desired": self.max_desired,
            "max_gpu_nodes": self.max_nodes,
            "queue_to_new_replica_ready_s": self.reaction,
            "cost": round(self.cost, 4),
            "warm_capacity_cost": round(self.warm_cost, 4),
            "phases": {p.phase: p.as_json() for p in self.phases},
            "warnings": self.warnings,
        }

    @property
    def reaction(self) -> float | None:
        """First queue -> first new replica Ready (s): the loop's whole latency."""
        if self.first_queue_at is None or self.first_new_ready_at is None:
            return None
        return self.first_new_ready_at - self.first_queue_at


def simulate(
    config: DemoConfig, label: str = "default", seed: int | None = None
) -> SimulationResult:
    """Run the talk and its tail through the twin; deterministic for a config and seed."""
    world = World(config, seed=seed)
    load = Load(world)
    horizon = config.talk.duration + config.twin.tail
    tick = config.dashboard.tick
    frames: list[Tick] = []
    finished_seen = 0
    events_seen = 0
    sent_seen = 0
    generated_seen = prompt_seen = 0
    steps = math.ceil(horizon / tick)
    for k in range(1, steps + 1):
        t = min(k * tick, horizon)
        world.run_until(t)
        waiting, running, kv = world.gauges()
        generated = prompt = 0
        for pod in world.pods:
            if pod.engine is not None:
                generated += pod.engine.generation_tokens_total
                prompt += pod.engine.prompt_tokens_total
        frames.append(
            Tick(
                time=t,
                waiting=waiting,
                running=running,
                kv_usage=kv,
                queued=world.saturated(),
                vus=load.active_vus,
                per_hour=world.per_hour(),
                cost=world.cost(t),
                finished=tuple(world.finished[finished_seen:]),
                sent=world.sent - sent_seen,
                generated_tokens=generated - generated_seen,
                prompt_tokens=prompt - prompt_seen,
                events=tuple((e.time, e.kind, e.message) for e in world.events[events_seen:]),
                view=world_view(world, t),
            )
        )
        finished_seen = len(world.finished)
        events_seen = len(world.events)
        sent_seen = world.sent
        generated_seen, prompt_seen = generated, prompt
    return _summarise(config, label, horizon, world, frames)


def _summarise(
    config: DemoConfig, label: str, horizon: float, world: World, frames: list[Tick]
) -> SimulationResult:
    peak = max(frames, key=lambda f: f.waiting)
    first_queue = next((f.time for f in frames if f.queued), None)
    # The first replica the queue brought: created after the queue formed, then Ready.
    first_ready = (
        min(
            (
                p.ready_at
                for p in world.pods
                if p.is_ready and p.ready_at is not None and p.created_at >= first_queue
            ),
            default=None,
        )
        if first_queue is not None
        else None
    )
    phases = [_phase_shape(phase, world, frames) for phase in config.timeline.phases]
    return SimulationResult(
        label=label,
        horizon=horizon,
        peak_queue=peak.waiting,
        peak_queue_at=peak.time if peak.waiting > 0 else None,
        max_replicas=max(f.ready for f in frames),
        max_desired=max(f.desired for f in frames),
        max_nodes=max(sum(1 for n in f.nodes if n.ready) for f in frames),
        first_queue_at=first_queue,
        first_new_ready_at=first_ready,
        requests=len(world.finished),
        failed=sum(1 for r in world.finished if r.status != "done"),
        phases=tuple(phases),
        cost=world.cost(horizon),
        warm_cost=world.warm_cost(horizon),
        events_processed=world.events_processed,
        frames=tuple(frames),
    )


def _phase_shape(phase: Phase, world: World, frames: list[Tick]) -> PhaseShape:
    inside = [f for f in frames if phase.at < f.time <= phase.end]
    before = [f for f in frames if f.time <= phase.at]
    desired = [f.desired for f in inside]
    ready = [f.ready for f in inside]
    start_desired = before[-1].desired if before else world.config.scaling.min_replicas
    mine = [r for r in world.finished if r.phase == phase.name]
    ttfts = [r.ttft for r in mine if r.ttft is not None]
    room = [r.ttft for r in mine if r.ttft is not None and r.source == "audience"]
    cost_start = before[-1].cost if before else 0.0
    cost_end = inside[-1].cost if inside else cost_start
    return PhaseShape(
        phase=phase.name,
        start=phase.at,
        end=phase.end,
        desired_min=min(desired, default=start_desired),
        desired_max=max(desired, default=start_desired),
        desired_end=desired[-1] if desired else start_desired,
        ready_min=min(ready, default=0),
        ready_max=max(ready, default=0),
        ready_end=ready[-1] if ready else 0,
        new_nodes=tuple(
            n.instance_type
            for n in sorted(world.nodes, key=lambda n: n.created_at)
            if phase.at <= n.created_at < phase.end and n.created_at > 0
        ),
        direction_changes=direction_changes([start_desired, *desired]),
        requests=len(mine),
        failed=sum(1 for r in mine if r.status != "done"),
        ttft_p50=quantile(ttfts, 0.5),
        ttft_p95=quantile(ttfts, 0.95),
        audience_ttft_p50=quantile(room, 0.5),
        audience_ttft_p95=quantile(room, 0.95),
        cost=cost_end - cost_start,
    )


def snapshots(config: DemoConfig, result: SimulationResult) -> Iterator[Snapshot]:
    """The run as the recorder's Snapshot stream (one per tick), for ``tubedemo report``."""
    start = config.talk.window_start or EPOCH
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    tick = config.dashboard.tick
    scaling = config.scaling
    timeline = config.timeline
    for frame in result.frames:
        t = frame.time
        now = start + timedelta(seconds=t)
        ttfts = [r.ttft for r in frame.finished if r.ttft is not None]
        e2es = [r.e2e for r in frame.finished if r.e2e is not None and r.status == "done"]
        done = sum(1 for r in frame.finished if r.status == "done")
        failed = sum(1 for r in frame.finished if r.status != "done")
        yield Snapshot(
            time=now,
            talk=talk_state(timeline, config.talk.duration, t),
            queue=QueueState(
                waiting=frame.waiting, running=frame.running, multiplier=scaling.multiplier
            ),
            replicas=frame.view.replicas(scaling),
            nodes=frame.view.node_state(),
            hpa=frame.view.hpa(scaling),
            perf=PerfState(
                requests_per_s=done / tick,
                tokens_per_s=frame.generated_tokens / tick,
                prompt_tokens_per_s=frame.prompt_tokens / tick,
                ttft_p50_s=quantile(ttfts, 0.5),
                ttft_p95_s=quantile(ttfts, 0.95),
                e2e_p50_s=quantile(e2es, 0.5),
                e2e_p95_s=quantile(e2es, 0.95),
                kv_cache_usage=frame.kv_usage,
                pods_scraped=frame.ready,
            ),
            audience=AudienceState(mode=mode_at(timeline, t)),
            k6=K6State(
                active=frame.vus > 0,
                vus=frame.vus,
                requests_per_s=frame.sent / tick,
                failed_rate=failed / len(frame.finished) if frame.finished else 0.0,
            ),
            cost=CostState(per_hour=frame.per_hour, total=frame.cost),
            interruptions=frame.view.interruptions,
            events=tuple(
                Event(time=start + timedelta(seconds=at), kind=kind, message=message)
                for at, kind, message in frame.events
            ),
        )
