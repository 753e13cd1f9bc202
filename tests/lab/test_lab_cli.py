"""`tubedemo lab up | status | down` as a presenter runs them: what they print, and that
nothing — no process, no port — outlives the lab, also when the CLI is killed with SIGKILL or
its terminal closes."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.terminal import take_terminal
from tubedemo.lab.state_file import pid_alive, port_listening, read_state

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


def test_a_closed_terminal_stops_the_lab_in_order_and_leaves_nothing(tmp_path: Path) -> None:
    # `lab up` in the foreground of a real pty (the session's controlling terminal): closing the
    # pty's master is the terminal window closing — SIGHUP, and EIO on every later write to it.
    # The lab must still stop in order and exit 0; stderr goes to a file, where a traceback
    # from a failed print would show.
    require_built()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    master, slave = pty.openpty()
    with (tmp_path / "stderr.txt").open("w") as stderr:
        cli = subprocess.Popen(
            [sys.executable, "-m", "tubedemo", "lab", "up", "--dir", str(tmp_path / "lab"),
             "--speed", "10"],
            stdin=slave, stdout=slave, stderr=stderr, env=env,
            start_new_session=True, preexec_fn=take_terminal,
        )  # fmt: skip
    os.close(slave)

    def ready() -> dict[str, Any] | None:
        # Drain the screen too, so `lab up` never blocks on a full pty.
        while select.select([master], [], [], 0)[0]:
            os.read(master, 65536)
        state = read_state(tmp_path / "lab")
        return state if state and state.get("ready") else None

    try:
        state = wait_until("lab up to be ready", ready, timeout=240, interval=0.5)
        os.close(master)  # the terminal window closes
        master = -1
        assert cli.wait(timeout=120) == 0, (tmp_path / "stderr.txt").read_text()
    finally:
        if master >= 0:
            os.close(master)
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    pids, ports = _pids_and_ports(state)
    assert _nothing_left(pids, ports)


def test_detached_lab_reports_status_and_down_leaves_nothing(tmp_path: Path) -> None:
    # --dir relative to the working folder, as a presenter types it
    require_built()
    up = tubedemo("lab", "up", "--detach", "--dir", "lab", "--speed", "10", cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    kubeconfig = tmp_path / "lab" / "admin.kubeconfig"
    assert f"kubeconfig: {kubeconfig}" in up.stdout
    state = read_state(tmp_path / "lab")
    assert state is not None
    pids, ports = _pids_and_ports(state)
    try:
        status = tubedemo("lab", "status", "--dir", "lab", cwd=tmp_path)
        assert status.returncode == 0, status.stdout
        for name in ("etcd", "kube-apiserver", "keda-operator", "keda-webhooks", "karpenter"):
            assert name in status.stdout
        assert "gone" not in status.stdout

        down = tubedemo("lab", "down", "--dir", "lab", cwd=tmp_path)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "no process, no port left" in down.stdout
        assert _nothing_left([int(state["owner"]), *pids], ports)
    finally:
        for pid in (int(state["owner"]), *pids):
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
