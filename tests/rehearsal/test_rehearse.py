"""tubedemo rehearse end to end: real k6 through the real gateway into the fleet simulator.

Each run is a real `tubedemo rehearse` process with a compressed talk (--speed); afterwards no
process it started may be left: every child is found through its command line or working
directory, which all point into the test's own folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest

from tests.terminal import as_from_a_terminal, take_terminal
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
  consolidate_after: 5s
k6:
  think_time: 0.2
twin:
  startup: {node_launch: 5s, image_pull: 0s, model_load: 5s}
timeline:
  phases:
    - {name: warm-up, at: 0, duration: 20, vus: 1, mode: quiz}
    - {name: burst, at: 20, duration: 60, vus: 10}
    - {name: calm, at: 80, duration: 100, vus: 1}
"""


def leftovers(folder: Path, me: int) -> list[str]:
    """Processes (other than ``me``) whose command line or cwd mentions ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{entry.name}: {cmdline}")
    return found


def start(folder: Path, *extra: str) -> subprocess.Popen[str]:
    (folder / "demo.yaml").write_text(DEMO)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tubedemo",
            "rehearse",
            # relative, as a presenter types them in the talk's folder
            "-c",
            "demo.yaml",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "-o",
            "out",
            *extra,
        ],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )


def wait_gone(folder: Path, me: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = leftovers(folder, me)
        if not left:
            return []
        time.sleep(0.2)
    return leftovers(folder, me)


def test_rehearsal_drives_k6_through_the_gateway_scales_up_and_down_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    proc = start(tmp_path, "--speed", "10", "--no-audience")  # k6 alone must scale it
    status: dict[str, object] = {}
    try:
        assert proc.stdout is not None
        output = ""
        while "Audience page" not in output:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        match = re.search(r"Audience page: (http://127\.0\.0\.1:\d+)/", output)
        assert match, output
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not status.get("available"):
            # The phones' status strip is fed from the rehearsal's snapshots.
            status = httpx.get(f"{match.group(1)}/api/status", timeout=5).json()
            time.sleep(0.2)
        rest, _ = proc.communicate(timeout=240)
        output += rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output
    assert wait_gone(tmp_path, proc.pid) == []
    out = tmp_path / "out"
    snaps = read_recording(out / "rehearse.jsonl").snapshots
    assert max(s.replicas.ready for s in snaps) > 1
    assert snaps[-1].replicas.desired == 1
    assert max(s.queue.waiting for s in snaps) > 0
    assert any(e.kind == "scale" for s in snaps for e in s.events)
    summary = json.loads((out / "rehearse.k6-summary.json").read_text())
    metrics = summary["metrics"]
    assert metrics["http_reqs"]["values"]["count"] > 20
    assert metrics["tubedemo_failed"]["values"]["rate"] == 0
    # Tokens streamed back to k6 through the gateway: only the fleet simulator makes them.
    assert metrics["tubedemo_tokens"]["values"]["count"] > 0
    assert (out / "report" / "report.html").is_file()
    assert status.get("available") is True
    assert status["multiplier"] == 50


def test_a_lone_rehearsal_of_the_default_talk_scales_with_the_simulated_room(
    tmp_path: Path,
) -> None:
    # Default demo.yaml, nobody's phone: k6's 2-8 VUs alone never fill max_num_seqs, so the
    # simulated room (on by default) is what makes the first rehearsal show scaling. The EKS
    # path as the README prepares it (image snapshot, weights in S3): the twin's start-up
    # follows the render, and a cold hub pull would not be ready inside the burst.
    (tmp_path / "demo.yaml").write_text(
        "gpu_pool:\n  image_snapshot_id: snap-0123456789abcdef0\n"
        "model:\n  weights_uri: s3://weights/llama-3.1-8b-instruct/\n"
    )
    # ... and its default folder (out/rehearse-<time>/ under the working folder).
    proc = subprocess.run(
        [sys.executable, "-m", "tubedemo", "rehearse", "--speed", "30", "--host", "127.0.0.1",
         "--port", "0", "--no-report"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "160"}, start_new_session=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (out,) = (tmp_path / "out").glob("rehearse-*")
    snaps = read_recording(out / "rehearse.jsonl").snapshots
    assert max(s.replicas.ready for s in snaps) > 1
    assert max(s.queue.waiting for s in snaps) > 0


def test_killing_the_rehearsal_outright_takes_its_children_with_it(tmp_path: Path) -> None:
    # kill -9 runs no cleanup in tubedemo; the kernel's parent-death signal stops the fleet
    # and the gateway, so the next rehearsal finds its port free.
    proc = start(tmp_path, "--speed", "2", "--no-report")
    try:
        assert proc.stdout is not None
        output = ""
        deadline = time.monotonic() + 90
        while "Audience page" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        assert "Audience page" in output, output
        time.sleep(3)  # k6 is under way too by now
        running = leftovers(tmp_path, proc.pid)
        assert len(running) >= 3, "fleet, gateway and k6 should be running"
        # The admin token is in the gateway's environment, never on a command line (`ps`
        # shows those to every user of the machine).
        gateway = next(line for line in running if " -m gateway " in line)
        environ = Path(f"/proc/{gateway.split(':')[0]}/environ").read_bytes().split(b"\0")
        token = next(v for v in environ if v.startswith(b"TUBEDEMO_ADMIN_TOKEN=")).split(b"=", 1)[1]
        assert len(token) >= 16
        assert not any(token.decode() in line or "--admin-token" in line for line in running)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert wait_gone(tmp_path, proc.pid) == []


def test_a_busy_port_is_one_line_that_suggests_port_0_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(DEMO)
    with socket.socket() as busy:  # another rehearsal, say, on the default port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tubedemo", "rehearse", "--host", "127.0.0.1",
             "--port", str(port), "-o", "out", "--speed", "20"],
            cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: --port {port}: something on this machine already listens there (another "
        "rehearsal, the lab or a port-forward?); pass --port 0 for a free port"
    ]
    assert not (tmp_path / "out" / "fleet.log").exists()  # refused before any child started
    assert leftovers(tmp_path, os.getpid()) == []


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda sig: sig.name
)
def test_interrupting_the_rehearsal_stops_every_child(tmp_path: Path, sig: int) -> None:
    # Ctrl-C, a kill, a hang-up: the same way out, and the rehearsal's own ending (exit 0).
    proc = start(tmp_path, "--speed", "2", "--no-report")
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        seen = ""
        while time.monotonic() < deadline and "k6 timeline load started" not in seen:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "k6 timeline load started" in seen, seen
        assert leftovers(tmp_path, proc.pid), "children should be running by now"
        os.kill(proc.pid, sig)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in seen + rest
    assert proc.returncode == 0, seen + rest
    assert wait_gone(tmp_path, proc.pid) == []


def test_a_closed_terminal_ends_the_rehearsal_like_ctrl_c_and_the_report_is_still_written(
    tmp_path: Path,
) -> None:
    # The presenter's terminal window closes (or the SSH link drops): the kernel hangs the
    # terminal up, so every later write to it fails (EIO), and sends SIGHUP. The rehearsal is a
    # session leader on a real pty here, so closing the pty's master is that hang-up, signal
    # included. stderr goes to a file, where a traceback from a failed print would show.
    (tmp_path / "demo.yaml").write_text(DEMO)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    out = tmp_path / "out"
    with (tmp_path / "stderr.txt").open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tubedemo", "rehearse", "-c", str(tmp_path / "demo.yaml"),
             "--host", "127.0.0.1", "--port", "0", "-o", str(out), "--speed", "2"],
            cwd=tmp_path, stdin=slave, stdout=slave, stderr=stderr,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True, preexec_fn=take_terminal,
        )  # fmt: skip
    os.close(slave)
    try:
        deadline = time.monotonic() + 90
        running = False
        while time.monotonic() < deadline and not running:
            # Drain the screen so the dashboard never blocks on a full pty.
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
            running = (
                len(leftovers(tmp_path, proc.pid)) >= 3  # fleet, gateway and k6
                and len(read_lines(out / "rehearse.jsonl")) >= 2  # enough for a report
            )
        assert running, (tmp_path / "stderr.txt").read_text()
        os.close(master)  # the terminal window closes
        master = -1
        proc.wait(timeout=120)
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    errors = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors
    assert proc.returncode == 0, errors
    assert wait_gone(tmp_path, proc.pid) == []
    assert len(read_recording(out / "rehearse.jsonl").snapshots) >= 2
    assert (out / "report" / "report.html").is_file()


def read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []
