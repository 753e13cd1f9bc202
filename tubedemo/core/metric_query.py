"""The Kedify OTEL scaler's ``metricQuery``, as its parser reads it (otel-add-on v0.1.4
metric/simple_parser.go): ``agg(metric{k=v,...})`` with ``agg`` one of sum, avg, min, max, count
(sum when absent) and ``=`` matchers only; a series lacking a matched label still matches.

Pure and standard library only: the render writes these queries, the lab's scaler stand-in
evaluates them over the collector's series, and the lab's ``metrics-api`` trigger selects the
stand-in's answer by ``selector``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

AGGREGATIONS = ("sum", "avg", "min", "max", "count")

_QUERY = re.compile(r"^\s*(?:(?P<agg>[a-z]+)\s*\()?\s*(?P<metric>[A-Za-z_:][\w:.]*)\s*"
                    r"(?:\{(?P<labels>[^}]*)\})?\s*(?P<close>\))?\s*$")  # fmt: skip


@dataclass(frozen=True)
class MetricQuery:
    aggregation: str
    metric: str
    matchers: tuple[tuple[str, str], ...]

    @property
    def selector(self) -> str:
        """The series selector without the aggregation, ``metric{k="v"}``: where a one-series
        answer to this query is found (``metrics-api``'s ``valueLocation``)."""
        labels = ",".join(f'{k}="{v}"' for k, v in self.matchers)
        return f"{self.metric}{{{labels}}}" if labels else self.metric

    def matches(self, labels: Mapping[str, str]) -> bool:
        """A series lacking a matched label still matches (as Kedify's store compares)."""
        return all(labels.get(k, v) == v for k, v in self.matchers)

    def fold(self, values: Iterable[float]) -> float:
        """The aggregation over the matching live series' values (0 when there are none, as
        the scaler answers for a stale or missing series)."""
        seen = list(values)
        if not seen:
            return 0.0
        if self.aggregation == "count":
            return float(len(seen))
        if self.aggregation == "avg":
            return math.fsum(seen) / len(seen)
        if self.aggregation == "min":
            return min(seen)
        if self.aggregation == "max":
            return max(seen)
        return math.fsum(seen)


def parse(query: str) -> MetricQuery:
    """Read one metricQuery; ValueError names what is wrong."""
    match = _QUERY.match(query)
    if match is None or bool(match["agg"]) != bool(match["close"]):
        raise ValueError(f"metricQuery {query!r}: write agg(metric{{label=value,...}})")
    agg = match["agg"] or "sum"
    if agg not in AGGREGATIONS:
        raise ValueError(f"metricQuery {query!r}: {agg} is not one of {', '.join(AGGREGATIONS)}")
    matchers = []
    for part in (match["labels"] or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or "!" in key or value.startswith("~"):
            raise ValueError(f"metricQuery {query!r}: only label=value matchers")
        matchers.append((key.strip(), value.strip()))
    return MetricQuery(agg, match["metric"], tuple(sorted(matchers)))
