"""tubedemo lab compare: the same timeline through the twin and through the lab, side by side
(the runs: tubedemo.rehearsal.twin_vs_lab; the measure: tubedemo.rehearsal.agreement)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import ConfigPath, LabSpeed, Overrides, config_from, lazy_console
from tubedemo.core.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from tubedemo.core.config import DemoConfig
    from tubedemo.rehearsal.twin_vs_lab import Comparison


def _types(nodes: tuple[str, ...]) -> str:
    counts: dict[str, int] = {}
    for kind in nodes:
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n}×{k.removeprefix('g5.')}" for k, n in sorted(counts.items())) or "-"


def _side_by_side(cfg: "DemoConfig", result: "Comparison", every: float) -> "Table":
    """Desired/Ready replicas and nodes of both, a row every ``every`` talk seconds."""
    from rich.table import Table

    from tubedemo.rehearsal.agreement import at

    table = Table(title=f"twin vs lab at {result.speed:g}x", title_justify="left")
    for col in ("t", "twin desired/ready", "lab desired/ready", "twin nodes", "lab nodes"):
        table.add_column(col, justify="right" if col == "t" else "left")
    horizon = cfg.talk.duration + cfg.twin.tail
    t = 0.0
    while t <= horizon + 1e-6:
        tw, lb = at(result.twin, t), at(result.lab, t)
        if tw is not None and lb is not None:
            mark = "" if abs(tw.desired - lb.desired) <= 1 else " [red]≠[/]"
            table.add_row(
                f"{t / 60:.0f}m",
                f"{tw.desired}/{tw.ready}",
                f"{lb.desired}/{lb.ready}{mark}",
                f"{tw.node_count} {_types(tw.nodes)}",
                f"{lb.node_count} {_types(lb.nodes)}",
            )
        t += every
    return table


def _events_and_agreement(result: "Comparison", console: "Console") -> None:
    from tubedemo.rehearsal.agreement import SAMPLE_EVERY, scale_events

    for label, samples in (("twin", result.twin), ("lab", result.lab)):
        events = scale_events(samples)
        shown = "; ".join(
            f"{e.time:.0f}s {e.what} {e.before}→{e.after}"
            + (f" (served after {e.served_after:.0f}s)" if e.served_after is not None else "")
            for e in events[:12]
        )
        console.print(f"[bold]{label} events[/] ({len(events)}): {shown or 'none'}")
    a = result.agreement
    console.print(
        f"[bold]agreement[/]: {a.share:.0%} of {a.samples} samples ({SAMPLE_EVERY:.0f} s) "
        f"within one replica; first scale-up twin "
        f"{a.twin_first_scale_up if a.twin_first_scale_up is not None else 'never'}s, lab "
        f"{a.lab_first_scale_up if a.lab_first_scale_up is not None else 'never'}s; nodes "
        "at phase ends "
        + ", ".join(f"{p.phase} {p.twin_nodes}/{p.lab_nodes}" for p in a.phase_ends)
        + f" (twin/lab); lab set-up {result.setup_s:.0f}s, run {result.run_s:.0f}s wall"
    )
    console.print("meets the target" if a.meets_target else "[yellow]misses the target[/]")


def compare(
    config: ConfigPath = None,
    overrides: Overrides = None,
    speed: LabSpeed = 10.0,
    every: Annotated[
        float, typer.Option("--every", help="Rows of the side-by-side table every N talk s.")
    ] = 60.0,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the lab's run files and logs."),
    ] = Path("out/lab-compare"),
) -> None:
    """Run the timeline (talk + twin.tail) through the twin and through the lab (the real
    KEDA, HPA controller, Karpenter, scheduler) with the same simulated load; show desired
    and Ready replicas and nodes side by side, scale events with their delays, and the
    agreement (15 s samples within one replica, nodes at phase ends, first scale-up).
    Where they differ, the twin is what gets fixed."""
    from tubedemo.rehearsal.lab_session import SessionOptions
    from tubedemo.rehearsal.twin_vs_lab import compare as run_both

    if every <= 0:
        raise UsageError("--every must be positive (talk seconds between table rows)")
    cfg = config_from(config, overrides)
    console = lazy_console(highlight=False)
    result = run_both(
        cfg,
        SessionOptions(speed=speed, workdir=output / "run", out_dir=output),
        report=lambda line: console.print(f"[dim]{line}[/]"),
    )
    if speed != 1:
        console.print(
            f"[dim]the twin runs the intervals the lab ran at {speed:g}x: Karpenter's fixed "
            f"disruption timers (10 s poll, 15 s validation) are {10 * speed:g} s and "
            f"{15 * speed:g} s of talk time there[/]"
        )
    if result.hpa_phase is not None:
        console.print(
            f"[dim]the lab's HPA synced at talk second {result.hpa_phase:.1f} of every "
            f"{cfg.twin.hpa.sync_period:g} s (measured at its first change); the twin ran "
            "at the same phase[/]"
        )
    console.print(_side_by_side(cfg, result, every))
    _events_and_agreement(result, console)


def register(lab_app: typer.Typer) -> None:
    lab_app.command()(compare)
