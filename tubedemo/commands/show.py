"""show (the talk's clock: k6 phases, mode flips, cues, live dashboard) and load (a k6 burst)."""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import ConfigPath, Overrides, Speed, config_from, lazy_console
from tubedemo.core.durations import format_duration, parse_duration
from tubedemo.core.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from tubedemo.core.config import DemoConfig


def _duration(value: str, option: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option} {value!r}: {exc}") from exc


def _token(explicit: str | None) -> str | None:
    return explicit or os.environ.get("TUBEDEMO_ADMIN_TOKEN") or None


def print_plan(cfg: "DemoConfig", start_at: float, speed: float, console: "Console") -> None:
    """The schedule as a table: wall time, talk time, phase, load, mode flip, cue."""
    from rich.table import Table

    from tubedemo.core.timeline import build_schedule, describe_load, phase_at

    schedule = build_schedule(cfg.timeline, cfg.talk.duration, start_at=start_at, speed=speed)
    table = Table(title=f"{cfg.talk.title} — from {format_duration(start_at)} at x{speed:g}")
    for column in ("wall", "talk", "phase", "load", "mode", "cue"):
        table.add_column(column)
    for event in schedule.events:
        phase = phase_at(cfg.timeline, event.at)
        load = describe_load(phase) if phase is not None and event.kind == "phase" else ""
        table.add_row(
            format_duration(schedule.wall(event.at)),
            format_duration(event.at),
            "end of talk" if event.kind == "end" else event.phase + (" *" if event.joined else ""),
            load,
            event.mode or "",
            event.cue or "",
        )
    console.print(table)


Gateway = Annotated[
    str | None,
    typer.Option("--gateway", help="Gateway base URL (default: talk.audience_url)."),
]
AdminToken = Annotated[
    str | None,
    typer.Option("--admin-token", help="Admin bearer token (default: $TUBEDEMO_ADMIN_TOKEN)."),
]


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command()(load)


def show(
    config: ConfigPath = None,
    set_: Overrides = None,
    start_from: Annotated[
        str, typer.Option("--from", help="Start mid-talk at this talk time, e.g. 4m.")
    ] = "0s",
    speed: Speed = 1.0,
    dry_run: Annotated[
        bool, typer.Option(help="Print the schedule and the k6 scenarios; run nothing.")
    ] = False,
    gateway: Gateway = None,
    admin_token: AdminToken = None,
    mode_via: Annotated[
        str,
        typer.Option(
            help="How to flip the page: auto (cluster on eks, else gateway) | gateway | "
            "cluster | none."
        ),
    ] = "auto",
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig for --mode-via cluster and the cluster panels."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    kube: Annotated[
        bool | None,
        typer.Option(
            help="Cluster panels on the dashboard (replicas, nodes, HPA), as `watch` draws "
            "them (default: when the mode goes via the cluster)."
        ),
    ] = None,
    dashboard: Annotated[
        bool, typer.Option(help="Live dashboard below the show's panel, recorded.")
    ] = True,
    vllm_url: Annotated[
        list[str] | None,
        typer.Option(help="Scrape this vLLM /metrics URL for the dashboard (repeatable)."),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(help="Recording file (default out/show-<time>.jsonl); k6 files beside it."),
    ] = None,
) -> None:
    """Run the talk: k6 load phases, mode flips and cues on the clock, with presenter keys."""
    from tubedemo.core.timeline import k6_scenarios
    from tubedemo.talk.modes import (
        ClusterModeSwitcher,
        GatewayModeSwitcher,
        ModeSwitcher,
        NoModeSwitcher,
    )
    from tubedemo.talk.show import Show, ShowOptions, default_recording

    cfg = config_from(config, set_)
    start_at = _duration(start_from, "--from")
    console = lazy_console()
    if dry_run:
        base_url = gateway or cfg.talk.audience_url or "(the cluster's load balancer address)"
        print_plan(cfg, start_at, speed, console)
        scenarios = k6_scenarios(
            cfg.timeline, cfg.k6, start_at=start_at, speed=speed, end_at=cfg.talk.duration
        )
        typer.echo("k6 scenarios (TUBEDEMO_SCENARIOS for k6/load.js):")
        typer.echo(json.dumps(scenarios, indent=2))
        typer.echo(
            f"thresholds: tubedemo_failed rate<={cfg.k6.max_error_rate:g}; "
            f"gateway {base_url}; model {cfg.model.served_name}"
        )
        return
    base_url = _base_url(cfg, gateway, kubeconfig, context)
    via = mode_via if mode_via != "auto" else ("cluster" if cfg.profile == "eks" else "gateway")
    switcher: ModeSwitcher
    if via == "gateway":
        switcher = GatewayModeSwitcher(base_url, _token(admin_token))
    elif via == "cluster":
        switcher = ClusterModeSwitcher(cfg, kubeconfig, context)
    elif via == "none":
        switcher = NoModeSwitcher()
    else:
        raise UsageError(f"--mode-via {mode_via!r}: use auto, gateway, cluster or none")
    recording = record or default_recording()
    options = ShowOptions(
        start_at=start_at,
        speed=speed,
        base_url=base_url,
        admin_token=_token(admin_token),
        recording=recording,
    )
    runner = Show(cfg, options, switcher, console=console)
    if dashboard:
        from tubedemo.commands.live import live_sources
        from tubedemo.talk.show_dashboard import k6_state, show_board

        # On a cluster the board reads what `watch` reads: replicas, nodes, HPA, pod scrapes.
        sources = live_sources(
            cfg,
            kube=kube if kube is not None else via == "cluster",
            kubeconfig=kubeconfig,
            context=context,
            gateway_url=base_url if gateway else None,
        )
        runner.board = show_board(
            cfg,
            gateway_url=base_url,
            vllm_urls=list(vllm_url or []),
            recording=recording,
            talk_time=runner.clock.talk,
            k6=lambda: k6_state(runner.state.stats, runner.k6_active(), time.time()),
            kube=sources.kube,
            metrics=sources.metrics,
            gateway=sources.gateway,
        )
    from tubedemo.talk.keys import KeyReader

    with KeyReader() as keys:
        results = runner.run(keys)
    for result in results:
        typer.echo(f"k6 {result.files.series}: {result.headline()}")
    if dashboard:
        typer.echo(f"recording: {recording} (tubedemo report {recording})")


def _base_url(
    cfg: "DemoConfig", gateway: str | None, kubeconfig: Path | None, context: str | None
) -> str:
    """Where k6 and the mode flips go: --gateway, else the audience URL (explicit, or the
    address the cluster's load balancer advertises), the same one the QR code shows."""
    if gateway:
        return gateway
    from tubedemo.commands.audience import resolve_audience_url

    url, _ = resolve_audience_url(cfg, None, None, kubeconfig, context)
    return url


def load(
    vus: Annotated[int, typer.Option(help="Virtual users (constant).")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30s or 2m.")],
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway: Gateway = None,
    admin_token: AdminToken = None,
    out: Annotated[Path, typer.Option(help="Folder for k6's series and summary.")] = Path("out"),
) -> None:
    """A manual burst of quiz load outside the timeline (honest load through the gateway)."""
    from tubedemo.core.timeline import burst_scenario
    from tubedemo.talk.k6 import K6Files, K6Run, load_environment, run_load

    cfg = config_from(config, set_)
    seconds = _duration(duration, "--duration")
    scenarios = burst_scenario(vus, seconds)
    env = load_environment(
        cfg.k6,
        base_url=_base_url(cfg, gateway, None, None),
        model=cfg.model.served_name,
        scenarios=scenarios,
        admin_token=_token(admin_token),
    )
    files = K6Files.beside(out / f"load-{datetime.now(UTC):%Y%m%d-%H%M%S}.jsonl")
    run = K6Run(files, env, binary=cfg.k6.binary)
    try:
        result = run_load(run, timeout=seconds + cfg.k6.graceful_stop + 30)
    except KeyboardInterrupt:
        result = run.stop()
    typer.echo(f"k6 {files.series}: {result.headline()}")
