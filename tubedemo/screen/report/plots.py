"""The report's charts, drawn with matplotlib's Agg backend (files only, no display): one PNG
per story (queue, replicas, latency, cost, and what the phones saw through k6) and an overview
stacking them on one time axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tubedemo.core.durations import clock_face_rounded
from tubedemo.screen.report.data import K6Series, Series, StartupRow
from tubedemo.telemetry.waterfall import WORD

TFL_BLUE, TFL_RED, TFL_NAVY = "#0019a8", "#dc241f", "#000f47"
VICTORIA, DISTRICT, CIRCLE, BAKERLOO, GREY = "#0098d4", "#00782a", "#ffd300", "#b36305", "#6b6b6b"
PHASE_COLOURS = ("#f3f4f8", "#e6e9f2")


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


def _second_axis_done(twin: Any, ylabel: str, colour: str, colour_ticks: bool = True) -> None:
    """Label, start at zero and leave headroom on a right-hand axis (after plotting on it)."""
    twin.set_ylabel(ylabel, color=colour)
    if colour_ticks:
        twin.tick_params(colors=colour, labelsize=8)
    else:
        twin.tick_params(labelsize=8)
    twin.set_ylim(bottom=0)
    _headroom(twin)
    twin.spines[["top"]].set_visible(False)


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
        ax.step(s.t, values, where="post", color=colour, lw=lw, ls=ls, label=label)[0]
        for values, colour, lw, ls, label in (
            (s.desired, TFL_BLUE, 2.2, "-", "replicas desired"),
            (s.ready, DISTRICT, 1.8, "-", "replicas ready"),
            (s.nodes_ready, BAKERLOO, 1.3, "-.", "GPU nodes ready"),
            (s.nodes_launching, GREY, 1.0, ":", "nodes launching"),
        )
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
    _second_axis_done(twin, "tokens/s", DISTRICT)
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
    _second_axis_done(twin, "$/h", BAKERLOO)
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
    _second_axis_done(twin, "seconds", TFL_NAVY, colour_ticks=False)
    _legend(ax, handles)
    ax.set_title("As the phones saw it (k6)", loc="left", fontsize=10)


STEP_COLOURS = {
    "node": "#a0a5a9",
    "container": VICTORIA,
    "weights": CIRCLE,
    "compile": "#9b0056",
    "ready": DISTRICT,
}
"""The waterfall's colour per segment kind (the dashboard's, as tube line colours)."""


def draw_startups(rows: Sequence[StartupRow], out_dir: Path) -> Path | None:
    """startup.png: each replica's start-up as one bar of segments (waiting for a node, the
    container, the weights, compile and graphs, Ready), seconds after the pod was created; the
    talk time it was created at beside its name. None when no replica started."""
    if not rows:
        return None
    import matplotlib.pyplot as plt

    shown = list(rows)[-24:]  # the latest two dozen: a wall of bars helps nobody
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.32 * len(shown)))
    seen: dict[str, Any] = {}
    for y, row in enumerate(reversed(shown)):
        for part in row.segments:
            word = WORD[part.step]
            bar = ax.barh(
                y,
                part.end - part.start,
                left=part.start,
                height=0.62,
                color=STEP_COLOURS[word],
                edgecolor="white",
                linewidth=0.6,
            )
            seen.setdefault(word, bar)
        end = row.segments[-1].end if row.segments else 0.0
        label = f"{end:.0f} s"
        if not row.ready:
            label += ", deleted before Ready" if row.deleted else ", not Ready yet"
        ax.text(end, y, f"  {label}", va="center", fontsize=8, color=TFL_NAVY)
    ax.set_yticks(
        range(len(shown)),
        [f"{r.pod}  @{clock_face_rounded(r.created_at_s)}" for r in reversed(shown)],
        fontsize=8,
    )
    _style(ax, "")
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds after the pod was created", color=TFL_NAVY)
    ax.margins(x=0.12)
    order = [w for w in STEP_COLOURS if w in seen]
    ax.legend([seen[w] for w in order], order, loc="lower right", fontsize=8, frameon=False, ncol=5)
    ax.set_title("Start-up of each new replica (the waterfall)", loc="left", fontsize=10)
    path = _save(fig, out_dir / "startup.png")
    plt.close(fig)
    return path


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight", facecolor="white")
    return path


DRAWERS: tuple[tuple[str, Any], ...] = (
    ("queue", _draw_queue),
    ("replicas", _draw_replicas),
    ("latency", _draw_latency),
    ("cost", _draw_cost),
)
"""(file name, drawer) of each chart of the recording, in the overview's order."""


def draw_charts(
    s: Series, k6: K6Series | None, out_dir: Path, startups: Sequence[StartupRow] = ()
) -> list[Path]:
    """Write every chart's PNG into ``out_dir``: the overview first, then one per story, then
    the start-up waterfall."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, same output everywhere
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "axes.titleweight": "bold"})
    charts: list[Path] = []
    for name, draw in DRAWERS:
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
    waterfall = draw_startups(startups, out_dir)
    if waterfall is not None:
        charts.append(waterfall)
    return [_overview(plt, s, k6, out_dir), *charts]


def _overview(plt: Any, s: Series, k6: K6Series | None, out_dir: Path) -> Path:
    """Every chart stacked on one time axis (overview.png)."""
    rows = len(DRAWERS) + (1 if k6 is not None else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(11, 2.9 * rows), sharex=True)
    for i, (ax, (_name, draw)) in enumerate(zip(axes, DRAWERS, strict=False)):
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
    return overview
