"""tubedemo lab up | down | status: the real controllers on this machine (tubedemo.lab)."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tubedemo.commands.options import (
    ConfigPath,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import TubedemoError
from tubedemo.core.signals import term_and_hangup_as_interrupt

if TYPE_CHECKING:
    from rich.console import Console

SPEED_HELP = (
    "Compress the lab's time N-fold, consistently: the HPA controller's sync period (twin.hpa), "
    "Karpenter's batch windows, the KWOK delays of node launch, image pull and model load "
    "(twin.startup); `render_lab` divides KEDA's polling, the HPA stabilization windows and "
    "policy periods and the NodePool's consolidateAfter by the same N. Not compressible: "
    "Karpenter's fixed internal loops (disruption is evaluated every ~10 s)."
)

LabDir = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="The lab's run folder (kubeconfig, logs, state); default $TUBEDEMO_LAB_HOME or "
        "~/.cache/tubedemo/lab-run.",
        show_default=False,
    ),
]


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


def register(app: typer.Typer) -> None:
    lab_app = command_group(
        "The talk's autoscaling loop with the real controllers on this machine: the "
        "pinned control plane, KEDA and Karpenter (KWOK provider), no Docker, no GPU."
    )
    app.add_typer(lab_app, name="lab")

    @lab_app.command()
    def up(
        config: ConfigPath = None,
        overrides: Overrides = None,
        speed: Annotated[float, typer.Option("--speed", help=SPEED_HELP)] = 1.0,
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
        from tubedemo.lab.lab import Lab, LabOptions, default_home
        from tubedemo.lab.lab import status as lab_status

        check_speed(speed)
        cfg = config_from(config, overrides)
        home = (workdir or default_home()).resolve()
        console = lazy_console(highlight=False)
        if detach:
            _detach(home, config, overrides, speed, console)
            return
        lab = Lab(
            LabOptions(
                workdir=home,
                speed=speed,
                startup=cfg.resolved_startup,
                prices=cfg.prices,
                hpa=cfg.twin.hpa,
            )
        )
        # `lab down` sends SIGTERM; a closed terminal sends SIGHUP (unless nohup): both take
        # the Ctrl-C path, and a hang-up first silences the dead terminal so the stop completes.
        with term_and_hangup_as_interrupt():
            try:
                lab.start(progress=lambda what: console.print(f"starting {what} ..."))
                _summary(lab_status(home) or lab.state(ready=True), console)
                console.print("running; Ctrl-C or `tubedemo lab down` stops it", style="dim")
                sys.stdout.flush()
                while True:
                    for name, comp in lab.all_components().items():
                        if not comp.alive():
                            raise TubedemoError(
                                f"{name} exited: see {comp.log}; the lab is stopped"
                            )
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("stopping the lab ...")
            finally:
                lab.stop()
        console.print("lab stopped: no process left")

    @lab_app.command()
    def down(workdir: LabDir = None) -> None:
        """Stop the lab: every component, and check that none of its ports is still open."""
        from tubedemo.lab.lab import default_home
        from tubedemo.lab.lab import down as lab_down

        home = (workdir or default_home()).resolve()
        report = lab_down(home)
        console = lazy_console(highlight=False)
        if report is None:
            console.print(f"no lab running from {home}")
            return
        if report.killed:
            console.print(f"killed leftover components: {', '.join(report.killed)}")
        if report.ports_busy:
            raise TubedemoError(
                f"lab stopped, but ports {report.ports_busy} are still open: another process "
                "holds them"
            )
        console.print("lab stopped: no process, no port left")

    @lab_app.command()
    def status(workdir: LabDir = None) -> None:
        """Components of the running lab: pid, ports, alive or gone; the kubeconfig."""
        from tubedemo.lab.lab import default_home
        from tubedemo.lab.lab import status as lab_status

        home = (workdir or default_home()).resolve()
        state = lab_status(home)
        console = lazy_console(highlight=False)
        if state is None:
            console.print(f"no lab running from {home}")
            raise typer.Exit(1)
        if not state["owner_alive"]:
            console.print(
                f"[red]the lab's owner (pid {state['owner']}) is gone[/]; `tubedemo lab down` "
                "cleans up"
            )
        elif not state["ready"]:
            console.print("starting ...")
        _summary(state, console)
        if not state["owner_alive"] or not all(c["alive"] for c in state["components"].values()):
            raise typer.Exit(1)

    from tubedemo.commands import lab_compare

    lab_compare.register(lab_app)


def _detach(
    home: Path, config: Path | None, overrides: list[str] | None, speed: float, console: "Console"
) -> None:
    """Run `lab up` in its own session, wait until its state says ready (or it died)."""
    from tubedemo.lab.lab import read_state

    home.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "tubedemo",
        "lab",
        "up",
        "--dir",
        str(home),
        "--speed",
        str(speed),
    ]
    if config is not None:
        argv += ["--config", str(config.resolve())]
    for item in overrides or []:
        argv += ["--set", item]
    log = home / "lab-up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "COLUMNS": "120"},
        )
    while True:
        state = read_state(home)
        if state is not None and state.get("ready") and state.get("owner") == proc.pid:
            break
        if proc.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines()
            raise TubedemoError(f"the lab did not start: {lines[-1] if lines else '?'} (see {log})")
        time.sleep(0.3)
    with contextlib.suppress(KeyError):
        _summary(state, console)
    console.print(
        f"running in the background (pid {proc.pid}, log {log}); `tubedemo lab down` stops it"
    )
