"""Fixtures: the real gateway on loopback and the real `tubedemo` CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway_proc import ADMIN_TOKEN, GatewayProcess, running_gateway


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


Tubedemo = Callable[..., Run]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    with running_gateway(tmp_path / "store") as gw:
        yield gw


@pytest.fixture
def tubedemo(tmp_path: Path) -> Tubedemo:
    """Run the CLI as the presenter would (fresh process, no demo.yaml, wide terminal)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, token: str | None = ADMIN_TOKEN) -> Run:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
        env["COLUMNS"] = "160"
        if token is not None:
            env["TUBEDEMO_ADMIN_TOKEN"] = token
        proc = subprocess.run(
            [sys.executable, "-m", "tubedemo", *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run
