"""The load graph's pieces: history bucketed into columns, drawn in eighth blocks. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tubedemo.telemetry.snapshot import Snapshot


def columns(
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
        value = plotted(snap, pick)
        if value is None:
            continue
        current = out[index]
        out[index] = value if current is None else max(current, value)
    return out


def plotted(snap: Snapshot, what: str) -> float | None:
    """The value the load graph plots for ``what`` (rps: vLLM's, else the gateway's; queue)."""
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


def nice_top(values: Iterable[float | None], floor: float) -> float:
    """A round axis top (1, 2, 2.5, 5 x 10^k) at or above the peak and ``floor``."""
    peak = max((v for v in values if v is not None), default=0.0)
    peak = max(peak, floor)
    magnitude = 10.0 ** math.floor(math.log10(peak))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= peak:
            return step * magnitude
    return 10 * magnitude
