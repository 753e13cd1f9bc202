"""The report's numbers, pure: a recording's columns and key figures, and the audience-side
view from k6's series (read by the one k6 reader, quantiles by the one rule)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from tubedemo.telemetry.k6_points import RunClock, parse_point
from tubedemo.telemetry.quantiles import quantile
from tubedemo.telemetry.snapshot import Interruption, PodState, Snapshot
from tubedemo.telemetry.waterfall import Segment, segments


@dataclass(frozen=True)
class Series:
    """Columns of a recording, aligned on ``t`` (minutes since the talk started)."""

    t: list[float]
    waiting: list[float]
    commuters: list[float]
    desired: list[float]
    ready: list[float]
    nodes_ready: list[float]
    nodes_launching: list[float]
    ttft_p50: list[float]
    ttft_p95: list[float]
    tokens_per_s: list[float]
    requests_per_s: list[float]
    cost_total: list[float]
    cost_per_hour: list[float]
    phases: list[tuple[float, float, str]]
    """(start, end, name) of each timeline phase, in minutes."""
    mode_flips: list[tuple[float, str]]
    """(minute, new mode) whenever the audience page changed mode."""


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _minutes(snapshots: Sequence[Snapshot]) -> list[float]:
    elapsed = [s.talk.elapsed_s for s in snapshots]
    if all(b >= a for a, b in itertools.pairwise(elapsed)) and elapsed[-1] > 0:
        return [e / 60 for e in elapsed]
    # no talk clock in the recording: time since the first snapshot
    first = snapshots[0].time
    return [(s.time - first).total_seconds() / 60 for s in snapshots]


def series(snapshots: Sequence[Snapshot]) -> Series:
    t = _minutes(snapshots)
    phases: list[tuple[float, float, str]] = []
    flips: list[tuple[float, str]] = []
    current: tuple[float, str] | None = None
    previous_mode = None
    for minute, snap in zip(t, snapshots, strict=True):
        name = snap.talk.phase
        if current is not None and name != current[1]:
            phases.append((current[0], minute, current[1]))
            current = None
        if name is not None and current is None:
            current = (minute, name)
        mode = snap.audience.mode
        if mode is not None and previous_mode is not None and mode != previous_mode:
            flips.append((minute, mode))
        if mode is not None:
            previous_mode = mode
    if current is not None:
        phases.append((current[0], t[-1], current[1]))
    return Series(
        t=t,
        waiting=[s.queue.waiting for s in snapshots],
        commuters=[s.virtual_commuters for s in snapshots],
        desired=[s.replicas.desired for s in snapshots],
        ready=[s.replicas.ready for s in snapshots],
        nodes_ready=[s.nodes.ready_count for s in snapshots],
        nodes_launching=[len(s.nodes.launching) for s in snapshots],
        ttft_p50=[_nan(s.perf.ttft_p50_s) for s in snapshots],
        ttft_p95=[_nan(s.perf.ttft_p95_s) for s in snapshots],
        tokens_per_s=[_nan(s.perf.tokens_per_s) for s in snapshots],
        requests_per_s=[_nan(s.perf.requests_per_s) for s in snapshots],
        cost_total=[s.cost.total for s in snapshots],
        cost_per_hour=[s.cost.per_hour for s in snapshots],
        phases=phases,
        mode_flips=flips,
    )


@dataclass(frozen=True)
class Summary:
    duration_s: float
    peak_queue: int
    peak_queue_at_s: float | None
    peak_commuters: int
    max_replicas_desired: int
    max_replicas_ready: int
    first_queue_to_new_replica_s: float | None
    """From the first waiting request to the first replica Ready beyond those serving then."""
    node_launch_s: tuple[float, ...]
    """NodeClaim -> node Ready of every node that launched during the recording (s)."""
    pod_startup_s: tuple[float, ...]
    """PodScheduled -> Ready of every pod that became ready during the recording (s)."""
    ttft_p95_max_s: float | None
    total_cost: float
    gpu_node_hours: float
    events: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    startups: tuple[StartupRow, ...] = ()
    """Every replica that started during the recording, with its waterfall."""
    interruptions: tuple[Interruption, ...] = ()
    """Every spot interruption notice, as the recording last saw it."""


@dataclass(frozen=True)
class StartupRow:
    """One replica's start-up as the report draws it."""

    pod: str
    created_at_s: float
    """Talk seconds when the pod was created."""
    segments: tuple[Segment, ...]
    ready: bool
    deleted: bool
    """Gone before the recording ended (scaled down, evicted)."""


def startup_rows(snapshots: Sequence[Snapshot]) -> tuple[StartupRow, ...]:
    """Each pod that reported start-up milestones, as last seen (its bar then), in the order
    the pods were created."""
    last: dict[str, tuple[Snapshot, PodState]] = {}
    for snap in snapshots:
        for pod in snap.replicas.pods:
            if pod.startup:
                last[pod.name] = (snap, pod)
    rows = [
        StartupRow(
            pod=pod.name,
            created_at_s=snap.talk.elapsed_s - pod.created_s_ago,
            segments=tuple(part for part in segments(pod) if part.reached),
            ready=pod.ready or any(m.step == "ready" for m in pod.startup),
            deleted=snap is not snapshots[-1],
        )
        for snap, pod in last.values()
    ]
    return tuple(sorted(rows, key=lambda r: (r.created_at_s, r.pod)))


def summarize(snapshots: Sequence[Snapshot]) -> Summary:
    first, last = snapshots[0], snapshots[-1]
    duration = (last.time - first.time).total_seconds()
    peak = max(snapshots, key=lambda s: s.queue.waiting)
    first_queue = _queue_that_scaled(snapshots)
    to_replica = None
    if first_queue is not None:
        serving = first_queue.replicas.ready
        later = next(
            (s for s in snapshots if s.time >= first_queue.time and s.replicas.ready > serving),
            None,
        )
        if later is not None:
            to_replica = (later.time - first_queue.time).total_seconds()
    initial_nodes = {n.name for n in first.nodes.nodes if n.ready}
    launches: dict[str, float] = {}
    startups: dict[str, float] = {}
    initial_pods = {p.name for p in first.replicas.pods if p.ready}
    node_seconds = 0.0
    for before, after in itertools.pairwise(snapshots):
        node_seconds += len(before.nodes.nodes) * (after.time - before.time).total_seconds()
    for snap in snapshots:
        for node in snap.nodes.nodes:
            if node.name not in initial_nodes and node.launch_s is not None:
                launches[node.name] = node.launch_s
        for pod in snap.replicas.pods:
            if pod.name not in initial_pods and pod.scheduled_to_ready_s is not None:
                startups[pod.name] = pod.scheduled_to_ready_s
    p95 = [s.perf.ttft_p95_s for s in snapshots if s.perf.ttft_p95_s is not None]
    events = tuple(
        ((e.time - first.time).total_seconds(), e.message) for s in snapshots for e in s.events
    )
    return Summary(
        duration_s=duration,
        peak_queue=peak.queue.waiting,
        peak_queue_at_s=peak.talk.elapsed_s if peak.queue.waiting else None,
        peak_commuters=max(s.virtual_commuters for s in snapshots),
        max_replicas_desired=max(s.replicas.desired for s in snapshots),
        max_replicas_ready=max(s.replicas.ready for s in snapshots),
        first_queue_to_new_replica_s=to_replica,
        node_launch_s=tuple(launches.values()),
        pod_startup_s=tuple(startups.values()),
        ttft_p95_max_s=max(p95) if p95 else None,
        total_cost=last.cost.total,
        gpu_node_hours=node_seconds / 3600,
        events=events,
        startups=startup_rows(snapshots),
        interruptions=last.interruptions,
    )


def _queue_that_scaled(snapshots: Sequence[Snapshot]) -> Snapshot | None:
    """Where the queue began that made the HPA scale up: the start of the last queue episode
    before the first rise in desired replicas (a lone request waiting a moment during the
    warm-up is not it). Without any scale-up, the first waiting request."""
    rise = next(
        (
            i
            for i in range(1, len(snapshots))
            if snapshots[i].replicas.desired > snapshots[i - 1].replicas.desired
            and snapshots[i - 1].replicas.desired > 0
        ),
        None,
    )
    if rise is None:
        return next((s for s in snapshots if s.queue.waiting > 0), None)
    start = None
    for i in range(rise + 1):
        waiting = snapshots[i].queue.waiting
        if waiting > 0 and (i == 0 or snapshots[i - 1].queue.waiting == 0):
            start = snapshots[i]
    return start if start is not None else next((s for s in snapshots if s.queue.waiting > 0), None)


@dataclass(frozen=True)
class K6Series:
    """The audience-side view from k6's JSON output, per 10 s bucket of talk time (``t``:
    minutes since the talk started, the axis of the recording's charts)."""

    t: list[float]
    requests_per_s: list[float]
    """Requests per talk second."""
    ttft_p50_s: list[float]
    ttft_p95_s: list[float]
    failed_fraction: list[float]
    requests: int
    failed: int
    ttft_p50_all_s: float | None
    """Client first byte p50 of the whole run, in talk seconds."""
    ttft_p95_all_s: float | None


K6Part = tuple[Sequence[str], RunClock]
"""One k6 run's lines of ``--out json`` and the clock that puts them on the talk's."""


def k6_series(parts: Sequence[K6Part], bucket_s: float = 10.0) -> K6Series | None:
    """Fold k6 ``--out json`` points (http_reqs, tubedemo_ttft ms, tubedemo_failed) of every
    run, read by the one k6 reader (``tubedemo.telemetry.k6_points``); quantiles by the one
    rule (``tubedemo.telemetry.quantiles``), as on the stage.

    Each run's ``RunClock`` puts its points on the talk's clock: k6 stamps and times in wall
    seconds, so at a rehearsal's --speed N a point 3 wall seconds into a run that started at
    talk second 120 is at talk second 120 + 3 N, and a first byte of 0.4 s is 0.4 N talk
    seconds, the unit of the recording's (vLLM's) TTFT beside it."""
    reqs: dict[int, int] = {}
    ttft: dict[int, list[float]] = {}
    fail: dict[int, list[float]] = {}
    seen = False
    for lines, clock in parts:
        for point in (parse_point(line) for line in lines):
            if point is None:
                continue  # a metric declaration, or a truncated last line of an interrupted run
            seen = True
            bucket = int(clock.talk_seconds(point.time) // bucket_s)
            if point.metric == "http_reqs":
                reqs[bucket] = reqs.get(bucket, 0) + int(point.value)
            elif point.metric in ("tubedemo_ttft", "tubedemo_ttfb"):  # k6/load.js records ttfb
                ttft.setdefault(bucket, []).append(point.value / 1000.0 * clock.speed)
            elif point.metric == "tubedemo_failed":
                fail.setdefault(bucket, []).append(point.value)
    if not seen:
        return None
    buckets = sorted(set(reqs) | set(ttft) | set(fail))
    all_ttft = [v for vs in ttft.values() for v in vs]
    all_fail = [v for vs in fail.values() for v in vs]
    return K6Series(
        t=[(b + 0.5) * bucket_s / 60 for b in buckets],
        requests_per_s=[reqs.get(b, 0) / bucket_s for b in buckets],
        ttft_p50_s=[_nan(quantile(ttft.get(b, ()), 0.5)) for b in buckets],
        ttft_p95_s=[_nan(quantile(ttft.get(b, ()), 0.95)) for b in buckets],
        failed_fraction=[statistics.fmean(fail[b]) if b in fail else math.nan for b in buckets],
        requests=sum(reqs.values()),
        failed=round(sum(all_fail)),
        ttft_p50_all_s=quantile(all_ttft, 0.5),
        ttft_p95_all_s=quantile(all_ttft, 0.95),
    )


def k6_figures(k: K6Series) -> str:
    """One line of the figures the report's summary gives for k6 (what `report` and
    `rehearse` print, so a rehearsal and its report by hand can be compared)."""
    failed = f"{k.failed} ({k.failed / k.requests:.1%})" if k.requests else str(k.failed)
    return (
        f"k6 as the phones saw it (talk time): {k.requests:,} requests, failed {failed}, "
        f"first byte p50 {_seconds(k.ttft_p50_all_s)} / p95 {_seconds(k.ttft_p95_all_s)}"
    )


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"  # as the page writes them
