"""What the live dashboard shows and how: its tick, theme and feeds, and the node prices its cost
figures multiply."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from tubedemo.core.config.fields import Duration, Section


class PriceTable(Section):
    """$/h per EC2 instance type; the dashboard and the report multiply it by node lifetime."""

    spot: dict[str, float] = {"g5.2xlarge": 0.55, "g5.4xlarge": 0.72, "g5.12xlarge": 2.40}
    """$/h per instance type on spot (approximate us-west-2 figures; override for your region)."""
    on_demand: dict[str, float] = {"g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.12xlarge": 5.672}
    """$/h per instance type on demand (us-west-2 list prices); unlisted types count as $0."""

    @field_validator("spot", "on_demand")
    @classmethod
    def _not_negative(cls, table: dict[str, float]) -> dict[str, float]:
        for instance_type, price in table.items():
            if price < 0:
                raise ValueError(f"{instance_type}: a price cannot be negative")
        return table


class DashboardConfig(Section):
    """The live terminal dashboard (`tubedemo watch`, `show`, `rehearse`)."""

    tick: Duration = 1.0
    """Dashboard and recording interval (s); one Snapshot is assembled and drawn per tick."""
    history: Duration = 300.0
    """How much history the load graph shows (s); the room sees the last few minutes."""
    tube_flavour: bool = True
    """Line names for replica counts and playful commentary; off gives a plain dashboard."""
    high_contrast: bool = False
    """High-contrast theme (bold white on black, no dim colours) for washed-out projectors."""
    stale_after: Duration = 5.0
    """A source silent for longer than this (s) is shown as stale, with its last good values."""
    metrics_timeout: Duration = 2.0
    """Timeout of one /metrics scrape (s); short, so a hung pod cannot stall a frame."""
    metrics_via: Literal["proxy", "direct"] = "proxy"
    """Scrape vLLM via the API server's pod proxy (from a laptop) or pod IPs (in-cluster)."""

    @field_validator("tick")
    @classmethod
    def _tick_range(cls, v: float) -> float:
        if not 0.1 <= v <= 60:
            raise ValueError("must be between 100ms and 60s")
        return v
