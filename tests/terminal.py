"""Run the CLI with a real pseudo-terminal as its terminal, as a presenter's shell would."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def as_from_a_terminal() -> None:
    """``preexec_fn``: the signal dispositions a shell in a terminal starts a program with,
    SIGINT, SIGTERM and SIGHUP at their defaults. The suite itself may run under nohup (SIGHUP
    ignored) or as a background job of a shell without job control (SIGINT ignored), and a
    child inherits what is ignored; a test that sends one of them is about the program's own
    handling, not about what the suite's parent chose."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def take_terminal() -> None:
    """``preexec_fn`` with ``start_new_session=True``: the child's stdin (a pty) becomes the new
    session's controlling terminal, so closing the pty's master hangs it up and the kernel sends
    the child SIGHUP, as when a terminal window closes (with the dispositions a terminal's shell
    gives, `as_from_a_terminal`)."""
    as_from_a_terminal()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def in_terminal(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    rows: int = 40,
    cols: int = 120,
) -> tuple[str, float, int]:
    """`python -m tubedemo ARGS` on a rows x cols pty; (raw output, seconds, exit code).

    The environment is this one without TUBEDEMO_* variables, plus `env`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    full.update(TERM="xterm-256color")
    full.pop("COLUMNS", None)
    full.pop("LINES", None)
    full.pop("NO_COLOR", None)
    full.update(env or {})
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=full,
        close_fds=True,
        preexec_fn=as_from_a_terminal,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = start + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    if proc.poll() is None:
        proc.kill()
    code = proc.wait(timeout=10)
    elapsed = time.monotonic() - start
    os.close(master)
    return b"".join(chunks).decode("utf-8", errors="replace"), elapsed, code
