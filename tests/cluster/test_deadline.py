"""The GPU deadline's program (gateway.deadline) and the CLI's side of it (cluster.deadline):
the pure decisions. The program run for real against the API server, with the rendered
ServiceAccount: tests/cluster/test_deadline_job.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.deadline import DeadlineError, due, parse_deadline
from tubedemo.cluster.deadline import LiveDeadline, describe, for_up
from tubedemo.core.config import config_from_dict

NOW = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)


def test_the_deadline_reads_as_the_render_writes_it_and_a_placeholder_is_refused() -> None:
    assert parse_deadline("2026-12-08T19:15:00Z") == datetime(2026, 12, 8, 19, 15, tzinfo=UTC)
    assert due(parse_deadline("2026-12-08T18:00:00Z"), NOW)
    assert not due(parse_deadline("2026-12-08T18:00:01Z"), NOW)
    with pytest.raises(DeadlineError, match="run `tubedemo up`"):
        parse_deadline("${GPU_DEADLINE}")


def test_up_keeps_a_deadline_still_ahead_else_counts_from_now() -> None:
    cfg = config_from_dict({})
    # nothing live: the talk ends talk.duration (30m) from now, the deadline an hour later
    assert for_up(cfg, None, NOW).gpu_deadline == NOW + timedelta(minutes=90)
    ahead = LiveDeadline(NOW + timedelta(hours=2), None)
    assert for_up(cfg, ahead, NOW).gpu_deadline == NOW + timedelta(hours=2)  # `show` set it
    passed = LiveDeadline(NOW - timedelta(minutes=1), None)
    assert for_up(cfg, passed, NOW).gpu_deadline == NOW + timedelta(minutes=90)
    reaped = LiveDeadline(NOW + timedelta(hours=2), "2026-12-08T17:00:00Z")
    assert for_up(cfg, reaped, NOW).gpu_deadline == NOW + timedelta(minutes=90)
    # an explicit end of the talk wins; so does the talk window
    explicit = config_from_dict({"talk": {"ends_at": "2026-12-09T10:00:00Z"}})
    assert for_up(explicit, ahead, NOW).gpu_deadline == datetime(2026, 12, 9, 11, tzinfo=UTC)
    window = config_from_dict({"talk": {"window_start": "2026-12-09T09:00:00Z"}})
    assert for_up(window, None, NOW).gpu_deadline == datetime(2026, 12, 9, 10, 30, tzinfo=UTC)


def test_status_says_when_the_cluster_removes_the_gpus_or_that_it_did() -> None:
    pool = "tubedemo-gpu"
    assert "none in the cluster" in describe(None, pool, NOW)
    assert describe(LiveDeadline(NOW + timedelta(minutes=75), None), pool, NOW) == (
        "GPU deadline: 2026-12-08 19:15 UTC (in 1h15m): then the cluster itself scales vLLM to 0 "
        "and removes NodePool tubedemo-gpu"
    )
    assert "has passed" in describe(LiveDeadline(NOW, None), pool, NOW)
    done = LiveDeadline(NOW, "2026-12-08T18:02:00Z")
    assert describe(done, pool, NOW) == (
        "GPU deadline: passed; the cluster removed NodePool tubedemo-gpu at 2026-12-08T18:02:00Z"
    )
