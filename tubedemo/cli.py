"""The CLI edge: builds the Typer app and turns every TubedemoError into one line + exit code."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from tubedemo.commands.options import SectionedGroup, command_group, lazy_console
from tubedemo.core.errors import TubedemoError, debug_enabled, error_lines


class _Lifecycle(SectionedGroup):
    """``tubedemo --help`` in the order a presenter needs the commands (as kubectl groups its
    commands by what you are doing); tests/commands/test_cli_help.py checks that every command
    is in exactly one section."""

    sections = (
        (
            "Prepare (once per talk, before the day)",
            (
                "init",
                "config",
                "cluster",
                "render",
                "validate",
                "crds",
                "policy",
                "prepare",
                "images",
                "preflight",
                "diff",
                "up",
            ),
        ),
        ("Rehearse (no cloud, no GPU)", ("simulate", "rehearse", "lab")),
        ("On stage", ("show", "watch", "mode", "qr", "load", "winners", "status", "drill")),
        ("Afterwards", ("report", "session", "teardown")),
    )

    # Click turns a broken pipe into exit 1, the code of a declined prompt; ours is 141. Help
    # is printed while the context is made, a command's output while it is invoked.
    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _reader_gone()

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # what is still buffered fails here, not at interpreter exit
            return result
        except BrokenPipeError:
            _reader_gone()


READER_GONE = 128 + 13
"""Exit code when stdout's reader went away (``tubedemo simulate | head``): 141, the status of a
program killed by SIGPIPE, what ``seq``, ``git log`` or ``find`` give a shell in the same pipe.
Not 0: the command stopped before it wrote everything (``validate`` may not have checked every
file), and ``set -o pipefail`` should see that, as it does for those tools. Not 1: that is a
declined prompt (README, "Exit codes"). Nothing is printed: the reader asked for less."""


def _reader_gone() -> NoReturn:
    """Stop quietly with READER_GONE; stdout points at /dev/null first, so Python's own flush at
    exit does not print "Exception ignored ... BrokenPipeError" (Python's signal docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(READER_GONE)


app = command_group(
    "Conduct a live talk about autoscaling LLM inference on Kubernetes.",
    cls=_Lifecycle,
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

    from tubedemo.commands import status

    status.register(app)

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

    from tubedemo.commands import eks

    eks.register(app)

    from tubedemo.commands import drill

    drill.register(app)


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
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _reader_gone()
