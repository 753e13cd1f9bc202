"""The fleet simulator over real HTTP on loopback: OpenAI API, vLLM metrics, cluster state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.rehearsal import server as fleet_server

# Real-time pace (first byte within 1 s, replicas Ready within the burst): run alone, not
# beside the parallel pass (make test).
pytestmark = pytest.mark.wallclock


class Running:
    """The real server (uvicorn on an ephemeral loopback port) in a thread with its own loop."""

    def __init__(self, config: DemoConfig, speed: float) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, args=(config, speed), daemon=True)

    def _run(self, config: DemoConfig, speed: float) -> None:
        asyncio.set_event_loop(self._loop)

        def listening(port: int) -> None:
            self.port = port
            self._ready.set()

        serving = fleet_server.serve(config, speed=speed, on_listening=listening)
        self._task = self._loop.create_task(serving)
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    def __enter__(self) -> Running:
        self._thread.start()
        assert self._ready.wait(10), "fleet server did not start"
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)


def quick(scale_down_window: str = "0s", **twin: Any) -> DemoConfig:
    """Fast cold starts and short windows, so a test sees replicas come and go in seconds."""
    return config_from_dict(
        {
            "model": {"max_num_seqs": 2},
            "scaling": {
                "target": 2,  # one replica per two requests in flight (its two slots)
                "scale_down": {
                    "stabilization": scale_down_window,
                    "policies": [{"type": "Percent", "value": 100, "period": "15s"}],
                },
            },
            "gpu_pool": {"consolidate_after": "5s"},
            "twin": {
                "startup": {"node_launch": "4s", "image_pull": "0s", "model_load": "4s"},
                **twin,
            },
        }
    )


@pytest.fixture
def fleet() -> Iterator[Running]:
    with Running(quick(), speed=20.0) as running:
        yield running


def chat(url: str, **body: Any) -> httpx.Response:
    payload = {"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "Which line?"}]}
    payload.update(body)
    return httpx.post(f"{url}/v1/chat/completions", json=payload, timeout=60)


def metrics(url: str, pod: str = "vllm-1") -> dict[str, float]:
    text = httpx.get(f"{url}/pods/{pod}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.labels.get("model_name") == "llama-3.1-8b"
            assert sample.labels.get("engine") == "0"
            key = sample.name
            if "le" in sample.labels or "finished_reason" in sample.labels:
                continue
            out[key] = out.get(key, 0.0) + sample.value
    return out


def test_models_lists_the_served_model(fleet: Running) -> None:
    answer = httpx.get(f"{fleet.url}/v1/models", timeout=10).json()
    assert [m["id"] for m in answer["data"]] == ["llama-3.1-8b"]


def test_non_streaming_answer_respects_max_tokens_and_reports_usage(fleet: Running) -> None:
    response = chat(fleet.url, max_tokens=7)
    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 7
    assert len(body["choices"][0]["message"]["content"].split()) == 7


def test_stream_delivers_tokens_at_the_engine_models_pace() -> None:
    with Running(quick(), speed=1.0) as running:
        stamps: list[float] = []
        started = time.monotonic()
        payload = {
            "messages": [{"role": "user", "content": "Tell me about Bank station"}],
            "stream": True,
            "max_tokens": 40,
        }
        with httpx.stream(
            "POST", f"{running.url}/v1/chat/completions", json=payload, timeout=60
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in response.iter_lines():
                if line.startswith("data: ") and '"content": "' in line and '""' not in line:
                    stamps.append(time.monotonic())
                lines.append(line)
        assert lines[-2:] == ["data: [DONE]", ""]  # the last event, and the blank line ending it
        assert len(stamps) == 40
        # 39 decode steps of ~30.7 ms each at one running sequence: ~1.2 s of streaming.
        spread = stamps[-1] - stamps[0]
        assert 0.9 < spread < 3.0
        assert stamps[0] - started < 1.0


def test_replica_metrics_use_vllms_names_and_count_the_work(fleet: Running) -> None:
    before = metrics(fleet.url)
    answer = chat(fleet.url, max_tokens=12).json()
    after = metrics(fleet.url)
    for name in (
        "vllm:num_requests_waiting",
        "vllm:num_requests_running",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_count",
        "vllm:e2e_request_latency_seconds_count",
    ):
        assert name in after, name
    gained = after["vllm:generation_tokens_total"] - before.get("vllm:generation_tokens_total", 0)
    assert gained == answer["usage"]["completion_tokens"]
    assert (
        after["vllm:time_to_first_token_seconds_count"]
        == before.get("vllm:time_to_first_token_seconds_count", 0) + 1
    )


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b'{"messages": []}', 400), (b'{"messages": [1]}', 400)],
)
def test_malformed_chat_requests_get_a_400(fleet: Running, content: bytes, status: int) -> None:
    response = httpx.post(f"{fleet.url}/v1/chat/completions", content=content, timeout=10)
    assert response.status_code == status
    assert "message" in response.json()["error"]


def test_unknown_model_and_unknown_pod_are_404(fleet: Running) -> None:
    assert chat(fleet.url, model="gpt-5").status_code == 404
    assert httpx.get(f"{fleet.url}/pods/vllm-99/metrics", timeout=10).status_code == 404


def test_client_going_away_frees_the_slot(fleet: Running) -> None:
    payload = {
        "messages": [{"role": "user", "content": "long"}],
        "stream": True,
        "max_tokens": 4000,
    }
    with httpx.stream(
        "POST", f"{fleet.url}/v1/chat/completions", json=payload, timeout=60
    ) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i > 4:
                break
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if metrics(fleet.url)["vllm:num_requests_running"] == 0:
            break
        time.sleep(0.05)
    assert metrics(fleet.url)["vllm:num_requests_running"] == 0


def test_burst_scales_replicas_up_routes_to_them_and_scales_back_down(fleet: Running) -> None:
    def state() -> dict[str, Any]:
        return httpx.get(f"{fleet.url}/twin/state", timeout=10).json()

    def ask(_: int) -> int:
        return chat(fleet.url, max_tokens=150).status_code

    most_ready = 1
    seen_targets: set[str] = set()
    with ThreadPoolExecutor(max_workers=24) as pool:
        burst = [pool.submit(ask, i) for i in range(48)]
        deadline = time.monotonic() + 30
        went_up = False
        while time.monotonic() < deadline:
            snap = state()
            most_ready = max(most_ready, snap["replicas"]["ready"])
            seen_targets |= {t["name"] for t in snap["targets"]}
            went_up = went_up or snap["replicas"]["ready"] > 1
            calm = all(f.done() for f in burst)
            back = snap["replicas"]["desired"] == 1 and snap["replicas"]["ready"] == 1
            if calm and went_up and back:
                break
            time.sleep(0.1)
        assert {f.result() for f in burst} == {200}
    final = state()
    assert most_ready > 1
    assert len(seen_targets) > 1
    assert final["replicas"]["desired"] == 1
    assert any(e["kind"] == "scale" for e in final["events"])
    assert final["nodes"]["nodes"] and final["cost"]["total"] > 0
    for target in final["targets"]:
        assert target["url"].startswith(fleet.url)


def test_requests_spread_round_robin_over_ready_replicas() -> None:
    with Running(quick(scale_down_window="10m"), speed=20.0) as fleet:
        spread_over_replicas(fleet)


def spread_over_replicas(fleet: Running) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: chat(fleet.url, max_tokens=100).status_code, range(24)))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        snap = httpx.get(f"{fleet.url}/twin/state", timeout=10).json()
        if snap["replicas"]["ready"] >= 2:
            break
        time.sleep(0.1)
    names = [t["name"] for t in snap["targets"]]
    assert len(names) >= 2
    for _ in range(2 * len(names)):
        chat(fleet.url, max_tokens=2)
    counts = [metrics(fleet.url, n).get("vllm:e2e_request_latency_seconds_count", 0) for n in names]
    assert all(c >= 1 for c in counts), counts


def test_server_module_announces_its_port_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo.rehearsal.server", "--port", "0", "--speed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT ")
        port = int(line.split()[1])
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        os.kill(proc.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_speed_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo.rehearsal.server", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "speed" in done.stderr
    json.dumps(done.stderr)


def stream_lines(url: str, max_tokens: int) -> list[str]:
    payload = {"messages": [{"role": "user", "content": "Go"}], "stream": True}
    payload["max_tokens"] = max_tokens
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=payload, timeout=60) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


def test_replica_taken_away_finishes_short_answers_within_its_shutdown_timeout() -> None:
    # The only node gets a spot notice at 3 s (1.5 s wall, after the request is in): its pod
    # is deleted and drains (prestop + shutdown timeout inside the 2-minute notice), so the
    # answer in flight still completes.
    config = quick(startup={"spot_interruptions": ["3s"], "node_launch": "4s", "model_load": "4s"})
    with Running(config, speed=2.0) as running:
        lines = stream_lines(running.url, 120)
        assert lines[-1] == "data: [DONE]"
        snap = httpx.get(f"{running.url}/twin/state", timeout=10).json()
        assert any(e["kind"] == "spot_interruption" for e in snap["events"])


def test_replica_killed_mid_answer_ends_the_stream_without_done() -> None:
    config = config_from_dict(
        {
            "model": {"shutdown_timeout": "60s", "prestop_sleep": "0s"},
            "twin": {
                "engine": {"output_tokens": 3000},
                "startup": {
                    "spot_interruptions": ["3s"],
                    "spot_notice": "3s",
                    "node_launch": "4s",
                    "image_pull": "0s",
                    "model_load": "4s",
                },
            },
        }
    )
    with Running(config, speed=2.0) as running:
        lines = stream_lines(running.url, 4000)
        assert "data: [DONE]" not in lines
        assert 1 < len(lines) < 4000
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snap = httpx.get(f"{running.url}/twin/state", timeout=10).json()
            if snap["replicas"]["ready"] >= 1 and snap["targets"][0]["name"] != "vllm-1":
                break
            time.sleep(0.1)
        assert snap["targets"] and snap["targets"][0]["name"] != "vllm-1"
        assert chat(running.url, max_tokens=3).status_code == 200


def first_and_last_byte(url: str, max_tokens: int, started: float) -> tuple[float, float, str]:
    """Wall seconds from ``started`` to the stream's first body byte and its last; first line."""
    payload = {"messages": [{"role": "user", "content": "Go"}], "stream": True}
    payload["max_tokens"] = max_tokens
    first: float | None = None
    head = b""
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=payload, timeout=60) as response:
        assert response.status_code == 200
        for piece in response.iter_raw():
            if first is None and piece:
                first = time.monotonic() - started
            head = head or piece
    assert first is not None
    return first, time.monotonic() - started, head.decode().split("\n")[0]


def test_request_queued_behind_a_full_engine_gets_its_first_byte_only_when_scheduled() -> None:
    # One sequence slot: B waits in vLLM's queue until A's 100 tokens (~3 s) are done. vLLM sends
    # nothing (not even the role chunk) before the engine's first output, so B's first byte comes
    # after A's last, and it carries the role.
    config = config_from_dict(
        {"model": {"max_num_seqs": 1}, "twin": {"hpa": {"sync_period": "600s"}}}
    )
    with Running(config, speed=1.0) as running:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:
            a = pool.submit(first_and_last_byte, running.url, 100, started)
            time.sleep(0.3)
            b = pool.submit(first_and_last_byte, running.url, 5, started)
            a_first, a_last, _ = a.result()
            b_first, _, b_head = b.result()
    assert a_first < 1.0
    assert b_first >= a_last - 0.1, (a_last, b_first)
    assert '"role": "assistant"' in b_head
