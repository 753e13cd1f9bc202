"""`tubedemo rehearse --lab` end to end: the lab (control plane, KEDA, the HPA controller,
Karpenter with its KWOK provider, the scheduler) decides, the fleet serves one engine per Ready
pod, real k6 runs the timeline through the real gateway, the timeline flips the audience mode,
the dashboard is fed by the real watches, and the recording and report are written. A short
talk (3 talk minutes) at speed 10, from the talk's folder with the default run folder (relative),
bounded by the subprocess timeout; afterwards no process it started (lab components included)
may be left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import require_built
from tests.rehearsal.test_rehearse import wait_gone
from tubedemo.lab import binaries
from tubedemo.telemetry.recording import read_recording

pytestmark = pytest.mark.integration

DEMO = """\
talk:
  duration: 3m
model:
  max_num_seqs: 2
gateway:
  max_tokens: 60
scaling:
  target: 2
  scale_down:
    stabilization: 0s
    policies: [{type: Percent, value: 100, period: 15s}]
gpu_pool:
  consolidate_after: 10s
k6:
  think_time: 0.2
twin:
  startup: {node_launch: 10s, image_pull: 0s, model_load: 10s}
timeline:
  phases:
    - {name: warm-up, at: 0, duration: 20, vus: 1, mode: quiz}
    - {name: burst, at: 20, duration: 70, vus: 10}
    - {name: calm, at: 90, duration: 90, vus: 1, mode: survey}
"""

SPEED = "10"


def test_rehearse_on_the_lab_scales_with_the_real_controllers_flips_the_mode_and_writes_the_report(
    tmp_path: Path,
) -> None:
    require_built()
    (tmp_path / "demo.yaml").write_text(DEMO)
    # From the talk's folder with the defaults, as the README has a presenter run it: the run
    # folder is out/rehearse-<time>/ (relative), the lab's inside it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "rehearse", "--lab", "--speed", SPEED,
         "--host", "127.0.0.1", "--port", "0", "--no-audience"],
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
    (out,) = (tmp_path / "out").glob("rehearse-*")

    # the lab was up and our manifests went into it
    assert "lab: up in" in output, output
    # a rehearsal on the lab is a stage too: published while it ran, gone at its end
    assert "reach this rehearsal (.tubedemo/rehearsal.json)" in output, output
    assert not (tmp_path / ".tubedemo" / "rehearsal.json").exists()
    assert "up: created    ScaledObject tubedemo/vllm" in output, output
    if binaries.otelcol() is not None:
        # KEDA's queue came through the real collector and the scaler stand-in
        assert "OTLP to the scaler stand-in" in output, output
        assert (out / "otel-collector.yaml").is_file()
    # the timeline flipped the audience page through the real gateway
    assert "mode → survey (calm)" in output, output
    assert "FAILED" not in output, output

    snaps = read_recording(out / "rehearse.jsonl").snapshots
    assert len(snaps) > 10
    # the real watches: KEDA's HPA raised the Deployment, Karpenter's nodes carried the pods
    assert max(s.replicas.desired for s in snaps) > 1
    assert max(s.replicas.ready for s in snaps) > 1
    assert max(s.nodes.ready_count for s in snaps) > 1
    assert max(s.queue.waiting for s in snaps) > 0
    assert any(e.kind == "scale" for s in snaps for e in s.events)

    summary = json.loads((out / "rehearse.k6-summary.json").read_text())
    metrics = summary["metrics"]
    assert metrics["http_reqs"]["values"]["count"] > 20
    # tokens streamed back to k6 through the gateway: only the fleet's engines make them
    assert metrics["tubedemo_tokens"]["values"]["count"] > 0
    assert (out / "report" / "report.html").is_file()
