"""The post-talk report: PNG charts and one self-contained HTML page from a recording.

``summarize`` and ``series`` are pure (recording in, numbers out); ``write_report`` draws the
charts with matplotlib's Agg backend (no display needed) and writes the files. The HTML page
inlines every chart as base64, so it can be mailed or attached to a blog post as one file.
When k6's JSON time series sits beside the recording (``talk.k6.json``, as ``show`` writes it),
the audience-side view (requests, failures, TTFT as the phones saw it) is added.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tubedemo.core.durations import clock_face_rounded
from tubedemo.core.errors import ReportError
from tubedemo.telemetry.recording import read_recording
from tubedemo.telemetry.snapshot import Snapshot

# --- pure: numbers from snapshots ---------------------------------------------------------------


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
    """The audience-side view from k6's JSON output, per 10 s bucket (minutes since start)."""

    t: list[float]
    requests_per_s: list[float]
    ttft_p50_s: list[float]
    ttft_p95_s: list[float]
    failed_fraction: list[float]
    requests: int
    failed: int
    ttft_p50_all_s: float | None
    ttft_p95_all_s: float | None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def k6_series(
    lines: Sequence[str], start: datetime, bucket_s: float = 10.0, speed: float = 1.0
) -> K6Series | None:
    """Fold k6 ``--out json`` points (http_reqs, tubedemo_ttft ms, tubedemo_failed).

    ``speed``: a rehearsal's --speed; k6 measures wall time, so its first-byte times are
    multiplied by it to be talk seconds like the recording's (vLLM's) TTFT."""
    reqs: dict[int, int] = {}
    ttft: dict[int, list[float]] = {}
    fail: dict[int, list[float]] = {}
    seen = False
    for line in lines:
        try:
            point = json.loads(line)
        except json.JSONDecodeError:
            continue  # a truncated last line from an interrupted run
        if not isinstance(point, dict) or point.get("type") != "Point":
            continue
        data = point.get("data") or {}
        try:
            when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
            value = float(data["value"])
        except (KeyError, ValueError, TypeError):
            continue
        seen = True
        bucket = int((when - start).total_seconds() // bucket_s)
        metric = point.get("metric")
        if metric == "http_reqs":
            reqs[bucket] = reqs.get(bucket, 0) + int(value)
        elif metric in ("tubedemo_ttft", "tubedemo_ttfb"):  # k6/load.js records ttfb
            ttft.setdefault(bucket, []).append(value / 1000.0 * speed)
        elif metric == "tubedemo_failed":
            fail.setdefault(bucket, []).append(value)
    if not seen:
        return None
    buckets = sorted(set(reqs) | set(ttft) | set(fail))
    all_ttft = [v for vs in ttft.values() for v in vs]
    all_fail = [v for vs in fail.values() for v in vs]
    return K6Series(
        t=[(b + 0.5) * bucket_s / 60 for b in buckets],
        requests_per_s=[reqs.get(b, 0) / bucket_s for b in buckets],
        ttft_p50_s=[_quantile(ttft[b], 0.5) if b in ttft else math.nan for b in buckets],
        ttft_p95_s=[_quantile(ttft[b], 0.95) if b in ttft else math.nan for b in buckets],
        failed_fraction=[statistics.fmean(fail[b]) if b in fail else math.nan for b in buckets],
        requests=sum(reqs.values()),
        failed=round(sum(all_fail)),
        ttft_p50_all_s=_quantile(all_ttft, 0.5) if all_ttft else None,
        ttft_p95_all_s=_quantile(all_ttft, 0.95) if all_ttft else None,
    )


def k6_files_beside(recording: Path) -> list[Path]:
    """talk.jsonl -> talk.k6.json and its continuation parts talk.k6-2.json, ..."""
    stem = recording.with_suffix("")
    first = stem.with_name(stem.name + ".k6.json")
    parts = sorted(stem.parent.glob(stem.name + ".k6-*.json"))
    parts = [p for p in parts if not p.name.endswith("-summary.json")]
    return ([first] if first.exists() else []) + parts


# --- side effects: charts and the page ----------------------------------------------------------

TFL_BLUE, TFL_RED, TFL_NAVY = "#0019a8", "#dc241f", "#000f47"
VICTORIA, DISTRICT, CIRCLE, BAKERLOO, GREY = "#0098d4", "#00782a", "#ffd300", "#b36305", "#6b6b6b"
PHASE_COLOURS = ("#f3f4f8", "#e6e9f2")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    charts: tuple[Path, ...]
    summary: Summary


def _mark_timeline(ax: Any, s: Series, label_phases: bool) -> None:
    span = (s.t[-1] - s.t[0]) or 1.0
    label_ends: list[float] = []  # right edge (axis fraction) of the last label on each level
    for i, (start, end, name) in enumerate(s.phases):
        ax.axvspan(start, end, color=PHASE_COLOURS[i % 2], zorder=0, lw=0)
        if not label_phases:
            continue
        left = (start - s.t[0]) / span
        width = (len(name) + 2) * 0.0068  # 8 pt DejaVu Sans on a 10-11 inch wide axis
        # short phases would print over each other: drop to the first free level
        level = next((n for n, edge in enumerate(label_ends) if edge <= left), len(label_ends))
        if level >= 3:
            continue
        if level == len(label_ends):
            label_ends.append(0.0)
        label_ends[level] = left + width
        ax.text(
            start,
            0.97 - 0.065 * level,
            f" {name}",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=8,
            color=GREY,
            clip_on=True,
        )
    for minute, mode in s.mode_flips:
        ax.axvline(minute, color=TFL_RED, lw=1.2, ls="--", zorder=3)
        ax.text(
            minute,
            0.78,
            f" → {mode} mode",
            transform=ax.get_xaxis_transform(),
            color=TFL_RED,
            fontsize=8,
            va="top",
            ha="left",
        )


def smooth(t: Sequence[float], values: Sequence[float], seconds: float) -> list[float]:
    """Mean of the finite values within ``seconds`` either side (minutes on ``t``). Pure."""
    half = seconds / 60 / 2
    out: list[float] = []
    lo = hi = 0
    total, count = 0.0, 0
    for centre in t:
        while hi < len(t) and t[hi] <= centre + half:
            if not math.isnan(values[hi]):
                total, count = total + values[hi], count + 1
            hi += 1
        while lo < hi and t[lo] < centre - half:
            if not math.isnan(values[lo]):
                total, count = total - values[lo], count - 1
            lo += 1
        out.append(total / count if count else math.nan)
    return out


def _headroom(*axes: Any) -> None:
    # the top fifth stays free for phase names and mode flips
    for ax in axes:
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top * 1.35 if top > 0 else 1)


def _legend(ax: Any, handles: list[Any]) -> None:
    ax.legend(
        handles,
        [str(h.get_label()) for h in handles],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
        ncol=len(handles),
        borderaxespad=0.2,
    )


def _style(ax: Any, ylabel: str) -> None:
    ax.set_ylabel(ylabel, color=TFL_NAVY)
    ax.grid(True, axis="y", color="#d0d4e0", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0)
    ax.tick_params(colors=TFL_NAVY, labelsize=8)


def _draw_queue(ax: Any, s: Series) -> None:
    ax.fill_between(s.t, s.waiting, step="post", color=TFL_RED, alpha=0.25, lw=0)
    (line,) = ax.step(s.t, s.waiting, where="post", color=TFL_RED, lw=1.6, label="waiting")
    _style(ax, "waiting requests")
    ax.set_ylim(0, max(max(s.waiting), 1))
    _headroom(ax)
    # same curve, second scale: the commuters axis is the queue axis times the multiplier
    factor = max(s.commuters) / max(max(s.waiting), 1) if max(s.commuters) else 1
    twin = ax.twinx()
    twin.set_ylim(0, ax.get_ylim()[1] * (factor or 1))
    twin.set_ylabel("virtual commuters", color=TFL_BLUE)
    twin.tick_params(colors=TFL_BLUE, labelsize=8)
    twin.spines[["top"]].set_visible(False)
    _legend(ax, [line])
    ax.set_title("Queue (left) and virtual commuters (right)", loc="left", fontsize=10)


def _draw_replicas(ax: Any, s: Series) -> None:
    handles = [
        ax.step(s.t, s.desired, where="post", color=TFL_BLUE, lw=2.2, label="replicas desired")[0],
        ax.step(s.t, s.ready, where="post", color=DISTRICT, lw=1.8, label="replicas ready")[0],
        ax.step(
            s.t,
            s.nodes_ready,
            where="post",
            color=BAKERLOO,
            lw=1.3,
            ls="-.",
            label="GPU nodes ready",
        )[0],
        ax.step(
            s.t,
            s.nodes_launching,
            where="post",
            color=GREY,
            lw=1.0,
            ls=":",
            label="nodes launching",
        )[0],
    ]
    _style(ax, "count")
    ax.set_ylim(bottom=0)
    _headroom(ax)
    ax.yaxis.get_major_locator().set_params(integer=True)
    _legend(ax, handles)
    ax.set_title("Replicas and GPU nodes", loc="left", fontsize=10)


def _draw_latency(ax: Any, s: Series) -> None:
    handles = [
        ax.plot(s.t, s.ttft_p50, color=VICTORIA, lw=1.6, label="TTFT p50")[0],
        ax.plot(s.t, s.ttft_p95, color=TFL_RED, lw=1.4, label="TTFT p95")[0],
    ]
    _style(ax, "seconds")
    ax.set_ylim(bottom=0)
    _headroom(ax)
    twin = ax.twinx()
    handles.append(
        twin.plot(
            s.t,
            smooth(s.t, s.tokens_per_s, 15.0),
            color=DISTRICT,
            lw=1.0,
            alpha=0.8,
            label="tokens/s (15 s mean)",
        )[0]
    )
    twin.set_ylabel("tokens/s", color=DISTRICT)
    twin.tick_params(colors=DISTRICT, labelsize=8)
    twin.set_ylim(bottom=0)
    _headroom(twin)
    twin.spines[["top"]].set_visible(False)
    _legend(ax, handles)
    ax.set_title("Latency (vLLM TTFT) and throughput", loc="left", fontsize=10)


def _draw_cost(ax: Any, s: Series) -> None:
    handles = [ax.plot(s.t, s.cost_total, color=TFL_NAVY, lw=1.8, label="spent ($)")[0]]
    _style(ax, "$ spent")
    ax.set_ylim(bottom=0)
    _headroom(ax)
    twin = ax.twinx()
    handles.append(
        twin.step(s.t, s.cost_per_hour, where="post", color=BAKERLOO, lw=1.0, ls="--", label="$/h")[
            0
        ]
    )
    twin.set_ylabel("$/h", color=BAKERLOO)
    twin.tick_params(colors=BAKERLOO, labelsize=8)
    twin.set_ylim(bottom=0)
    _headroom(twin)
    twin.spines[["top"]].set_visible(False)
    _legend(ax, handles)
    ax.set_title("GPU cost", loc="left", fontsize=10)


def _draw_k6(ax: Any, k: K6Series) -> None:
    bars = ax.bar(
        k.t,
        k.requests_per_s,
        width=10 / 60 * 0.9,
        color=VICTORIA,
        alpha=0.45,
        label="k6 requests/s",
    )
    _style(ax, "requests/s")
    _headroom(ax)
    twin = ax.twinx()
    handles = [
        bars,
        twin.plot(
            k.t, k.ttft_p50_s, color=DISTRICT, lw=1.4, marker="o", ms=3, label="first byte p50"
        )[0],
        twin.plot(
            k.t, k.ttft_p95_s, color=TFL_RED, lw=1.4, marker="o", ms=3, label="first byte p95"
        )[0],
    ]
    twin.set_ylabel("seconds", color=TFL_NAVY)
    twin.tick_params(labelsize=8)
    twin.set_ylim(bottom=0)
    _headroom(twin)
    twin.spines[["top"]].set_visible(False)
    _legend(ax, handles)
    ax.set_title("As the phones saw it (k6)", loc="left", fontsize=10)


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight", facecolor="white")
    return path


def _fmt(value: float | None, unit: str = "s", digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f} {unit}".strip()


def _times(values: Sequence[float], what: str, none: str) -> str:
    if not values:
        return none
    if len(values) <= 4:
        return ", ".join(f"{x:.0f} s" for x in values)
    return (
        f"{len(values)} {what}: min {min(values):.0f} s, median {statistics.median(values):.0f} s, "
        f"max {max(values):.0f} s"
    )


def _summary_rows(sm: Summary, k: K6Series | None) -> list[tuple[str, str]]:
    launches = sorted(sm.node_launch_s)
    startups = sorted(sm.pod_startup_s)
    rows = [
        ("Recording length", clock_face_rounded(sm.duration_s)),
        (
            "Peak queue",
            f"{sm.peak_queue} waiting"
            + (
                f" at {clock_face_rounded(sm.peak_queue_at_s)}"
                if sm.peak_queue_at_s is not None
                else ""
            ),
        ),
        ("Peak virtual commuters", f"{sm.peak_commuters:,}"),
        ("Max replicas", f"{sm.max_replicas_desired} desired, {sm.max_replicas_ready} ready"),
        ("First queue → first new replica ready", _fmt(sm.first_queue_to_new_replica_s)),
        ("GPU node launch (NodeClaim → Ready)", _times(launches, "nodes", "no new nodes")),
        (
            "Pod start-up (scheduled → Ready)",
            f"min {startups[0]:.0f} s, max {startups[-1]:.0f} s ({len(startups)} pods)"
            if startups
            else "no new pods",
        ),
        ("Worst TTFT p95 (vLLM)", _fmt(sm.ttft_p95_max_s, "s", 2)),
        ("GPU node-hours", f"{sm.gpu_node_hours:.2f}"),
        ("Total GPU cost", f"${sm.total_cost:.2f}"),
    ]
    if k is not None:
        failed = f"{k.failed} ({k.failed / k.requests:.1%})" if k.requests else str(k.failed)
        rows += [
            ("k6 requests", f"{k.requests:,}, failed {failed}"),
            (
                "Client first byte p50 / p95 (k6)",
                f"{_fmt(k.ttft_p50_all_s, 's', 2)} / {_fmt(k.ttft_p95_all_s, 's', 2)}",
            ),
        ]
    return rows


def write_report(
    recording: Path, out_dir: Path, k6_json: Path | None = None, speed: float = 1.0
) -> ReportFiles:
    """Read ``recording``, write PNG charts and report.html into ``out_dir``; ``speed`` is the
    rehearsal's --speed (k6's first-byte times are scaled to talk seconds)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, same output everywhere
    import matplotlib.pyplot as plt

    snapshots = read_recording(recording).snapshots
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"{out_dir}: cannot create the report directory ({exc.strerror})"
        ) from exc
    s = series(snapshots)
    sm = summarize(snapshots)

    k6_paths = [k6_json] if k6_json is not None else k6_files_beside(recording)
    k6: K6Series | None = None
    if k6_paths:
        lines: list[str] = []
        for path in k6_paths:
            try:
                lines.extend(path.read_text(encoding="utf-8").splitlines())
            except OSError as exc:
                raise ReportError(f"{path}: cannot read k6 output ({exc.strerror})") from exc
        talk_start = snapshots[0].time
        offset = snapshots[0].talk.elapsed_s
        from datetime import timedelta

        k6 = k6_series(lines, talk_start - timedelta(seconds=offset), speed=speed)

    plt.rcParams.update({"font.family": "DejaVu Sans", "axes.titleweight": "bold"})
    drawers: list[tuple[str, Any]] = [
        ("queue", _draw_queue),
        ("replicas", _draw_replicas),
        ("latency", _draw_latency),
        ("cost", _draw_cost),
    ]
    charts: list[Path] = []
    for name, draw in drawers:
        fig, ax = plt.subplots(figsize=(10, 3.4))
        _mark_timeline(ax, s, label_phases=True)
        draw(ax, s)
        ax.set_xlabel("minutes into the talk", color=TFL_NAVY)
        charts.append(_save(fig, out_dir / f"{name}.png"))
        plt.close(fig)
    if k6 is not None:
        fig, ax = plt.subplots(figsize=(10, 3.4))
        _mark_timeline(ax, s, label_phases=True)
        _draw_k6(ax, k6)
        ax.set_xlim(s.t[0], s.t[-1])
        ax.set_xlabel("minutes into the talk", color=TFL_NAVY)
        charts.append(_save(fig, out_dir / "k6.png"))
        plt.close(fig)

    rows = len(drawers) + (1 if k6 is not None else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(11, 2.9 * rows), sharex=True)
    for i, (ax, (_name, draw)) in enumerate(zip(axes, drawers, strict=False)):
        _mark_timeline(ax, s, label_phases=i == 0)
        draw(ax, s)
    if k6 is not None:
        _mark_timeline(axes[-1], s, label_phases=False)
        _draw_k6(axes[-1], k6)
    axes[-1].set_xlabel("minutes into the talk", color=TFL_NAVY)
    axes[0].set_xlim(s.t[0], s.t[-1])
    fig.suptitle(
        "Mind the Queue: the talk, minute by minute",
        x=0.01,
        ha="left",
        fontsize=13,
        color=TFL_NAVY,
        fontweight="bold",
    )
    fig.tight_layout()
    overview = _save(fig, out_dir / "overview.png")
    plt.close(fig)
    charts.insert(0, overview)

    page = _html(recording, snapshots, sm, k6, charts)
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportFiles(html_path, tuple(charts), sm)


def _html(
    recording: Path,
    snapshots: Sequence[Snapshot],
    sm: Summary,
    k6: K6Series | None,
    charts: Sequence[Path],
) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _summary_rows(sm, k6)
    )
    images = "\n".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode("ascii")}"></figure>'
        for p in charts
    )
    events = "\n".join(
        f"<li><time>{clock_face_rounded(at)}</time> {html.escape(message)}</li>"
        for at, message in sm.events
    )
    started = snapshots[0].time.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mind the Queue — talk report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
       color: #000f47; padding: 0 1rem; }}
h1 {{ border-left: .5rem solid #dc241f; padding-left: .75rem; }}
table {{ border-collapse: collapse; margin: 1rem 0 2rem; }}
th, td {{ text-align: left; padding: .35rem 1rem; border-bottom: 1px solid #d0d4e0; }}
th {{ font-weight: 600; }}
figure {{ margin: 1rem 0; }} img {{ max-width: 100%; }}
ul.events {{ columns: 2; font-size: .9rem; }} time {{ color: #6b6b6b; margin-right: .5rem; }}
</style></head>
<body>
<h1>Mind the Queue — talk report</h1>
<p>Recording <code>{html.escape(recording.name)}</code>: {len(snapshots)} snapshots from
{started}.</p>
<h2>Summary</h2>
<table>
{rows}
</table>
<h2>Charts</h2>
{images}
<h2>Events</h2>
<ul class="events">
{events}
</ul>
</body></html>
"""
