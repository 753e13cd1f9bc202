"""The show's clock: runs the schedule (k6 load, mode flips, cues) and the presenter's keys.

``timeline`` decides what happens when; this module does it, one tick at a time:

- k6 runs the timeline's scenarios from the current talk time. k6 cannot be steered while it
  runs (v2 has no externally-controlled executor), so pause/resume and skip restart k6 with
  scenarios generated from the new talk time; a pause holds the current load level meanwhile.
- mode flips go through a ``ModeSwitcher``; a failed flip is shown, never fatal on stage.
- the screen is ``render_show(state)`` (pure) with a slot for the live dashboard; when stdout
  is not a terminal, each event is printed as one line instead.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tubedemo.core.config import DemoConfig, Mode
from tubedemo.core.durations import clock_face, format_duration
from tubedemo.core.errors import TubedemoError
from tubedemo.core.signals import term_and_hangup_as_interrupt
from tubedemo.core.timeline import (
    Schedule,
    TimelineEvent,
    build_schedule,
    burst_scenario,
    describe_load,
    hold_scenario,
    k6_scenarios,
    next_phase_start,
    phase_at,
)
from tubedemo.talk.k6 import K6Files, K6Result, K6Run, load_environment, locate_k6
from tubedemo.talk.load_stats import LoadStats
from tubedemo.talk.modes import ModeSwitcher
from tubedemo.telemetry.k6_points import SeriesTail, runs_manifest

TICK = 0.05
"""Clock loop period (s): flips land within this of their time, far inside the 1 s target."""

FATAL_START_WINDOW = 10.0
"""Seconds in which the show's first k6 exiting with an error ends the show (a slow machine
may need a few seconds to reach the script's init errors)."""

REDRAW = 0.25
"""Screen redraw period (s); the clock ticks faster than the eye needs."""

HOLD_FOR = 4 * 3600.0
"""Longest a pause may hold the load (s); the hold run is stopped on resume anyway."""

KEYS = {
    " ": "pause",
    "p": "pause",
    "n": "next",
    "b": "burst",
    "m": "flip",
    "q": "quit",
}
KEY_HELP = "space/p pause·resume   n next phase   b burst now   m flip mode   q quit"


class TalkClock:
    """Talk time from a monotonic clock, with pause, resume and jumps; ``speed`` compresses."""

    def __init__(
        self, start_at: float, speed: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.speed = speed
        self._now = now
        self._origin_talk = start_at
        self._origin_wall = now()
        self._paused_talk: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused_talk is not None

    def talk(self) -> float:
        if self._paused_talk is not None:
            return self._paused_talk
        return self._origin_talk + (self._now() - self._origin_wall) * self.speed

    def restart(self) -> None:
        """Time zero is now (called once k6 has been spawned)."""
        self._origin_wall = self._now()

    def pause(self) -> None:
        if self._paused_talk is None:
            self._paused_talk = self.talk()

    def resume(self) -> None:
        if self._paused_talk is not None:
            self._origin_talk, self._origin_wall = self._paused_talk, self._now()
            self._paused_talk = None

    def jump(self, to: float) -> None:
        self._origin_talk, self._origin_wall = to, self._now()
        if self._paused_talk is not None:
            self._paused_talk = to


@dataclass
class ShowState:
    """Everything the show's screen shows; render_show draws it without side effects."""

    title: str
    talk_time: float
    end_at: float
    speed: float
    paused: bool = False
    phase: str = ""
    load: str = "no load"
    mode: Mode | None = None
    cue: str | None = None
    upcoming: list[TimelineEvent] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    stats: LoadStats = field(default_factory=LoadStats)
    k6: str = "not started"
    switcher: str = ""
    audience_url: str = ""
    """What phones open, on the screen the whole talk (printed before the screen is taken,
    it would be hidden until the end)."""


def render_load(stats: LoadStats, speed: float = 1.0) -> RenderableType:
    """The load panel (k6's own view) shown until the live dashboard takes the slot. k6 times
    in wall seconds: at --speed N its first bytes are shown N times longer, in talk time."""
    p50, p95 = stats.ttfb_percentile(50), stats.ttfb_percentile(95)
    if p50 is not None:
        p50, p95 = p50 * speed, (p95 or 0) * speed
    table = Table.grid(padding=(0, 2))
    for label, value in (
        ("VUs", str(stats.vus)),
        ("requests", str(stats.requests)),
        ("failed", str(stats.failed)),
        ("refused", str(stats.refused)),
        (
            "TTFB p50/p95" + ("" if speed == 1 else " (talk)"),
            "-" if p50 is None else f"{p50:.0f} / {p95 or 0:.0f} ms",
        ),
        ("tokens", str(stats.tokens)),
    ):
        table.add_row(Text(label, style="dim"), Text(value, style="bold"))
    return Panel(table, title="load (k6)", border_style="blue")


TOP_HEIGHT = 10
"""Lines the show's own panel and key help take; the dashboard gets the rest of the screen."""


def render_show(state: ShowState, dashboard: RenderableType | None = None) -> RenderableType:
    """The presenter's screen: clock, phase, cue and log on top (TOP_HEIGHT lines), the live
    dashboard (or k6's load panel until one is given) below. No side effects."""
    status = "⏸ paused" if state.paused else f"▶ x{state.speed:g}"
    head = Text.assemble(
        (f"{clock_face(state.talk_time)} / {clock_face(state.end_at)}  ", "bold"),
        (status, "yellow" if state.paused else "green"),
        "   phase ",
        (state.phase or "—", "bold cyan"),
        f" ({state.load})   mode ",
        (state.mode or "—", "bold magenta"),
        no_wrap=True,
        overflow="ellipsis",
    )
    cue = Text(
        state.cue or "",
        style="bold white on dark_blue" if state.cue else "",
        no_wrap=True,
        overflow="ellipsis",
    )
    nxt = Table.grid(padding=(0, 2))
    for event in state.upcoming[:2]:
        what = "end of talk" if event.kind == "end" else event.phase
        flip = f" → {event.mode}" if event.mode else ""
        nxt.add_row(
            Text(clock_face(event.at), style="dim"), Text(f"{what}{flip}", overflow="ellipsis")
        )
    for _ in range(2 - len(state.upcoming[:2])):
        nxt.add_row("", "")
    recent = [*list(state.log)[-3:], "", "", ""][:3]
    log = Text("\n".join(recent), style="dim", no_wrap=True, overflow="ellipsis")
    phones = f"phones: {state.audience_url}/   " if state.audience_url else ""
    top = Panel(
        Group(head, cue, nxt, log),
        title=f"tubedemo show — {state.title}",
        subtitle=f"{phones}k6: {state.k6}   mode via: {state.switcher}",
        border_style="cyan",
        height=TOP_HEIGHT - 1,
    )
    return Group(
        top,
        dashboard if dashboard is not None else render_load(state.stats, state.speed),
        Text(KEY_HELP),
    )


class ForecastSink(Protocol):
    """Where the timeline's forecast goes (``forecast_feed.ForecastFeed``: the gateway)."""

    def post(self, talk_now: float, paused: bool) -> int: ...

    def clear(self) -> None: ...


class KeySource(Protocol):
    def poll(self) -> str | None: ...


class Board(Protocol):
    """The live dashboard as the show uses it (tubedemo.screen.board.LiveBoard)."""

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def renderable(self, width: int, height: int) -> RenderableType: ...


@dataclass
class _Segment:
    kind: Literal["timeline", "hold", "burst"]
    run: K6Run
    talk_start: float
    started_unix: float
    tail: SeriesTail
    result: K6Result | None = None


@dataclass
class ShowOptions:
    start_at: float = 0.0
    speed: float = 1.0
    base_url: str = "http://localhost:8080"
    admin_token: str | None = None
    recording: Path = Path("out/show.jsonl")
    """The talk's recording; k6's series and summaries are written beside it."""
    audience_url: str = ""
    """What phones open, shown on the presenter's screen ("" : not shown)."""


class Show:
    """Runs one show. ``run`` returns normally on the end of the talk and on quit."""

    def __init__(
        self,
        cfg: DemoConfig,
        options: ShowOptions,
        switcher: ModeSwitcher,
        *,
        console: Console | None = None,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``now`` (monotonic seconds) drives the talk clock and the redraws; ``sleep`` paces
        the loop. Tests inject both to run a show without waiting."""
        self.cfg = cfg
        self.opt = options
        self.switcher = switcher
        self.console = console or Console()
        self.board: Board | None = None
        """Set before run() to show the live dashboard below the show's panel and record it."""
        self.forecast: ForecastSink | None = None
        """Set before run() when scaling is proactive: posted at the start and at every pause,
        resume and skip, cleared at the end."""
        self._now = now
        self._sleep = sleep
        self.schedule: Schedule = build_schedule(
            cfg.timeline, cfg.talk.duration, start_at=options.start_at, speed=options.speed
        )
        self.clock = TalkClock(options.start_at, options.speed, now)
        self.state = ShowState(
            title=cfg.talk.title,
            talk_time=options.start_at,
            end_at=cfg.talk.duration,
            speed=options.speed,
            switcher=switcher.describe(),
            audience_url=options.audience_url.rstrip("/"),
        )
        self._pending: list[TimelineEvent] = list(self.schedule.events)
        self._segments: list[_Segment] = []
        self._main: _Segment | None = None
        self._known_mode: Mode | None = None
        self._lines_printed = 0
        self._quit = False
        self.reached_end = False
        """The talk's timeline ran to its end (not quit, not interrupted)."""

    # ------------------------------------------------------------------ k6

    def _env(self, scenarios: dict[str, Any]) -> dict[str, str]:
        return load_environment(
            self.cfg.k6,
            answer_timeout=self.cfg.gateway.answer_timeout,
            base_url=self.opt.base_url,
            model=self.cfg.model.served_name,
            scenarios=scenarios,
            admin_token=self.opt.admin_token,
            speed=self.opt.speed,
        )

    def _spawn(
        self, kind: Literal["timeline", "hold", "burst"], scenarios: dict[str, Any]
    ) -> _Segment | None:
        if not scenarios:
            return None
        part = "" if not self._segments else str(len(self._segments) + 1)
        files = K6Files.beside(self.opt.recording, part)
        run = K6Run(files, self._env(scenarios), binary=self.cfg.k6.binary)
        run.start(confirm=False)
        segment = _Segment(kind, run, self.clock.talk(), time.time(), SeriesTail(files.series))
        self._segments.append(segment)
        self._note(f"k6 {kind} load started (pid {run.pid}) → {files.series.name}")
        self._write_manifest()
        return segment

    def _stop(self, segment: _Segment | None) -> None:
        if segment is None or segment.result is not None:
            return
        segment.result = segment.run.stop()
        headline = segment.result.headline(self.opt.speed)
        self._note(f"k6 {segment.kind} load stopped: {headline}")
        self._write_manifest()

    def _start_timeline_load(self) -> None:
        at = self.clock.talk()
        if self.clock.paused:
            scenarios = hold_scenario(self.cfg.timeline, self.cfg.k6, at, HOLD_FOR)
            self._main = self._spawn("hold", scenarios)
        else:
            scenarios = k6_scenarios(
                self.cfg.timeline,
                self.cfg.k6,
                start_at=at,
                speed=self.opt.speed,
                end_at=self.cfg.talk.duration,
            )
            self._main = self._spawn("timeline", scenarios)

    def _restart_timeline_load(self) -> None:
        self._stop(self._main)
        self._start_timeline_load()

    def _write_manifest(self) -> None:
        runs = [
            {
                "kind": s.kind,
                "talk_start": round(s.talk_start, 3),
                "speed": self.opt.speed,
                "started_unix": round(s.started_unix, 3),
                "series": s.run.files.series.name,
                "summary": s.run.files.summary.name,
                "log": s.run.files.log.name,
                "exit_code": s.result.exit_code if s.result else None,
            }
            for s in self._segments
        ]
        path = runs_manifest(self.opt.recording)  # the report reads the runs' clocks from it
        path.write_text(json.dumps({"runs": runs}, indent=2) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ events and keys

    def _note(self, message: str) -> None:
        self.state.log.append(f"{clock_face(self.clock.talk())} {message}")
        if not self.console.is_terminal:
            self.console.print(self.state.log[-1], highlight=False, soft_wrap=True)

    def _flip(self, mode: Mode, why: str) -> None:
        try:
            self.switcher.set_mode(mode)
        except TubedemoError as exc:
            self._note(f"mode flip to {mode} FAILED: {exc.message}")
            return
        self._known_mode = mode
        self.state.mode = mode
        self._note(f"mode → {mode} ({why})")

    def _fire(self, event: TimelineEvent) -> None:
        if event.kind == "end":
            self._note("end of the talk")
            return
        phase = phase_at(self.cfg.timeline, event.at)
        self.state.phase = event.phase
        self.state.load = describe_load(phase) if phase is not None else "no load"
        self.state.cue = event.cue
        label = f"phase {event.phase}" + (" (joined)" if event.joined else "")
        self._note(label + (f": {event.cue}" if event.cue else ""))
        if event.mode is not None and (event.mode != self._known_mode or event.joined):
            self._flip(event.mode, event.phase or "timeline")

    def _post_forecast(self) -> None:
        if self.forecast is None:
            return
        try:
            now = self.forecast.post(self.clock.talk(), self.clock.paused)
        except TubedemoError as exc:
            self._note(f"forecast post FAILED: {exc.message}")
            return
        held = ", held" if self.clock.paused else ""
        self._note(f"forecast posted: {now} replica(s) now{held}")

    def _clear_forecast(self) -> None:
        if self.forecast is None:
            return
        try:
            self.forecast.clear()
        except TubedemoError as exc:
            self._note(f"forecast clear FAILED: {exc.message}")

    def _reschedule_from(self, at: float) -> None:
        self._pending = list(
            build_schedule(
                self.cfg.timeline, self.cfg.talk.duration, start_at=at, speed=self.opt.speed
            ).events
        )

    def _key(self, key: str) -> None:
        action = KEYS.get(key.lower())
        if action == "quit":
            self._note("quit: stopping k6, leaving the cluster as it is")
            self._quit = True
        elif action == "pause":
            if self.clock.paused:
                self.clock.resume()
                self._note("resumed")
            else:
                self.clock.pause()
                self._note("paused: holding the current load")
            self.state.paused = self.clock.paused
            self._post_forecast()
            self._restart_timeline_load()
        elif action == "next":
            target = next_phase_start(self.cfg.timeline, self.clock.talk())
            if target is None or target >= self.cfg.talk.duration:
                self._note("no next phase to skip to")
                return
            self.clock.jump(target)
            self._note(f"skipped to {clock_face(target)}")
            self._reschedule_from(target)
            self._post_forecast()
            self._restart_timeline_load()
        elif action == "burst":
            k6 = self.cfg.k6
            self._spawn("burst", burst_scenario(k6.burst_vus, k6.burst_duration / 1.0))
        elif action == "flip":
            self._flip("quiz" if self._known_mode == "survey" else "survey", "presenter")

    # ------------------------------------------------------------------ loop

    def _tick(self) -> None:
        talk = self.clock.talk()
        self.state.talk_time = talk
        while self._pending and self._pending[0].at <= talk + 1e-9:
            event = self._pending.pop(0)
            self._fire(event)
            if event.kind == "end":
                self.reached_end = True
                self._quit = True
        self.state.upcoming = self._pending
        for segment in self._segments:
            for point in segment.tail.read():
                self.state.stats.add(point)
            if segment.result is None:
                if segment is self._segments[0]:
                    # The show's first k6 failing at once is a broken setup: stop with one line.
                    # A later one (burst, restart) failing must not end the talk: it is noted.
                    segment.run.raise_if_failed_early(window=FATAL_START_WINDOW)
                if segment.run.poll() is not None:
                    segment.result = segment.run.result()
                    self._note(
                        f"k6 {segment.kind} load finished: "
                        f"{segment.result.headline(self.opt.speed)}"
                    )
                    self._write_manifest()
        running = [s for s in self._segments if s.result is None]
        self.state.k6 = (
            ", ".join(f"{s.kind} pid {s.run.pid}" for s in running) if running else "idle"
        )

    def k6_active(self) -> bool:
        return any(s.result is None for s in self._segments)

    def _render(self) -> RenderableType:
        board = None
        if self.board is not None:
            size = self.console.size
            board = self.board.renderable(size.width, max(1, size.height - TOP_HEIGHT))
        return render_show(self.state, board)

    def run(self, keys: KeySource) -> list[K6Result]:
        """Run to the end of the talk or until quit; k6 is always stopped. Returns its results."""
        locate_k6(self.cfg.k6.binary)  # a missing k6 fails before anything changes
        self.switcher.prepare()  # so is an unreachable cluster; and the first flip is on time
        self.opt.recording.parent.mkdir(parents=True, exist_ok=True)
        try:
            with term_and_hangup_as_interrupt():  # k6 stopped, cluster left alone
                self.clock.restart()
                self._note(
                    f"show starts at {format_duration(self.opt.start_at)} x{self.opt.speed:g} "
                    f"(unix {time.time():.3f})"
                )
                self._post_forecast()
                self._start_timeline_load()
                if self.board is not None:
                    self.board.start()
                if self.console.is_terminal:
                    with Live(
                        self._render(),
                        console=self.console,
                        screen=True,
                        auto_refresh=False,
                        redirect_stdout=False,
                        redirect_stderr=False,
                    ) as live:
                        self._loop(keys, lambda: live.update(self._render(), refresh=True))
                else:
                    self._loop(keys, lambda: None)
        except KeyboardInterrupt:
            self._note("interrupted: stopping k6, leaving the cluster as it is")
        finally:
            for segment in self._segments:
                self._stop(segment)
            self._clear_forecast()
            if self.board is not None:
                self.board.stop()
        return [s.result for s in self._segments if s.result is not None]

    def _loop(self, keys: KeySource, refresh: Callable[[], None]) -> None:
        drawn = 0.0
        while not self._quit:
            key = keys.poll()
            while key is not None and not self._quit:
                self._key(key)
                key = keys.poll()
                drawn = 0.0
            if self._quit:
                break
            self._tick()
            if self._now() - drawn >= REDRAW:
                refresh()
                drawn = self._now()
            self._sleep(TICK)


def default_recording(folder: Path = Path("out")) -> Path:
    """out/show-YYYYmmdd-HHMMSS.jsonl (UTC), where the recorder and k6 files go."""
    return folder / f"show-{datetime.now(UTC):%Y%m%d-%H%M%S}.jsonl"
