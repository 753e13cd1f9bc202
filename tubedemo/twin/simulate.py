"""Fast-forward the whole talk through the twin and summarise it. Pure: no clock, no files.

``simulate(config)`` runs the timeline (plus ``twin.tail``) through the world, takes a light
frame every ``dashboard.tick`` seconds and returns a ``SimulationResult``: the figures the
presenter tunes by (peak queue, replicas, nodes, reaction time, TTFT per phase, cost) and the
frames, which ``snapshots`` turns into the recorder's Snapshot stream for ``tubedemo report``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tubedemo.core.config import DemoConfig
from tubedemo.core.timeline import mode_at, next_phase_start, phase_at
from tubedemo.telemetry.snapshot import (
    AudienceState,
    CostState,
    Event,
    K6State,
    PerfState,
    QueueState,
    Snapshot,
    TalkClock,
)
from tubedemo.twin.engine import Request
from tubedemo.twin.load import Load
from tubedemo.twin.view import NodeView, WorldView, world_view
from tubedemo.twin.world import World

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Snapshot time of talk second 0 when talk.window_start is unset (recordings stay reproducible)."""


@dataclass(frozen=True)
class Frame:
    """The twin at one tick, as plain data."""

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
class PhaseLatency:
    phase: str
    requests: int
    failed: int
    ttft_p50: float | None
    ttft_p95: float | None


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
    phases: tuple[PhaseLatency, ...]
    cost: float
    """$ for GPU nodes over the talk and the tail."""
    events_processed: int
    frames: tuple[Frame, ...] = field(repr=False)

    @property
    def reaction(self) -> float | None:
        """First queue -> first new replica Ready (s): the loop's whole latency."""
        if self.first_queue_at is None or self.first_new_ready_at is None:
            return None
        return self.first_new_ready_at - self.first_queue_at


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (no interpolation: a latency that really happened)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def simulate(
    config: DemoConfig, label: str = "default", seed: int | None = None
) -> SimulationResult:
    """Run the talk and its tail through the twin; deterministic for a config and seed."""
    world = World(config, seed=seed)
    load = Load(world)
    horizon = config.talk.duration + config.twin.tail
    tick = config.dashboard.tick
    frames: list[Frame] = []
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
            Frame(
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
    config: DemoConfig, label: str, horizon: float, world: World, frames: list[Frame]
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
    phases = []
    for phase in config.timeline.phases:
        mine = [r for r in world.finished if r.phase == phase.name]
        ttfts = [r.ttft for r in mine if r.ttft is not None]
        phases.append(
            PhaseLatency(
                phase=phase.name,
                requests=len(mine),
                failed=sum(1 for r in mine if r.status != "done"),
                ttft_p50=quantile(ttfts, 0.5),
                ttft_p95=quantile(ttfts, 0.95),
            )
        )
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
        events_processed=world.events_processed,
        frames=tuple(frames),
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
        phase = phase_at(timeline, t)
        upcoming = next_phase_start(timeline, t)
        nxt = next((p for p in timeline.phases if p.at == upcoming), None)
        ttfts = [r.ttft for r in frame.finished if r.ttft is not None]
        e2es = [r.e2e for r in frame.finished if r.e2e is not None and r.status == "done"]
        done = sum(1 for r in frame.finished if r.status == "done")
        failed = sum(1 for r in frame.finished if r.status != "done")
        yield Snapshot(
            time=now,
            talk=TalkClock(
                elapsed_s=t,
                duration_s=config.talk.duration,
                phase=phase.name if phase is not None else None,
                phase_remaining_s=phase.end - t if phase is not None else None,
                next_phase=nxt.name if nxt is not None else None,
                next_cue=nxt.cue if nxt is not None else None,
                next_in_s=upcoming - t if upcoming is not None else None,
            ),
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
            events=tuple(
                Event(time=start + timedelta(seconds=at), kind=kind, message=message)
                for at, kind, message in frame.events
            ),
        )
