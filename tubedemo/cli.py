"""The CLI edge: builds the Typer app and turns every TubedemoError into one line + exit code."""

from __future__ import annotations

import sys

from tubedemo.commands.options import command_group, lazy_console
from tubedemo.core.errors import TubedemoError, debug_enabled, error_lines

app = command_group(
    "Conduct a live talk about autoscaling LLM inference on Kubernetes.",
    name="tubedemo",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Conduct a live talk about autoscaling LLM inference on Kubernetes."""


_err = lazy_console(stderr=True, highlight=False, soft_wrap=True)


def _register() -> None:
    # Each area module owns its commands; adding an area is one import and one call here.
    from tubedemo.commands import core

    core.register(app)
    from tubedemo.commands import watch

    watch.register(app)

    from tubedemo.commands import cluster

    cluster.register(app)

    from tubedemo.commands import prepare

    prepare.register(app)

    from tubedemo.commands import show

    show.register(app)

    from tubedemo.commands import twin

    twin.register(app)

    from tubedemo.commands import audience

    audience.register(app)

    from tubedemo.commands import images

    images.register(app)

    from tubedemo.commands import lab

    lab.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tubedemo`` console script."""
    _register()
    try:
        # standalone mode: click prints usage errors itself and exits 2; ours arrive here.
        app(args=argv, standalone_mode=True)
    except TubedemoError as exc:
        from rich.markup import escape

        _, *chain = error_lines(exc, debug=debug_enabled())
        # the message is text, not markup: a value like "[/path]" in it must print as typed
        _err.print(f"[bold red]error:[/] {escape(exc.message)}")
        for line in chain:  # only with TUBEDEMO_DEBUG=1
            _err.print(line, markup=False)
        sys.exit(exc.exit_code)
