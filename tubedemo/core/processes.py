"""The one door to child processes (as scriv's ``shell.py``): every program tubedemo starts —
the fleet simulator, the gateway, k6, the lab's etcd, API server and controllers, the image
tool, npm, go — starts here, and only this module imports ``subprocess`` (an import contract
in pyproject.toml says so).

- ``Child``: one long-running helper. It gets its own session, so a terminal's Ctrl-C reaches
  tubedemo alone, which then stops its children in order with a bounded TERM -> KILL on the
  whole process group (a grandchild goes too). Its output goes to a log file, never to a pipe
  nobody reads (``announce``: stdout is a pipe for the one line a child prints once it
  listens, ``read_line``). On Linux it asks the kernel for ``death_signal`` when tubedemo
  dies, so even `kill -9` of tubedemo leaves no child holding a port: SIGTERM for our own
  Python children (they clean up), SIGKILL for the lab's Go components (an orphaned lab must
  be gone before anyone looks at its ports again), None for a child meant to outlive us
  (`lab up --detach`). Start children from the main thread: the kernel ties the death signal
  to the spawning thread.
- ``wait_ready``: the one readiness wait — a URL answering 200 or a predicate, a deadline, and
  the children whose death ends the wait at once (one line: who died, its last words, its log).
- ``run``: a short command, waited for (image tool, npm, ``go env``).
- ``free_port``, ``http_ok``: a free loopback port; a URL answering 200 (never via a proxy).

Imports only ``tubedemo.core.errors``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tubedemo.core.errors import ExternalToolError, TubedemoError

_PR_SET_PDEATHSIG = 1
_LAST_WORDS = 240
"""Characters of a child's last log line that an error message quotes."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now at ``host`` (bind 0, release: a tiny race at worst)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """Something listens on ``host``:``port`` now: a bind as a server makes it (SO_REUSEADDR,
    as uvicorn's, so a port only in TIME_WAIT counts as free) fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


# Readiness probes go to this machine's own children: never through an HTTP proxy that the
# environment may name (http_proxy without a no_proxy for 127.0.0.1 would send them away).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 within ``timeout`` seconds; False on anything else."""
    try:
        with _DIRECT.open(url, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _death_signal_setter(sig: signal.Signals | None) -> Callable[[], None] | None:
    if sig is None or sys.platform != "linux":
        return None

    def ask_kernel() -> None:  # runs in the child, between fork and exec
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return ask_kernel


@dataclass
class Child:
    """One long-running helper process with its output in a log file."""

    name: str
    argv: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    """Variables over the inherited environment (with ``inherit_env``), else the whole one."""
    death_signal: signal.Signals | None = signal.SIGTERM
    """What the kernel sends the child when tubedemo dies; None: it may outlive tubedemo."""
    announce: bool = False
    """stdout is a pipe for ``read_line`` (stderr still goes to the log)."""
    append: bool = False
    """Append to the log (a component restarted in place) instead of starting it afresh."""
    inherit_env: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    """What it listens on, by role (for `lab status`)."""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        """Spawn it; ExternalToolError (one line) when the program cannot be run at all."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(self.env or {})} if self.inherit_env else dict(self.env or {})
        with self.log.open("ab" if self.append else "wb") as out:
            try:
                self.process = subprocess.Popen(
                    self.argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if self.announce else out,
                    stderr=out if self.announce else subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_death_signal_setter(self.death_signal),
                )
            except OSError as exc:
                raise ExternalToolError(
                    f"{self.name} could not start ({self.argv[0]}): {exc.strerror}"
                ) from exc
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def poll(self) -> int | None:
        """The exit code, or None while it runs (or was never started)."""
        return self.process.poll() if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for it to exit on its own: its exit code, or None when ``timeout`` passed."""
        if self.process is None:
            raise ExternalToolError(f"{self.name} was never started")
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def read_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with ``prefix`` (``announce`` children); one-line
        ExternalToolError when it dies first or ``timeout`` passes."""
        proc = self.process
        if proc is None or proc.stdout is None:
            raise ExternalToolError(f"{self.name} was not started with its stdout to read")
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
                raise self.exited("before it was ready")
            time.sleep(0.02)
        raise ExternalToolError(f"{self.name} was not ready within {timeout:g} s; see {self.log}")

    def exited(self, when: str) -> ExternalToolError:
        """The one-line error for this child having died ``when``: its exit code, its last
        log line, where the whole log is."""
        return ExternalToolError(
            f"{self.name} exited (code {self.poll()}) {when}: {self.last_error()}; see {self.log}"
        )

    def last_error(self) -> str:
        """The last non-empty line of its log (clipped), for a one-line message."""
        lines = [ln.strip() for ln in self.tail(50).splitlines() if ln.strip()]
        if not lines:
            return "(no output)"
        last = lines[-1]
        return last if len(last) <= _LAST_WORDS else last[: _LAST_WORDS - 1] + "…"

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of its log."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 5.0, *, interrupt: float = 0.0) -> int | None:
        """Stop the whole process group, bounded: SIGINT first when ``interrupt`` > 0 (k6
        then writes its summary), SIGTERM, and SIGKILL when ``grace`` seconds did not do.
        Idempotent; returns the exit code (None if it was never started)."""
        proc = self.process
        if proc is None:
            return None
        try:
            steps = [(signal.SIGINT, interrupt)] if interrupt > 0 else []
            for sig, wait_s in [*steps, (signal.SIGTERM, grace), (signal.SIGKILL, 5.0)]:
                if proc.poll() is not None:
                    break
                _signal_group(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait_s)
            # A grandchild may outlive its parent in the same group: make sure it goes too.
            _signal_group(proc.pid, signal.SIGKILL)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        return proc.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_ready(
    ready: str | Callable[[], bool],
    *,
    what: str,
    children: Iterable[Child] = (),
    timeout: float | None = None,
    deadline: float | None = None,
    logs: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Return once ``ready`` holds: a URL answering 200, or a predicate returning True (one
    that raises a TubedemoError counts as not yet). Give up in one line when any of
    ``children`` (started ones) exits first, or at ``deadline`` (time.monotonic()) or after
    ``timeout`` seconds — exactly one of the two; that line names ``logs`` (default: the
    last child's log)."""
    if (timeout is None) == (deadline is None):
        raise ValueError("wait_ready takes exactly one of timeout and deadline")
    end = deadline if deadline is not None else time.monotonic() + (timeout or 0.0)
    probe: Callable[[], bool]
    if isinstance(ready, str):
        url = ready
        probe = lambda: http_ok(url)  # noqa: E731
    else:
        probe = ready
    watched = list(children)
    while True:
        for child in watched:
            if child.process is not None and not child.alive():
                raise child.exited(f"while waiting for {what}")
        try:
            if probe():
                return
        except TubedemoError:
            pass
        if time.monotonic() >= end:
            within = f"{timeout:g} s" if timeout is not None else "the start-up deadline"
            where = logs if logs is not None else watched[-1].log if watched else None
            raise ExternalToolError(
                f"{what}: not within {within}" + (f"; see {where}" if where else "")
            )
        time.sleep(interval)


@dataclass(frozen=True)
class Ran:
    """A finished short command."""

    code: int
    output: str
    """stdout (with stderr merged in when streamed)."""
    errors: str = ""
    """stderr, when it was not merged."""

    def tail(self, lines: int = 15) -> str:
        """The last non-empty lines of its output and errors, joined on one line."""
        text = [ln.strip() for ln in (self.output + "\n" + self.errors).splitlines()]
        return " | ".join([ln for ln in text if ln][-lines:])


def run(
    argv: Sequence[str],
    *,
    what: str,
    stream: bool = False,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Ran:
    """Run a short command in the foreground (the terminal's Ctrl-C reaches it too) and wait.

    ``stream``: its stdout and stderr go to our stderr line by line as they come (a build's
    progress) and are kept merged in ``output``; else they are captured apart. A non-zero exit
    is the caller's to judge (``Ran.code``); ExternalToolError (one line, naming ``what``)
    when the program cannot be run or ``timeout`` seconds pass (it is killed then). ``env``
    replaces the environment (eksctl and helm get the AWS session's region and endpoint).
    """
    if stream and timeout is not None:
        raise ValueError("a streamed command runs to its end: no timeout")
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stream else subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ExternalToolError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from exc
    if not stream:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise ExternalToolError(
                f"{what}: {argv[0]} did not finish within {timeout:g} s"
            ) from exc
        return Ran(proc.returncode, out, err)
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stdout is not None
    kept: list[str] = []
    for line in proc.stdout:
        kept.append(line)
        sys.stderr.write(line)
        sys.stderr.flush()
    return Ran(proc.wait(), "".join(kept))


def output_of(argv: Sequence[str], *, what: str, timeout: float = 60.0) -> str:
    """The stdout of a command that must succeed (``go env GOMODCACHE``), stripped;
    ExternalToolError naming ``what`` and its last words otherwise."""
    ran = run(argv, what=what, timeout=timeout)
    if ran.code != 0:
        raise ExternalToolError(f"{what}: {argv[0]} exited {ran.code}: {ran.tail(3)}")
    return ran.output.strip()
