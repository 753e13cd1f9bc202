"""Finding k6, naming its files, reading its series, and the show's clock — no k6 process here."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from rich.console import Console

from tubedemo.core.config import config_from_dict
from tubedemo.core.errors import ExternalToolError
from tubedemo.core.timeline import build_schedule
from tubedemo.talk import k6 as k6_module
from tubedemo.talk.k6 import K6Files, K6Result, child_environment, locate_k6
from tubedemo.talk.load_stats import LoadStats
from tubedemo.talk.show import ShowState, TalkClock, render_load, render_show
from tubedemo.talk.show_board import k6_state
from tubedemo.telemetry.k6_points import SeriesTail, parse_point


def test_the_pinned_wheel_provides_k6_by_default() -> None:
    found = locate_k6()
    assert found.is_file() and os.access(found, os.X_OK)
    assert found.name == "k6"


def test_configured_binary_wins_and_must_exist(tmp_path: Path) -> None:
    fake = tmp_path / "my-k6"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert locate_k6(str(fake)) == fake
    with pytest.raises(ExternalToolError, match=r"k6.binary .* not found"):
        locate_k6(str(tmp_path / "missing"))


def test_configured_binary_must_be_executable(tmp_path: Path) -> None:
    plain = tmp_path / "k6"
    plain.write_text("", encoding="utf-8")
    plain.chmod(0o644)
    with pytest.raises(ExternalToolError, match="not executable"):
        locate_k6(str(plain))


def test_without_wheel_or_path_k6_is_reported_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(k6_module, "_wheel_binary", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExternalToolError, match=r"k6 not found: .*PATH.*k6.binary"):
        locate_k6()


def test_k6_does_not_inherit_settings_that_would_change_the_run_behind_our_back() -> None:
    env = child_environment(
        {"PATH": "/bin", "TUBEDEMO_PROMPTS_FILE": "/tmp/x", "K6_VUS": "50", "K6_NO_COLOR": "1"},
        {"TUBEDEMO_BASE_URL": "http://127.0.0.1:1"},
    )
    assert env == {"PATH": "/bin", "K6_NO_COLOR": "1", "TUBEDEMO_BASE_URL": "http://127.0.0.1:1"}


def test_k6_files_sit_beside_the_recording() -> None:
    files = K6Files.beside(Path("out/talk.jsonl"))
    assert files.series == Path("out/talk.k6.json")
    assert files.summary == Path("out/talk.k6-summary.json")
    assert K6Files.beside(Path("out/talk.jsonl"), "2").series == Path("out/talk.k6-2.json")


def test_headline_reads_the_summary() -> None:
    result = K6Result(
        0,
        K6Files.beside(Path("x.jsonl")),
        {
            "metrics": {
                "http_reqs": {"values": {"count": 12}},
                "tubedemo_failed": {"values": {"rate": 0.25}},
                "tubedemo_ttfb": {"values": {"med": 51.2, "p(95)": 80.9}},
                "tubedemo_tokens": {"values": {"count": 48}},
            }
        },
    )
    assert result.headline() == (
        "12 requests, failed 25.0%, refused 0, TTFB p50 51ms p95 81ms, tokens 48"
    )
    # a --speed 10 rehearsal: k6 timed 51 wall ms, which is 0.51 s of the talk, and says so
    assert result.headline(10) == (
        "12 requests, failed 25.0%, refused 0, TTFB p50 0.51s p95 0.81s talk time (x10), tokens 48"
    )


POINT = (
    '{"metric":"tubedemo_ttfb","type":"Point","data":{"time":"2026-11-27T08:06:01.5Z",'
    '"value":51.5,"tags":{"name":"chat"}}}'
)


def test_series_points_parse_and_feed_the_load_figures() -> None:
    point = parse_point(POINT)
    assert point is not None and point.value == 51.5 and point.tags == {"name": "chat"}
    assert parse_point('{"type":"Metric","data":{}}') is None
    assert parse_point("not json") is None
    stats = LoadStats()
    stats.add(point)
    assert stats.ttfb_percentile(50) == 51.5
    assert stats.failed_rate is None
    for value in ("1", "0", "0", "0"):
        failed = POINT.replace("tubedemo_ttfb", "tubedemo_failed").replace("51.5", value)
        stats.add(parse_point(failed))  # type: ignore[arg-type]
    assert stats.failed_rate == 0.25


def test_request_rate_counts_chat_requests_in_the_last_window() -> None:
    stats = LoadStats()
    chat = POINT.replace("tubedemo_ttfb", "http_reqs").replace("51.5", "1")
    survey = chat.replace('"name":"chat"', '"name":"config"')
    for line in (chat, chat, survey):
        stats.add(parse_point(line))  # type: ignore[arg-type]
    at = parse_point(chat).time  # type: ignore[union-attr]
    assert stats.requests == 2
    assert stats.requests_per_s(at + 1, window=10) == 0.2
    assert stats.requests_per_s(at + 20, window=10) == 0


def test_a_rehearsals_k6_panels_are_on_the_talk_clock() -> None:
    # At --speed 10, 2 requests in 10 wall seconds are 2 in 100 talk seconds, and a 51.5 ms
    # first byte is 515 ms of the talk: the rates and latencies beside them are talk time.
    stats = LoadStats()
    chat = POINT.replace("tubedemo_ttfb", "http_reqs").replace("51.5", "1")
    for line in (chat, chat, POINT):
        stats.add(parse_point(line))  # type: ignore[arg-type]
    at = parse_point(chat).time  # type: ignore[union-attr]
    assert k6_state(stats, True, at + 1, world_speed=10).requests_per_s == pytest.approx(0.02)
    assert k6_state(stats, True, at + 1).requests_per_s == pytest.approx(0.2)
    console = Console(file=io.StringIO(), width=60, color_system=None)
    console.print(render_load(stats, speed=10))
    panel = console.file.getvalue()  # type: ignore[attr-defined]
    assert "TTFB p50/p95 (talk)" in panel and "515 / 515 ms" in panel


def test_series_tail_keeps_a_partial_line_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(POINT + "\n" + POINT[:30], encoding="utf-8")
    tail = SeriesTail(path)
    assert len(tail.read()) == 1
    with path.open("a", encoding="utf-8") as fh:
        fh.write(POINT[30:] + "\n")
    assert len(tail.read()) == 1
    assert tail.read() == []


class FakeTime:
    """A hand-driven monotonic clock (test double for time.monotonic)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_talk_clock_runs_at_speed_holds_while_paused_and_jumps() -> None:
    now = FakeTime()
    clock = TalkClock(60, 10, now)
    now.t += 2
    assert clock.talk() == 80
    clock.pause()
    now.t += 5
    assert clock.talk() == 80
    clock.resume()
    now.t += 1
    assert clock.talk() == 90
    clock.jump(300)
    now.t += 1
    assert clock.talk() == 310


def test_show_screen_has_clock_cue_and_a_slot_for_the_dashboard() -> None:
    cfg = config_from_dict({})
    state = ShowState(title="Mind the Queue", talk_time=125, end_at=1800, speed=1)
    state.phase, state.cue, state.mode = "audience joins", "Everyone asks now", "quiz"
    state.upcoming = list(build_schedule(cfg.timeline, 1800, start_at=125).events[1:])
    console = Console(record=True, width=100)
    console.print(render_show(state, dashboard="DASHBOARD SLOT"))
    text = console.export_text()
    assert "02:05 / 30:00" in text and "Everyone asks now" in text
    assert "DASHBOARD SLOT" in text and "q quit" in text and "steady" in text


def test_the_audience_url_stays_on_the_presenters_screen_at_80_columns() -> None:
    # a rehearsal prints it before the screen is taken; the screen itself must show it
    state = ShowState(
        title="Mind the Queue", talk_time=0, end_at=1800, speed=10,
        audience_url="http://192.168.1.23:8080",
    )  # fmt: skip
    console = Console(record=True, width=80)
    console.print(render_show(state))
    assert "phones: http://192.168.1.23:8080/" in console.export_text()


class NoKeys:
    def poll(self) -> str | None:
        return None


def test_show_loop_runs_on_the_injected_clock_and_sleep_without_waiting() -> None:
    from tubedemo.talk.modes import NoModeSwitcher
    from tubedemo.talk.show import TICK, Show, ShowOptions

    cfg = config_from_dict(
        {
            "talk": {"duration": "2m"},
            "timeline": {"phases": [{"name": "warm-up", "at": "0s", "duration": "1m", "vus": 1}]},
        }
    )
    now = FakeTime()
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the show's pace, on the fake clock
        slept.append(seconds)
        now.t += seconds

    show = Show(
        cfg, ShowOptions(speed=4.0), NoModeSwitcher(), console=Console(file=io.StringIO()),
        now=now, sleep=sleep,
    )  # fmt: skip
    show.clock.restart()
    redraws: list[float] = []
    show._loop(NoKeys(), lambda: redraws.append(now.t))
    # 120 talk seconds at x4 is 30 s of (fake) wall time, paced in TICK steps; redraws 4/s.
    assert sum(slept) == pytest.approx(30.0, abs=2 * TICK)
    assert set(slept) == {TICK}
    assert 100 <= len(redraws) <= 125
    assert show.state.log[-1].endswith("end of the talk")


def test_rehearsal_speed_divides_the_think_time_so_vus_ask_as_often_in_talk_time() -> None:
    from tubedemo.core.config import K6Config
    from tubedemo.talk.k6 import load_environment

    cfg = K6Config(think_time=1.0)
    env = load_environment(
        cfg, answer_timeout=120, base_url="http://x", model="m", scenarios={}, speed=10
    )
    assert env["TUBEDEMO_THINK_TIME"] == "0.1"
    env = load_environment(cfg, answer_timeout=120, base_url="http://x", model="m", scenarios={})
    assert env["TUBEDEMO_THINK_TIME"] == "1"


def test_the_cli_derives_the_load_credential_the_gateway_accepts() -> None:
    from gateway.identity import IdentityKeys, load_token

    for admin in ("tubedemo-local", "s3cr3t-admin-token-0123456789", "ü-non-ascii"):
        credential = k6_module.load_credential(admin)
        assert credential == load_token(admin)
        assert IdentityKeys(admin).is_load(f"Bearer {credential}")
        assert admin not in credential  # it does not give the admin token away


def test_k6_gets_the_load_credential_and_no_client_ids() -> None:
    cfg = config_from_dict({})
    env = k6_module.load_environment(
        cfg.k6, answer_timeout=120, base_url="http://x", model="m", scenarios={}, admin_token="t"
    )
    assert env["TUBEDEMO_LOAD_TOKEN"] == k6_module.load_credential("t")
    assert "TUBEDEMO_CLIENT_ID" not in env


def test_an_old_demo_yaml_with_k6_client_id_says_to_delete_the_line() -> None:
    from tubedemo.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"k6\.client_id: k6 no longer .*; delete the line"):
        config_from_dict({"k6": {"client_id": "iteration"}})
