"""SIGTERM and SIGHUP end a long-running command like Ctrl-C does (``show``, ``rehearse``,
``prepare``).

Inside ``term_and_hangup_as_interrupt()`` either signal raises ``KeyboardInterrupt`` in the main
thread, so the command's own Ctrl-C path stops k6 and the child processes, leaves the cluster
alone and, for ``rehearse``, still writes the recording and the report.

SIGHUP means the terminal hung up (its window closed, the SSH link dropped): every later write to
it fails (EIO), and a pipe to a reader in the same session (``| tee``) breaks as that reader gets
the same signal. Before raising, the handler points standard output and error at /dev/null
unless they are regular files (a log keeps its lines), so that a print on the way out cannot
abort the cleanup. A SIGHUP that was ignored on entry (``nohup``) stays ignored.

Off the main thread (tests, embedding) signals are left untouched. Imports nothing of ours.
"""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
"""What signal.signal returns: a function, SIG_DFL/SIG_IGN, or None (not set from Python)."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _hang_up(signum: int, frame: FrameType | None) -> None:
    _silence_streams()
    raise KeyboardInterrupt


def _silence_streams() -> None:
    """Point fds 1 and 2 at /dev/null unless they are regular files (whatever read them is gone).

    At the file-descriptor level, so every writer is covered: Rich's consoles and Live, print,
    and Python's own flush of sys.stdout at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
            except OSError:  # closed: nothing to write to, nothing to fail
                continue
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextmanager
def term_and_hangup_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt (SIGHUP first silences the
    dead terminal); the previous handlers come back after."""
    handlers: dict[signal.Signals, Callable[[int, FrameType | None], None]] = {
        signal.SIGTERM: _interrupt
    }
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:  # nohup asked to outlive the terminal
        handlers[signal.SIGHUP] = _hang_up
    previous: dict[signal.Signals, _Handler] = {}
    try:
        for signum, handler in handlers.items():
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread (the first call fails): leave signals alone
        yield
        return
    try:
        yield
    finally:
        for signum, before in previous.items():
            # None: a handler not installed from Python; the default is the closest to it
            signal.signal(signum, signal.SIG_DFL if before is None else before)
