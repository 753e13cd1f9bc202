"""The one quantile rule of the talk's figures: nearest rank. Pure.

Every p50/p95 computed from raw samples uses ``quantile`` here: the stage's k6 panel
(``tubedemo.talk.load_stats``), the report's audience-side view and its median node launch
(``tubedemo.screen.report``) and the twin's per-phase and per-tick latencies
(``tubedemo.twin.simulate``), so one run gives one p95 wherever it is printed. (Quantiles of
vLLM's *histograms* are another estimate, from bucket counts: ``tubedemo.telemetry.prometheus``.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def quantile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``; None without any.

    Nearest rank: sort, take the value of rank ``ceil(q * n)`` (1-based), i.e. the smallest
    sample with at least ``q`` of all samples at or below it. Chosen because:

    - it says what the slide says: "p95 = 3.2 s" reads "95 % of the requests had their first
      byte within 3.2 s", and that is exactly true of this rule, for every ``n``;
    - it is always a latency that really happened, never one interpolated between two samples;
    - it has no rounding step (``round(q * (n - 1))`` rounds halves to even, so its p50 of 4
      samples is the upper middle one and of 6 the lower), and no dependence on k6's own
      estimator, which has changed between k6 releases (linear interpolation at
      ``q * (n - 1)``, later a histogram): k6's summary figures are quoted as k6's;
    - the report and the twin already used it, so recorded and simulated figures stand.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
