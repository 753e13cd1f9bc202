"""SIGTERM ends a long-running command like Ctrl-C does (``show``, ``rehearse``).

Inside ``sigterm_as_interrupt()`` a SIGTERM raises ``KeyboardInterrupt`` in the main thread, so
the command's own Ctrl-C path stops k6 and the child processes and leaves the cluster alone.
Off the main thread (tests, embedding) signals are left untouched. Imports nothing of ours.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt; the previous handler comes back after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
