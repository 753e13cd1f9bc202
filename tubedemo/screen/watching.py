"""The thin side-effect layer of ``watch``: ticks, Rich Live, and replay.

Everything that decides what the screen shows is in ``tubedemo.screen.dashboard.render``
(pure); the live board (``tubedemo.screen.board``) keeps the history and writes the recording;
this module only keeps time and hands frames to Rich.
On a terminal the frames go through Rich Live on the alternate screen (fixed layout, explicit
refresh: no flicker); without one (pipes, CI) only the final frame is printed. `q` ends both
(the caller passes its key reader's ``poll``), as it ends the show.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live

from tubedemo.screen.board import LiveBoard, history_length
from tubedemo.screen.dashboard import DashboardOptions, StartupMemo, render
from tubedemo.telemetry.recording import replay_schedule
from tubedemo.telemetry.snapshot import Snapshot

Keys = Callable[[], str | None]
"""The next key the presenter pressed, or None (``tubedemo.talk.keys.KeyReader.poll``)."""

KEY_POLL_S = 0.1
"""Longest sleep between two looks at the keys (s): `q` ends the screen within it."""

QUIT_KEYS = frozenset("qQ")


def _no_keys() -> str | None:
    return None


def _pause(seconds: float, sleep: Callable[[float], None], keys: Keys) -> bool:
    """Sleep ``seconds`` in slices of at most KEY_POLL_S, looking at the keys between them;
    True as soon as `q` is pressed."""
    left = seconds
    while True:
        while (key := keys()) is not None:
            if key in QUIT_KEYS:
                return True
        if left <= 0:
            return False
        step = min(left, KEY_POLL_S)
        sleep(step)
        left -= step


@dataclass(frozen=True)
class WatchResult:
    frames: int
    recorded: int
    last: Snapshot | None


def _history(history_s: float, tick_s: float) -> deque[Snapshot]:
    return deque(maxlen=history_length(history_s, tick_s))


class _Screen:
    """Rich Live when the console is a terminal; otherwise remember the frame for the end."""

    def __init__(self, console: Console, options: DashboardOptions) -> None:
        self.console = console
        self.options = options
        self.live: Live | None = None
        self.history: deque[Snapshot] = deque()
        self.memo = StartupMemo()  # frame after frame over a sliding history

    def __enter__(self) -> _Screen:
        if self.console.is_terminal:
            self.live = Live(
                console=self.console,
                screen=True,
                auto_refresh=False,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.__enter__()
        return self

    def show(self, history: deque[Snapshot]) -> None:
        self.history = history
        if self.live is not None:
            size = self.console.size
            frame = render(history, size.width, size.height, self.options, self.memo)
            self.live.update(frame, refresh=True)

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            return
        if self.history:
            width = self.console.width if self.console.width else 80
            height = self.console.height if self.console.height else 24
            self.console.print(render(self.history, width, height, self.options, self.memo))


def watch_live(
    board: LiveBoard,
    *,
    console: Console,
    frames: int = 0,
    keys: Keys = _no_keys,
) -> WatchResult:
    """Step, record and draw ``board`` once per its period until Ctrl-C, `q` or ``frames``
    frames.

    ``watch`` runs the board from this loop (no thread): a frame per snapshot, on time."""
    tick_s = board.period
    count = 0
    last: Snapshot | None = None
    try:
        board.open()
        with _Screen(console, board.options) as screen:
            deadline = time.monotonic()
            while frames <= 0 or count < frames:
                snapshot = board.step()
                if snapshot is not None:  # None: a non-strict board's source failed
                    last = snapshot
                    screen.show(board.history)
                count += 1
                if frames > 0 and count >= frames:
                    break
                deadline += tick_s
                pause = deadline - time.monotonic()
                if pause <= 0:
                    deadline = time.monotonic()  # fell behind: do not try to catch up in a burst
                if _pause(max(pause, 0.0), time.sleep, keys):
                    break
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return WatchResult(count, board.recorded, last)


def watch_replay(
    snapshots: Iterable[Snapshot],
    *,
    console: Console,
    options: DashboardOptions,
    speed: float,
    sleep: Callable[[float], None] = time.sleep,
    keys: Keys = _no_keys,
) -> WatchResult:
    """Play a recording through the same dashboard at ``speed`` x real time, until its end,
    Ctrl-C or `q`."""
    items = list(snapshots)
    tick_s = 1.0
    if len(items) > 1:
        span = (items[-1].time - items[0].time).total_seconds()
        tick_s = max(0.05, span / (len(items) - 1))
    history = _history(options.history_s, tick_s)
    count = 0
    last: Snapshot | None = None
    try:
        with _Screen(console, options) as screen:
            for delay, snapshot in replay_schedule(items, speed):
                wait = delay if delay > 0 and console.is_terminal else 0.0
                if _pause(wait, sleep, keys):
                    break
                history.append(snapshot)
                last = snapshot
                screen.show(history)
                count += 1
    except KeyboardInterrupt:
        pass
    return WatchResult(count, 0, last)
