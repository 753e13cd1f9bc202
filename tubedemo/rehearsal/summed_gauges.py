"""One gauge per scaler trigger, in the Prometheus text format KEDA's ``metrics-api`` scaler
reads (``format: prometheus``): what the fleet's ``/metrics`` serves when KEDA reads it
directly, and what the scaler stand-in serves after folding the collector's series.

Both stand in for the Kedify OTEL scaler's ``agg(metric{matchers})``: ``metrics-api`` returns
the first series its ``valueLocation`` selects instead of aggregating, so each trigger is
exactly one series, already folded, labelled with the query's matchers so that selector finds
it.
Standard library only: the stand-in runs as its own small process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def gauges(series: Iterable[tuple[str, Mapping[str, str], float]]) -> str:
    """One gauge series per (metric, labels, value): a trigger's answer, already folded over the
    pods (a sum, or the heartbeat's count), where its ``valueLocation`` finds it. A metric
    named twice (the heartbeat's ``up`` beside another) is declared once."""
    lines = []
    declared: set[str] = set()
    for name, labels, value in series:
        if name not in declared:
            declared.add(name)
            lines.append(f"# HELP {name} {name} over the pods (a scaler trigger's input).")
            lines.append(f"# TYPE {name} gauge")
        selector = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{selector}}} {float(value)!r}")
    return "\n".join(lines) + "\n"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
