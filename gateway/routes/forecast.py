"""The timeline's forecast for KEDA: the conductor posts it once, on the talk's clock, and KEDA's
built-in metrics-api scaler reads it here at every HPA query (scaling.proactive: timeline).

`tubedemo show` posts the forecast as steps at absolute times (unix seconds, its talk clock's
start plus each step's talk second divided by --speed), so the value changes on the talk's clock
without the conductor sending anything more, and falls to 0 after the last step. Before any post,
after a restart of the gateway, or after the talk it is 0: the queue alone scales.
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
MAX_STEPS = 1000
"""More steps than any timeline has: a bound on what an admin post may store."""


class Step(BaseModel):
    at: Annotated[float, Field(ge=0)]
    """From when (unix seconds) the forecast is ``replicas``."""
    replicas: Annotated[int, Field(ge=0, le=10_000)]


class ForecastIn(BaseModel):
    steps: Annotated[list[Step], Field(max_length=MAX_STEPS)]


def forecast_at(steps: list[tuple[float, int]], now: float) -> int:
    """The forecast at ``now``: the last step at or before it; 0 before the first."""
    index = bisect.bisect_right([at for at, _ in steps], now) - 1
    return steps[index][1] if index >= 0 else 0


@router.get("/forecast", tags=["ops"], response_class=PlainTextResponse)
async def forecast(request: Request) -> Response:
    value = forecast_at(of(request).forecast, time.time())
    body = f"# TYPE {FORECAST_METRIC} gauge\n{FORECAST_METRIC} {value}\n"
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


@router.post("/api/admin/forecast", tags=["admin"], dependencies=[Admin], responses={401: {}})
async def set_forecast(request: Request, body: ForecastIn) -> dict[str, int]:
    gw = of(request)
    gw.forecast = sorted((s.at, s.replicas) for s in body.steps)
    return {"steps": len(gw.forecast), "now": forecast_at(gw.forecast, time.time())}
