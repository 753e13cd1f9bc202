"""`tubedemo lab up | status | down` as a presenter runs them: what they print, and that
nothing — no process, no port — outlives the lab, also when the CLI is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tubedemo.lab.lab import pid_alive, port_listening, read_state

from .conftest import require_built, tubedemo

pytestmark = pytest.mark.timeout(400)


def _pids_and_ports(state: dict[str, Any]) -> tuple[list[int], list[int]]:
    comps = state["components"].values()
    return [int(c["pid"]) for c in comps], [p for c in comps for p in c["ports"].values()]


def _nothing_left(pids: list[int], ports: list[int]) -> bool:
    return not any(pid_alive(p) for p in pids) and not any(port_listening(p) for p in ports)


def test_sigkill_of_lab_up_takes_every_component_and_port_with_it(tmp_path: Path) -> None:
    require_built()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    cli = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "lab", "up", "--dir", str(tmp_path), "--speed", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        state = wait_until(
            "lab up to be ready",
            lambda: (lambda s: s if s and s.get("ready") else None)(read_state(tmp_path)),
            timeout=240,
            interval=0.5,
        )
    finally:
        cli.kill()
        cli.wait()
    pids, ports = _pids_and_ports(state)
    assert {"kube-apiserver", "keda-adapter", "karpenter"} <= set(state["components"])
    wait_until("every component and port to be gone", lambda: _nothing_left(pids, ports), 30)

    down = tubedemo("lab", "down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert "no process, no port left" in down.stdout
    assert "no lab running" in tubedemo("lab", "status", "--dir", str(tmp_path)).stdout


def test_detached_lab_reports_status_and_down_leaves_nothing(tmp_path: Path) -> None:
    require_built()
    up = tubedemo("lab", "up", "--detach", "--dir", str(tmp_path), "--speed", "10")
    assert up.returncode == 0, up.stdout + up.stderr
    kubeconfig = tmp_path / "admin.kubeconfig"
    assert f"kubeconfig: {kubeconfig}" in up.stdout
    state = read_state(tmp_path)
    assert state is not None
    pids, ports = _pids_and_ports(state)
    try:
        status = tubedemo("lab", "status", "--dir", str(tmp_path))
        assert status.returncode == 0, status.stdout
        for name in ("etcd", "kube-apiserver", "keda-operator", "keda-webhooks", "karpenter"):
            assert name in status.stdout
        assert "gone" not in status.stdout

        down = tubedemo("lab", "down", "--dir", str(tmp_path))
        assert down.returncode == 0, down.stdout + down.stderr
        assert "no process, no port left" in down.stdout
        assert _nothing_left([int(state["owner"]), *pids], ports)
    finally:
        for pid in (int(state["owner"]), *pids):
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
