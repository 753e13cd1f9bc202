"""Options shared by many commands, so every command spells them the same way.

Light on purpose: every command module imports this at start-up (``tubedemo --help`` too), so
the config models (pydantic) are imported only when a command reads its config.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from tubedemo.core.durations import check_speed

if TYPE_CHECKING:
    from rich.console import Console

    from tubedemo.core.config import DemoConfig


class _LazyConsole:
    """Makes the Rich Console on first use (see `lazy_console`)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self._console: Console | None = None

    def _made(self) -> "Console":
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._settings)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    # Python looks special methods up on the type, not through __getattr__: Rich's Live
    # enters its console (`with self.console:`), so these are forwarded by hand.
    def __enter__(self) -> "Console":
        return self._made().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._made().__exit__(*exc)


def lazy_console(**settings: Any) -> "Console":
    """A module-level Rich Console that imports Rich only when something is printed.

    Importing rich.console costs ~60 ms, a fifth of the ``--help`` budget, and help prints
    through Click, not Rich. Typed as a Console: it forwards every attribute to one.
    """
    return cast("Console", _LazyConsole(settings))


def command_group(help: str, **settings: Any) -> typer.Typer:
    """A Typer app (the root or a group of subcommands) with tubedemo's help settings.

    Help is Click's plain formatter (``rich_markup_mode=None``): Typer's Rich help imports
    markdown-it and rich.traceback on every ``--help`` (~0.1 s of the 0.3 s budget for
    ``tubedemo --help``, benchmarks/bench_cli_startup.py). Our own messages still use Rich.
    """
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **settings)


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

Context = Annotated[
    str | None,
    typer.Option("--context", help="kubeconfig context (default: cluster.context, else current)."),
]
Kubeconfig = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."),
]
GatewayUrl = Annotated[
    str | None,
    typer.Option(
        "--gateway-url",
        envvar="TUBEDEMO_GATEWAY_URL",
        help="Call this gateway directly (rehearsal); default: gateway.url, else the cluster's.",
        show_default=False,
    ),
]
AdminToken = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        envvar="TUBEDEMO_ADMIN_TOKEN",
        help="Admin token for --gateway-url (default: the rehearsal's). The cluster's comes "
        "from its Secret.",
        show_default=False,
    ),
]

Speed = Annotated[
    float,
    typer.Option(
        "--speed",
        help="Compress time N-fold: 1 = real time, 10 = ten times faster.",
        callback=check_speed,
    ),
]
"""--speed of show, rehearse and watch --replay: checked once, while the command line is parsed
(positive and finite, else one line and exit 2), so the commands get a usable speed."""


def config_from(path: Path | None, overrides: list[str] | None) -> "DemoConfig":
    """The effective config for a command's --config/--set options."""
    from tubedemo.core.config import load_config

    return load_config(path, overrides or [])
