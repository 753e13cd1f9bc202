"""Options shared by many commands, so every command spells them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tubedemo.config import DemoConfig, load_config

ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="demo.yaml to read (default: ./demo.yaml, else built-in defaults).",
        show_default=False,
    ),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config field, e.g. --set scaling.multiplier=10 (repeatable).",
        show_default=False,
    ),
]


def config_from(path: Path | None, overrides: list[str] | None) -> DemoConfig:
    """The effective config for a command's --config/--set options."""
    return load_config(path, overrides or [])
