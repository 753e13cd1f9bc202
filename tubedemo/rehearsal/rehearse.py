"""The whole talk on a laptop: fleet simulator + real gateway + real k6 + the real dashboard.

``Rehearsal.run`` starts the fleet simulator (``python -m tubedemo.rehearsal.server``) and the
gateway (``python -m gateway``, local store, serving the built web page) as child processes in
their own
process groups, runs the show (``tubedemo.talk.show.Show``: k6 phases, mode flips, cues, keys) at
``--speed`` with the show's live board (``tubedemo.talk.show_board``, as on stage) reading the
twin's state and the replicas' /metrics, records every snapshot, and writes the report at the
end. Whatever ends it (the talk's end,
q, Ctrl-C, SIGTERM, a closed terminal, an error), every child is stopped before it returns.

A rehearsal is a stage: while it runs, its gateway is published in the stage file
(``tubedemo.audience.stage``: ``.tubedemo/rehearsal.json`` in the folder it was started from,
0600, removed when it ends), so `mode`, `winners`, `session`, `qr`, `status` and `load` run from
that folder reach it with no flags, and its random admin token never appears on a command line.

Time: snapshots carry the fleet's time (wall time x speed since the start), so rates, cost and
the report read as they would on stage; the talk's phase on the board is the show's clock.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from tubedemo.audience.gateway_client import GatewayClient, direct_route
from tubedemo.audience.stage import STAGE_FILE, Stage, publish, withdraw
from tubedemo.core.config import DemoConfig
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import GatewayError, TubedemoError, UsageError
from tubedemo.core.processes import Child, free_port, port_taken, wait_ready
from tubedemo.core.signals import term_and_hangup_as_interrupt
from tubedemo.rehearsal.children import READY_TIMEOUT, fleet_argv, start_fleet
from tubedemo.talk.k6 import K6Result
from tubedemo.telemetry.snapshot import Snapshot

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
    hold: bool = True
    """After the timeline's end, keep the gateway up until the presenter presses q (only when
    reading keys from a terminal: a run nobody watches ends with its timeline)."""
    draw: int = 0
    """Draw this many raffle winners at the timeline's end, on cue (0: the presenter draws)."""
    lab: bool = False
    """The real controllers decide (``tubedemo.rehearsal.lab_session``): the lab starts at
    ``speed``, our manifests go up into it, the fleet serves one engine per Ready pod, the
    dashboard reads the real watches. Default: the twin's models decide."""


@dataclass
class RehearsalResult:
    recording: Path
    report: Path | None
    snapshots: int
    max_ready: int
    max_desired: int
    final_desired: int
    k6: list[K6Result]
    k6_figures: str | None
    """The report's k6 line (talk time), the same `tubedemo report` prints; None without k6."""
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
        self.session: Any = None
        """The lab session (``--lab``): lab, fleet, collector, our manifests."""

    def _start_fleet(self) -> str:
        argv = fleet_argv(
            speed=self.opt.speed,
            config=self.opt.config_path,
            overrides=self.opt.overrides,
            audience=self.opt.audience,
        )
        fleet, url = start_fleet(argv, self.opt.out_dir / "fleet.log")
        self.children.append(fleet)
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
            "TUBEDEMO_UPSTREAM_READ_TIMEOUT_S": f"{cfg.gateway.answer_timeout:g}",
            "TUBEDEMO_STREAM_KEEPALIVE_S": f"{cfg.gateway.stream_keepalive:g}",
            "TUBEDEMO_AUDIENCE_URL": audience_url,
            # In the environment, never on the command line: `ps` shows argv to every user.
            "TUBEDEMO_ADMIN_TOKEN": self.token,
            # k6 sends the load credential, so the phones' limits stay on as on stage
            **cfg.fair_share_env(),
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
            "--mode=quiz",
            "--log-level=warning",
        ]
        gateway = Child("gateway", argv, self.opt.out_dir / "gateway.log", env=env).start()
        self.children.append(gateway)
        wait_ready(f"{local}/readyz", what="gateway", children=[gateway], timeout=READY_TIMEOUT)
        return local, audience_url

    def run(self) -> RehearsalResult:
        from tubedemo.screen.board import LiveBoard
        from tubedemo.talk.keys import KeyReader
        from tubedemo.talk.modes import GatewayModeSwitcher
        from tubedemo.talk.show import Show, ShowOptions
        from tubedemo.talk.show_board import show_board
        from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed

        cfg, opt = self.cfg, self.opt
        self.token = secrets.token_urlsafe(18)
        opt.out_dir.mkdir(parents=True, exist_ok=True)
        recording = opt.out_dir / "rehearse.jsonl"
        recording.unlink(missing_ok=True)
        results: list[K6Result] = []
        board: LiveBoard | None = None
        feeds: list[Any] = []
        audience_url = ""
        stage_file: Path | None = None
        room: Any = None
        try:
            with term_and_hangup_as_interrupt():
                fleet_url, gateway_url, audience_url = self._start_children()
                stage_file = publish(
                    Stage(gateway_url, self.token, audience_url, os.getpid(), opt.speed)
                )
                self.console.print(
                    f"[dim]stage: `tubedemo mode|winners|session|qr|status|load` run from this "
                    f"folder reach this rehearsal ({STAGE_FILE})[/]",
                    soft_wrap=True,
                )
                if opt.audience:
                    from tubedemo.rehearsal.room_survey import SurveyRoom

                    room = SurveyRoom(gateway_url, cfg.twin.audience.size, opt.speed).start()
                twin_feed = self._kube_feed(fleet_url)
                metrics = HttpMetricsFeed(timeout=cfg.dashboard.metrics_timeout)
                gateway_feed = HttpGatewayFeed(gateway_url, timeout=cfg.dashboard.metrics_timeout)
                publisher = StatusPublisher(gateway_url, self.token)
                feeds = [twin_feed, metrics, gateway_feed, publisher]
                show = Show(
                    cfg,
                    ShowOptions(
                        speed=opt.speed,
                        base_url=gateway_url,
                        admin_token=self.token,
                        recording=recording,
                        audience_url=audience_url,
                    ),
                    GatewayModeSwitcher(gateway_url, self.token),
                    console=self.console,
                )
                # the fleet's world runs at --speed: snapshot times, rates and cost follow it
                board = show_board(
                    show,
                    kube=twin_feed,
                    metrics=metrics,
                    gateway=gateway_feed,
                    world_speed=opt.speed,
                    world_start=cfg.talk.window_start,
                    publish=publisher,
                    closing=[publisher],
                )
                feeds = []  # the board closes them when it stops
                with KeyReader() as keys:
                    if self.session is not None:
                        self.session.start_talk()  # talk second 0 for the fleet's simulated room
                    results = show.run(keys)
                    if show.reached_end:
                        if board is not None:
                            board.stop()
                            board = None
                        self._after_the_talk(gateway_url, audience_url, keys)
        except KeyboardInterrupt:
            self.console.print("interrupted: stopping every child process")
        finally:
            if stage_file is not None:
                withdraw(stage_file, os.getpid())
            if room is not None:
                room.close()
            if board is not None:
                board.stop()
            for feed in feeds:
                feed.close()
            codes = self._stop_children()
        return self._result(recording, results, audience_url, codes)

    def _after_the_talk(self, gateway_url: str, audience_url: str, keys: Any) -> None:
        """The timeline has ended: draw on cue (--draw), then, on a terminal, keep the gateway
        up for `tubedemo winners` and the phones' "you won" until the presenter presses q."""
        if self.opt.draw:
            from tubedemo.audience.reveal import raffle_line, winners_table

            try:
                with GatewayClient(direct_route(gateway_url, self.token)) as gw:
                    self.console.print(raffle_line(gw.raffle()))
                    self.console.print(winners_table(gw.draw(self.opt.draw), redraw=False))
            except GatewayError as exc:
                self.console.print(f"[yellow]no draw: {exc.message}[/]")
        if not (self.opt.hold and sys.stdin.isatty()):
            return
        self.console.print(
            f"[bold]The talk is over.[/] The gateway stays up at {audience_url}/ for "
            "`tubedemo winners` and the phones' winners: press q (or Ctrl-C) to end the rehearsal."
        )
        while keys.poll() not in ("q", "Q") and not keys.closed:
            time.sleep(0.1)

    def _start_children(self) -> tuple[str, str, str]:
        """The fleet (alone, or on the lab: a LabSession with its fleet, collector and our
        manifests up), then the gateway in front of it; (fleet, gateway, audience) URLs. A busy
        --port is refused first, before anything starts."""
        opt = self.opt
        if opt.port and port_taken(opt.host, opt.port):
            raise UsageError(
                f"--port {opt.port}: something on this machine already listens there "
                "(another rehearsal, the lab or a port-forward?); pass --port 0 for a free port"
            )
        if opt.lab:
            from tubedemo.rehearsal.lab_session import LabSession, SessionOptions

            self.session = LabSession(
                self.cfg,
                SessionOptions(
                    speed=opt.speed,
                    workdir=opt.out_dir / "lab-run",
                    out_dir=opt.out_dir,
                    audience=opt.audience,
                ),
                report=lambda line: self.console.print(f"[dim]{line}[/]"),
            ).start()
            fleet_url = self.session.fleet_url
        else:
            fleet_url = self._start_fleet()
        gateway_url, audience_url = self._start_gateway(fleet_url)
        self.console.print(
            f"[bold]Audience page:[/] {audience_url}/   presenter screen: {audience_url}/screen"
        )
        if not REPO_WEB_DIST.is_dir():
            self.console.print(
                "[yellow]web page not built: run `npm ci && npm run build` in web/ "
                "to serve it (the API works without it)[/]"
            )
        return fleet_url, gateway_url, audience_url

    def _kube_feed(self, fleet_url: str) -> Any:
        """Where the dashboard's replicas and nodes come from: the lab's real watches, or the
        twin's state from the fleet."""
        if self.session is not None:
            from tubedemo.rehearsal.lab_feed import LabKubeFeed

            feed = LabKubeFeed(self.session, stale_after=self.cfg.dashboard.stale_after)
            feed.wait_synced()
            return feed
        from tubedemo.telemetry.http_sources import TwinStateFeed

        return TwinStateFeed(fleet_url)

    def _stop_children(self) -> dict[str, int | None]:
        """Every child, last started first, then the lab session; exit code per child."""
        codes: dict[str, int | None] = {}
        for child in reversed(self.children):
            codes[child.name] = child.stop()
        if self.session is not None:
            codes.update(self.session.close())
        return codes

    def _result(
        self,
        recording: Path,
        k6: list[K6Result],
        audience_url: str,
        codes: dict[str, int | None],
    ) -> RehearsalResult:
        """The report (unless --no-report, or fewer than two snapshots) and the figures."""
        from tubedemo.screen.report import k6_figures, k6_view, write_report

        report_dir: Path | None = None
        phones: str | None = None
        count = _count_lines(recording)
        if self.opt.report and count >= 2:
            try:
                written = write_report(recording, self.opt.out_dir / "report")
                report_dir = written.html.parent
                phones = k6_figures(written.k6) if written.k6 is not None else None
            except TubedemoError as exc:
                self.console.print(f"[yellow]report not written: {exc.message}[/]")
        elif count >= 1:
            try:  # --no-report: the same figures the report would give
                view = k6_view(recording)
                phones = k6_figures(view) if view is not None else None
            except TubedemoError:
                phones = None
        snaps = _read(recording)
        return RehearsalResult(
            recording=recording,
            report=report_dir,
            snapshots=count,
            max_ready=max((s.replicas.ready for s in snaps), default=0),
            max_desired=max((s.replicas.desired for s in snaps), default=0),
            final_desired=snaps[-1].replicas.desired if snaps else 0,
            k6=k6,
            k6_figures=phones,
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
