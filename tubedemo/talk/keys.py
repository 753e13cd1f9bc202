"""Presenter keys: single keypresses from the terminal (or characters from a pipe), never blocking.

The show polls ``KeyReader.poll()`` from its clock loop. On a terminal, cbreak mode delivers each
key at once without echo and keeps Ctrl-C working; the terminal is restored on exit (unless it
hung up).
"""

from __future__ import annotations

import os
import select
import sys
from types import TracebackType
from typing import IO, Any


class KeyReader:
    """Non-blocking single-character reader for stdin (a TTY or a pipe)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdin
        self._fd: int | None = None
        self._saved: list[Any] | None = None
        self._closed = False

    def __enter__(self) -> KeyReader:
        try:
            self._fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
            return self
        if os.isatty(self._fd):
            import termios
            import tty

            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None and self._fd is not None:
            import errno
            import termios

            saved, self._saved = self._saved, None
            try:
                termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)
            except termios.error as exc:
                # EIO: the terminal hung up (window closed); there is nothing left to restore,
                # and failing here would abort the show's cleanup.
                if exc.args[0] != errno.EIO:
                    raise

    @property
    def closed(self) -> bool:
        """No key can come any more (stdin reached its end or failed)."""
        return self._closed

    def poll(self) -> str | None:
        """The next key pressed, or None when none is waiting (or stdin is closed)."""
        if self._fd is None or self._closed:
            return None
        try:
            ready, _, _ = select.select([self._fd], [], [], 0)
        except (OSError, ValueError):
            self._closed = True
            return None
        if not ready:
            return None
        data = os.read(self._fd, 1)
        if not data:  # EOF: no presenter on this stdin (CI, nohup); the clock runs on alone
            self._closed = True
            return None
        return data.decode("utf-8", errors="ignore") or None
