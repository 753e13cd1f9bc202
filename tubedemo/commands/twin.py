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
    from rich.console import Console
    from rich.table import Table

    from tubedemo.core.config import DemoConfig
    from tubedemo.telemetry.snapshot import Snapshot
    from tubedemo.twin import PhaseShape, SimulationResult

Sweep = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep",
        help="Compare variants side by side, e.g. --sweep scaling.target=6,8,10.",
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


Section = list[tuple[str, list[str]]]
"""Rows of one section of the summary: (figure, one cell per variant)."""


def summary_rows(results: "list[tuple[str, DemoConfig, SimulationResult]]") -> list[Section]:
    """The figures the presenter tunes by, one cell per variant, in sections. Pure."""
    runs = [(label, r) for label, _, r in results]
    head: Section = [
        ("simulated", [format_duration(r.horizon) for _, r in runs]),
        ("requests (failed)", [f"{r.requests} ({r.failed})" for _, r in runs]),
        (
            "peak queue",
            [
                f"{r.peak_queue} @ {format_duration(r.peak_queue_at)}" if r.peak_queue_at else "0"
                for _, r in runs
            ],
        ),
        ("max replicas ready", [str(r.max_replicas) for _, r in runs]),
        ("max replicas desired", [str(r.max_desired) for _, r in runs]),
        ("max GPU nodes", [str(r.max_nodes) for _, r in runs]),
        ("queue -> new replica ready", [_seconds(r.reaction) for _, r in runs]),
    ]
    sections = [head]
    phases = [p.phase for p in runs[0][1].phases] if runs else []
    for index, phase in enumerate(phases):
        shapes = [r.phases[index] if index < len(r.phases) else None for _, r in runs]

        def cells(
            fmt: "Callable[[PhaseShape], str]", shapes: "list[PhaseShape | None]" = shapes
        ) -> list[str]:
            return [fmt(p) if p is not None else "-" for p in shapes]

        section: Section = [
            (
                f"{phase}: desired min-max (end)",
                cells(lambda p: f"{p.desired_min}-{p.desired_max} ({p.desired_end})"),
            ),
            (
                f"{phase}: ready min-max (end)",
                cells(lambda p: f"{p.ready_min}-{p.ready_max} ({p.ready_end})"),
            ),
            (f"{phase}: new nodes", cells(lambda p: _node_types(p.new_nodes))),
            (f"{phase}: direction changes", cells(lambda p: str(p.direction_changes))),
            (f"{phase}: requests (failed)", cells(lambda p: f"{p.requests} ({p.failed})")),
            (
                f"{phase}: TTFT p50/p95",
                cells(
                    lambda p: (
                        f"{_seconds(p.ttft_p50)} / {_seconds(p.ttft_p95)}" if p.requests else "-"
                    )
                ),
            ),
        ]
        if any(p is not None and p.audience_ttft_p95 is not None for p in shapes):
            section.append(
                (
                    f"{phase}: room TTFT p50/p95",
                    cells(
                        lambda p: (
                            f"{_seconds(p.audience_ttft_p50)} / {_seconds(p.audience_ttft_p95)}"
                            if p.audience_ttft_p95 is not None
                            else "-"
                        )
                    ),
                )
            )
        section.append((f"{phase}: cost", cells(lambda p: f"${p.cost:.2f}")))
        sections.append(section)
    total: Section = [("GPU cost", [f"${r.cost:.2f}" for _, r in runs])]
    if any(r.warm_cost for _, r in runs):
        # the GPUs placeholders held idle (scaling.warm_capacity), inside the cost above
        total.append(("of it warm capacity", [f"${r.warm_cost:.2f}" for _, r in runs]))
    sections.append(total)
    return sections


def column_groups(widths: list[int], first: int, room: int) -> list[range]:
    """Variant columns (``widths``: each one's text width) split into consecutive groups that
    fit ``room`` characters beside the figures' column (``first`` wide) in a bordered table:
    each column costs its width, a space either side and a border. At least one per group."""
    groups: list[range] = []
    start = 0
    used = first + 3 + 1
    for index, width in enumerate(widths):
        if index > start and used + width + 3 > room:
            groups.append(range(start, index))
            start, used = index, first + 3 + 1
        used += width + 3
    if widths:
        groups.append(range(start, len(widths)))
    return groups


def summary_tables(
    results: "list[tuple[str, DemoConfig, SimulationResult]]", width: int | None
) -> "list[Table]":
    """One column per variant; rows are the figures the presenter tunes by. As many tables as
    it takes to fit a terminal's ``width`` (a 16-variant sweep does not fit 80 columns), each
    repeating the figures' column, so nothing is cut off; ``width`` None (not a terminal: a
    file or a pipe has no width) gives one table as wide as its columns, side by side."""
    from rich.table import Table
    from rich.text import Text

    sections = summary_rows(results)
    labels = [label for label, _, _ in results]
    names = [name for section in sections for name, _ in section]
    first = max(map(len, names), default=0)
    widths = [
        max([len(label)] + [len(cells[i]) for section in sections for _, cells in section])
        for i, label in enumerate(labels)
    ]
    groups = column_groups(widths, first, width) if width is not None else [range(len(labels))]
    tables = []
    for group in groups:
        title = "tubedemo simulate"
        if len(groups) > 1:
            title += f" (variants {group.start + 1}-{group.stop} of {len(labels)})"
        # its own width: a table wider than the console is drawn whole, not squeezed
        wide = first + 4 + sum(widths[i] + 3 for i in group)
        table = Table(title=title, show_lines=False, width=None if width else wide)
        table.add_column("", no_wrap=True, min_width=first)
        for i in group:
            # Text, not markup: a value such as [g5.2xlarge] must not be read as a style tag.
            table.add_column(Text(labels[i]), justify="right", no_wrap=True, min_width=widths[i])
        for number, section in enumerate(sections):
            if number:
                table.add_section()
            for name, cells in section:
                table.add_row(Text(name), *(Text(cells[i]) for i in group))
        tables.append(table)
    return tables


def startup_table(cfg: "DemoConfig", label: str = "") -> "Table":
    """A new replica's start-up, step by step: seconds per instance type of the pool (the twin
    uses the first: the one Karpenter launches for one pod), the source of each figure and the
    rendered flag or field it follows."""
    from rich.table import Table
    from rich.text import Text

    from tubedemo.twin.startup import pod_steps, startup_instance_type, startup_steps

    twin = startup_instance_type(cfg)
    kinds = [twin, *(t for t in dict.fromkeys(cfg.gpu_pool.instance_types) if t != twin)]
    columns = [startup_steps(cfg, kind) for kind in kinds]
    title = "start-up of a new replica on a new node" + (f" ({label})" if label else "")
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("step", no_wrap=True)
    for index, kind in enumerate(kinds):
        name = f"{kind} (twin)" if index == 0 else kind
        table.add_column(Text(name), justify="right", no_wrap=True)
    table.add_column(Text(f"source ({kinds[0]})"))
    table.add_column("follows")
    for row, step in enumerate(columns[0]):
        cells = [f"{steps[row].seconds:.0f} s" for steps in columns]
        table.add_row(step.name, *cells, Text(step.source), Text(step.follows))
    table.add_section()
    totals = [f"{sum(s.seconds for s in steps):.0f} s" for steps in columns]
    table.add_row("new node", *totals, "every step above", "")
    ready = [f"{sum(s.seconds for s in pod_steps(cfg, kind)):.0f} s" for kind in kinds]
    table.add_row("node Ready", *ready, "the pod's steps (container on)", "warm capacity")
    return table


def _startup_document(cfg: "DemoConfig") -> dict[str, object]:
    """--json: the twin's start-up steps and each allowed type's totals."""
    from tubedemo.twin.startup import pod_steps, startup_instance_type, startup_steps

    kind = startup_instance_type(cfg)
    return {
        "instance_type": kind,
        "steps": [
            {
                "name": s.name,
                "seconds": round(s.seconds, 2),
                "source": s.source,
                "follows": s.follows,
            }
            for s in startup_steps(cfg, kind)
        ],
        "new_node_s": {
            t: round(sum(s.seconds for s in startup_steps(cfg, t)), 2)
            for t in dict.fromkeys(cfg.gpu_pool.instance_types)
        },
        "node_ready_s": {
            t: round(sum(s.seconds for s in pod_steps(cfg, t)), 2)
            for t in dict.fromkeys(cfg.gpu_pool.instance_types)
        },
    }


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
    app.command()(simulate)
    app.command()(rehearse)


Record = Annotated[
    Path | None,
    typer.Option(
        "--record",
        help="Write the run as snapshot JSONL (for `tubedemo report`); one file per "
        "--sweep variant.",
        show_default=False,
    ),
]
ChartsFolder = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the report's charts (PNG + report.html) here; a subfolder per --sweep variant.",
        show_default=False,
    ),
]
Seed = Annotated[int | None, typer.Option("--seed", help="Override twin.seed.", show_default=False)]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the figures as one JSON document (phases keyed by name) instead of "
        'the table; with --sweep, {"variants": {label: ...}}.',
    ),
]


def simulate(
    config: ConfigPath = None,
    overrides: Overrides = None,
    sweep: Sweep = None,
    record: Record = None,
    output: ChartsFolder = None,
    seed: Seed = None,
    as_json: AsJson = False,
) -> None:
    """Fast-forward the talk: queue, replicas, nodes, TTFT and cost, before paying for GPUs."""
    from tubedemo.twin import startup_case

    console = lazy_console(highlight=False)
    variants = parse_sweeps(sweep or [])
    configs = [config_from(config, [*(overrides or []), *extra]) for extra in variants]
    if not as_json:
        # first line: the start-up case every figure rests on (auto = what `tubedemo
        # prepare` makes; `up` refuses without it); one line unless a --sweep changes it
        for case in sorted({startup_case(cfg) for cfg in configs}):
            console.print(case, soft_wrap=True)
        # then each step of it with its source, once per distinct breakdown of the variants
        shown: set[str] = set()
        for extra, cfg in zip(variants, configs, strict=True):
            key = json.dumps(_startup_document(cfg), sort_keys=True)
            # the local profile launches no node: its one line says it all
            if key not in shown and cfg.profile == "eks":
                shown.add(key)
                label = ", ".join(_short_label(e) for e in extra) if len(variants) > 1 else ""
                _print_whole(console, startup_table(cfg, label))
    results, wall = _run_variants(variants, configs, seed, record, output, console)
    if as_json:
        typer.echo(json.dumps(_figures_document(results), indent=2))
        return
    _print_figures(results, wall, console)


def _print_whole(console: "Console", table: "Table") -> None:
    """A table on a terminal fits its width; into a file or a pipe (no width: Rich assumes 80
    columns and would squeeze the sources to a word per line) it is printed as wide as it is."""
    if console.is_terminal:
        console.print(table)
        return
    from rich.measure import Measurement

    # a Table's own width overrides the console's (print's width= is capped at the console's)
    table.width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    console.print(table, crop=False)


def _run_variants(
    variants: list[list[str]],
    configs: "list[DemoConfig]",
    seed: int | None,
    record: Path | None,
    output: Path | None,
    console: "Console",
) -> "tuple[list[tuple[str, DemoConfig, SimulationResult]], float]":
    """Simulate each --sweep variant, recording it (and drawing its charts) when asked; the
    results with their labels, and the seconds the simulations themselves took."""
    from tubedemo.twin import snapshots
    from tubedemo.twin.simulate import simulate as run

    results: list[tuple[str, DemoConfig, SimulationResult]] = []
    wall = 0.0
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
    return results, wall


def _figures_document(
    results: "list[tuple[str, DemoConfig, SimulationResult]]",
) -> dict[str, object]:
    """--json: one variant's figures, or {"variants": {label: figures}}; the start-up case
    first in each, since every figure below rests on it (auto = prepared)."""
    from tubedemo.twin import startup_case

    figures = {
        label: {
            "startup": startup_case(cfg),
            "startup_steps": _startup_document(cfg),
            **r.as_json(),
        }
        for label, cfg, r in results
    }
    if len(figures) == 1:
        return next(iter(figures.values()))
    return {"variants": figures}


def _print_figures(
    results: "list[tuple[str, DemoConfig, SimulationResult]]", wall: float, console: "Console"
) -> None:
    """The side-by-side table, each variant's warnings, and how long simulating took."""
    from rich.text import Text

    for table in summary_tables(results, console.width if console.is_terminal else None):
        console.print(table, crop=False)
    rows = [cells for section in summary_rows(results) for _, cells in section]
    if len(results) > 1 and all(len(set(cells)) == 1 for cells in rows):
        note = (
            "note: every variant gave the same figures: what the sweep changes does not reach "
            "the twin's models (scaling.multiplier, for one, only sets the dashboard's virtual "
            "commuters per waiting request)"
        )
        console.print(Text(note, style="yellow"), soft_wrap=True)
    for label, _, r in results:
        for line in r.warnings:
            text = Text(line if len(results) == 1 else f"{label}: {line}", style="yellow")
            console.print(text, soft_wrap=True)
    console.print(f"[dim]{len(results)} run(s) simulated in {wall:.2f} s[/]")


GatewayHost = Annotated[
    str,
    typer.Option("--host", help="Gateway address; 0.0.0.0 lets phones on this network join."),
]
GatewayPort = Annotated[
    int | None,
    typer.Option(
        "--port",
        help="Gateway port (default gateway.port; 0 = any free).",
        show_default=False,
    ),
]
RehearsalFolder = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Folder for the recording, k6 files, logs and the report "
        "(default out/rehearse-<time>).",
        show_default=False,
    ),
]
SimulatedAudience = Annotated[
    bool,
    typer.Option(
        "--audience/--no-audience",
        help="Simulate the room's phones (twin.audience) inside the fleet, so a rehearsal "
        "alone still builds a queue; --no-audience when real phones carry the load.",
    ),
]
OnTheLab = Annotated[
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
]


def rehearse(
    config: ConfigPath = None,
    overrides: Overrides = None,
    speed: Speed = 1.0,
    host: GatewayHost = "0.0.0.0",
    port: GatewayPort = None,
    output: RehearsalFolder = None,
    audience: SimulatedAudience = True,
    report: Annotated[bool, typer.Option("--report/--no-report")] = True,
    lab: OnTheLab = False,
    draw: Annotated[
        int,
        typer.Option(
            "--draw",
            min=0,
            max=1000,
            help="Draw this many raffle winners when the timeline ends (default: you draw, "
            "with `tubedemo winners`).",
        ),
    ] = 0,
    hold: Annotated[
        bool,
        typer.Option(
            "--hold/--no-hold",
            help="On a terminal, keep the gateway up after the timeline until you press q.",
        ),
    ] = True,
) -> None:
    """The whole talk on this laptop: simulated GPUs, real gateway, page, k6 and dashboard.

    --speed N compresses time N-fold: the timeline, k6, the simulated engines and, with
    --lab, every controller interval (HPA sync and stabilization, KEDA polling, Karpenter
    batching and consolidation, KWOK start-up delays).

    While it runs, `mode`, `winners`, `session`, `qr`, `status` and `load` started from the same
    folder reach its gateway with no flags (.tubedemo/rehearsal.json). When the timeline ends
    on a terminal, the gateway stays up for the draw until you press q; without a terminal
    (a script, CI) the rehearsal ends with its timeline."""
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
        draw=draw,
        hold=hold,
    )
    result = Rehearsal(cfg, options, console).run()
    # the closing lines are read (and grepped) whole: never wrapped at a pipe's 80 columns
    console.print(
        f"rehearsal: {result.snapshots} snapshots in {result.recording}; replicas up to "
        f"{result.max_ready} ready ({result.max_desired} desired), ending at "
        f"{result.final_desired}",
        soft_wrap=True,
    )
    for run in result.k6:
        console.print(f"k6 {run.files.series.name}: {run.headline(speed)}", soft_wrap=True)
    if result.k6_figures is not None:
        console.print(result.k6_figures, soft_wrap=True)
    if result.report is not None:
        console.print(f"report: {result.report / 'report.html'}", soft_wrap=True)
