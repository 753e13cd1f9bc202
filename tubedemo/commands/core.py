"""init, config show, render, validate."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the tubedemo version."""
        from importlib.metadata import version as _v

        typer.echo(_v("tubedemo"))
