"""One summed gauge per trigger metric, in the Prometheus text format KEDA's ``metrics-api``
scaler reads (``format: prometheus``): what the fleet's ``/metrics`` serves when KEDA reads it
directly, and what the scaler stand-in serves after summing the collector's series.

Both stand in for the Kedify OTEL scaler's ``sum(metric{matchers})``: ``metrics-api`` returns
the first series its ``valueLocation`` selects instead of summing, so each metric is exactly
one series, already summed, labelled with the query's matchers so that selector finds it.
Standard library only: the stand-in runs as its own small process.
"""

from __future__ import annotations

from collections.abc import Mapping


def summed_gauges(values: Mapping[str, float], labels: Mapping[str, str]) -> str:
    """``values`` ({metric: sum over the pods}) as one gauge series each, labelled ``labels``
    (sorted; values escaped as the format requires)."""
    selector = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
    lines = []
    for name, value in values.items():
        lines.append(f"# HELP {name} {name} summed over the pods (a scaler trigger's input).")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{{{selector}}} {float(value)!r}")
    return "\n".join(lines) + "\n"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
