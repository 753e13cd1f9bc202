"""The live board of a running show, wired once for ``tubedemo show`` and ``tubedemo rehearse``.

The show's clock loop must never wait on a slow source (a gateway that times out would delay a
mode flip), so the board (``tubedemo.screen.board.LiveBoard``) ticks the telemetry Assembler on
a background thread every ``dashboard.tick``; the clock loop only reads the newest history when
it draws. One rule for time, on stage and in a rehearsal:

- *where the talk is* (phase, cue, countdown) is the show's clock (``Show.clock``), so --from,
  --speed, pauses and skips are right on screen and in the recording;
- *when* a snapshot is, and the seconds its rates and cost are measured over, is the clock of
  the system being measured: wall time on stage (``world_speed`` 1); in a rehearsal, the fleet
  simulator's, which runs ``world_speed`` (= --speed) times faster than the wall.

k6's figures come from the show's running load figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tubedemo.screen.board import Closable, LiveBoard
from tubedemo.screen.dashboard import DashboardOptions
from tubedemo.talk.load_stats import LoadStats
from tubedemo.talk.show import Show
from tubedemo.telemetry.assembler import Assembler, KubeFeed, MetricsTarget
from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed
from tubedemo.telemetry.recording import Recorder
from tubedemo.telemetry.snapshot import K6State, Snapshot
from tubedemo.telemetry.talk_state import talk_state

MIN_PERIOD = 0.25
"""Shortest wall time (s) between a sped-up board's snapshots: a --speed 10 rehearsal at a 1 s
tick would otherwise assemble and record ten snapshots a second."""


class KubeSource(KubeFeed, Protocol):
    """The cluster's watches (or a rehearsal's fleet state) as the board reads them."""

    def close(self) -> None: ...


def k6_state(stats: LoadStats, active: bool, now: float, world_speed: float = 1.0) -> K6State:
    """The dashboard's k6 group from the show's running load figures. Pure.

    ``now`` is unix time: k6 stamps its requests with the wall clock. Its rate is per second
    of the measured system (``world_speed`` wall seconds make one), like every rate beside it."""
    return K6State(
        active=active,
        vus=stats.vus,
        requests_per_s=stats.requests_per_s(now) / world_speed,
        failed_rate=stats.failed_rate,
    )


def board_period(tick: float, world_speed: float) -> float:
    """Wall seconds between snapshots: ``tick`` of the measured system's time, never shorter
    than MIN_PERIOD once sped up (a configured tick below it stands as configured)."""
    return max(tick / world_speed, min(tick, MIN_PERIOD))


@dataclass
class _ShowSource:
    """The board's source: the Assembler ticked at the measured system's time, with the talk
    group from the show's clock."""

    show: Show
    assembler: Assembler
    world_speed: float
    world_start: datetime | None
    monotonic: Callable[[], float]
    _origin: tuple[float, datetime] | None = None
    """(monotonic, snapshot time) of the first tick: the measured system's time starts there."""

    def __call__(self) -> Snapshot:
        now = self.monotonic()
        if self._origin is None:
            self._origin = (now, self.world_start or datetime.now(UTC))
        began, start = self._origin
        snap = self.assembler.tick(start + timedelta(seconds=(now - began) * self.world_speed))
        cfg = self.show.cfg
        where = talk_state(cfg.timeline, cfg.talk.duration, self.show.clock.talk())
        return snap.model_copy(update={"talk": where})


def show_board(
    show: Show,
    *,
    kube: KubeSource | None,
    metrics: HttpMetricsFeed,
    gateway: HttpGatewayFeed,
    static_targets: tuple[MetricsTarget, ...] = (),
    world_speed: float = 1.0,
    world_start: datetime | None = None,
    publish: Callable[[Snapshot], None] | None = None,
    closing: Iterable[Closable] = (),
    monotonic: Callable[[], float] = time.monotonic,
) -> LiveBoard:
    """The live board of ``show``, recorded into its recording; the show draws it below its
    panel and starts and stops it (this sets ``show.board``).

    ``kube``, ``metrics``, ``gateway``: the feeds (``commands.live.live_sources`` on stage, the
    fleet's in a rehearsal), owned and closed by the board from then on, with ``closing``;
    ``static_targets``: vLLM /metrics URLs scraped besides the feed's pods; ``world_speed``:
    seconds of the measured system per wall second; ``world_start``: the time of the first
    snapshot (default: when it is taken; a rehearsal may pass ``talk.window_start``);
    ``publish``: called with each snapshot (the phones' status strip)."""
    cfg = show.cfg
    assembler = Assembler.for_talk(
        cfg,
        # only the Assembler's own talk group reads talk_start, and _ShowSource replaces it
        talk_start=world_start or datetime.now(UTC),
        speed=world_speed,
        kube=kube,
        metrics=metrics,
        gateway=gateway,
        k6=lambda: k6_state(show.state.stats, show.k6_active(), time.time(), world_speed),
        static_targets=static_targets,
    )
    period = board_period(cfg.dashboard.tick, world_speed)
    board = LiveBoard(
        _ShowSource(show, assembler, world_speed, world_start, monotonic),
        Recorder(show.opt.recording),
        DashboardOptions.from_config(cfg.dashboard),
        period=period,
        tick_s=period * world_speed,
        publish=publish,
        closing=[*([kube] if kube is not None else []), metrics, gateway, *closing],
        # a tick may wait out a scrape, the gateway and the cluster before it sees the stop
        join_timeout=cfg.dashboard.metrics_timeout * 3 + 2,
        name="show-board",
        clock=monotonic,
    )
    show.board = board
    return board
