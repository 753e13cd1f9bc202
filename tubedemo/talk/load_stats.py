"""The stage's running load figures from k6's points: VUs, requests, failures, TTFB. Pure.

The show feeds every ``Point`` its ``SeriesTail`` reads (``tubedemo.telemetry.k6_points``) into
one ``LoadStats``; the show's load panel and the dashboard's k6 group read it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tubedemo.telemetry.k6_points import Point
from tubedemo.telemetry.quantiles import quantile


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
        """Percentile ``q`` (0-100) of the recent TTFB samples (ms), None without samples; the
        one quantile rule (``tubedemo.telemetry.quantiles``), as the report's."""
        # list() copies in one step: the dashboard thread reads while the show's loop appends.
        return quantile(list(self.ttfb_ms), q / 100)
