"""Options shared by many commands, so every command spells them the same way, and how help
reads (``command_group``: Click's plain formatter, commands in sections, descriptions whole).

Light on purpose: every command module imports this at start-up (``tubedemo --help`` too), so
the config models (pydantic) are imported only when a command reads its config.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

import typer
from typer.core import TyperGroup

from tubedemo.core.durations import check_speed

if TYPE_CHECKING:
    from rich.console import Console
    from typer import _click as click  # Typer's own copy of Click

    from tubedemo.core.config import DemoConfig

Sections = Sequence[tuple[str, Sequence[str]]]
"""Titled groups of command names, in the order help lists them."""

HELP_WIDTH = 120
"""Widest help Click formats (its default is 80): a 110-column terminal gets every command's
description on one line instead of a wrapped one."""


class _LazyConsole:
    """Makes the Rich Console on first use (see `lazy_console`)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self._console: Console | None = None

    def _made(self) -> "Console":
        if self._console is None:
            from rich.console import Console

            class _Console(Console):
                def on_broken_pipe(self) -> None:
                    # Rich's own ends the program with exit 1 (a declined prompt's code);
                    # the CLI edge ends it quietly with its own (tubedemo.cli.READER_GONE).
                    self.quiet = True
                    raise BrokenPipeError

            self._console = _Console(**self._settings)
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


def summary(command: "click.Command") -> str:
    """A command's one-line description: its ``short_help``, else the first sentence of its
    help, whole (Click's own cuts it at the column width and writes "...")."""
    if command.short_help:
        return " ".join(command.short_help.split())
    paragraph = " ".join((command.help or "").strip().split("\n\n", 1)[0].split())
    end = re.search(r"\.\s(?=[A-Z])", paragraph)  # a sentence's end, not "e.g. --set"
    return paragraph if end is None else paragraph[: end.start() + 1]


class SectionedGroup(TyperGroup):
    """Click's plain help, with the commands in titled sections and every description whole.

    ``sections`` names each section's commands in order; a command in none of them is listed
    under "Other commands" (the CLI's test fails on that, so none is forgotten).
    """

    sections: ClassVar[Sections] = ()

    def format_commands(self, ctx: "click.Context", formatter: "click.HelpFormatter") -> None:
        shown = {
            name: command
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        }
        placed = {name for _, names in self.sections for name in names}
        others = [name for name in shown if name not in placed]
        groups = [*self.sections, ("Other commands" if self.sections else "Commands", others)]
        # one first column for every section, so the descriptions line up down the page
        width = max((len(name) for name in shown), default=0)
        for title, names in groups:
            rows = [(name.ljust(width), summary(shown[name])) for name in names if name in shown]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def command_group(
    help: str, *, cls: type[SectionedGroup] = SectionedGroup, **settings: Any
) -> typer.Typer:
    """A Typer app (the root or a group of subcommands) with tubedemo's help settings.

    Help is Click's plain formatter (``rich_markup_mode=None``): Typer's Rich help imports
    markdown-it and rich.traceback on every ``--help`` (~0.1 s of the 0.3 s budget for
    ``tubedemo --help``, benchmarks/bench_cli_startup.py). Our own messages still use Rich.
    ``cls`` is a ``SectionedGroup`` whose ``sections`` group the commands (the root's do).
    """
    context = {"max_content_width": HELP_WIDTH, **settings.pop("context_settings", {})}
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        cls=cls,
        context_settings=context,
        **settings,
    )


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


LabSpeed = Annotated[
    float,
    typer.Option(
        "--speed",
        help="Compress the lab's time N-fold, consistently: the HPA controller's sync period "
        "(twin.hpa), Karpenter's batch windows, the KWOK delays of node launch, image pull and "
        "model load (twin.startup); `render_lab` divides KEDA's polling, the HPA stabilization "
        "windows and policy periods and the NodePool's consolidateAfter by the same N. Not "
        "compressible: Karpenter's fixed internal loops (disruption is evaluated every ~10 s).",
        callback=check_speed,
    ),
]
"""--speed of `lab up` and `lab compare` (checked like ``Speed``)."""


def config_from(path: Path | None, overrides: list[str] | None) -> "DemoConfig":
    """The effective config for a command's --config/--set options."""
    from tubedemo.core.config import load_config

    return load_config(path, overrides or [])
