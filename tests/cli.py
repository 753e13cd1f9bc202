"""Run the CLI as a presenter's shell would: a real `python -m tubedemo` process, its output
captured as text, its exit code left for the test to read."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def tubedemo(
    *args: str,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python -m tubedemo ARGS` in `cwd`, with exactly `env` as its environment (this process's
    when None); never raises on a non-zero exit code."""
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
