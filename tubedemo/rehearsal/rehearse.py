"""The whole talk on a laptop: fleet simulator + real gateway + real k6 + the real dashboard.

``Rehearsal.run`` starts the fleet simulator (``python -m tubedemo.rehearsal.server``) and the
gateway (``python -m gateway``, local store, serving the built web page) as child processes in
their own
process groups, runs the show (``tubedemo.talk.show.Show``: k6 phases, mode flips, cues, keys) at
``--speed``, ticks the dashboard's Assembler from the twin's state and the replicas' /metrics,
records every snapshot, and writes the report at the end. Whatever ends it (the talk's end,
q, Ctrl-C, SIGTERM, a closed terminal, an error), every child is stopped before it returns.

Time: snapshots carry talk time (wall time x speed since the start), so rates, cost and the
report read as they would on stage.
"""

from __future__ import annotations

import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from tubedemo.audience.gateway_client import GatewayClient, direct_route
from tubedemo.core.children import Child
from tubedemo.core.config import DemoConfig
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import ExternalToolError, GatewayError, TubedemoError
from tubedemo.core.signals import term_and_hangup_as_interrupt
from tubedemo.screen.dashboard import DashboardOptions
from tubedemo.talk.k6 import K6Result
from tubedemo.telemetry.recording import Recorder
from tubedemo.telemetry.snapshot import Snapshot

READY_TIMEOUT = 60.0
"""Seconds a child may take to answer before the rehearsal gives up (cold imports on a laptop)."""

REPO_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


@dataclass
class RehearseOptions:
    speed: float = 1.0
    host: str = "0.0.0.0"
    """Where the gateway listens; 0.0.0.0 lets phones on the same network open the page."""
    port: int = 8080
    """Gateway port; 0 picks a free one."""
    out_dir: Path = Path("out/rehearse")
    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    audience: bool = True
    """Also simulate the room's phones inside the fleet (twin.audience): k6 alone, at 2-8 VUs,
    never fills max_num_seqs, so without them a lone rehearsal would never scale."""
    report: bool = True
    lab: bool = False
    """The real controllers decide (``tubedemo.rehearsal.lab``): the lab starts at ``speed``,
    our manifests go up into it, the fleet serves one engine per Ready pod, the dashboard reads
    the real watches. Default: the twin's models decide."""


@dataclass
class RehearsalResult:
    recording: Path
    report: Path | None
    snapshots: int
    max_ready: int
    max_desired: int
    final_desired: int
    k6: list[K6Result]
    audience_url: str
    children: dict[str, int | None]
    """Exit code per child after it was stopped."""


def lan_address() -> str:
    """This machine's address on its default route (no packet is sent), else loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise ExternalToolError(
                f"{child.name} exited before it was ready: {child.last_error()}"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ExternalToolError(f"{child.name} did not answer {url} within {timeout:.0f}s")


def status_body(snapshot: Snapshot) -> dict[str, object]:
    """What the audience page's status strip shows (POST /api/admin/status). Pure."""
    queue = snapshot.queue
    replicas = snapshot.replicas
    return {
        "queue": queue.waiting,
        "multiplier": queue.multiplier,
        "virtual_commuters": queue.virtual_commuters,
        "replicas": {
            "ready": replicas.ready,
            "desired": replicas.desired,
            "max": replicas.max or 0,
        },
        "gpu_nodes": snapshot.nodes.ready_count,
    }


class StatusPublisher:
    """Feeds the gateway's /api/status (phones' status strip) from the rehearsal's snapshots."""

    def __init__(self, base_url: str, token: str, timeout: float = 2.0) -> None:
        self._client = GatewayClient(direct_route(base_url, token, timeout=timeout))
        self.failures = 0

    def __call__(self, snapshot: Snapshot) -> None:
        try:
            self._client.post_status(status_body(snapshot))
        except GatewayError:
            self.failures += 1  # the page then says "live status unavailable": not fatal

    def close(self) -> None:
        self._client.close()


class Rehearsal:
    def __init__(self, cfg: DemoConfig, options: RehearseOptions, console: Console) -> None:
        check_speed(options.speed)
        self.cfg = cfg
        self.opt = options
        self.console = console
        self.children: list[Child] = []

    def _config_args(self) -> list[str]:
        args = ["--config", str(self.opt.config_path)] if self.opt.config_path else []
        for item in self.opt.overrides:
            args += ["--set", item]
        return args

    def _start_fleet(self) -> str:
        argv = [
            sys.executable,
            "-m",
            "tubedemo.rehearsal.server",
            "--port",
            "0",
            "--speed",
            f"{self.opt.speed:g}",
            *self._config_args(),
            *(["--audience"] if self.opt.audience else []),
        ]
        fleet = Child("fleet simulator", argv, self.opt.out_dir / "fleet.log").start()
        self.children.append(fleet)
        port = int(fleet.read_line("PORT ", READY_TIMEOUT).split()[1])
        url = f"http://127.0.0.1:{port}"
        _wait_ready(f"{url}/health", fleet, READY_TIMEOUT)
        return url

    def _start_gateway(self, upstream: str) -> tuple[str, str]:
        cfg = self.cfg
        port = self.opt.port or free_port(self.opt.host)
        local = f"http://127.0.0.1:{port}"
        shown = self.opt.host if self.opt.host not in ("0.0.0.0", "") else lan_address()
        audience_url = f"http://{shown}:{port}"
        env = {
            "TUBEDEMO_LOCAL": "1",
            "TUBEDEMO_TITLE": cfg.talk.title,
            "TUBEDEMO_MODEL": cfg.model.served_name,
            "TUBEDEMO_SYSTEM_PROMPT": cfg.gateway.system_prompt,
            "TUBEDEMO_MAX_TOKENS": str(cfg.gateway.max_tokens),
            "TUBEDEMO_MAX_PROMPT_CHARS": str(cfg.gateway.max_prompt_chars),
            "TUBEDEMO_AUDIENCE_URL": audience_url,
            # k6's VUs are not phones: per-client and per-address limits would throttle the
            # load the timeline asks for (0 = off).
            "TUBEDEMO_RATE_CHAT_PER_MIN": "0",
            "TUBEDEMO_RATE_ADDRESS_PER_MIN": "0",
        }
        if REPO_WEB_DIST.is_dir():
            env["TUBEDEMO_WEB_DIR"] = str(REPO_WEB_DIST)
        argv = [
            sys.executable,
            "-m",
            "gateway",
            f"--host={self.opt.host}",
            f"--port={port}",
            f"--upstream={upstream}",
            f"--store={self.opt.out_dir / 'store'}",
            f"--admin-token={self.token}",
            "--mode=quiz",
            "--log-level=warning",
        ]
        gateway = Child("gateway", argv, self.opt.out_dir / "gateway.log", env=env).start()
        self.children.append(gateway)
        _wait_ready(f"{local}/readyz", gateway, READY_TIMEOUT)
        return local, audience_url

    def run(self) -> RehearsalResult:
        from tubedemo.screen.board import LiveBoard
        from tubedemo.talk.keys import KeyReader
        from tubedemo.talk.modes import GatewayModeSwitcher
        from tubedemo.talk.show import Show, ShowOptions
        from tubedemo.talk.show_dashboard import k6_state
        from tubedemo.telemetry.assembler import Assembler
        from tubedemo.telemetry.http_sources import GatewayFeed, MetricsFeed, TwinStateFeed

        cfg, opt = self.cfg, self.opt
        self.token = secrets.token_urlsafe(18)
        opt.out_dir.mkdir(parents=True, exist_ok=True)
        recording = opt.out_dir / "rehearse.jsonl"
        recording.unlink(missing_ok=True)
        results: list[K6Result] = []
        board: LiveBoard | None = None
        feeds: list[Any] = []
        session: Any = None
        codes: dict[str, int | None] = {}
        audience_url = ""
        try:
            with term_and_hangup_as_interrupt():
                if opt.lab:
                    from tubedemo.rehearsal.lab import LabKubeFeed, LabSession, SessionOptions

                    session = LabSession(
                        cfg,
                        SessionOptions(
                            speed=opt.speed,
                            workdir=opt.out_dir / "lab-run",
                            out_dir=opt.out_dir,
                            audience=opt.audience,
                        ),
                        report=lambda line: self.console.print(f"[dim]{line}[/]"),
                    ).start()
                    fleet_url = session.fleet_url
                else:
                    fleet_url = self._start_fleet()
                gateway_url, audience_url = self._start_gateway(fleet_url)
                self.console.print(
                    f"[bold]Audience page:[/] {audience_url}/   presenter screen: "
                    f"{audience_url}/screen"
                )
                if not REPO_WEB_DIST.is_dir():
                    self.console.print(
                        "[yellow]web page not built: run `npm ci && npm run build` in web/ "
                        "to serve it (the API works without it)[/]"
                    )
                twin_feed: Any
                if session is not None:
                    twin_feed = LabKubeFeed(session, stale_after=cfg.dashboard.stale_after)
                    twin_feed.wait_synced()
                else:
                    twin_feed = TwinStateFeed(fleet_url)
                metrics = MetricsFeed(timeout=cfg.dashboard.metrics_timeout)
                gateway_feed = GatewayFeed(gateway_url, timeout=cfg.dashboard.metrics_timeout)
                publisher = StatusPublisher(gateway_url, self.token)
                feeds = [twin_feed, metrics, gateway_feed, publisher]
                talk_start = cfg.talk.window_start or datetime.now(UTC)
                show = Show(
                    cfg,
                    ShowOptions(
                        speed=opt.speed,
                        base_url=gateway_url,
                        admin_token=self.token,
                        recording=recording,
                    ),
                    GatewayModeSwitcher(gateway_url, self.token),
                    console=self.console,
                )
                assembler = Assembler.for_talk(
                    cfg,
                    talk_start=talk_start,
                    speed=opt.speed,
                    kube=twin_feed,
                    metrics=metrics,
                    gateway=gateway_feed,
                    k6=lambda: k6_state(show.state.stats, show.k6_active(), time.time()),
                )

                def snapshot() -> Snapshot:
                    # Talk time: wall time since the board started, x speed.
                    assert board is not None and board.started_at is not None
                    elapsed = (time.monotonic() - board.started_at) * opt.speed
                    return assembler.tick(talk_start + timedelta(seconds=elapsed))

                period = max(cfg.dashboard.tick / opt.speed, 0.25)
                board = LiveBoard(
                    snapshot,
                    Recorder(recording),
                    DashboardOptions.from_config(cfg.dashboard),
                    period=period,
                    tick_s=period * opt.speed,
                    publish=publisher,
                    name="rehearsal-board",
                )
                show.board = board
                with KeyReader() as keys:
                    if session is not None:
                        session.start_talk()  # talk second 0 for the fleet's simulated room
                    results = show.run(keys)
        except KeyboardInterrupt:
            self.console.print("interrupted: stopping every child process")
        finally:
            if board is not None:
                board.stop()
            for feed in feeds:
                feed.close()
            for child in reversed(self.children):
                codes[child.name] = child.stop()
            if session is not None:
                codes.update(session.close())
        report_dir: Path | None = None
        count = _count_lines(recording)
        if opt.report and count >= 2:
            from tubedemo.screen.report import write_report

            try:
                report_dir = write_report(
                    recording, opt.out_dir / "report", speed=opt.speed
                ).html.parent
            except TubedemoError as exc:
                self.console.print(f"[yellow]report not written: {exc.message}[/]")
        snaps = _read(recording)
        return RehearsalResult(
            recording=recording,
            report=report_dir,
            snapshots=count,
            max_ready=max((s.replicas.ready for s in snaps), default=0),
            max_desired=max((s.replicas.desired for s in snaps), default=0),
            final_desired=snaps[-1].replicas.desired if snaps else 0,
            k6=results,
            audience_url=audience_url,
            children=codes,
        )


def _count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return 0


def _read(path: Path) -> list[Snapshot]:
    from tubedemo.telemetry.recording import read_recording

    try:
        return list(read_recording(path).snapshots)
    except TubedemoError:
        return []
