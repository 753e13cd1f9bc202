"""The show's live board, one wiring for `show` and `rehearse`: the talk's place from the show's
clock, snapshot times (rates, cost) from the clock of the system being measured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tubedemo.core.config import DemoConfig
from tubedemo.talk.modes import NoModeSwitcher
from tubedemo.talk.show import Show, ShowOptions
from tubedemo.talk.show_board import board_period, show_board
from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed
from tubedemo.telemetry.recording import read_recording

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_a_paused_or_skipped_show_moves_the_boards_talk_clock_but_not_its_time(
    tmp_path: Path,
) -> None:
    cfg = DemoConfig()
    wall = [0.0]  # monotonic seconds, driven by the test
    show = Show(
        cfg,
        ShowOptions(speed=10, recording=tmp_path / "rehearse.jsonl"),
        NoModeSwitcher(),
        now=lambda: wall[0],
    )
    board = show_board(
        show,
        kube=None,
        metrics=HttpMetricsFeed(timeout=1.0),
        gateway=HttpGatewayFeed("http://127.0.0.1:9", timeout=1.0),  # nothing listens: stale
        world_speed=10,  # a rehearsal: the fleet's world runs at --speed
        world_start=START,
        monotonic=lambda: wall[0],
    )
    assert show.board is board
    with board:
        first = board.step()
        wall[0] = 6.0
        show.clock.pause()  # 60 s into the talk
        wall[0] = 12.0
        paused = board.step()
        skip_to = cfg.timeline.phases[2].at
        show.clock.jump(skip_to)
        skipped = board.step()
    assert first is not None and paused is not None and skipped is not None
    assert first.time == START and first.talk.elapsed_s == 0
    # the fleet kept running at x10 while the presenter paused: 12 wall s are 120 s of it
    assert paused.time == START + timedelta(seconds=120)
    assert paused.talk.elapsed_s == pytest.approx(60.0)
    assert skipped.talk.elapsed_s == skip_to
    assert skipped.talk.phase == cfg.timeline.phases[2].name
    assert len(read_recording(tmp_path / "rehearse.jsonl").snapshots) == 3


def test_a_sped_up_board_ticks_at_most_every_quarter_second_a_stage_board_at_its_tick() -> None:
    assert board_period(1.0, 1) == 1.0  # on stage: the configured tick
    assert board_period(0.1, 1) == 0.1  # a fast configured tick stands
    assert board_period(1.0, 10) == 0.25  # a x10 rehearsal at a 1 s tick: floored
    assert board_period(5.0, 10) == 0.5
