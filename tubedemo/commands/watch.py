"""watch (live, record, replay) and report: the dashboard's commands."""

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import ConfigPath, Overrides, Speed, config_from, lazy_console
from tubedemo.core.errors import UsageError

if TYPE_CHECKING:
    from tubedemo.commands.live import LiveSources
    from tubedemo.core.config import DemoConfig
    from tubedemo.screen.dashboard import DashboardOptions

console = lazy_console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(watch)
    app.command()(report)


def _options(cfg: "DemoConfig", plain: bool, high_contrast: bool) -> "DashboardOptions":
    from tubedemo.screen.dashboard import DashboardOptions

    base = DashboardOptions.from_config(cfg.dashboard)
    return DashboardOptions(
        title=base.title,
        tube_flavour=base.tube_flavour and not plain,
        high_contrast=base.high_contrast or high_contrast,
        history_s=base.history_s,
    )


def _parse_start(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        start = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(
            f"--start {value!r}: write it as an ISO time, e.g. 2026-11-27T09:00:00Z"
        ) from exc
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def watch(
    config: ConfigPath = None,
    set_: Overrides = None,
    record: Annotated[
        Path | None, typer.Option(help="Append every snapshot to this JSONL file.")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option(help="Play a recording instead of watching a cluster.")
    ] = None,
    speed: Speed = 1.0,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig to use (default: $KUBECONFIG or ~/.kube).")
    ] = None,
    context: Annotated[
        str | None, typer.Option(help="kubeconfig context (default: cluster.context).")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Namespace of the demo (default: cluster.namespace).")
    ] = None,
    kube: Annotated[
        bool, typer.Option(help="Watch Kubernetes (off: only --vllm-url and the gateway).")
    ] = True,
    gateway: Annotated[
        str | None,
        typer.Option(
            "--gateway-url",
            envvar="TUBEDEMO_GATEWAY_URL",
            help="Gateway base URL for mode, surveys and /metrics (default: gateway.url, else "
            "the gateway Service through the API server, else talk.audience_url).",
        ),
    ] = None,
    twin: Annotated[
        str | None,
        typer.Option(
            help="Watch a rehearsal: the fleet simulator's base URL instead of Kubernetes."
        ),
    ] = None,
    vllm_url: Annotated[
        list[str] | None,
        typer.Option(help="Scrape this vLLM /metrics URL directly (repeatable)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="When the talk started (ISO time; default: now).")
    ] = None,
    frames: Annotated[int, typer.Option(help="Stop after this many frames (0: until Ctrl-C).")] = 0,
    plain: Annotated[bool, typer.Option(help="Turn the tube flavour off.")] = False,
    high_contrast: Annotated[bool, typer.Option(help="High-contrast theme.")] = False,
) -> None:
    """The live dashboard: watch the cluster, record the talk, or replay a recording."""
    cfg = config_from(config, set_)
    options = _options(cfg, plain, high_contrast)
    if replay is not None:
        if record is not None:
            raise UsageError("--record and --replay together: a replay is already recorded")
        _replay(replay, options, speed)
        return
    from tubedemo.commands.live import live_sources

    sources = live_sources(
        cfg,
        kube=kube,
        twin=twin,
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace,
        gateway_url=gateway,
    )
    _watch_live(cfg, sources, options, record, list(vllm_url or []), start, frames)


def _replay(replay: Path, options: "DashboardOptions", speed: float) -> None:
    """watch --replay: play a recording at --speed, then say how much of it was readable."""
    from tubedemo.screen.watching import watch_replay
    from tubedemo.talk.keys import KeyReader
    from tubedemo.telemetry.recording import read_recording

    recording = read_recording(replay)
    with KeyReader() as keys:  # q ends the replay, as it ends the show
        result = watch_replay(
            recording.snapshots, console=console, options=options, speed=speed, keys=keys.poll
        )
    damaged = len(recording.damaged_lines)
    note = f" ({damaged} damaged line{'s' if damaged > 1 else ''} skipped)" if damaged else ""
    lazy_console(stderr=True).print(f"replayed {result.frames} snapshots from {replay}{note}")


def _watch_live(
    cfg: "DemoConfig",
    sources: "LiveSources",
    options: "DashboardOptions",
    record: Path | None,
    vllm_urls: list[str],
    start: str | None,
    frames: int,
) -> None:
    """One snapshot per tick from the live sources, drawn (and recorded with --record)."""
    from tubedemo.screen.board import LiveBoard
    from tubedemo.screen.watching import watch_live
    from tubedemo.telemetry.assembler import Assembler, MetricsTarget
    from tubedemo.telemetry.recording import Recorder

    static = tuple(MetricsTarget(name=f"url-{i}", url=url) for i, url in enumerate(vllm_urls))
    twin_feed = sources.twin
    assembler = Assembler.for_talk(
        cfg,
        talk_start=_parse_start(start),
        kube=sources.kube,
        metrics=sources.metrics,
        gateway=sources.gateway,
        static_targets=static,
        talk_time=twin_feed.talk_time if twin_feed is not None and start is None else None,
    )
    board = LiveBoard(
        lambda: assembler.tick(datetime.now(UTC)),
        Recorder(record) if record is not None else None,
        options,
        period=cfg.dashboard.tick,
        closing=[sources],
        strict=True,
    )
    from tubedemo.talk.keys import KeyReader

    with KeyReader() as keys:  # q ends the watch (recording kept), as it ends the show
        result = watch_live(board, console=console, frames=frames, keys=keys.poll)
    if record is not None:
        lazy_console(stderr=True).print(f"recorded {result.recorded} snapshots to {record}")


def report(
    recording: Annotated[Path, typer.Argument(help="A recording from `watch --record`.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the PNG charts and HTML page.")
    ] = Path("report"),
    k6_json: Annotated[
        Path | None,
        typer.Option(help="k6 --out json file (default: <recording>.k6.json when present)."),
    ] = None,
) -> None:
    """Charts and one self-contained HTML page of a recorded talk, for the blog post."""
    from tubedemo.screen.report import k6_figures, write_report

    result = write_report(recording, output, k6_json=k6_json)
    console.print(f"wrote {result.html} and {len(result.charts)} charts")
    if result.k6 is not None:
        console.print(k6_figures(result.k6), soft_wrap=True)  # one line, even into a pipe
