"""Read k6's JSON time series (``--out json=``): live load figures for the show, points for reports.

Parsing is pure (``parse_point``, ``LoadStats.add``); ``SeriesTail`` only reads the new bytes of a
growing file, so the show can follow a running k6 without blocking on it.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Point:
    """One k6 metric sample."""

    metric: str
    time: float
    """Unix seconds."""
    value: float
    tags: dict[str, str]


def parse_point(line: str) -> Point | None:
    """A Point from one line of k6's JSON output; None for metric declarations and junk."""
    try:
        raw: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "Point":
        return None
    data = raw.get("data") or {}
    try:
        when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        return Point(
            metric=str(raw["metric"]),
            time=when.timestamp(),
            value=float(data["value"]),
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        )
    except (KeyError, TypeError, ValueError):
        return None


def read_points(path: Path, metric: str | None = None) -> list[Point]:
    """All points of a finished series file (optionally of one metric)."""
    points = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            point = parse_point(line)
            if point is not None and (metric is None or point.metric == metric):
                points.append(point)
    return points


@dataclass
class LoadStats:
    """Running figures of the load, fed point by point."""

    vus: int = 0
    requests: int = 0
    failed: int = 0
    outcomes: int = 0
    """Requests judged failed or not (tubedemo_failed samples), quiz and survey alike."""
    refused: int = 0
    tokens: int = 0
    ttfb_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    """Most recent TTFB samples (ms)."""
    request_times: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    """Unix times of recent chat requests (for the request rate)."""

    def add(self, point: Point) -> None:
        if point.metric == "vus":
            self.vus = int(point.value)
        elif point.metric == "http_reqs" and point.tags.get("name") == "chat":
            self.requests += 1
            self.request_times.append(point.time)
        elif point.metric == "tubedemo_failed":
            self.outcomes += 1
            self.failed += 1 if point.value else 0
        elif point.metric == "tubedemo_refused":
            self.refused += int(point.value)
        elif point.metric == "tubedemo_tokens":
            self.tokens += int(point.value)
        elif point.metric == "tubedemo_ttfb":
            self.ttfb_ms.append(point.value)

    @property
    def failed_rate(self) -> float | None:
        """Fraction of requests that failed so far; None before any."""
        return self.failed / self.outcomes if self.outcomes else None

    def requests_per_s(self, now: float, window: float = 10.0) -> float:
        """Chat requests per second over the ``window`` seconds before ``now`` (unix s)."""
        # list() copies in one step: the dashboard thread reads while the show's loop appends.
        recent = list(self.request_times)
        return sum(1 for t in recent if now - window <= t <= now) / window

    def ttfb_percentile(self, q: float) -> float | None:
        """Percentile ``q`` (0-100) of the recent TTFB samples (ms), None without samples."""
        if not self.ttfb_ms:
            return None
        ordered = sorted(self.ttfb_ms)
        index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
        return ordered[index]


class SeriesTail:
    """Follows a k6 JSON output file as it grows; keeps a partial last line for the next read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""

    def read(self, limit: int = 1 << 20) -> list[Point]:
        """Points appended since the last call (at most ``limit`` bytes read per call)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(limit)
        except OSError:
            return []
        self._offset += len(chunk)
        text = self._partial + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return [p for p in (parse_point(line) for line in lines) if p is not None]
