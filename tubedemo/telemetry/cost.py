"""What the GPU nodes cost: $/h from the config's price table and a running total. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tubedemo.core.config import PriceTable
from tubedemo.telemetry.snapshot import CapacityType, CostState, GpuNode


def price_per_hour(prices: PriceTable, instance_type: str, capacity_type: CapacityType) -> float:
    """$/h of one node; 0 for a type the table does not list (shown as $0, never a crash)."""
    table = prices.spot if capacity_type == "spot" else prices.on_demand
    return table.get(instance_type, 0.0)


def priced(prices: PriceTable, nodes: Iterable[GpuNode]) -> tuple[GpuNode, ...]:
    """The nodes with price_per_hour filled from the table."""
    return tuple(
        n.model_copy(
            update={"price_per_hour": price_per_hour(prices, n.instance_type, n.capacity_type)}
        )
        for n in nodes
    )


def advance(
    previous: CostState | None,
    previous_time: datetime | None,
    now: datetime,
    per_hour_now: float,
) -> CostState:
    """Cost after one more tick: the rate in force since the previous tick times the time passed.

    The previous tick's rate is used because the nodes it saw are the ones billed over the
    interval; a clock going backwards (replay glitch, NTP step) adds nothing.
    """
    if previous is None or previous_time is None:
        return CostState(per_hour=per_hour_now, total=0.0)
    elapsed_h = max((now - previous_time).total_seconds(), 0.0) / 3600.0
    return CostState(per_hour=per_hour_now, total=previous.total + previous.per_hour * elapsed_h)
