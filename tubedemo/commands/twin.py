"""simulate: fast-forward the talk through the twin (rehearse joins here once it lands)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tubedemo.commands.options import ConfigPath, Overrides, config_from
from tubedemo.config import DemoConfig
from tubedemo.durations import format_duration
from tubedemo.errors import TubedemoError

Sweep = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep",
        help="Compare variants side by side, e.g. --sweep scaling.multiplier=10,25,50.",
        show_default=False,
    ),
]


class SimulateUsageError(TubedemoError):
    """A simulate option that cannot be used as given."""

    exit_code = 2


def parse_sweeps(sweeps: list[str]) -> list[list[str]]:
    """--sweep key=a,b,c (repeatable) -> every combination as lists of --set overrides."""
    axes: list[list[str]] = []
    for sweep in sweeps:
        key, sep, values = sweep.partition("=")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not options:
            raise SimulateUsageError(
                f"--sweep {sweep!r}: write it as section.field=value1,value2,..."
            )
        axes.append([f"{key.strip()}={v}" for v in options])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 10 else format_duration(round(value))


def summary_table(results: list[tuple[str, DemoConfig, object]]) -> Table:
    """One column per variant; rows are the figures the presenter tunes by."""
    from tubedemo.simulate import SimulationResult

    table = Table(title="tubedemo simulate", show_lines=False)
    table.add_column("", no_wrap=True)
    runs = [(label, r) for label, _, r in results if isinstance(r, SimulationResult)]
    for label, _ in runs:
        table.add_column(label, justify="right", no_wrap=True)

    def row(name: str, cells: list[str]) -> None:
        table.add_row(name, *cells)

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
        row(
            f"TTFT p50/p95 {phase}",
            [
                f"{_seconds(r.phases[index].ttft_p50)} / {_seconds(r.phases[index].ttft_p95)}"
                if index < len(r.phases) and r.phases[index].requests
                else "-"
                for _, r in runs
            ],
        )
    row("GPU cost", [f"${r.cost:.2f}" for _, r in runs])
    return table


def _record_path(base: Path, label: str, variants: int) -> Path:
    if variants == 1:
        return base
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    return base.with_name(f"{base.stem}-{slug}{base.suffix}")


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
        seed: Annotated[
            int | None,
            typer.Option("--seed", help="Override twin.seed.", show_default=False),
        ] = None,
    ) -> None:
        """Fast-forward the talk: queue, replicas, nodes, TTFT and cost, before paying for GPUs."""
        from tubedemo.simulate import simulate as run
        from tubedemo.simulate import snapshots

        console = Console(highlight=False)
        variants = parse_sweeps(sweep or [])
        results: list[tuple[str, DemoConfig, object]] = []
        wall = 0.0
        for extra in variants:
            cfg = config_from(config, [*(overrides or []), *extra])
            label = ", ".join(e.split(".")[-1] for e in extra) or "default"
            started = time.perf_counter()
            result = run(cfg, label=label, seed=seed)
            wall += time.perf_counter() - started
            results.append((label, cfg, result))
            if record is not None:
                path = _record_path(record, label, len(variants))
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("w", encoding="utf-8") as out:
                        for snap in snapshots(cfg, result):
                            out.write(snap.to_json() + "\n")
                except OSError as exc:
                    raise SimulateUsageError(
                        f"--record {path}: cannot write ({exc.strerror})"
                    ) from None
                console.print(f"recorded {path}")
        console.print(summary_table(results))
        console.print(f"[dim]{len(results)} run(s) simulated in {wall:.2f} s[/]")
