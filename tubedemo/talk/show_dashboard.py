"""The live dashboard inside ``tubedemo show``: snapshots on their own thread, recorded.

The show's clock loop must never wait on a slow source (a gateway that times out would delay a
mode flip), so the telemetry Assembler ticks on a background thread every ``dashboard.tick``;
the clock loop only reads the newest history when it draws. Each snapshot carries the show's
talk time (so --from and --speed are right on screen and in the recording) and k6's figures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from rich.console import RenderableType

from tubedemo.core.config import DemoConfig
from tubedemo.screen.dashboard import DashboardOptions, render
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


class ShowDashboard:
    """Assembles, records and renders snapshots; ``start``/``stop`` own the ticking thread."""

    def __init__(
        self,
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
    ) -> None:
        """`kube`, `metrics`, `gateway`: the cluster's feeds (commands.live.live_sources), owned
        and closed by this board from then on; without them only the URLs are read."""
        self.cfg = cfg
        self._talk_time = talk_time
        self.options = DashboardOptions.from_config(cfg.dashboard)
        timeout = cfg.dashboard.metrics_timeout
        self._kube = kube
        self._metrics = metrics or MetricsFeed(timeout=timeout)
        self._gateway = gateway or GatewayFeed(gateway_url, timeout=timeout)
        self._assembler = Assembler(
            multiplier=cfg.scaling.multiplier,
            prices=cfg.prices,
            timeline=cfg.timeline,
            talk_duration=cfg.talk.duration,
            talk_start=datetime.now(UTC) - timedelta(seconds=talk_time()),
            stale_after=cfg.dashboard.stale_after,
            kube=kube,
            metrics=self._metrics,
            static_targets=tuple(
                MetricsTarget(name=f"url-{i}", url=url) for i, url in enumerate(vllm_urls)
            ),
            gateway=self._gateway,
            k6=k6,
            max_replicas=cfg.scaling.max_replicas,
        )
        self._recorder = Recorder(recording)
        self.history: deque[Snapshot] = deque(
            maxlen=max(16, int(self.options.history_s / max(cfg.dashboard.tick, 0.05)) * 2)
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="show-dashboard", daemon=True)

    def _snapshot(self) -> Snapshot:
        snap = self._assembler.tick(datetime.now(UTC))
        clock = talk_clock(self.cfg.timeline, self.cfg.talk.duration, self._talk_time())
        return snap.model_copy(update={"talk": clock})

    def _run(self) -> None:
        tick = self.cfg.dashboard.tick
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                snapshot = self._snapshot()
            except Exception:  # a broken source must never take the show down
                snapshot = None
            if snapshot is not None and not self._stop.is_set():
                self.history.append(snapshot)
                self._recorder.write(snapshot)
            self._stop.wait(max(0.0, tick - (time.monotonic() - started)))

    def start(self) -> ShowDashboard:
        self._recorder.__enter__()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.cfg.dashboard.metrics_timeout * 3 + 2)
        self._recorder.__exit__(None, None, None)
        if self._kube is not None:
            self._kube.close()
        self._metrics.close()
        self._gateway.close()

    @property
    def recorded(self) -> int:
        return self._recorder.count

    def renderable(self, width: int, height: int) -> RenderableType:
        return render(list(self.history), width, height, self.options)
