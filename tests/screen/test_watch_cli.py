"""`tubedemo watch`: record a live session, replay it, and fail with one line on bad input."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.talk_samples import talk_history
from tests.terminal import ANSI, as_from_a_terminal
from tests.vllm_exporter import FakeEngine
from tubedemo.screen.dashboard import big_text
from tubedemo.telemetry.recording import (
    Recorder,
    RecordingError,
    read_recording,
    replay_schedule,
)


def _tubedemo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"COLUMNS": "80", "LINES": "24", "PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent"},
    )


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    e = FakeEngine()
    yield e
    e.close()


def test_live_watch_records_every_frame_and_replay_shows_the_same_talk(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.set(waiting=7)
    engine.set(running=8)
    record = tmp_path / "talk.jsonl"
    done = _tubedemo(
        "watch",
        "--no-kube",
        "--vllm-url",
        engine.url,
        "--gateway-url",
        "http://127.0.0.1:9",
        "--set",
        "dashboard.tick=0.2",
        "--frames",
        "4",
        "--record",
        str(record),
    )
    assert done.returncode == 0, done.stderr
    assert "recorded 4 snapshots" in done.stderr
    snapshots = read_recording(record).snapshots
    assert len(snapshots) == 4
    assert all(s.queue.waiting == 7 and s.virtual_commuters == 350 for s in snapshots)
    assert all(s.gateway.stale for s in snapshots)  # nothing listens there: stale, not a crash
    for row in big_text("350"):
        assert row in done.stdout  # the final frame is printed when stdout is not a terminal

    replay = _tubedemo("watch", "--replay", str(record), "--speed", "50")
    assert replay.returncode == 0, replay.stderr
    assert "replayed 4 snapshots" in replay.stderr
    for row in big_text("350"):
        assert row in replay.stdout
    assert len(replay.stdout.splitlines()) == 24


def test_replay_of_a_recorded_talk_ends_on_its_last_frame(tmp_path: Path) -> None:
    path = tmp_path / "talk.jsonl"
    with Recorder(path) as recorder:
        for snapshot in talk_history():
            recorder.write(snapshot)
    done = _tubedemo("watch", "--replay", str(path), "--speed", "1000")
    assert done.returncode == 0, done.stderr
    assert "SURVEY · 116 surveys" in done.stdout


def test_a_truncated_last_line_is_skipped_and_the_rest_replays(tmp_path: Path) -> None:
    path = tmp_path / "talk.jsonl"
    lines = [s.to_json() for s in talk_history(seconds=20)]
    path.write_text("\n".join(lines) + "\n" + lines[-1][:40], encoding="utf-8")
    recording = read_recording(path)
    assert recording.damaged_lines == (len(lines) + 1,)
    assert len(recording.snapshots) == len(lines)


def test_recording_again_after_a_crash_keeps_everything_already_recorded(tmp_path: Path) -> None:
    path = tmp_path / "talk.jsonl"
    history = talk_history(seconds=40)
    path.write_text("".join(s.to_json() + "\n" for s in history[:10]) + history[10].to_json()[:50])
    with Recorder(path) as recorder:  # `watch --record` started again after the crash
        for snapshot in history[11:]:
            recorder.write(snapshot)
    recording = read_recording(path)
    assert recording.damaged_lines == (11,)
    assert list(recording.snapshots) == history[:10] + history[11:]


def test_a_file_that_is_not_a_recording_names_its_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "talk.jsonl"
    lines = [s.to_json() for s in talk_history(seconds=6)]
    path.write_text(lines[0] + "\n" + '{"time": "yesterday"}\n' * 5, encoding="utf-8")
    with pytest.raises(RecordingError, match="line 2"):
        read_recording(path)


def test_replay_schedule_compresses_time_by_speed_and_skips_long_pauses() -> None:
    history = talk_history(seconds=10, step=2)
    delays = [d for d, _ in replay_schedule(history, speed=4)]
    assert delays == [0.0, 0.5, 0.5, 0.5, 0.5]
    from datetime import timedelta

    gap = [history[0], history[1].model_copy(update={"time": history[0].time + timedelta(hours=1)})]
    assert [d for d, _ in replay_schedule(gap, speed=1)] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["watch", "--replay", "/nonexistent/talk.jsonl"], "no such recording"),
        (["watch", "--replay", "x.jsonl", "--speed", "0"], "--speed must be positive"),
        (["watch", "--replay", "x.jsonl", "--record", "y.jsonl"], "--record and --replay"),
        (["watch", "--no-kube", "--start", "teatime", "--frames", "1"], "--start 'teatime'"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(args: list[str], needle: str) -> None:
    done = _tubedemo(*args)
    assert done.returncode != 0
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def fleet_simulator() -> Iterator[str]:
    """The rehearsal's real fleet simulator in its own process, with the simulated audience."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tubedemo.rehearsal.server",
            "--port",
            "0",
            "--speed",
            "30",
            "--audience",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.wallclock  # the simulated room must ask within the run's wall-clock seconds
def test_watching_a_rehearsal_follows_the_simulators_clock_and_fleet(
    fleet_simulator: str, tmp_path: Path
) -> None:
    record = tmp_path / "rehearsal.jsonl"
    done = _tubedemo(
        "watch",
        "--twin",
        fleet_simulator,
        "--gateway-url",
        "http://127.0.0.1:9",
        "--set",
        "dashboard.tick=0.5",
        "--frames",
        "20",
        "--record",
        str(record),
    )
    assert done.returncode == 0, done.stderr
    snapshots = read_recording(record).snapshots
    wall = (snapshots[-1].time - snapshots[0].time).total_seconds()
    talk = snapshots[-1].talk.elapsed_s - snapshots[0].talk.elapsed_s
    assert talk > 10 * wall  # 30x simulated time on the talk clock
    assert all(not s.replicas.stale and s.replicas.ready >= 1 for s in snapshots)
    assert all(not s.queue.stale for s in snapshots)  # every serving replica's /metrics read
    assert any(s.perf.requests_per_s for s in snapshots)  # the simulated room asked questions
    assert snapshots[-1].cost.total > 0


def test_on_a_terminal_frames_go_through_rich_live_on_the_alternate_screen() -> None:
    import io

    from rich.console import Console

    from tubedemo.screen.dashboard import DashboardOptions
    from tubedemo.screen.watching import KEY_POLL_S, watch_replay

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=24, color_system=None)
    sleeps: list[float] = []
    result = watch_replay(
        talk_history(seconds=20),
        console=console,
        options=DashboardOptions(),
        speed=4,
        sleep=sleeps.append,
    )
    text = out.getvalue()
    # 0.5 s between frames, slept in slices short enough for `q` to answer at once
    assert result.frames == 10 and sum(sleeps) == pytest.approx(4.5)
    assert max(sleeps) <= KEY_POLL_S
    assert text.count("\x1b[?1049h") == 1 and text.count("\x1b[?1049l") == 1  # enter/leave once
    assert text.count("VIRTUAL COMMUTERS") == 10  # one full frame per snapshot, in place


def test_q_ends_a_replay_on_a_terminal_at_once(tmp_path: Path) -> None:
    # A 6-minute recording at --speed 1 on a real pty: `q` ends it, as it ends the show, and
    # the terminal is left as it was (alternate screen left, cbreak undone).
    path = tmp_path / "talk.jsonl"
    with Recorder(path) as recorder:
        for snapshot in talk_history():
            recorder.write(snapshot)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    before = termios.tcgetattr(slave)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env.update(TERM="xterm-256color")
    for name in ("COLUMNS", "LINES", "NO_COLOR"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", "watch", "--replay", str(path), "--speed", "1"],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
        preexec_fn=as_from_a_terminal,
    )  # fmt: skip
    output = bytearray()

    def read_some() -> bytes:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            with contextlib.suppress(OSError):  # EIO: the child closed the terminal
                output.extend(os.read(master, 65536))
        return bytes(output)

    try:
        wait_until("the replay to draw a frame", lambda: b"EVENTS" in read_some(), 60)
        os.write(master, b"q")
        pressed = time.monotonic()
        wait_until("the replay to end after q", lambda: read_some() and proc.poll() is not None, 10)
        took = time.monotonic() - pressed
        read_some()
        after = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)
    text = ANSI.sub("", output.decode("utf-8", errors="replace"))
    assert proc.returncode == 0, text
    assert took < 3, took
    assert b"\x1b[?1049l" in output  # the alternate screen is left
    replayed = re.search(r"replayed (\d+) snapshots", text)
    assert replayed is not None and 1 <= int(replayed.group(1)) < len(talk_history()), text
    assert after[3] == before[3]  # echo and canonical mode are back
