"""show (the talk's clock: k6 phases, mode flips, cues, live dashboard) and load (a k6 burst)."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tubedemo.commands.options import (
    AdminToken,
    ConfigPath,
    Context,
    GatewayUrl,
    Kubeconfig,
    Overrides,
    Speed,
    config_from,
    lazy_console,
)
from tubedemo.core.durations import format_duration, parse_duration
from tubedemo.core.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from tubedemo.core.config import DemoConfig
    from tubedemo.talk.forecast_feed import ForecastFeed
    from tubedemo.talk.modes import ModeSwitcher
    from tubedemo.talk.show import Show


def _duration(value: str, option: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option} {value!r}: {exc}") from exc


def _token(explicit: str | None) -> str | None:
    return explicit or os.environ.get("TUBEDEMO_ADMIN_TOKEN") or None


def _direct(cfg: "DemoConfig", gateway_url: str | None, admin_token: str | None) -> Any:
    """The gateway called directly (commands.wiring.direct_target), else None."""
    from tubedemo.commands.wiring import direct_target

    return direct_target(cfg, gateway_url, _token(admin_token))


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


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command()(load)


StartFrom = Annotated[
    str, typer.Option("--from", help="Start mid-talk at this talk time, e.g. 4m.")
]
DryRun = Annotated[bool, typer.Option(help="Print the schedule and the k6 scenarios; run nothing.")]
ModeVia = Annotated[
    str,
    typer.Option(
        help="How to flip the page: auto (cluster on eks, else gateway) | gateway | cluster | none."
    ),
]
ShowKubeconfig = Annotated[
    Path | None,
    typer.Option(help="kubeconfig for --mode-via cluster and the cluster panels."),
]
ClusterPanels = Annotated[
    bool | None,
    typer.Option(
        help="Cluster panels on the dashboard (replicas, nodes, HPA), as `watch` draws "
        "them (default: when the mode goes via the cluster)."
    ),
]
WithDashboard = Annotated[
    bool, typer.Option(help="Live dashboard below the show's panel, recorded.")
]
VllmUrls = Annotated[
    list[str] | None,
    typer.Option(help="Scrape this vLLM /metrics URL for the dashboard (repeatable)."),
]
ShowRecording = Annotated[
    Path | None,
    typer.Option(help="Recording file (default out/show-<time>.jsonl); k6 files beside it."),
]


def show(
    config: ConfigPath = None,
    set_: Overrides = None,
    start_from: StartFrom = "0s",
    speed: Speed = 1.0,
    dry_run: DryRun = False,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    mode_via: ModeVia = "auto",
    kubeconfig: ShowKubeconfig = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    kube: ClusterPanels = None,
    dashboard: WithDashboard = True,
    vllm_url: VllmUrls = None,
    record: ShowRecording = None,
) -> None:
    """Run the talk: k6 load phases, mode flips and cues on the clock, with presenter keys."""
    from tubedemo.talk.show import Show, ShowOptions, default_recording

    cfg = config_from(config, set_)
    start_at = _duration(start_from, "--from")
    console = lazy_console()
    if dry_run:
        print_dry_run(cfg, gateway_url, start_at, speed, console)
        return
    from tubedemo.commands.wiring import admin_token_for
    from tubedemo.core.timeline import k6_scenarios

    direct = _direct(cfg, gateway_url, admin_token)
    if direct is not None:
        gateway_url, admin_token = direct.url, direct.token or _token(admin_token)
        console.print(f"gateway: {direct.url} ({direct.source})", markup=False)
    base_url = _base_url(cfg, gateway_url, kubeconfig, context)
    via = mode_via if mode_via != "auto" else ("cluster" if cfg.profile == "eks" else "gateway")
    # k6 sends the load credential derived from the token (the gateway refuses load without
    # one) and the gateway switcher flips modes with it; a talk with neither needs no Secret.
    load = k6_scenarios(cfg.timeline, cfg.k6, start_at=start_at, end_at=cfg.talk.duration)
    token = (
        admin_token_for(cfg, _token(admin_token), kubeconfig=kubeconfig, context=context)
        if load or via == "gateway"
        else _token(admin_token)
    )
    switcher = _mode_switcher(cfg, via, base_url, token, kubeconfig, context)
    if via == "cluster":
        _extend_deadline(cfg, kubeconfig, context, start_at, console)
    recording = record or default_recording()
    options = ShowOptions(
        start_at=start_at,
        speed=speed,
        base_url=base_url,
        admin_token=token,
        recording=recording,
    )
    runner = Show(cfg, options, switcher, console=console)
    if cfg.scaling.proactive != "off" or cfg.scaling.warm_capacity.replicas:
        runner.forecast = _forecast_feed(cfg, via, base_url, gateway_url, token, kubeconfig,
                                         context, speed)  # fmt: skip
    if dashboard:
        # On a cluster the board reads what `watch` reads: replicas, nodes, HPA, pod scrapes.
        with_kube = kube if kube is not None else via == "cluster"
        _attach_board(runner, cfg, base_url, gateway_url, list(vllm_url or []), with_kube,
                      kubeconfig, context)  # fmt: skip
    from tubedemo.talk.keys import KeyReader

    with KeyReader() as keys:
        results = runner.run(keys)
    for result in results:
        typer.echo(f"k6 {result.files.series}: {result.headline(speed)}")
    if dashboard:
        typer.echo(f"recording: {recording} (tubedemo report {recording})")


def print_dry_run(
    cfg: "DemoConfig", gateway: str | None, start_at: float, speed: float, console: "Console"
) -> None:
    """show --dry-run: the schedule, the k6 scenarios as JSON and the thresholds; runs nothing."""
    from tubedemo.core.timeline import k6_scenarios

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
    if cfg.scaling.proactive != "off":
        from tubedemo.twin.forecast import forecast_schedule

        steps = ", ".join(
            f"{format_duration(s.start)} {s.replicas}" + (f" ({s.phase})" if s.phase else "")
            for s in forecast_schedule(cfg)
        )
        typer.echo(f"forecast posted to the gateway (talk time, replicas): {steps}")
    if cfg.scaling.warm_capacity.replicas:
        from tubedemo.twin.forecast import warm_schedule

        steps = ", ".join(f"{format_duration(s.start)} {s.replicas}" for s in warm_schedule(cfg))
        typer.echo(f"warm capacity posted to the gateway (talk time, placeholders): {steps}")


def _mode_switcher(
    cfg: "DemoConfig",
    via: str,
    base_url: str,
    admin_token: str | None,
    kubeconfig: Path | None,
    context: str | None,
) -> "ModeSwitcher":
    """What flips the audience page at a phase's mode: the gateway, the cluster's ConfigMap,
    or nothing (--mode-via)."""
    from tubedemo.talk.modes import ClusterModeSwitcher, GatewayModeSwitcher, NoModeSwitcher

    if via == "gateway":
        return GatewayModeSwitcher(base_url, admin_token)
    if via == "cluster":
        return ClusterModeSwitcher(cfg, kubeconfig, context)
    if via == "none":
        return NoModeSwitcher()
    raise UsageError(f"--mode-via {via!r}: use auto, gateway, cluster or none")


def _forecast_feed(
    cfg: "DemoConfig",
    via: str,
    base_url: str,
    gateway: str | None,
    admin_token: str | None,
    kubeconfig: Path | None,
    context: str | None,
    speed: float,
) -> "ForecastFeed":
    """Where the show keeps the timeline's forecast (scaling.proactive: timeline) and the warm
    capacity's window (scaling.warm_capacity): the gateway KEDA's triggers read. On a cluster
    without --gateway-url, through the API server's
    proxy to the gateway Service (the rendered trigger's URL; the token from its Secret), else
    at the show's gateway URL."""
    from tubedemo.audience.gateway_client import GatewayClient, direct_route
    from tubedemo.commands.wiring import open_gateway
    from tubedemo.talk.forecast_feed import ForecastFeed

    if via == "cluster" and not gateway:
        client = open_gateway(cfg, admin_token=admin_token, kubeconfig=kubeconfig, context=context)
    else:
        client = GatewayClient(direct_route(base_url, admin_token))
    return ForecastFeed(cfg, client, speed)


def _attach_board(
    runner: "Show",
    cfg: "DemoConfig",
    base_url: str,
    gateway: str | None,
    vllm_urls: list[str],
    kube: bool,
    kubeconfig: Path | None,
    context: str | None,
) -> None:
    """Give the show its live board, fed as `watch` feeds its own, recorded beside k6."""
    from tubedemo.commands.live import live_sources
    from tubedemo.talk.show_board import show_board
    from tubedemo.telemetry.assembler import MetricsTarget

    sources = live_sources(
        cfg, kube=kube, kubeconfig=kubeconfig, context=context,
        gateway_url=base_url if gateway else None,
    )  # fmt: skip
    show_board(
        runner,
        kube=sources.kube,
        metrics=sources.metrics,
        gateway=sources.gateway,
        static_targets=tuple(
            MetricsTarget(name=f"url-{i}", url=url) for i, url in enumerate(vllm_urls)
        ),
    )


def _extend_deadline(
    cfg: "DemoConfig", kubeconfig: Path | None, context: str | None, start_at: float, console: Any
) -> None:
    """The talk starts now: the cluster's GPU deadline moves to its end + talk.gpu_grace (never
    earlier), so a talk that began late is not cut, and a laptop lost mid-talk still ends it."""
    from datetime import timedelta

    from tubedemo.cluster import connect, deadline

    api = connect(kubeconfig, context or cfg.cluster.context)
    now = datetime.now(UTC)
    until = now + timedelta(seconds=max(0.0, cfg.talk.duration - start_at) + cfg.talk.gpu_grace)
    held = deadline.extend(api, cfg.cluster.namespace, until)
    console.print(
        f"GPU deadline {held:%H:%M} UTC: past it the cluster scales vLLM to 0 and removes "
        f"NodePool {cfg.gpu_pool.name} by itself"
    )


def _base_url(
    cfg: "DemoConfig", gateway: str | None, kubeconfig: Path | None, context: str | None
) -> str:
    """Where k6 and the mode flips go: --gateway-url, else the audience URL (explicit, or the
    address the cluster's load balancer advertises), the same one the QR code shows."""
    if gateway:
        return gateway
    from tubedemo.commands.audience import resolve_audience_url

    url, _ = resolve_audience_url(cfg, None, None, kubeconfig, context, url_option="--gateway-url")
    return url


def load(
    vus: Annotated[int, typer.Option(help="Virtual users (constant).")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30s or 2m.")],
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    out: Annotated[Path, typer.Option(help="Folder for k6's series and summary.")] = Path("out"),
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """A manual burst of quiz load outside the timeline (honest load through the gateway)."""
    from tubedemo.commands.wiring import admin_token_for, open_gateway
    from tubedemo.core.timeline import burst_scenario
    from tubedemo.talk.k6 import K6Files, K6Run, load_environment, run_load

    cfg = config_from(config, set_)
    seconds = _duration(duration, "--duration")
    scenarios = burst_scenario(vus, seconds)
    direct = _direct(cfg, gateway_url, admin_token)
    if direct is not None:
        gateway_url, admin_token = direct.url, direct.token or _token(admin_token)
    base_url = _base_url(cfg, gateway_url, kubeconfig, context)
    typer.echo(f"gateway: {base_url}" + (f" ({direct.source})" if direct is not None else ""))
    with open_gateway(cfg, url=base_url, admin_token=admin_token, timeout=5.0) as gw:
        gw.public_config()  # nothing answers: one line now, not a whole run of failures
    env = load_environment(
        cfg.k6,
        answer_timeout=cfg.gateway.answer_timeout,
        base_url=base_url,
        model=cfg.model.served_name,
        scenarios=scenarios,
        admin_token=admin_token_for(
            cfg, _token(admin_token), kubeconfig=kubeconfig, context=context
        ),
    )
    files = K6Files.beside(out / f"load-{datetime.now(UTC):%Y%m%d-%H%M%S}.jsonl")
    run = K6Run(files, env, binary=cfg.k6.binary)
    try:
        result = run_load(run, timeout=seconds + cfg.k6.graceful_stop + 30)
    except KeyboardInterrupt:
        result = run.stop()
    typer.echo(f"k6 {files.series}: {result.headline()}")
