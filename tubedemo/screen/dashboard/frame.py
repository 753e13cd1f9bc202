"""What every panel of one frame reads: the newest snapshot, the theme, facts over the whole
history, and the small text helpers the panels share. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from tubedemo.screen.dashboard.theme import DashboardOptions, palette
from tubedemo.telemetry.snapshot import ReplicaState, Sampled, Snapshot

StartupRange = tuple[float, float]
"""(fastest, slowest) scheduled -> Ready of the pods in one snapshot (s)."""


def startup_range(replicas: ReplicaState) -> StartupRange | None:
    """(min, max) scheduled -> Ready of the pods in one snapshot; None without any."""
    times = [p.scheduled_to_ready_s for p in replicas.pods if p.scheduled_to_ready_s is not None]
    return (min(times), max(times)) if times else None


class StartupMemo:
    """Each snapshot's pod start-up range, remembered by a caller that draws frame after frame
    over a sliding history (the live board, ``watch``, a replay), so that a frame scans only the
    pods of snapshots it has not seen: 500 pods x 300 snapshots of history stay cheap.

    The caller owns it and passes it to ``render``; without one, each frame scans them all (same
    answer). It keeps only the snapshots of the last history it was given.
    """

    def __init__(self) -> None:
        self._ranges: dict[int, tuple[ReplicaState, StartupRange | None]] = {}
        """id(ReplicaState) -> (that state, its range); holding the state keeps its id unique."""

    def ranges(self, history: Sequence[Snapshot]) -> list[StartupRange]:
        """The start-up range of every snapshot in ``history`` that has one."""
        kept: dict[int, tuple[ReplicaState, StartupRange | None]] = {}
        out: list[StartupRange] = []
        for snapshot in history:
            replicas = snapshot.replicas
            key = id(replicas)
            entry = kept.get(key) or self._ranges.get(key)
            if entry is None:
                entry = (replicas, startup_range(replicas))
            kept[key] = entry
            if entry[1] is not None:
                out.append(entry[1])
        self._ranges = kept
        return out


def secs(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if value >= 10:
        return f"{value:.0f}s"
    return f"{value:.{digits}f}s"


def num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"


def stale_note(group: Sampled) -> str:
    if not group.stale:
        return ""
    if group.age_s is None:
        return " · no data"
    return f" · stale {group.age_s:.0f}s"


def no_wrap(text: str | Text = "", style: str = "") -> Text:
    """One row that never wraps: what does not fit ends in an ellipsis."""
    t = text if isinstance(text, Text) else Text(text, style=style)
    t.no_wrap = True
    t.overflow = "ellipsis"
    return t


class Frame:
    """Pre-computed facts one frame needs, so panels stay small."""

    def __init__(
        self,
        history: Sequence[Snapshot],
        options: DashboardOptions,
        memo: StartupMemo | None = None,
    ) -> None:
        self.history = history
        self.now = history[-1]
        self.options = options
        self.theme = palette(options)
        # fastest and slowest pod start-up anywhere in the history (pods that are gone too)
        ranges = (memo or StartupMemo()).ranges(history)
        self.startup_min = min(r[0] for r in ranges) if ranges else None
        self.startup_max = max(r[1] for r in ranges) if ranges else None
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
