"""The whole screen: the panels laid out at the terminal's exact size, as Rich renderables."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.layout import Layout
from rich.panel import Panel
from rich.text import Text

from tubedemo.screen.dashboard.frame import Frame, StartupMemo, stale_note
from tubedemo.screen.dashboard.panels import (
    big_panel,
    cue_line,
    events_panel,
    header,
    load_panel,
    nodes_panel,
    perf_line,
    pods_panel,
    queue_style,
    replicas_panel,
)
from tubedemo.screen.dashboard.theme import DEFAULT_OPTIONS, DashboardOptions, palette
from tubedemo.telemetry.snapshot import Snapshot


class _FixedSize:
    """Render ``inner`` at exactly width x height, whatever the console's own size."""

    def __init__(self, inner: RenderableType, width: int, height: int) -> None:
        self.inner, self.width, self.height = inner, width, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.inner, options.update(width=self.width, height=self.height))


def _empty(width: int, height: int, options: DashboardOptions) -> RenderableType:
    theme = palette(options)
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
    options: DashboardOptions = DEFAULT_OPTIONS,
    memo: StartupMemo | None = None,
) -> RenderableType:
    """The whole screen for the newest snapshot in ``history`` (oldest first). No side effects.

    ``history`` should cover at least ``options.history_s`` for a full load graph; older entries
    only feed the startup min/max and are otherwise ignored. ``memo``: the caller's
    ``StartupMemo`` when it draws frame after frame (same frame, less work).
    """
    width, height = max(width, MIN_WIDTH), max(height, MIN_HEIGHT)
    if not history:
        return _empty(width, height, options)
    f = Frame(history, options, memo)
    big = width >= 120 and height >= 40
    scale = 2 if big else 1
    top_h = 3 * scale + 3
    perf_h = 3
    body = height - 2 - top_h - perf_h
    events_h = max(3, min(12, body // 3)) if big else max(3, body - 8)
    middle_h = body - events_h

    layout = Layout()
    layout.split_column(
        Layout(header(f, width), name="header", size=1),
        Layout(name="top", size=top_h),
        Layout(name="middle", size=middle_h),
        Layout(name="perf", size=perf_h),
        Layout(name="events", size=events_h),
        Layout(cue_line(f, width), name="cue", size=1),
    )
    layout["top"].split_row(*_top_row(f, width, top_h, scale))
    layout["middle"].split_row(*_middle_row(f, width, middle_h, big))
    layout["perf"].update(
        f.panel("PERFORMANCE", [perf_line(f, width - 4)], perf_h, stale_note(f.now.perf))
    )
    layout["events"].update(events_panel(f, width, events_h))
    return _FixedSize(layout, width, height)


def _top_row(f: Frame, width: int, height: int, scale: int) -> list[Layout]:
    """The queue and the virtual commuters as big figures, then the replicas."""
    q = f.now.queue
    queue_w = max(20, 5 * 4 * scale)
    commuters_w = max(26, 6 * 4 * scale + 2)
    stale_q = stale_note(q)
    queue_caption = f"{q.running} running"
    if q.multiplier > 1:
        queue_caption += f" · ×{q.multiplier}"
    style = queue_style(f, q.waiting)
    return [
        Layout(
            big_panel(f, "QUEUE", str(q.waiting), style, queue_caption, height, scale, stale_q),
            size=queue_w,
        ),
        Layout(
            big_panel(
                f,
                "VIRTUAL COMMUTERS",
                f"{q.virtual_commuters:,}",
                style,
                f"waiting × {q.multiplier}",
                height,
                scale,
                stale_q,
            ),
            size=commuters_w,
        ),
        Layout(replicas_panel(f, width - queue_w - commuters_w, height, scale)),
    ]


def _middle_row(f: Frame, width: int, height: int, big: bool) -> list[Layout]:
    """The load graph, (on a big screen) the pods, and the GPU nodes."""
    nodes_w = max(34, min(48, width * 3 // 10))
    if big:
        pods_w = nodes_w + 4
        return [
            Layout(load_panel(f, width - nodes_w - pods_w, height)),
            Layout(pods_panel(f, pods_w, height), size=pods_w),
            Layout(nodes_panel(f, nodes_w, height), size=nodes_w),
        ]
    return [
        Layout(load_panel(f, width - nodes_w, height)),
        Layout(nodes_panel(f, nodes_w, height), size=nodes_w),
    ]


def render_text(
    history: Sequence[Snapshot],
    width: int,
    height: int,
    options: DashboardOptions = DEFAULT_OPTIONS,
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
