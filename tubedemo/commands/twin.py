"""simulate (fast-forward the talk through the twin) and rehearse (the whole talk locally)."""

import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import ConfigPath, Overrides, Speed, config_from, lazy_console
from tubedemo.core.durations import format_duration
from tubedemo.core.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from tubedemo.core.config import DemoConfig
    from tubedemo.telemetry.snapshot import Snapshot

if TYPE_CHECKING:
    from tubedemo.twin.simulate import PhaseShape

Sweep = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep",
        help="Compare variants side by side, e.g. --sweep scaling.multiplier=10,25,50.",
        show_default=False,
    ),
]


def parse_sweeps(sweeps: list[str]) -> list[list[str]]:
    """--sweep key=a,b,c (repeatable) -> every combination as lists of --set overrides."""
    axes: list[list[str]] = []
    for sweep in sweeps:
        key, sep, values = sweep.partition("=")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not options:
            raise UsageError(f"--sweep {sweep!r}: write it as section.field=value1,value2,...")
        axes.append([f"{key.strip()}={v}" for v in options])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 10 else format_duration(round(value))


def summary_table(results: "list[tuple[str, DemoConfig, object]]") -> "Table":
    """One column per variant; rows are the figures the presenter tunes by."""
    from rich.table import Table
    from rich.text import Text

    from tubedemo.twin.simulate import SimulationResult

    table = Table(title="tubedemo simulate", show_lines=False)
    table.add_column("", no_wrap=True)
    runs = [(label, r) for label, _, r in results if isinstance(r, SimulationResult)]
    for label, _ in runs:
        # Text, not markup: a value such as [g5.2xlarge] must not be read as a style tag.
        table.add_column(Text(label), justify="right", no_wrap=True, min_width=len(label))

    def row(name: str, cells: list[str]) -> None:
        from rich.text import Text

        table.add_row(Text(name), *(Text(c) for c in cells))

    row("simulated", [format_duration(r.horizon) for _, r in runs])
    row("requests (failed)", [f"{r.requests} ({r.failed})" for _, r in runs])
    row(
        "peak queue",
        [
            f"{r.peak_queue} @ {format_duration(r.peak_queue_at)}" if r.peak_queue_at else "0"
            for _, r in runs
        ],
    )
    row("max replicas ready", [str(r.max_replicas) for _, r in runs])
    row("max replicas desired", [str(r.max_desired) for _, r in runs])
    row("max GPU nodes", [str(r.max_nodes) for _, r in runs])
    row("queue -> new replica ready", [_seconds(r.reaction) for _, r in runs])
    phases = [p.phase for p in runs[0][1].phases] if runs else []
    for index, phase in enumerate(phases):
        shapes = [r.phases[index] if index < len(r.phases) else None for _, r in runs]

        def cells(
            fmt: "Callable[[PhaseShape], str]", shapes: "list[PhaseShape | None]" = shapes
        ) -> list[str]:
            return [fmt(p) if p is not None else "-" for p in shapes]

        table.add_section()
        row(
            f"{phase}: desired min-max (end)",
            cells(lambda p: f"{p.desired_min}-{p.desired_max} ({p.desired_end})"),
        )
        row(
            f"{phase}: ready min-max (end)",
            cells(lambda p: f"{p.ready_min}-{p.ready_max} ({p.ready_end})"),
        )
        row(f"{phase}: new nodes", cells(lambda p: _node_types(p.new_nodes)))
        row(f"{phase}: direction changes", cells(lambda p: str(p.direction_changes)))
        row(f"{phase}: requests (failed)", cells(lambda p: f"{p.requests} ({p.failed})"))
        row(
            f"{phase}: TTFT p50/p95",
            cells(
                lambda p: f"{_seconds(p.ttft_p50)} / {_seconds(p.ttft_p95)}" if p.requests else "-"
            ),
        )
        if any(p is not None and p.audience_ttft_p95 is not None for p in shapes):
            row(
                f"{phase}: room TTFT p50/p95",
                cells(
                    lambda p: (
                        f"{_seconds(p.audience_ttft_p50)} / {_seconds(p.audience_ttft_p95)}"
                        if p.audience_ttft_p95 is not None
                        else "-"
                    )
                ),
            )
        row(f"{phase}: cost", cells(lambda p: f"${p.cost:.2f}"))
    table.add_section()
    row("GPU cost", [f"${r.cost:.2f}" for _, r in runs])
    return table


def _node_types(types: tuple[str, ...]) -> str:
    """("g5.12xlarge", "g5.2xlarge", "g5.2xlarge") -> "3: g5.12xlarge, 2x g5.2xlarge"."""
    if not types:
        return "0"
    counts = Counter(types)
    parts = [f"{n}x {t}" if n > 1 else t for t, n in counts.items()]
    return f"{len(types)}: {', '.join(parts)}"


def _short_label(override: str) -> str:
    """scaling.multiplier=10 -> multiplier=10 (the value may itself contain dots)."""
    key, _, value = override.partition("=")
    return f"{key.rsplit('.', 1)[-1]}={value}"


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in label)


def _recording_for(
    record: Path | None, output: Path | None, label: str, variants: int
) -> Path | None:
    """--record wins; with only -o the recording goes beside the charts."""
    if record is None:
        if output is None:
            return None
        return (output if variants == 1 else output / _slug(label)) / "simulate.jsonl"
    if variants == 1:
        return record
    return record.with_name(f"{record.stem}-{_slug(label)}{record.suffix}")


def _write_recording(path: Path, stream: "Iterable[Snapshot]") -> None:
    """A fresh recording (a re-run replaces it rather than appending a second talk)."""
    from tubedemo.telemetry.recording import Recorder

    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise UsageError(f"--record {path}: cannot replace ({exc.strerror})") from exc
    with Recorder(path) as recorder:
        for snap in stream:
            recorder.write(snap)


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        config: ConfigPath = None,
        overrides: Overrides = None,
        sweep: Sweep = None,
        record: Annotated[
            Path | None,
            typer.Option(
                "--record",
                help="Write the run as snapshot JSONL (for `tubedemo report`); one file per "
                "--sweep variant.",
                show_default=False,
            ),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="Write the report's charts (PNG + report.html) here; a subfolder per "
                "--sweep variant.",
                show_default=False,
            ),
        ] = None,
        seed: Annotated[
            int | None,
            typer.Option("--seed", help="Override twin.seed.", show_default=False),
        ] = None,
        as_json: Annotated[
            bool,
            typer.Option(
                "--json",
                help="Print the figures as one JSON document (phases keyed by name) instead of "
                'the table; with --sweep, {"variants": {label: ...}}.',
            ),
        ] = False,
    ) -> None:
        """Fast-forward the talk: queue, replicas, nodes, TTFT and cost, before paying for GPUs."""
        from tubedemo.twin.simulate import simulate as run
        from tubedemo.twin.simulate import snapshots

        console = lazy_console(highlight=False)
        variants = parse_sweeps(sweep or [])
        results: list[tuple[str, DemoConfig, object]] = []
        wall = 0.0
        configs = [config_from(config, [*(overrides or []), *extra]) for extra in variants]
        if not as_json:
            # first line: the start-up case every figure rests on (auto = what `tubedemo
            # prepare` makes; `up` refuses without it); one line unless a --sweep changes it
            for case in sorted({cfg.startup_case for cfg in configs}):
                console.print(case, soft_wrap=True)
        for extra, cfg in zip(variants, configs, strict=True):
            label = ", ".join(_short_label(e) for e in extra) or "default"
            started = time.perf_counter()
            result = run(cfg, label=label, seed=seed)
            wall += time.perf_counter() - started
            results.append((label, cfg, result))
            path = _recording_for(record, output, label, len(variants))
            if path is not None:
                _write_recording(path, snapshots(cfg, result))
                console.print(f"recorded {path}")
                if output is not None:
                    from tubedemo.screen.report import write_report

                    target = output if len(variants) == 1 else output / _slug(label)
                    files = write_report(path, target)
                    console.print(f"charts in {files.html.parent}")
        from tubedemo.twin.simulate import SimulationResult

        runs = [(label, r) for label, _, r in results if isinstance(r, SimulationResult)]
        if as_json:
            # the start-up case first: every figure below rests on it (auto = prepared)
            startup = {label: cfg.startup_case for label, cfg, _ in results}
            document: dict[str, object] = (
                {"startup": startup[runs[0][0]], **runs[0][1].as_json()}
                if len(runs) == 1
                else {
                    "variants": {
                        label: {"startup": startup[label], **r.as_json()} for label, r in runs
                    }
                }
            )
            typer.echo(json.dumps(document, indent=2))
            return
        console.print(summary_table(results))
        for label, r in runs:
            for line in r.warnings:
                from rich.text import Text

                text = Text(line if len(runs) == 1 else f"{label}: {line}", style="yellow")
                console.print(text, soft_wrap=True)
        console.print(f"[dim]{len(results)} run(s) simulated in {wall:.2f} s[/]")

    @app.command()
    def rehearse(
        config: ConfigPath = None,
        overrides: Overrides = None,
        speed: Speed = 1.0,
        host: Annotated[
            str,
            typer.Option(
                "--host", help="Gateway address; 0.0.0.0 lets phones on this network join."
            ),
        ] = "0.0.0.0",
        port: Annotated[
            int | None,
            typer.Option(
                "--port",
                help="Gateway port (default gateway.port; 0 = any free).",
                show_default=False,
            ),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="Folder for the recording, k6 files, logs and the report "
                "(default out/rehearse-<time>).",
                show_default=False,
            ),
        ] = None,
        audience: Annotated[
            bool,
            typer.Option(
                "--audience/--no-audience",
                help="Simulate the room's phones (twin.audience) inside the fleet, so a rehearsal "
                "alone still builds a queue; --no-audience when real phones carry the load.",
            ),
        ] = True,
        report: Annotated[bool, typer.Option("--report/--no-report")] = True,
        lab: Annotated[
            bool,
            typer.Option(
                "--lab",
                help="Let the real controllers decide: start the lab (control plane, KEDA, "
                "Karpenter with KWOK; `tubedemo lab up` builds nothing, scripts/build-lab does), "
                "`up` the lab render of our manifests into it, serve one simulated engine per "
                "Ready pod, feed the dashboard from the real watches. --speed N then divides "
                "every interval consistently: HPA sync period and stabilization windows, KEDA "
                "polling, Karpenter batch windows and consolidateAfter, KWOK node launch, "
                "image pull and model load, and the fleet's clock.",
            ),
        ] = False,
    ) -> None:
        """The whole talk on this laptop: simulated GPUs, real gateway, page, k6 and dashboard.

        --speed N compresses time N-fold: the timeline, k6, the simulated engines and, with
        --lab, every controller interval (HPA sync and stabilization, KEDA polling, Karpenter
        batching and consolidation, KWOK start-up delays)."""
        from datetime import UTC, datetime

        from tubedemo.rehearsal.rehearse import Rehearsal, RehearseOptions

        cfg = config_from(config, overrides)
        out = output or Path("out") / f"rehearse-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        console = lazy_console(highlight=False)
        options = RehearseOptions(
            speed=speed,
            host=host,
            port=cfg.gateway.port if port is None else port,
            out_dir=out,
            config_path=config,
            overrides=list(overrides or []),
            audience=audience,
            report=report,
            lab=lab,
        )
        result = Rehearsal(cfg, options, console).run()
        console.print(
            f"rehearsal: {result.snapshots} snapshots in {result.recording}; replicas up to "
            f"{result.max_ready} ready ({result.max_desired} desired), ending at "
            f"{result.final_desired}"
        )
        for run in result.k6:
            console.print(f"k6 {run.files.series.name}: {run.headline()}")
        if result.report is not None:
            console.print(f"report: {result.report / 'report.html'}")
