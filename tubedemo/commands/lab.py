"""tubedemo lab up | down | status (and compare, tubedemo.commands.lab_compare): the real
controllers on this machine. The lab's supervision lives in tubedemo.lab (supervise, state_file);
this module parses, wires and prints."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tubedemo.commands import lab_compare
from tubedemo.commands.options import (
    ConfigPath,
    LabSpeed,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)

if TYPE_CHECKING:
    from rich.console import Console

LabDir = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="The lab's run folder (kubeconfig, logs, state); default $TUBEDEMO_LAB_HOME or "
        "~/.cache/tubedemo/lab-run.",
        show_default=False,
    ),
]


def _home(workdir: Path | None) -> Path:
    from tubedemo.lab import default_home

    return (workdir or default_home()).absolute()


def _summary(state: dict[str, Any], console: "Console") -> None:
    from rich.table import Table

    table = Table(title="tubedemo lab", title_justify="left")
    for col in ("component", "pid", "ports", "RSS", "state"):
        table.add_column(col)
    total = 0.0
    for name, comp in state["components"].items():
        ports = ", ".join(f"{k} {v}" for k, v in comp.get("ports", {}).items())
        alive = comp.get("alive", True)
        rss = comp.get("rss_mib")
        total += rss or 0.0
        table.add_row(
            name,
            str(comp["pid"]),
            ports or "-",
            f"{rss:.0f} MiB" if rss is not None else "-",
            "running" if alive else "[red]gone",
        )
    console.print(table)
    if total:
        console.print(f"memory:     {total:.0f} MiB resident in all")
    console.print(f"speed:      {state['speed']:g}x")
    if state.get("started_in") is not None:
        console.print(f"started in: {state['started_in']:.1f}s")
    console.print(f"API server: {state['server']}")
    console.print(f"kubeconfig: {state['kubeconfig']}")
    console.print(f"  export KUBECONFIG={state['kubeconfig']}")


def _up_args(config: Path | None, overrides: list[str] | None, speed: float) -> list[str]:
    """`lab up`'s own options again, for the detached `lab up` (config made absolute: that
    process is ours, but a path it prints should not depend on where it was typed)."""
    args = ["--speed", str(speed)]
    if config is not None:
        args += ["--config", str(config.absolute())]
    for item in overrides or []:
        args += ["--set", item]
    return args


def up(
    config: ConfigPath = None,
    overrides: Overrides = None,
    speed: LabSpeed = 1.0,
    workdir: LabDir = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Start the lab in the background and return once it is ready; "
            "`tubedemo lab down` stops it.",
        ),
    ] = False,
) -> None:
    """Start the lab, print what runs where and the kubeconfig; runs until Ctrl-C or
    `tubedemo lab down` (with --detach: in the background)."""
    from tubedemo.lab import Lab, LabOptions
    from tubedemo.lab.supervise import detach as in_background
    from tubedemo.lab.supervise import run_in_foreground
    from tubedemo.twin.startup import resolved_startup

    cfg = config_from(config, overrides)
    home = _home(workdir)
    console = lazy_console(highlight=False)
    if detach:
        pid, log, state = in_background(home, _up_args(config, overrides, speed))
        _summary(state, console)
        console.print(
            f"running in the background (pid {pid}, log {log}); `tubedemo lab down` stops it"
        )
        return
    lab = Lab(
        LabOptions(
            workdir=home,
            speed=speed,
            startup=resolved_startup(cfg),
            prices=cfg.prices,
            hpa=cfg.twin.hpa,
        )
    )

    def ready(state: dict[str, Any]) -> None:
        _summary(state, console)
        console.print("running; Ctrl-C or `tubedemo lab down` stops it", style="dim")

    run_in_foreground(lab, console.print, ready)
    console.print("lab stopped: no process left")


def down(workdir: LabDir = None) -> None:
    """Stop the lab: every component, and check that none of its ports is still open."""
    from tubedemo.lab import LabError
    from tubedemo.lab.state_file import down as lab_down

    home = _home(workdir)
    report = lab_down(home)
    console = lazy_console(highlight=False)
    if report is None:
        console.print(f"no lab running from {home}")
        return
    if report.killed:
        console.print(f"killed leftover components: {', '.join(report.killed)}")
    if report.ports_busy:
        raise LabError(
            f"lab stopped, but ports {report.ports_busy} are still open: another process holds them"
        )
    console.print("lab stopped: no process, no port left")


def status(workdir: LabDir = None) -> None:
    """Components of the running lab: pid, ports, alive or gone; the kubeconfig. Exits 0
    when a lab runs or none does; 6 when its owner or a component is gone."""
    from tubedemo.lab import LabError
    from tubedemo.lab.state_file import status as lab_status

    home = _home(workdir)
    state = lab_status(home)
    console = lazy_console(highlight=False)
    if state is None:
        console.print(f"no lab running from {home}")  # a fact, not a failure: exit 0
        return
    if not state["owner_alive"]:
        console.print(
            f"[red]the lab's owner (pid {state['owner']}) is gone[/]; `tubedemo lab down` cleans up"
        )
    elif not state["ready"]:
        console.print("starting ...")
    _summary(state, console)
    gone = [name for name, c in state["components"].items() if not c["alive"]]
    if not state["owner_alive"] or gone:
        raise LabError(
            f"the lab from {home} is broken ({', '.join(gone) or 'its owner'} gone); "
            "`tubedemo lab down` cleans up"
        )


LAB_HELP = (
    "The talk's autoscaling loop with the real controllers on this machine. The "
    "pinned control plane, KEDA and Karpenter (KWOK provider); no Docker, no GPU."
)


def register(app: typer.Typer) -> None:
    lab_app = command_group(LAB_HELP)
    app.add_typer(lab_app, name="lab")
    for command in (up, down, status):
        lab_app.command()(command)
    lab_compare.register(lab_app)
