"""The live board: one seam from a snapshot source to history, recording, publishing and frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.talk_samples import talk_history
from tubedemo.screen.board import LiveBoard, history_length
from tubedemo.screen.dashboard import DashboardOptions
from tubedemo.telemetry.recording import Recorder, read_recording
from tubedemo.telemetry.snapshot import Snapshot

OPTIONS = DashboardOptions(history_s=60.0)


class Feed:
    """A feed the board owns: it must be closed exactly once when the board stops."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def samples() -> list[Snapshot]:
    return talk_history(seconds=40, step=2)


def test_step_keeps_records_and_publishes_each_snapshot(tmp_path: Path) -> None:
    source = iter(samples())
    published: list[Snapshot] = []
    feed = Feed()
    recording = tmp_path / "talk.jsonl"
    with LiveBoard(
        lambda: next(source),
        Recorder(recording),
        OPTIONS,
        period=2.0,
        publish=published.append,
        closing=[feed],
    ) as board:
        taken = [board.step() for _ in range(5)]
    assert list(board.history) == taken == published
    assert board.recorded == 5
    assert list(read_recording(recording).snapshots) == taken
    assert feed.closed == 1
    board.stop()  # idempotent: nothing is closed twice
    assert feed.closed == 1


def test_a_failing_source_is_noted_and_the_board_carries_on() -> None:
    good = iter(samples())
    calls = iter([True, False, True])

    def source() -> Snapshot:
        if next(calls):
            return next(good)
        raise ConnectionError("gateway went away")

    with LiveBoard(source, None, OPTIONS, period=1.0) as board:
        results = [board.step() for _ in range(3)]
    assert results[1] is None and results[0] is not None and results[2] is not None
    assert board.errors == ["ConnectionError: gateway went away"]
    assert len(board.history) == 2


def test_a_strict_board_raises_what_its_source_raised() -> None:
    def source() -> Snapshot:
        raise ValueError("broken feed")

    board = LiveBoard(source, None, OPTIONS, period=1.0, strict=True)
    with board, pytest.raises(ValueError, match="broken feed"):
        board.step()


def test_started_board_snapshots_on_its_thread_until_stopped(tmp_path: Path) -> None:
    snapshots = samples()
    count = 0

    def source() -> Snapshot:
        nonlocal count
        count += 1
        return snapshots[min(count, len(snapshots)) - 1]

    feed = Feed()
    board = LiveBoard(
        source, Recorder(tmp_path / "t.jsonl"), OPTIONS, period=0.02, closing=[feed]
    ).start()
    wait_until("three snapshots from the board's thread", lambda: len(board.history) >= 3)
    board.stop()
    after = count
    assert feed.closed == 1 and board.recorded == len(board.history) >= 3
    frame = board.renderable(120, 40)
    assert frame is not None
    wait_until("the thread to stay stopped", lambda: count == after, timeout=1.0)


def test_history_covers_the_graph_window_twice_and_never_under_16() -> None:
    assert history_length(300.0, 1.0) == 600
    assert history_length(300.0, 2.5) == 240
    assert history_length(10.0, 5.0) == 16
