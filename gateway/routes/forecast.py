"""The timeline's forecast for KEDA: the conductor posts it once, on the talk's clock, and KEDA's
built-in metrics-api scaler reads it here at every HPA query (scaling.proactive: timeline).

`tubedemo show` posts the forecast as steps at absolute times (unix seconds, its talk clock's
start plus each step's talk second divided by --speed), so the value changes on the talk's clock
without the conductor sending anything more, and falls to 0 after the last step. Before any post,
after a restart of the gateway, or after the talk it is 0: the queue alone scales.

The same post carries the warm capacity's steps (scaling.warm_capacity: placeholder pods that
keep GPU nodes Ready around the burst), served beside the forecast as a second gauge that the
placeholders' ScaledObject reads; 0 likewise before a post and after the talk, so no GPU is held
for placeholders once the show is over.
"""

from __future__ import annotations

import bisect
import time
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from gateway.routes.auth import Admin
from gateway.runtime import of

router = APIRouter()

FORECAST_METRIC = "tubedemo_forecast_replicas"
"""The gauge KEDA's metrics-api trigger reads (valueLocation, Prometheus text format)."""
WARM_CAPACITY_METRIC = "tubedemo_warm_capacity_replicas"
"""The placeholders' gauge beside it (the warm-capacity ScaledObject's valueLocation)."""
MAX_STEPS = 1000
"""More steps than any timeline has: a bound on what an admin post may store."""


class Step(BaseModel):
    at: Annotated[float, Field(ge=0)]
    """From when (unix seconds) the forecast is ``replicas``."""
    replicas: Annotated[int, Field(ge=0, le=10_000)]


class ForecastIn(BaseModel):
    steps: Annotated[list[Step], Field(max_length=MAX_STEPS)]
    warm: Annotated[list[Step], Field(max_length=MAX_STEPS)] = []
    """The warm capacity's steps (replicas: placeholder pods); none: 0 from now on."""


def forecast_at(steps: list[tuple[float, int]], now: float) -> int:
    """The forecast at ``now``: the last step at or before it; 0 before the first."""
    index = bisect.bisect_right([at for at, _ in steps], now) - 1
    return steps[index][1] if index >= 0 else 0


@router.get("/forecast", tags=["ops"], response_class=PlainTextResponse)
async def forecast(request: Request) -> Response:
    gw, now = of(request), time.time()
    body = "".join(
        f"# TYPE {name} gauge\n{name} {forecast_at(steps, now)}\n"
        for name, steps in (
            (FORECAST_METRIC, gw.forecast),
            (WARM_CAPACITY_METRIC, gw.warm_capacity),
        )
    )
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


@router.post("/api/admin/forecast", tags=["admin"], dependencies=[Admin], responses={401: {}})
async def set_forecast(request: Request, body: ForecastIn) -> dict[str, int]:
    gw = of(request)
    gw.forecast = sorted((s.at, s.replicas) for s in body.steps)
    gw.warm_capacity = sorted((s.at, s.replicas) for s in body.warm)
    now = time.time()
    return {
        "steps": len(gw.forecast),
        "now": forecast_at(gw.forecast, now),
        "warm_now": forecast_at(gw.warm_capacity, now),
    }
