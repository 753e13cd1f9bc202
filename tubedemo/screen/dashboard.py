"""The stage dashboard: a pure function from snapshot history to one Rich renderable.

``render(history, width, height, options)`` reads nothing but its arguments and has no side
effects; ``tubedemo watch`` hands its result to Rich Live once per tick. Every frame has exactly
``height`` lines of exactly ``width`` cells, so Live redraws in place without flicker, and the
same snapshots at the same size always give the same text (the golden tests rely on it).

The layout is built for a projector at 80x24 and grows into bigger terminals: 2x figures, taller
load graphs, per-pod and per-node lists and a longer events ticker.
"""

from __future__ import annotations

import io
import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.layout import Layout
from rich.panel import Panel
from rich.text import Text

from tubedemo.core.config import DashboardConfig
from tubedemo.core.durations import clock_face
from tubedemo.telemetry.snapshot import (
    Event,
    GpuNode,
    NodeClaimState,
    PodState,
    ReplicaState,
    Sampled,
    Snapshot,
)


@dataclass(frozen=True)
class DashboardOptions:
    """How the dashboard looks; built from the config's ``dashboard`` section."""

    title: str = "MIND THE QUEUE"
    tube_flavour: bool = True
    high_contrast: bool = False
    history_s: float = 300.0

    @classmethod
    def from_config(cls, config: DashboardConfig, title: str | None = None) -> DashboardOptions:
        return cls(
            title=title or cls.title,
            tube_flavour=config.tube_flavour,
            high_contrast=config.high_contrast,
            history_s=config.history,
        )


# --- theme -------------------------------------------------------------------------------------

_NORMAL = {
    "header": "bold white on #0019a8",
    "border": "#dc241f",
    "title": "bold white",
    "label": "grey70",
    "value": "bold white",
    "ok": "bold #00d060",
    "warn": "bold #ffd300",
    "bad": "bold #ff3b30",
    "dim": "grey50",
    "graph_rps": "#0098d4",
    "graph_queue": "#dc241f",
    "cue": "bold black on #ffd300",
}
_HIGH_CONTRAST = {
    "header": "bold black on white",
    "border": "bold white",
    "title": "bold white",
    "label": "bold white",
    "value": "bold white",
    "ok": "bold bright_green",
    "warn": "bold bright_yellow",
    "bad": "bold bright_red",
    "dim": "white",
    "graph_rps": "bold bright_cyan",
    "graph_queue": "bold bright_yellow",
    "cue": "bold black on bright_yellow",
}

# Replica counts as tube lines, from the one-stop Waterloo & City to the Elizabeth line.
TUBE_LINES: tuple[tuple[str, str], ...] = (
    ("Suspended", "white on grey37"),
    ("Waterloo & City", "black on #95cdba"),
    ("Hammersmith & City", "black on #f3a9bb"),
    ("Circle", "black on #ffd300"),
    ("Bakerloo", "white on #b36305"),
    ("Victoria", "white on #0098d4"),
    ("Jubilee", "black on #a0a5a9"),
    ("Northern", "white on black"),
    ("Piccadilly", "white on #003688"),
    ("District", "white on #00782a"),
    ("Central", "white on #e32017"),
    ("Metropolitan", "white on #9b0056"),
    ("Elizabeth", "white on #6950a1"),
)


def tube_line(replicas: int) -> tuple[str, str]:
    """The tube line (name, badge style) standing for a replica count."""
    return TUBE_LINES[max(0, min(replicas, len(TUBE_LINES) - 1))]


# --- big figures -------------------------------------------------------------------------------

_FONT = {
    "0": ("█▀█", "█ █", "▀▀▀"),
    "1": ("▄█ ", " █ ", "▀▀▀"),
    "2": ("▀▀█", "█▀▀", "▀▀▀"),
    "3": ("▀▀█", " ▀█", "▀▀▀"),
    "4": ("█ █", "▀▀█", "  ▀"),
    "5": ("█▀▀", "▀▀█", "▀▀▀"),
    "6": ("█▀▀", "█▀█", "▀▀▀"),
    "7": ("▀▀█", "  █", "  ▀"),
    "8": ("█▀█", "█▀█", "▀▀▀"),
    "9": ("█▀█", "▀▀█", "▀▀▀"),
    ",": ("   ", "   ", " ▄▀"),
    "?": ("▀▀█", " ▀▀", " ▀ "),
    "-": ("   ", "▀▀▀", "   "),
    "/": ("  █", " █ ", "▀  "),
}


def big_text(text: str, scale: int = 1) -> list[str]:
    """``text`` (digits, comma, ?, -) in a 3-row block font; ``scale`` 2 doubles both ways."""
    rows = ["", "", ""]
    for ch in text:
        glyph = _FONT.get(ch, _FONT["?"])
        for i in range(3):
            rows[i] += glyph[i] + " "
    rows = [r.rstrip() for r in rows]
    if scale == 1:
        return rows
    # Each cell holds two vertical pixels (▀ top, ▄ bottom); at 2x every pixel becomes a full
    # cell pair, so the doubled figure stays crisp instead of striped.
    top = {"█": "█", "▀": "█", "▄": " ", " ": " "}
    bottom = {"█": "█", "▀": " ", "▄": "█", " ": " "}
    out: list[str] = []
    for row in rows:
        out.append("".join(top.get(c, c) * 2 for c in row))
        out.append("".join(bottom.get(c, c) * 2 for c in row))
    return out


def _thousands(value: int) -> str:
    return f"{value:,}"


# --- helpers ------------------------------------------------------------------------------------


def _secs(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if value >= 10:
        return f"{value:.0f}s"
    return f"{value:.{digits}f}s"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"


def _stale_note(group: Sampled) -> str:
    if not group.stale:
        return ""
    if group.age_s is None:
        return " · no data"
    return f" · stale {group.age_s:.0f}s"


def _line(text: str | Text = "", style: str = "") -> Text:
    t = text if isinstance(text, Text) else Text(text, style=style)
    t.no_wrap = True
    t.overflow = "ellipsis"
    return t


def _series(
    history: Sequence[Snapshot], width: int, window_s: float, pick: str
) -> list[float | None]:
    """Bucket history into ``width`` columns over the last ``window_s``; max per column."""
    if not history or width <= 0:
        return []
    end = history[-1].time
    start_ts = end.timestamp() - window_s
    step = window_s / width
    out: list[float | None] = [None] * width
    for snap in history:
        offset = snap.time.timestamp() - start_ts
        if offset < 0:
            continue
        index = min(width - 1, int(offset / step))
        value = _pick(snap, pick)
        if value is None:
            continue
        current = out[index]
        out[index] = value if current is None else max(current, value)
    return out


def _pick(snap: Snapshot, what: str) -> float | None:
    if what == "rps":
        if snap.perf.requests_per_s is not None:
            return snap.perf.requests_per_s
        return snap.gateway.requests_per_s
    return float(snap.queue.waiting)


_EIGHTHS = " ▁▂▃▄▅▆▇█"


def chart(values: Sequence[float | None], rows: int, top: float) -> list[str]:
    """A column chart ``rows`` high in eighth blocks; ``top`` is the value of a full column."""
    if rows <= 0:
        return []
    lines = [[" "] * len(values) for _ in range(rows)]
    for col, value in enumerate(values):
        if value is None or top <= 0:
            continue
        eighths = round(max(0.0, min(value, top)) / top * rows * 8)
        if value > 0 and eighths == 0:
            eighths = 1  # a non-zero value stays visible
        for row in range(rows):
            fill = max(0, min(8, eighths - row * 8))
            lines[rows - 1 - row][col] = _EIGHTHS[fill]
    return ["".join(line) for line in lines]


def _nice_top(values: Iterable[float | None], floor: float) -> float:
    peak = max((v for v in values if v is not None), default=0.0)
    peak = max(peak, floor)
    magnitude = 10.0 ** math.floor(math.log10(peak))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= peak:
            return step * magnitude
    return 10 * magnitude


# --- panels -------------------------------------------------------------------------------------


class _Frame:
    """Pre-computed facts one frame needs, so panels stay small."""

    def __init__(self, history: Sequence[Snapshot], options: DashboardOptions) -> None:
        self.history = history
        self.now = history[-1]
        self.options = options
        self.theme = _HIGH_CONTRAST if options.high_contrast else _NORMAL
        startup = _startup_times(history)
        self.startup_min = min(startup) if startup else None
        self.startup_max = max(startup) if startup else None
        self.events = [e for s in history for e in s.events]

    def s(self, name: str) -> str:
        return self.theme[name]

    def panel(self, title: str, lines: list[Text], height: int, stale: str = "") -> Panel:
        heading = Text(f" {title}", style=self.s("title"))
        if stale:
            heading.append(stale + " ", style=self.s("bad"))
        else:
            heading.append(" ")
        return Panel(
            Group(*lines[: max(0, height - 2)]),
            title=heading,
            title_align="left",
            border_style=self.s("border"),
            height=height,
            padding=(0, 1),
        )


_STARTUP_CACHE: dict[int, tuple[weakref.ref[ReplicaState], tuple[float, float] | None]] = {}


def _startup_range(replicas: ReplicaState) -> tuple[float, float] | None:
    """(min, max) scheduled -> ready of the pods in one snapshot.

    Memoised per (immutable) ReplicaState: each frame only scans the pods of snapshots it has not
    seen before, so 500 pods x 300 snapshots of history stay cheap. Same inputs, same answer.
    """
    key = id(replicas)
    hit = _STARTUP_CACHE.get(key)
    if hit is not None and hit[0]() is replicas:
        return hit[1]
    times = [p.scheduled_to_ready_s for p in replicas.pods if p.scheduled_to_ready_s is not None]
    value = (min(times), max(times)) if times else None
    if len(_STARTUP_CACHE) > 8192:
        _STARTUP_CACHE.clear()
    _STARTUP_CACHE[key] = (weakref.ref(replicas), value)
    return value


def _startup_times(history: Sequence[Snapshot]) -> list[float]:
    """Fastest and slowest pod start-up seen anywhere in the history (pods that are gone too)."""
    ranges = [r for r in (_startup_range(s.replicas) for s in history) if r is not None]
    if not ranges:
        return []
    return [min(r[0] for r in ranges), max(r[1] for r in ranges)]


def _header(f: _Frame, width: int) -> Text:
    talk = f.now.talk
    left = Text(f" {f.options.title} ", style=f.s("header"))
    clock = f"{clock_face(talk.elapsed_s)} / {clock_face(talk.duration_s)}"
    phase = talk.phase or "between phases"
    if talk.phase_remaining_s is not None:
        phase += f" ({clock_face(talk.phase_remaining_s)} left)"
    mode = (f.now.audience.mode or "?").upper()
    # the gateway is not the scaling story: its outage shows here, not in the commentary
    stale = " (stale)" if f.now.audience.stale and f.now.audience.mode is not None else ""
    right = f" {mode} · {f.now.audience.survey_count} surveys{stale} "
    bar_width = max(0, width - len(left.plain) - len(clock) - len(phase) - len(right) - 8)
    bar_width = min(bar_width, 30)
    done = 0
    if talk.duration_s > 0:
        done = round(min(1.0, talk.elapsed_s / talk.duration_s) * bar_width)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append_text(left)
    line.append(" " + clock + " ", style=f.s("value"))
    if bar_width >= 4:
        line.append("█" * done, style=f.s("ok"))
        line.append("░" * (bar_width - done), style=f.s("dim"))
    line.append("  " + phase, style=f.s("warn"))
    pad = width - len(line.plain) - len(right)
    if pad > 0:
        line.append(" " * pad)
    mode_style = f.s("cue") if f.now.audience.mode == "survey" else f.s("header")
    line.append(right, style=mode_style)
    line.truncate(width, overflow="ellipsis")
    return line


def _queue_style(f: _Frame, waiting: int) -> str:
    if waiting == 0:
        return f.s("ok")
    return f.s("warn") if waiting < 5 else f.s("bad")


def _big_panel(
    f: _Frame,
    title: str,
    figure: str,
    style: str,
    caption: str,
    height: int,
    scale: int,
    stale: str,
) -> Panel:
    lines = [_line(row, style) for row in big_text(figure, scale)]
    lines.append(_line(caption, f.s("label")))
    return f.panel(title, lines, height, stale)


def _pod_icon(f: _Frame, pod: PodState) -> tuple[str, str]:
    if pod.phase in ("Terminating", "Failed"):
        return "✕", f.s("bad")
    if pod.ready:
        return "●", f.s("ok")
    if pod.node:
        return "◐", f.s("warn")
    return "○", f.s("bad")


def _replicas_panel(f: _Frame, width: int, height: int, scale: int = 1) -> Panel:
    r = f.now.replicas
    inner = width - 4
    room = height - 2
    figure: list[str] = []
    if scale > 1:
        # big terminals: ready/desired as a big figure beside the details
        figure = big_text(f"{r.ready}/{r.desired}", scale)
        fig_w = max(len(row) for row in figure) + 3
        if inner - fig_w >= 36:
            inner -= fig_w
        else:
            figure = []
    lines: list[Text] = []
    counts = Text(no_wrap=True, overflow="ellipsis")
    counts.append(f"{r.ready}", style=f.s("ok"))
    counts.append(" ready ", style=f.s("label"))
    counts.append(f"{r.desired}", style=f.s("value"))
    counts.append(" desired ", style=f.s("label"))
    counts.append(f"{r.pending}", style=f.s("warn") if r.pending else f.s("value"))
    counts.append(" pending", style=f.s("label"))
    if r.max is not None and inner >= 36:
        counts.append(f"  max {r.max}", style=f.s("dim"))
    lines.append(counts)
    if f.options.tube_flavour:
        name, badge = tube_line(r.ready)
        line_name = Text(no_wrap=True, overflow="ellipsis")
        label = f" {name} line " if name != "Suspended" else " Service suspended "
        line_name.append(label, style=f.s("header") if f.options.high_contrast else badge)
        lines.append(line_name)
    icon_rows = max(1, room - len(lines) - 1)
    icons = Text(overflow="ellipsis")
    for pod in r.pods[: icon_rows * inner]:
        icon, style = _pod_icon(f, pod)
        icons.append(icon, style=style)
    if not r.pods:
        icons.append("no pods", style=f.s("dim"))
    lines.extend(icons.wrap(Console(width=inner, legacy_windows=False), inner)[:icon_rows])
    startup = Text(no_wrap=True, overflow="ellipsis")
    hpa = f.now.hpa
    if hpa.problem:
        # the HPA cannot scale: more urgent than start-up times, so it takes their place
        startup.append("HPA ", style=f.s("label"))
        startup.append(f"⚠ {hpa.problem}", style=f.s("bad"))
    else:
        startup.append("startup ", style=f.s("label"))
        if f.startup_min is None or f.startup_max is None:
            startup.append("–", style=f.s("value"))
        else:
            startup.append(f"{f.startup_min:.0f}–{f.startup_max:.0f}s", style=f.s("value"))
        if hpa.desired is not None:
            startup.append("  HPA ", style=f.s("label"))
            startup.append(f"{hpa.desired}", style=f.s("value"))
            if hpa.metric is not None and hpa.target is not None:
                startup.append(f" ({hpa.metric:.0f}/{hpa.target:.0f})", style=f.s("dim"))
    while len(lines) < room - 1:
        lines.append(_line())
    lines.append(startup)
    if figure:
        fig_w = max(len(row) for row in figure) + 3
        style = f.s("ok") if r.ready >= r.desired else f.s("warn")
        combined = []
        for i, line in enumerate(lines):
            row = Text(no_wrap=True, overflow="ellipsis")
            row.append((figure[i] if i < len(figure) else "").ljust(fig_w), style=style)
            row.append_text(line)
            combined.append(row)
        lines = combined
    return f.panel("REPLICAS", lines, height, _stale_note(r))


def _pods_panel(f: _Frame, width: int, height: int) -> Panel:
    r = f.now.replicas
    room = height - 2
    lines: list[Text] = []
    shown = r.pods if len(r.pods) <= room else r.pods[: max(0, room - 1)]
    for pod in shown:
        icon, style = _pod_icon(f, pod)
        row = Text(no_wrap=True, overflow="ellipsis")
        row.append(icon + " ", style=style)
        row.append(f"{pod.name:<16.16}", style=f.s("value"))
        if pod.ready:
            took = _secs(pod.scheduled_to_ready_s, 0) if pod.scheduled_to_ready_s else "–"
            row.append(f" ready in {took}", style=f.s("label"))
        else:
            why = pod.pending_reason or pod.phase
            row.append(f" {why} {_age(pod.created_s_ago)}", style=f.s("warn"))
        if pod.node:
            row.append(f"  {pod.node}", style=f.s("dim"))
        lines.append(row)
    if len(shown) < len(r.pods):
        lines.append(_line(f"… {len(r.pods) - len(shown)} more", f.s("dim")))
    if not r.pods:
        lines.append(_line("no pods", f.s("dim")))
    return f.panel("PODS", lines, height, _stale_note(r))


def _node_row(f: _Frame, node: GpuNode) -> Text:
    row = Text(no_wrap=True, overflow="ellipsis")
    if node.disruption:
        row.append("✕ ", style=f.s("bad"))
    else:
        row.append("● " if node.ready else "◐ ", style=f.s("ok") if node.ready else f.s("warn"))
    row.append(f"{node.instance_type:<11.11}", style=f.s("value"))
    kind = "spot" if node.capacity_type == "spot" else "o-d"
    row.append(f" {kind:<4}", style=f.s("ok") if kind == "spot" else f.s("warn"))
    row.append(f" ${node.price_per_hour:.2f}/h", style=f.s("label"))
    row.append(f" {_age(node.age_s):>3}", style=f.s("dim"))
    if node.disruption:
        row.append(f" {node.disruption}", style=f.s("bad"))
    return row


def _claim_row(f: _Frame, claim: NodeClaimState) -> Text:
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append("◌ ", style=f.s("warn"))
    row.append(f"{(claim.instance_type or 'choosing…'):<11.11}", style=f.s("value"))
    kind = {"spot": "spot", "on-demand": "o-d", None: ""}[claim.capacity_type]
    row.append(f" {kind:<4}", style=f.s("label"))
    row.append(f" {claim.stage} {_age(claim.age_s)}", style=f.s("warn"))
    return row


def _nodes_panel(f: _Frame, width: int, height: int) -> Panel:
    n = f.now.nodes
    room = height - 2
    lines: list[Text] = []
    spot = sum(1 for x in n.nodes if x.capacity_type == "spot")
    summary = Text(no_wrap=True, overflow="ellipsis")
    summary.append(f"{n.ready_count}", style=f.s("ok"))
    summary.append(" ready ", style=f.s("label"))
    summary.append(f"{len(n.launching)}", style=f.s("warn") if n.launching else f.s("value"))
    summary.append(" launching ", style=f.s("label"))
    summary.append(f"· {spot} spot {len(n.nodes) - spot} o-d", style=f.s("dim"))
    lines.append(summary)
    cost = Text(no_wrap=True, overflow="ellipsis")
    cost.append(f"${f.now.cost.per_hour:.2f}/h", style=f.s("value"))
    cost.append("  spent ", style=f.s("label"))
    cost.append(f"${f.now.cost.total:.2f}", style=f.s("value"))
    space = room - 2
    total = len(n.launching) + len(n.nodes)
    visible = space if total <= space else max(0, space - 1)
    rows = [_claim_row(f, c) for c in n.launching[:visible]]
    rows += [_node_row(f, x) for x in n.nodes[: max(0, visible - len(rows))]]
    if total > len(rows):
        rows.append(_line(f"… {total - len(rows)} more", f.s("dim")))
    lines.extend(rows)
    while len(lines) < room - 1:
        lines.append(_line())
    lines.append(cost)
    return f.panel("GPU NODES", lines, height, _stale_note(n))


def _load_panel(f: _Frame, width: int, height: int) -> Panel:
    inner = width - 4
    label_w = 11
    graph_w = max(1, inner - label_w)
    room = height - 2
    rows_each = max(1, (room - 1) // 2)
    window = f.options.history_s
    rps = _series(f.history, graph_w, window, "rps")
    queue = _series(f.history, graph_w, window, "queue")
    lines: list[Text] = []
    for label, values, style, floor, fmt, last in (
        ("req/s", rps, f.s("graph_rps"), 1.0, "{:.1f}", _pick(f.now, "rps")),
        ("queue", queue, f.s("graph_queue"), 5.0, "{:.0f}", _pick(f.now, "queue")),
    ):
        top = _nice_top(values, floor)
        for i, row in enumerate(chart(values, rows_each, top)):
            t = Text(no_wrap=True, overflow="crop")
            if i == 0:
                t.append(f"{label:<5} {_num(last, fmt):>4} ", style=f.s("label"))
            elif i == 1:
                t.append(f"{'max':<5} {fmt.format(top):>4} ", style=f.s("dim"))
            else:
                t.append(" " * label_w)
            t.append(row, style=style)
            lines.append(t)
    axis = Text(no_wrap=True, overflow="crop")
    axis.append(" " * label_w)
    left = f"-{_age(window)}"
    axis.append(left + " " * max(0, graph_w - len(left) - 3) + "now", style=f.s("dim"))
    lines.append(axis)
    return f.panel(f"LOAD · last {_age(window)}", lines, height, _stale_note(f.now.perf))


def _perf_line(f: _Frame, width: int) -> Text:
    p = f.now.perf
    t = Text(no_wrap=True, overflow="ellipsis")
    parts = (
        ("TTFT p50 ", _secs(p.ttft_p50_s)),
        (" p95 ", _secs(p.ttft_p95_s)),
        ("  e2e p50 ", _secs(p.e2e_p50_s, 1)),
        (" p95 ", _secs(p.e2e_p95_s, 1)),
        ("  tok/s ", _num(p.tokens_per_s, "{:.0f}")),
        ("  req/s ", _num(p.requests_per_s)),
        ("  tok/req ", _num(p.tokens_per_request, "{:.0f}")),
        ("  KV ", _num(None if p.kv_cache_usage is None else p.kv_cache_usage * 100, "{:.0f}%")),
    )
    for label, value in parts:
        if len(t.plain) + len(label) + len(value) > width:
            break  # least important figures go first on a narrow screen
        t.append(label, style=f.s("label"))
        t.append(value, style=f.s("value"))
    return t


def _event_text(f: _Frame, event: Event) -> str:
    if f.options.tube_flavour and event.kind == "scale":
        return f"Mind the gap! {event.message}"
    if f.options.tube_flavour and event.kind == "spot_interruption":
        return f"Signal failure: {event.message}"
    return event.message


def _talk_time(f: _Frame, at: datetime) -> float:
    return f.now.talk.elapsed_s - (f.now.time - at).total_seconds()


def _commentary(f: _Frame) -> str:
    s = f.now
    r, q, n = s.replicas, s.queue, s.nodes
    stale = [
        name
        for name, group in (
            ("replicas", s.replicas),
            ("nodes", s.nodes),
            ("vLLM metrics", s.perf),
            ("queue", s.queue),
        )
        if group.stale
    ]
    flavour = f.options.tube_flavour
    if stale:
        what = ", ".join(stale)
        return (
            f"Signal failure on the {what} line: showing the last known service."
            if flavour
            else f"No fresh data from: {what}."
        )
    if s.hpa.problem and not s.hpa.stale:
        return (
            f"Signal failure at the autoscaler: {s.hpa.problem}. Trains run to the old timetable."
            if flavour
            else f"The HPA cannot scale: {s.hpa.problem}."
        )
    if q.waiting == 0 and r.pending == 0:
        return "Good service on all lines." if flavour else f"Queue empty; {r.ready} serving."
    if n.launching:
        k = len(n.launching)
        return (
            f"{q.virtual_commuters:,} commuters on the platform; Karpenter is fetching "
            f"{k} more train{'s' if k > 1 else ''} from the depot."
            if flavour
            else f"{q.waiting} waiting; {k} GPU node(s) launching."
        )
    if r.pending:
        return (
            f"New trains are warming up their engines ({r.pending} loading the model)."
            if flavour
            else f"{q.waiting} waiting; {r.pending} pod(s) starting."
        )
    if q.waiting:
        return (
            f"Minor delays: {q.waiting} waiting. Please let passengers off the train first."
            if flavour
            else f"{q.waiting} waiting; {r.ready} serving, none starting."
        )
    return "Scaling down: trains returning to the depot." if flavour else "Scaling down."


def _events_panel(f: _Frame, width: int, height: int) -> Panel:
    room = height - 2
    lines: list[Text] = [_line(_commentary(f), f.s("warn"))]
    recent = f.events[-max(0, room - 1) :] if room > 1 else []
    for event in reversed(recent):
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{clock_face(_talk_time(f, event.time))} ", style=f.s("dim"))
        style = f.s("bad") if event.kind in ("spot_interruption", "pod_failed") else f.s("value")
        t.append(_event_text(f, event), style=style)
        lines.append(t)
    return f.panel("EVENTS", lines, height)


def _cue_line(f: _Frame, width: int) -> Text:
    talk = f.now.talk
    t = Text(no_wrap=True, overflow="ellipsis")
    if talk.next_phase is None:
        t.append(" Last phase: the line terminates here. ", style=f.s("cue"))
    else:
        t.append(f" NEXT in {clock_face(talk.next_in_s)} ", style=f.s("cue"))
        t.append(f" {talk.next_phase}", style=f.s("value"))
        if talk.next_cue:
            t.append(f": {talk.next_cue}", style=f.s("label"))
    k6 = f.now.k6
    if k6.active:
        t.append(f"   k6 {k6.vus or 0} VUs", style=f.s("dim"))
    t.truncate(width, overflow="ellipsis", pad=True)
    return t


# --- layout -------------------------------------------------------------------------------------


class _FixedSize:
    """Render ``inner`` at exactly width x height, whatever the console's own size."""

    def __init__(self, inner: RenderableType, width: int, height: int) -> None:
        self.inner, self.width, self.height = inner, width, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.inner, options.update(width=self.width, height=self.height))


def _empty(width: int, height: int, options: DashboardOptions) -> RenderableType:
    theme = _HIGH_CONTRAST if options.high_contrast else _NORMAL
    text = Text(
        f"{options.title}\n\nwaiting for the first snapshot…",
        justify="center",
        style=theme["title"],
    )
    return _FixedSize(Panel(text, border_style=theme["border"], height=height), width, height)


MIN_WIDTH, MIN_HEIGHT = 60, 16


def render(
    history: Sequence[Snapshot],
    width: int,
    height: int,
    options: DashboardOptions = DashboardOptions(),
) -> RenderableType:
    """The whole screen for the newest snapshot in ``history`` (oldest first). No side effects.

    ``history`` should cover at least ``options.history_s`` for a full load graph; older entries
    only feed the startup min/max and are otherwise ignored.
    """
    width, height = max(width, MIN_WIDTH), max(height, MIN_HEIGHT)
    if not history:
        return _empty(width, height, options)
    f = _Frame(history, options)
    big = width >= 120 and height >= 40
    scale = 2 if big else 1
    top_h = 3 * scale + 3
    perf_h = 3
    body = height - 2 - top_h - perf_h
    events_h = max(3, min(12, body // 3)) if big else max(3, body - 8)
    middle_h = body - events_h

    q = f.now.queue
    queue_w = max(20, 5 * 4 * scale)
    commuters_w = max(26, 6 * 4 * scale + 2)
    stale_q = _stale_note(q)

    layout = Layout()
    layout.split_column(
        Layout(_header(f, width), name="header", size=1),
        Layout(name="top", size=top_h),
        Layout(name="middle", size=middle_h),
        Layout(name="perf", size=perf_h),
        Layout(name="events", size=events_h),
        Layout(_cue_line(f, width), name="cue", size=1),
    )
    queue_caption = f"{q.running} running"
    if q.multiplier > 1:
        queue_caption += f" · ×{q.multiplier}"
    layout["top"].split_row(
        Layout(
            _big_panel(
                f,
                "QUEUE",
                str(q.waiting),
                _queue_style(f, q.waiting),
                queue_caption,
                top_h,
                scale,
                stale_q,
            ),
            size=queue_w,
        ),
        Layout(
            _big_panel(
                f,
                "VIRTUAL COMMUTERS",
                _thousands(q.virtual_commuters),
                _queue_style(f, q.waiting),
                f"waiting × {q.multiplier}",
                top_h,
                scale,
                stale_q,
            ),
            size=commuters_w,
        ),
        Layout(_replicas_panel(f, width - queue_w - commuters_w, top_h, scale)),
    )
    nodes_w = max(34, min(48, width * 3 // 10))
    if big:
        pods_w = nodes_w + 4
        layout["middle"].split_row(
            Layout(_load_panel(f, width - nodes_w - pods_w, middle_h)),
            Layout(_pods_panel(f, pods_w, middle_h), size=pods_w),
            Layout(_nodes_panel(f, nodes_w, middle_h), size=nodes_w),
        )
    else:
        layout["middle"].split_row(
            Layout(_load_panel(f, width - nodes_w, middle_h)),
            Layout(_nodes_panel(f, nodes_w, middle_h), size=nodes_w),
        )
    layout["perf"].update(
        f.panel("PERFORMANCE", [_perf_line(f, width - 4)], perf_h, _stale_note(f.now.perf))
    )
    layout["events"].update(_events_panel(f, width, events_h))
    return _FixedSize(layout, width, height)


def render_text(
    history: Sequence[Snapshot],
    width: int,
    height: int,
    options: DashboardOptions = DashboardOptions(),
) -> str:
    """The frame as plain text (no colours): what the golden tests compare."""
    console = Console(
        width=width,
        height=height,
        record=True,
        color_system=None,
        force_terminal=True,
        legacy_windows=False,
        file=io.StringIO(),
    )
    console.print(render(history, width, height, options))
    return console.export_text(styles=False)
