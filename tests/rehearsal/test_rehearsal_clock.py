"""A rehearsal's figures on the talk's clock: the k6 figures it ends with are its report's, and a
report written by hand from its recording (no flag) gives the same ones.

A real `tubedemo rehearse --speed 20` (fleet, gateway, k6) on loopback, then `tubedemo report`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tubedemo.screen.report import k6_view

pytestmark = pytest.mark.integration

DEMO = """\
talk:
  duration: 3m
model:
  max_num_seqs: 2
gateway:
  max_tokens: 60
k6:
  think_time: 2
timeline:
  phases:
    - {name: warm-up, at: 0, duration: 40, vus: 2, mode: quiz}
    - {name: burst, at: 40, duration: 100, vus: 6}
"""

PHONES = re.compile(r"^k6 as the phones saw it \(talk time\): .*$", re.MULTILINE)
REPORT_ROW = re.compile(r"Client first byte p50 / p95 \(k6, talk time\)</th><td>([^<]*)<")


def tubedemo(folder: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        # into a pipe, at Rich's 80 columns: the closing lines must still be one line each
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
        start_new_session=True,
        check=False,
    )


def test_report_by_hand_gives_the_k6_figures_the_rehearsal_ended_with(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(DEMO)
    done = tubedemo(
        tmp_path, "rehearse", "--speed", "20", "--host", "127.0.0.1", "--port", "0",
        "--no-audience", "-o", "out", timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    closing = PHONES.findall(done.stdout)
    assert len(closing) == 1, done.stdout
    # k6's own per-run line is on the talk's clock too, and says so
    k6_runs = [line for line in done.stdout.splitlines() if line.startswith("k6 rehearse.k6")]
    assert k6_runs and all("talk time (x20)" in line for line in k6_runs), done.stdout

    by_hand = tubedemo(tmp_path, "report", "out/rehearse.jsonl", "-o", "by-hand", timeout=120)
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr
    assert PHONES.findall(by_hand.stdout) == closing

    own = REPORT_ROW.findall((tmp_path / "out" / "report" / "report.html").read_text())
    mine = REPORT_ROW.findall((tmp_path / "by-hand" / "report.html").read_text())
    assert own == mine and len(own) == 1
    # ...on the talk's clock: the load spans the talk's minutes, not its 9 wall seconds
    view = k6_view(tmp_path / "out" / "rehearse.jsonl")
    assert view is not None and view.requests > 10
    assert max(view.t) > 2.0
