"""Child processes of the rehearsal (fleet simulator, gateway): started in their own process
groups, stopped group-wide, never left behind. (k6 is spawned by ``tubedemo.talk.k6`` only.)

Each child gets a new session so the terminal's Ctrl-C reaches tubedemo alone, which then stops
the children in order with a bounded TERM -> KILL sequence on the whole group: a grandchild
(uvicorn worker, anything a child spawns) goes with it. On Linux each child also asks the kernel
for SIGTERM when tubedemo dies, so even `kill -9` of tubedemo leaves no gateway holding the port.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from tubedemo.core.errors import ExternalToolError

_PR_SET_PDEATHSIG = 1


def terminate_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the process that started it dies.

    Spawn from the main thread: the kernel ties the signal to the spawning thread.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One long-running helper process with its output in a log file.

    Start it from the main thread: the kernel's parent-death signal follows the thread that
    spawned the child, not the whole process.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **(self.env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._log_file,
                start_new_session=True,
                preexec_fn=terminate_with_parent,
            )
        except OSError as exc:
            self._log_file.close()
            raise ExternalToolError(f"{self.name} could not start: {exc.strerror}") from exc
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def read_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with ``prefix``; ExternalToolError if it dies first."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            raise ExternalToolError(f"{self.name} was not started")
        deadline = time.monotonic() + timeout
        os.set_blocking(proc.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = proc.stdout.read()
            if chunk:
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines():
                    if line.startswith(prefix):
                        return line
            if proc.poll() is not None:
                raise ExternalToolError(
                    f"{self.name} exited (code {proc.returncode}) before it was ready: "
                    f"{self.last_error()}"
                )
            time.sleep(0.02)
        raise ExternalToolError(f"{self.name} was not ready within {timeout:.0f}s; see {self.log}")

    def last_error(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "(no log)"
        return lines[-1].strip() if lines else "(no output)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> int | None:
        """TERM the process group, KILL it after ``grace`` seconds; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(grace)
            # A grandchild may outlive its parent in the same group: make sure it goes too.
            _signal_group(proc.pid, signal.SIGKILL)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            if self._log_file is not None:
                self._log_file.close()
        return proc.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
