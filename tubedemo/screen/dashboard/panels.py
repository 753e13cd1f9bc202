"""The dashboard's panels, each a pure function of one Frame: the header, the queue and
commuters figures, replicas, pods, GPU nodes, the load graph, performance, events and the cue."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from tubedemo.core.durations import clock_face
from tubedemo.screen.dashboard.block_font import big_text
from tubedemo.screen.dashboard.commentary import commentary, event_text
from tubedemo.screen.dashboard.frame import Frame, age, no_wrap, num, secs, stale_note
from tubedemo.screen.dashboard.graphs import chart, columns, nice_top, plotted
from tubedemo.screen.dashboard.theme import tube_line
from tubedemo.screen.dashboard.waterfall import bar, legend, scale_for
from tubedemo.telemetry.snapshot import (
    GpuNode,
    HpaState,
    Interruption,
    NodeClaimState,
    PodState,
)
from tubedemo.telemetry.waterfall import segments, shown_steps, total


def header(f: Frame, width: int) -> Text:
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


def queue_style(f: Frame, waiting: int) -> str:
    if waiting == 0:
        return f.s("ok")
    return f.s("warn") if waiting < 5 else f.s("bad")


def big_panel(
    f: Frame,
    title: str,
    figure: str,
    style: str,
    caption: str,
    height: int,
    scale: int,
    stale: str,
) -> Panel:
    lines = [no_wrap(row, style) for row in big_text(figure, scale)]
    lines.append(no_wrap(caption, f.s("label")))
    return f.panel(title, lines, height, stale)


def _pod_icon(f: Frame, pod: PodState) -> tuple[str, str]:
    if pod.phase in ("Terminating", "Failed"):
        return "✕", f.s("bad")
    if pod.ready:
        return "●", f.s("ok")
    if pod.node:
        return "◐", f.s("warn")
    return "○", f.s("bad")


def replicas_panel(f: Frame, width: int, height: int, scale: int = 1) -> Panel:
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
    blend = blend_line(f)
    if blend is not None and room - len(lines) - 1 >= 3:
        # proactive: the queue and the forecast side by side, where icons keep a row
        lines.append(blend)
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
    startup = startup_line(f, inner)
    while len(lines) < room - 1:
        lines.append(no_wrap())
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
    return f.panel("REPLICAS", lines, height, stale_note(r))


def _short_name(name: str, width: int) -> str:
    """A pod's name in ``width`` cells: its end (a ReplicaSet's pods differ in their suffix)."""
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def pods_panel(f: Frame, width: int, height: int) -> Panel:
    """Each pod with its start-up waterfall: one bar per replica, on one time scale."""
    r = f.now.replicas
    room = height - 2
    inner = width - 4
    lines: list[Text] = []
    with_bars = [p for p in r.pods if segments(p)]
    legend_rows = 1 if with_bars else 0
    fits = room - legend_rows
    shown = r.pods if len(r.pods) <= fits else r.pods[: max(0, fits - 1)]
    scale = scale_for(shown)
    name_w, tail_w = 10, 5
    bar_w = max(4, inner - 2 - name_w - 1 - tail_w)
    for pod in shown:
        icon, style = _pod_icon(f, pod)
        row = Text(no_wrap=True, overflow="ellipsis")
        row.append(icon + " ", style=style)
        row.append(f"{_short_name(pod.name, name_w):<{name_w}} ", style=f.s("value"))
        took = total(pod)
        if took is not None:
            drawn = bar(pod, bar_w, scale, f.theme)
            drawn.pad_right(bar_w - len(drawn.plain))
            row.append_text(drawn)
            row.append(f"{secs(took, 0):>{tail_w}}", style=f.s("ok" if pod.ready else "warn"))
        elif pod.ready:
            ready_in = secs(pod.scheduled_to_ready_s, 0) if pod.scheduled_to_ready_s else "–"
            row.append(f"warm · ready in {ready_in}", style=f.s("label"))
        else:
            why = pod.pending_reason or pod.phase
            row.append(f"{why} {age(pod.created_s_ago)}", style=f.s("warn"))
        lines.append(row)
    if len(shown) < len(r.pods):
        lines.append(no_wrap(f"… {len(r.pods) - len(shown)} more", f.s("dim")))
    if not r.pods:
        lines.append(no_wrap("no pods", f.s("dim")))
    if with_bars:
        while len(lines) < room - 1:
            lines.append(no_wrap())
        key = legend(shown_steps(shown), f.theme)
        across = f"{scale:.0f}s"
        if len(key.plain) + len(across) < inner:
            key.append(across.rjust(inner - len(key.plain)), style=f.s("dim"))
        lines.append(key)
    return f.panel("PODS · START-UP", lines, height, stale_note(r))


def _starting(pods: tuple[PodState, ...]) -> PodState | None:
    """The pod the room waits for: the oldest one still starting that has a bar."""
    starting = [p for p in pods if not p.ready and p.phase != "Terminating" and segments(p)]
    return max(starting, key=lambda p: p.created_s_ago, default=None)


def startup_line(f: Frame, width: int) -> Text:
    """The replicas panel's last line: the HPA's problem; else the start-up of the replica being
    waited for, as a small waterfall; else the fastest and slowest start-up so far."""
    line = Text(no_wrap=True, overflow="ellipsis")
    hpa = f.now.hpa
    if hpa.problem:
        # the HPA cannot scale: more urgent than start-up times, so it takes their place
        line.append("HPA ", style=f.s("label"))
        line.append(f"⚠ {hpa.problem}", style=f.s("bad"))
        return line
    pod = _starting(f.now.replicas.pods)
    if pod is not None:
        name = _short_name(pod.name, 8)
        took = secs(total(pod), 0)
        hpa_part = f"  HPA {hpa.desired}{_blend(hpa)}" if hpa.desired is not None else ""
        bar_w = width - len(name) - 1 - len(took) - 1 - len(hpa_part)
        if bar_w >= 6:
            line.append(name + " ", style=f.s("value"))
            line.append_text(bar(pod, bar_w, scale_for([pod]), f.theme))
            line.append(" " * (width - len(line.plain) - len(took) - len(hpa_part)))
            line.append(took, style=f.s("warn"))
            line.append(hpa_part, style=f.s("label"))
            return line
    line.append("startup ", style=f.s("label"))
    if f.startup_min is None or f.startup_max is None:
        line.append("–", style=f.s("value"))
    else:
        line.append(f"{f.startup_min:.0f}–{f.startup_max:.0f}s", style=f.s("value"))
    if hpa.desired is not None:
        line.append("  HPA ", style=f.s("label"))
        line.append(f"{hpa.desired}", style=f.s("value"))
        if hpa.forecast is not None:
            line.append(_blend(hpa), style=f.s("label"))
        elif hpa.metric is not None and hpa.target is not None:
            line.append(f" ({hpa.metric:.0f}/{hpa.target:.0f})", style=f.s("dim"))
    return line


def _blend(hpa: HpaState) -> str:
    """Reactive and forecast side by side, short, when scaling is proactive: ` q2·f4` (the
    queue asks for 2, the forecast 4; the formula takes the larger); empty otherwise."""
    if hpa.forecast is None:
        return ""
    return f" q{'?' if hpa.reactive is None else hpa.reactive}·f{hpa.forecast}"


def blend_line(f: Frame) -> Text | None:
    """The replicas panel's line in words when scaling is proactive: what the queue asks for
    and what the timeline's forecast asks for, side by side; None otherwise."""
    hpa = f.now.hpa
    if hpa.forecast is None:
        return None
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("queue ", style=f.s("label"))
    line.append("?" if hpa.reactive is None else str(hpa.reactive), style=f.s("value"))
    line.append(" · forecast ", style=f.s("label"))
    line.append(str(hpa.forecast), style=f.s("value"))
    line.append(" → the larger", style=f.s("dim"))
    return line


def _node_row(f: Frame, node: GpuNode, notice: Interruption | None = None) -> Text:
    row = Text(no_wrap=True, overflow="ellipsis")
    if node.disruption:
        row.append("✕ ", style=f.s("bad"))
    else:
        row.append("● " if node.ready else "◐ ", style=f.s("ok") if node.ready else f.s("warn"))
    row.append(f"{node.instance_type:<11.11}", style=f.s("value"))
    kind = "spot" if node.capacity_type == "spot" else "o-d"
    row.append(f" {kind:<4}", style=f.s("ok") if kind == "spot" else f.s("warn"))
    if notice is not None and notice.gone_s is None:
        # the notice's countdown in place of price and age: EC2 takes the node at 0:00
        left = max(0.0, notice.notice_s - notice.notice_s_ago)
        row.append(f" ⏱{_m_ss(left)}", style=f.s("bad"))
    else:
        row.append(f" ${node.price_per_hour:.2f}/h", style=f.s("label"))
        row.append(f" {age(node.age_s):>3}", style=f.s("dim"))
    if node.disruption:
        row.append(f" {node.disruption}", style=f.s("bad"))
    return row


def _m_ss(seconds: float) -> str:
    """Seconds as M:SS, truncated (a countdown shows a second once it has passed)."""
    minutes, rest = divmod(max(0, int(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def drill_line(f: Frame, notice: Interruption, width: int) -> Text:
    """A spot interruption against its notice: time since it, the drain, the replacement
    serving again (red when later than the notice). The drain goes first on a narrow screen."""
    late = (notice.replaced_s or notice.notice_s_ago) > notice.notice_s
    since = f"{_m_ss(notice.notice_s_ago)}/{_m_ss(notice.notice_s)}"
    drained = (
        _m_ss(notice.drained_s) if notice.drained_s is not None else f"{notice.pods_left} left"
    )
    back = _m_ss(notice.replaced_s) if notice.replaced_s is not None else "–"
    parts = [
        ("spot ", since, "bad"),
        (" · drained ", drained, "value"),
        (" · back ", back, "bad" if late else "ok"),
    ]
    if sum(len(a) + len(b) for a, b, _ in parts) > width:
        del parts[1]
    t = Text(no_wrap=True, overflow="ellipsis")
    for label, value, style in parts:
        t.append(label, style=f.s("label"))
        t.append(value, style=f.s(style))
    return t


def _claim_row(f: Frame, claim: NodeClaimState) -> Text:
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append("◌ ", style=f.s("warn"))
    row.append(f"{(claim.instance_type or 'choosing…'):<11.11}", style=f.s("value"))
    kind = {"spot": "spot", "on-demand": "o-d", None: ""}[claim.capacity_type]
    row.append(f" {kind:<4}", style=f.s("label"))
    row.append(f" {claim.stage} {age(claim.age_s)}", style=f.s("warn"))
    return row


def nodes_panel(f: Frame, width: int, height: int) -> Panel:
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
    notices = {i.node: i for i in f.now.interruptions}
    latest = f.now.interruptions[-1] if f.now.interruptions else None
    drill = 1 if latest is not None else 0
    space = room - 2 - drill
    total = len(n.launching) + len(n.nodes)
    visible = space if total <= space else max(0, space - 1)
    rows = [_claim_row(f, c) for c in n.launching[:visible]]
    rows += [_node_row(f, x, notices.get(x.name)) for x in n.nodes[: max(0, visible - len(rows))]]
    if total > len(rows):
        rows.append(no_wrap(f"… {total - len(rows)} more", f.s("dim")))
    lines.extend(rows)
    while len(lines) < room - 1 - drill:
        lines.append(no_wrap())
    if latest is not None:
        lines.append(drill_line(f, latest, width - 4))
    lines.append(cost)
    return f.panel("GPU NODES", lines, height, stale_note(n))


def load_panel(f: Frame, width: int, height: int) -> Panel:
    inner = width - 4
    label_w = 11
    graph_w = max(1, inner - label_w)
    room = height - 2
    rows_each = max(1, (room - 1) // 2)
    window = f.options.history_s
    rps = columns(f.history, graph_w, window, "rps")
    queue = columns(f.history, graph_w, window, "queue")
    lines: list[Text] = []
    for label, values, style, floor, fmt, last in (
        ("req/s", rps, f.s("graph_rps"), 1.0, "{:.1f}", plotted(f.now, "rps")),
        ("queue", queue, f.s("graph_queue"), 5.0, "{:.0f}", plotted(f.now, "queue")),
    ):
        top = nice_top(values, floor)
        for i, row in enumerate(chart(values, rows_each, top)):
            t = Text(no_wrap=True, overflow="crop")
            if i == 0:
                t.append(f"{label:<5} {num(last, fmt):>4} ", style=f.s("label"))
            elif i == 1:
                t.append(f"{'max':<5} {fmt.format(top):>4} ", style=f.s("dim"))
            else:
                t.append(" " * label_w)
            t.append(row, style=style)
            lines.append(t)
    axis = Text(no_wrap=True, overflow="crop")
    axis.append(" " * label_w)
    left = f"-{age(window)}"
    axis.append(left + " " * max(0, graph_w - len(left) - 3) + "now", style=f.s("dim"))
    lines.append(axis)
    return f.panel(f"LOAD · last {age(window)}", lines, height, stale_note(f.now.perf))


def perf_line(f: Frame, width: int) -> Text:
    p = f.now.perf
    t = Text(no_wrap=True, overflow="ellipsis")
    parts = (
        ("TTFT p50 ", secs(p.ttft_p50_s)),
        (" p95 ", secs(p.ttft_p95_s)),
        ("  e2e p50 ", secs(p.e2e_p50_s, 1)),
        (" p95 ", secs(p.e2e_p95_s, 1)),
        ("  tok/s ", num(p.tokens_per_s, "{:.0f}")),
        ("  req/s ", num(p.requests_per_s)),
        ("  tok/req ", num(p.tokens_per_request, "{:.0f}")),
        ("  KV ", num(None if p.kv_cache_usage is None else p.kv_cache_usage * 100, "{:.0f}%")),
    )
    for label, value in parts:
        if len(t.plain) + len(label) + len(value) > width:
            break  # least important figures go first on a narrow screen
        t.append(label, style=f.s("label"))
        t.append(value, style=f.s("value"))
    return t


def _talk_time(f: Frame, at: datetime) -> float:
    return f.now.talk.elapsed_s - (f.now.time - at).total_seconds()


def events_panel(f: Frame, width: int, height: int) -> Panel:
    room = height - 2
    lines: list[Text] = [no_wrap(commentary(f), f.s("warn"))]
    recent = f.events[-max(0, room - 1) :] if room > 1 else []
    for event in reversed(recent):
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{clock_face(_talk_time(f, event.time))} ", style=f.s("dim"))
        style = f.s("bad") if event.kind in ("spot_interruption", "pod_failed") else f.s("value")
        t.append(event_text(f, event), style=style)
        lines.append(t)
    return f.panel("EVENTS", lines, height)


def cue_line(f: Frame, width: int) -> Text:
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
