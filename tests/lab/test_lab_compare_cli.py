"""`tubedemo lab compare` as a presenter runs it: from the talk's folder, with its defaults (the
run folder out/lab-compare, relative), a short talk at speed 10; it prints the side-by-side
table and the agreement, and leaves no process behind (lab components included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import require_built
from tests.rehearsal.test_rehearse import wait_gone

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

DEMO = """\
talk:
  duration: 3m
twin:
  tail: 1m
  startup: {node_launch: 10s, image_pull: 0s, model_load: 10s}
timeline:
  phases:
    - {name: warm-up, at: 0, duration: 20, vus: 1, mode: quiz}
    - {name: burst, at: 20, duration: 70, vus: 10}
    - {name: calm, at: 90, duration: 90, vus: 1, mode: survey}
"""


def test_lab_compare_from_the_talks_folder_with_its_defaults_compares_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    require_built()
    (tmp_path / "demo.yaml").write_text(DEMO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "lab", "compare", "--speed", "10"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "160"},
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=420)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output
    assert wait_gone(tmp_path, proc.pid, timeout=30) == []
    assert "twin vs lab at 10x" in output, output
    assert "agreement" in output, output
    run = tmp_path / "out" / "lab-compare"
    assert (run / "fleet.log").is_file()
    assert (run / "run" / "admin.kubeconfig").is_file()
