"""The scaler stand-in (tubedemo.rehearsal.scaler_standin) as a process of a test's own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Standin:
    """The running stand-in and the ports its first line announced."""

    proc: subprocess.Popen[str]
    otlp_port: str
    http_port: str


@contextmanager
def running_standin(
    *args: str, wrap: Callable[[list[str]], list[str]] = lambda argv: argv
) -> Iterator[Standin]:
    """``python -m tubedemo.rehearsal.scaler_standin *args`` (``wrap`` puts it on a test host)
    until the block ends; stopped with SIGTERM."""
    proc = subprocess.Popen(
        wrap([sys.executable, "-m", "tubedemo.rehearsal.scaler_standin", *args]),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORTS "), line
        otlp, http = line.split()[1:3]
        yield Standin(proc, otlp, http)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
