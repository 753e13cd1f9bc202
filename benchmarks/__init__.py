"""Benchmarks run by `nox -s bench` (`python -m benchmarks`).

Each module `benchmarks/bench_<name>.py` defines `TITLE` and `run(quick: bool) -> list[Row]`;
the runner discovers them, prints one table per module and, with `--write`, replaces that
module's section in docs/benchmarks.md. Targets are ratios or limits measured against a
baseline in the same run; every load loop is bounded in count and time.

Shared by the gateway and abuse benches (not benches themselves): ``gateway_servers`` (the fake
vLLM, the gateway and LiteLLM's proxy as processes on loopback) and ``gateway_load`` (the
bounded load generators and the page's identities).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None
    """True/False when the row has a target, None for context figures."""
    note: str = ""
