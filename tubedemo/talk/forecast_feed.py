"""The timeline's forecast on the gateway, on the show's clock (scaling.proactive: timeline).

KEDA's forecast trigger (metrics-api) reads the gateway's /forecast; the gateway answers from
steps at absolute times (unix seconds) that the conductor posts. The show posts them when its
clock starts and again whenever the clock changes course (pause, resume, a skip to the next
phase), so the value KEDA reads follows the talk as the presenter runs it, at --speed too:

- running: the forecast now, from now, then every later step at now + (its talk second - the
  talk's now) / speed;
- paused: the forecast now, held (the load is held too);
- the show over (end, quit, Ctrl-C): no steps, so the forecast is 0 and the queue alone scales.

The same posts carry the warm capacity's window (scaling.warm_capacity), the placeholders'
count on the same clock, which the placeholders' ScaledObject reads beside the forecast.

``forecast_posts`` is the pure part; ``ForecastFeed`` sends it through the gateway client.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tubedemo.audience.gateway_client import GatewayClient
from tubedemo.core.config import DemoConfig
from tubedemo.twin.forecast import ForecastStep, forecast_at, forecast_schedule, warm_schedule


def forecast_posts(
    schedule: list[ForecastStep], talk_now: float, unix_now: float, speed: float, paused: bool
) -> list[tuple[float, int]]:
    """The steps to post (unix seconds, replicas) for the talk at ``talk_now`` when the wall
    clock reads ``unix_now``: the value now, then (unless ``paused``) every later step."""
    steps = [(unix_now, forecast_at(schedule, talk_now))]
    if paused:
        return steps
    steps += [
        (unix_now + (step.start - talk_now) / speed, step.replicas)
        for step in schedule
        if step.start > talk_now
    ]
    return steps


class ForecastFeed:
    """Keeps the gateway's forecast and warm capacity on the show's clock; one POST per change
    of course. Each series is posted only when its option is on (else none: 0)."""

    def __init__(
        self,
        cfg: DemoConfig,
        client: GatewayClient,
        speed: float,
        unix: Callable[[], float] = time.time,
    ) -> None:
        self.schedule = forecast_schedule(cfg) if cfg.scaling.proactive != "off" else []
        self.warm = warm_schedule(cfg)
        self.client = client
        self.speed = speed
        self._unix = unix

    def describe(self) -> str:
        return f"gateway {self.client.where}"

    def post(self, talk_now: float, paused: bool) -> int:
        """Post the forecast and the warm capacity for the talk at ``talk_now``; returns the
        forecast now."""
        unix = self._unix()
        steps = forecast_posts(self.schedule, talk_now, unix, self.speed, paused)
        warm = forecast_posts(self.warm, talk_now, unix, self.speed, paused) if self.warm else []
        self.client.set_forecast(steps, warm)
        return steps[0][1]

    def clear(self) -> None:
        """The show is over: the forecast and the warm capacity are 0 from now on."""
        self.client.set_forecast([], [])
