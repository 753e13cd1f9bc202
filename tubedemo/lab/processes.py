"""One long-running component process of the lab (or of a test control plane).

Each runs in its own session (so a terminal's Ctrl-C reaches tubedemo alone, which stops them
in order) with stdout and stderr appended to one log file (never a pipe nobody reads), and asks
the kernel to SIGKILL it when the process that started it dies: `kill -9` of `tubedemo lab up`
or of a test run leaves no etcd, API server or controller behind. Start components from the
main thread: the parent-death signal follows the spawning thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tubedemo.core.errors import ExternalToolError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # SIGKILL rather than children.py's SIGTERM: Go controllers may take their time draining
    # on TERM, and an orphaned lab must be gone before anyone looks at its ports again.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A loopback port nobody listens on now (bind 0, release: a tiny race at worst)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    ports: dict[str, int] = field(default_factory=dict)
    """What it listens on, by role (for `lab status`)."""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env} if self.env is not None else None
        with self.log.open("ab") as out:
            try:
                self.process = subprocess.Popen(
                    self.argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                raise ExternalToolError(f"{self.name} could not start: {exc.strerror}") from None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """TERM the process group, KILL it after ``timeout`` seconds."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])
