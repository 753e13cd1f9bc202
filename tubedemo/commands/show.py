"""show (the talk's clock: k6 phases, mode flips, cues) and load (a manual k6 burst)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tubedemo.config import DemoConfig, load_config
from tubedemo.durations import format_duration, parse_duration
from tubedemo.errors import TubedemoError
from tubedemo.timeline import TimelineError, check_speed, describe_load, k6_scenarios, phase_at


class ShowUsageError(TubedemoError):
    """A show/load option that cannot be used as given."""

    exit_code = 2


def _duration(value: str, option: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ShowUsageError(f"{option} {value!r}: {exc}") from None


def _token(explicit: str | None) -> str | None:
    return explicit or os.environ.get("TUBEDEMO_ADMIN_TOKEN") or None


def print_plan(cfg: DemoConfig, start_at: float, speed: float, console: Console) -> None:
    """The schedule as a table, then the k6 scenarios JSON tubedemo would run."""
    from tubedemo.timeline import build_schedule

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
    @app.command()
    def show(
        config: Path | None = typer.Option(None, "--config", "-c", help="demo.yaml to use."),
        start_from: str = typer.Option(
            "0s", "--from", help="Start mid-talk at this talk time, e.g. 4m."
        ),
        speed: float = typer.Option(1.0, "--speed", help="Compress time N-fold (rehearsal)."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print the schedule and the k6 scenarios, run nothing."
        ),
        gateway: str | None = typer.Option(
            None, "--gateway", help="Gateway base URL (default: talk.audience_url)."
        ),
        admin_token: str | None = typer.Option(
            None, "--admin-token", help="Admin bearer token (default: $TUBEDEMO_ADMIN_TOKEN)."
        ),
        mode_via: str = typer.Option(
            "gateway", "--mode-via", help="How to flip the audience page: gateway | none."
        ),
        record: Path | None = typer.Option(
            None, "--record", help="Recording file; k6's series and summary go beside it."
        ),
    ) -> None:
        """Run the talk: k6 load phases, mode flips and cues on the clock, with presenter keys."""
        from tubedemo.modes import GatewayModeSwitcher, ModeSwitcher, NoModeSwitcher
        from tubedemo.show import Show, ShowOptions, default_recording

        cfg = load_config(config)
        start_at = _duration(start_from, "--from")
        check_speed(speed)
        console = Console()
        base_url = gateway or cfg.talk.audience_url
        if dry_run:
            from tubedemo.timeline import build_schedule

            build_schedule(cfg.timeline, cfg.talk.duration, start_at=start_at, speed=speed)
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
        switcher: ModeSwitcher
        if mode_via == "gateway":
            switcher = GatewayModeSwitcher(base_url, _token(admin_token))
        elif mode_via == "none":
            switcher = NoModeSwitcher()
        else:
            raise ShowUsageError(f"--mode-via {mode_via!r}: use gateway or none")
        options = ShowOptions(
            start_at=start_at,
            speed=speed,
            base_url=base_url,
            admin_token=_token(admin_token),
            recording=record or default_recording(),
        )
        show_ = Show(cfg, options, switcher, console=console)
        if console.is_terminal:
            print_plan(cfg, start_at, speed, console)
        from tubedemo.keys import KeyReader

        with KeyReader() as keys:
            results = show_.run(keys)
        for result in results:
            typer.echo(f"k6 {result.files.series}: {result.headline()}")

    @app.command()
    def load(
        vus: int = typer.Option(..., "--vus", help="Virtual users (constant)."),
        duration: str = typer.Option(..., "--duration", help="How long, e.g. 30s or 2m."),
        config: Path | None = typer.Option(None, "--config", "-c", help="demo.yaml to use."),
        gateway: str | None = typer.Option(
            None, "--gateway", help="Gateway base URL (default: talk.audience_url)."
        ),
        admin_token: str | None = typer.Option(
            None, "--admin-token", help="Admin bearer token (audience questions)."
        ),
        out: Path = typer.Option(Path("out"), "--out", help="Folder for k6's series/summary."),
    ) -> None:
        """A manual burst of quiz load outside the timeline (honest load through the gateway)."""
        from datetime import UTC, datetime

        from tubedemo.k6 import K6Files, K6Run, load_environment, run_load
        from tubedemo.timeline import burst_scenario

        cfg = load_config(config)
        seconds = _duration(duration, "--duration")
        try:
            scenarios = burst_scenario(vus, seconds)
        except TimelineError as exc:
            raise ShowUsageError(exc.message) from None
        env = load_environment(
            cfg.k6,
            base_url=gateway or cfg.talk.audience_url,
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
