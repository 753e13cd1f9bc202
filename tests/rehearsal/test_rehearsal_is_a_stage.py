"""A rehearsal is a stage: the stage commands work against a running `tubedemo rehearse` exactly
as they do against the cluster after `up`, with no flags and no environment variables.

A real `tubedemo rehearse --speed 20` (fleet, gateway, k6, the simulated room) from an empty
folder on loopback; the stage commands run from the same folder as separate processes.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_until
from tests.terminal import take_terminal
from tubedemo.audience.stage import STAGE_FILE
from tubedemo.rehearsal.room_survey import COMPANIES

pytestmark = pytest.mark.integration


def presenter_env() -> dict[str, str]:
    """The presenter's second terminal: nothing of tubedemo's in the environment."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")} | {
        "COLUMNS": "200"
    }


def command_lines() -> list[str]:
    lines = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(path.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # gone meanwhile
    return lines


def tubedemo(folder: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=presenter_env(),
        check=False,
    )


def test_every_stage_command_works_against_a_running_rehearsal_with_no_flags(
    tmp_path: Path,
) -> None:
    # an empty folder: no demo.yaml, the defaults as the README gives them (loopback, free port:
    # the suite must not take this machine's 8080 nor listen on its LAN address)
    rehearsal = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "rehearse", "--speed", "20",
         "--host", "127.0.0.1", "--port", "0", "--no-report"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=presenter_env(), start_new_session=True,
    )  # fmt: skip
    stage_file = tmp_path / STAGE_FILE
    try:
        wait_until("the rehearsal's stage file", stage_file.is_file, timeout=90)
        assert stat.S_IMODE(stage_file.stat().st_mode) == 0o600
        stage = json.loads(stage_file.read_text())
        url = stage["gateway_url"]
        # the show has started (its first flip to quiz is behind us) once the phones' status
        # strip is fed from its snapshots
        wait_until(
            "the rehearsal's status",
            lambda: httpx.get(f"{url}/api/status", timeout=5).json().get("available"),
            timeout=60,
        )

        flip = tubedemo(tmp_path, "mode", "survey")
        assert flip.returncode == 0, flip.stdout + flip.stderr
        first = flip.stderr.splitlines()[0]  # stdout is the mode's, for scripts
        assert first.startswith(f"gateway: {url}") and "rehearsal" in first, flip.stderr
        assert "mode: quiz → survey" in flip.stdout
        assert httpx.get(f"{url}/config", timeout=5).json()["mode"] == "survey"

        # the simulated room answers the survey within a minute of talk time (3 s at x20)
        admin = {"Authorization": f"Bearer {stage['admin_token']}"}
        wait_until(
            "the simulated room's survey answers",
            lambda: (
                httpx.get(f"{url}/api/admin/raffle", headers=admin, timeout=5).json()["entries"]
                >= 10
            ),
            timeout=60,
        )
        drawn = tubedemo(tmp_path, "winners", "--count", "2")
        assert drawn.returncode == 0, drawn.stdout + drawn.stderr
        assert drawn.stdout.startswith(f"gateway: {url}")
        winners = httpx.get(f"{url}/api/survey/winners", timeout=5).json()
        assert winners["drawn"] is True and len(winners["winners"]) == 2, winners

        export = tubedemo(tmp_path, "session", "export", "--csv", "exports/talk.csv")
        assert export.returncode == 0, export.stdout + export.stderr
        rows = list(csv.DictReader(io.StringIO((tmp_path / "exports" / "talk.csv").read_text())))
        assert len(rows) >= 2
        # ...every one of them the simulated room's, two of them the winners
        assert {r["company"] for r in rows} <= set(COMPANIES), rows[:3]
        assert sum(1 for r in rows if r["winner"]) == 2

        qr = tubedemo(tmp_path, "qr", "--png", "slides/qr.png")
        assert qr.returncode == 0, qr.stdout + qr.stderr
        assert (tmp_path / "slides" / "qr.png").stat().st_size > 0

        status = tubedemo(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.startswith(f"gateway: {url}")
        assert "mode: survey" in status.stdout
        answers = re.search(r"^survey: (\d+) answers", status.stdout, re.MULTILINE)
        assert answers and int(answers.group(1)) >= len(rows), status.stdout  # the room goes on
        assert re.search(r"^vLLM replicas: \d+ Ready", status.stdout, re.MULTILINE)

        load = tubedemo(tmp_path, "load", "--vus", "2", "--duration", "5s", timeout=120)
        assert load.returncode == 0, load.stdout + load.stderr
        assert load.stdout.startswith(f"gateway: {url}")

        # the token never went on a command line
        assert not [line for line in command_lines() if stage["admin_token"] in line]
        output, _ = rehearsal.communicate(timeout=240)
    finally:
        if rehearsal.poll() is None:
            os.killpg(rehearsal.pid, signal.SIGKILL)
            rehearsal.wait()
    # nobody at the keyboard: the rehearsal ended with its timeline, and its stage went with it
    assert rehearsal.returncode == 0, output
    assert "reach this rehearsal (.tubedemo/rehearsal.json)" in output, output  # it says so
    assert not stage_file.exists()


SHORT_TALK = """\
talk:
  duration: 40s
timeline:
  phases:
    - {name: warm-up, at: 0, duration: 20, vus: 1, mode: quiz}
    - {name: survey, at: 20, duration: 20, vus: 0, mode: survey}
"""


def test_on_a_terminal_the_gateway_stays_up_after_the_talk_for_the_draw_until_q(
    tmp_path: Path,
) -> None:
    (tmp_path / "demo.yaml").write_text(SHORT_TALK)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in presenter_env().items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "rehearse", "--speed", "10", "--host", "127.0.0.1",
         "--port", "0", "--no-report", "--draw", "2", "-o", "out"],
        cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave,
        env={**env, "TERM": "xterm-256color"}, start_new_session=True, preexec_fn=take_terminal,
    )  # fmt: skip
    os.close(slave)
    screen = b""

    def drain() -> str:
        nonlocal screen
        while select.select([master], [], [], 0.05)[0]:
            try:
                screen += os.read(master, 65536)
            except OSError:
                break
        return screen.decode(errors="replace")

    try:
        wait_until("the talk's end", lambda: "The talk is over" in drain(), timeout=120)
        # the draw on cue happened, and the gateway still serves the phones' "you won"
        stage = json.loads((tmp_path / STAGE_FILE).read_text())
        winners = httpx.get(f"{stage['gateway_url']}/api/survey/winners", timeout=5).json()
        assert winners["drawn"] is True and len(winners["winners"]) == 2, winners
        time.sleep(1.0)
        assert proc.poll() is None, drain()
        drawn = tubedemo(tmp_path, "winners")  # asking again shows the same winners
        assert drawn.returncode == 0, drawn.stdout + drawn.stderr
        os.write(master, b"q")
        proc.wait(timeout=60)
        drain()
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, screen.decode(errors="replace")
    assert not (tmp_path / STAGE_FILE).exists()
