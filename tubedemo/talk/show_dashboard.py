"""The live dashboard inside ``tubedemo show`` (and a rehearsal's): a live board on a thread.

The show's clock loop must never wait on a slow source (a gateway that times out would delay a
mode flip), so the board (``tubedemo.screen.board.LiveBoard``) ticks the telemetry Assembler on
a background thread every ``dashboard.tick``; the clock loop only reads the newest history when
it draws. Each snapshot carries the show's talk time (so --from and --speed are right on screen
and in the recording) and k6's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from tubedemo.core.config import DemoConfig
from tubedemo.screen.board import Closable, LiveBoard
from tubedemo.screen.dashboard import DashboardOptions
from tubedemo.talk.k6_series import LoadStats
from tubedemo.telemetry.assembler import Assembler, KubeFeed, MetricsTarget
from tubedemo.telemetry.clock import talk_clock
from tubedemo.telemetry.http_sources import GatewayFeed, MetricsFeed
from tubedemo.telemetry.recording import Recorder
from tubedemo.telemetry.snapshot import K6State, Snapshot


class KubeSource(KubeFeed, Protocol):
    """The cluster's watches as the board reads them, closed when it stops."""

    def close(self) -> None: ...


def k6_state(stats: LoadStats, active: bool, now: float) -> K6State:
    """The dashboard's k6 group from the show's running load figures. Pure."""
    return K6State(
        active=active,
        vus=stats.vus,
        requests_per_s=stats.requests_per_s(now),
        failed_rate=stats.failed_rate,
    )


def show_board(
    cfg: DemoConfig,
    *,
    gateway_url: str,
    vllm_urls: list[str],
    recording: Path,
    talk_time: Callable[[], float],
    k6: Callable[[], K6State],
    kube: KubeSource | None = None,
    metrics: MetricsFeed | None = None,
    gateway: GatewayFeed | None = None,
) -> LiveBoard:
    """The show's live board. `kube`, `metrics`, `gateway`: the cluster's feeds
    (commands.live.live_sources), owned and closed by the board from then on; without them only
    the URLs are read."""
    timeout = cfg.dashboard.metrics_timeout
    metrics = metrics or MetricsFeed(timeout=timeout)
    gateway = gateway or GatewayFeed(gateway_url, timeout=timeout)
    assembler = Assembler.for_talk(
        cfg,
        talk_start=datetime.now(UTC) - timedelta(seconds=talk_time()),
        kube=kube,
        metrics=metrics,
        gateway=gateway,
        k6=k6,
        static_targets=tuple(
            MetricsTarget(name=f"url-{i}", url=url) for i, url in enumerate(vllm_urls)
        ),
    )

    def snapshot() -> Snapshot:
        snap = assembler.tick(datetime.now(UTC))
        clock = talk_clock(cfg.timeline, cfg.talk.duration, talk_time())
        return snap.model_copy(update={"talk": clock})

    closing: list[Closable] = [*([kube] if kube is not None else []), metrics, gateway]
    return LiveBoard(
        snapshot,
        Recorder(recording),
        DashboardOptions.from_config(cfg.dashboard),
        period=cfg.dashboard.tick,
        closing=closing,
        join_timeout=cfg.dashboard.metrics_timeout * 3 + 2,
        name="show-dashboard",
    )
