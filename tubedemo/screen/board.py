"""The live board: snapshots from a source, a bounded history, the recording, and the frame.

One seam for the three live dashboards (``watch``, ``show``, ``rehearse``): ``source`` is a
zero-argument callable returning the next Snapshot (usually an Assembler ticking at the right
clock), ``recorder`` the talk's recording (or None), ``options`` how the dashboard draws.
``step()`` takes one snapshot; ``start()`` runs ``step`` on a thread every ``period`` wall
seconds (the show's and rehearsal's clock loops must never wait on a slow source), ``stop()``
ends the thread, closes the recording and whatever the board was given to close.
``watch`` calls ``step()`` from its own loop instead. A failing source never takes the talk
down: its error is kept in ``errors`` and the board carries on.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from rich.console import RenderableType

from tubedemo.screen.dashboard import DashboardOptions, StartupMemo, render
from tubedemo.telemetry.recording import Recorder
from tubedemo.telemetry.snapshot import Snapshot

Source = Callable[[], Snapshot]


class Closable(Protocol):
    def close(self) -> None: ...


def history_length(history_s: float, tick_s: float) -> int:
    """Snapshots to keep: the load graph's window twice over (slack for irregular ticks)."""
    return max(16, math.ceil(history_s / max(tick_s, 0.05)) * 2)


class LiveBoard:
    """Source -> history -> recording (-> ``publish``) -> frame; optionally on its own thread."""

    def __init__(
        self,
        source: Source,
        recorder: Recorder | None,
        options: DashboardOptions,
        *,
        period: float,
        tick_s: float | None = None,
        publish: Callable[[Snapshot], None] | None = None,
        closing: Iterable[Closable] = (),
        join_timeout: float = 10.0,
        name: str = "live-board",
        clock: Callable[[], float] = time.monotonic,
        strict: bool = False,
    ) -> None:
        """``period``: wall seconds between snapshots; ``tick_s``: talk seconds between them
        (default ``period``; a sped-up rehearsal passes period x speed) for the history length;
        ``publish``: called with each snapshot (the phones' status strip); ``closing``: feeds
        this board owns and closes on ``stop``; ``strict``: a failing source raises from
        ``step`` instead of being noted (``watch``, where nothing else would show it)."""
        self.source = source
        self.recorder = recorder
        self.options = options
        self.period = period
        self.history: deque[Snapshot] = deque(
            maxlen=history_length(options.history_s, tick_s if tick_s is not None else period)
        )
        self.errors: list[str] = []
        self._memo = StartupMemo()  # frame after frame over a sliding history
        self.started_at: float | None = None
        """``clock()`` when ``start``/``open`` ran: time zero of a board that counts its own."""
        self._publish = publish
        self._closing = list(closing)
        self._join_timeout = join_timeout
        self._clock = clock
        self._open = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._name = name
        self._strict = strict

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> LiveBoard:
        """Open the recording (no thread: the caller steps the board)."""
        if not self._open:
            if self.recorder is not None:
                self.recorder.__enter__()
            self._open = True
            self.started_at = self._clock()
        return self

    def start(self) -> LiveBoard:
        """Open, then take a snapshot every ``period`` on a daemon thread until ``stop``."""
        self.open()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread (bounded wait), close the recording and the owned feeds. Idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(self._join_timeout)
        if self._open and self.recorder is not None:
            self.recorder.__exit__(None, None, None)
        for feed in self._closing:
            feed.close()

    def __enter__(self) -> LiveBoard:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one snapshot -------------------------------------------------------------------------

    def step(self) -> Snapshot | None:
        """Take, keep, record and publish one snapshot; None when the source failed."""
        try:
            snapshot = self.source()
        except Exception as exc:  # a broken source must never take the talk down
            if self._strict:
                raise
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        if self._stop.is_set():  # stopped while the source answered: the recording is closing
            return None
        self.history.append(snapshot)
        if self.recorder is not None:
            self.recorder.write(snapshot)
        if self._publish is not None:
            self._publish(snapshot)
        return snapshot

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            self.step()
            self._stop.wait(max(0.0, self.period - (self._clock() - started)))

    # -- reading ------------------------------------------------------------------------------

    @property
    def recorded(self) -> int:
        return self.recorder.count if self.recorder is not None else 0

    def renderable(self, width: int, height: int) -> RenderableType:
        return render(list(self.history), width, height, self.options, self._memo)
