"""The vLLM stand-in (one simulated replica) as a process and as a model on a fake clock.

The image tests (tests/images/) run the same module inside the built image with the rendered
Deployment's args; these run it straight from the checkout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tubedemo.rehearsal.standin import Replica, build_config


def _gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


@contextmanager
def _standin(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo.rehearsal.standin", "--host=127.0.0.1", "--port=0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), (line, proc.stderr.read() if proc.stderr else "")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_standin_process_answers_models_a_streamed_completion_and_vllm_metrics() -> None:
    with (
        _standin("--served-model-name=tube-8b", "--max-num-seqs=2", "--speed=20") as url,
        httpx.Client(base_url=url, timeout=20, trust_env=False) as http,
    ):
        models = http.get("/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["tube-8b"]
        assert http.get("/health").status_code == 200
        body = {
            "model": "tube-8b",
            "messages": [{"role": "user", "content": "Which line is the oldest?"}],
            "stream": True,
            "max_tokens": 6,
        }
        chunks = []
        with http.stream("POST", "/v1/chat/completions", json=body) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    chunks.append(line[6:])
        assert chunks[-1] == "[DONE]"
        parsed = [json.loads(c) for c in chunks[:-1]]
        assert parsed[0]["choices"][0]["delta"]["role"] == "assistant"
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in parsed)
        assert len(text.split()) == 6
        assert parsed[-1]["choices"][0]["finish_reason"] == "length"
        metrics = http.get("/metrics").text
        assert _gauge(metrics, "vllm:num_requests_waiting") == 0
        assert _gauge(metrics, "vllm:time_to_first_token_seconds_count") == 1
        assert _gauge(metrics, "vllm:generation_tokens_total") == 6
        assert 'model_name="tube-8b"' in metrics


def test_standin_rejects_the_wrong_model_with_vllms_404() -> None:
    with _standin() as url:
        resp = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
            trust_env=False,
        )
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "The model `gpt-4` does not exist."


def test_standin_exits_2_on_a_flag_it_does_not_know_like_vllm() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo.rehearsal.standin", "--shutdown-timeout=30"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --shutdown-timeout=30" in done.stderr


def test_standin_names_the_flag_of_a_bad_value_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo.rehearsal.standin", "--max-num-seqs=0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --max-num-seqs: Input should be greater than or equal to 1"
    ]


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_requests_beyond_max_num_seqs_wait_and_show_in_num_requests_waiting() -> None:
    clock = _Clock()
    replica = Replica(build_config("m", 8000, max_num_seqs=2), clock)
    requests = [replica.submit(prompt_tokens=100, max_tokens=50) for _ in range(5)]
    clock.t += 0.2  # a few engine steps: the first two are admitted, the rest queue
    replica.advance()
    text = replica.metrics.text().decode()
    assert _gauge(text, "vllm:num_requests_waiting") == 3
    assert _gauge(text, "vllm:num_requests_running") == 2
    assert _gauge(text, "vllm:kv_cache_usage_perc") > 0
    clock.t += 60
    replica.advance()
    assert all(r.status == "done" for r in requests)
    text = replica.metrics.text().decode()
    assert _gauge(text, "vllm:num_requests_waiting") == 0
    assert _gauge(text, "vllm:time_to_first_token_seconds_count") == 5
    assert _gauge(text, "vllm:e2e_request_latency_seconds_count") == 5
    assert _gauge(text, "vllm:kv_cache_usage_perc") == 0


def test_an_aborted_request_frees_its_slot_for_the_next_one() -> None:
    clock = _Clock()
    replica = Replica(build_config("m", 8000, max_num_seqs=1), clock)
    first = replica.submit(prompt_tokens=100, max_tokens=50)
    second = replica.submit(prompt_tokens=100, max_tokens=50)
    assert second.status == "waiting"
    replica.abort(first)
    clock.t += 0.5
    replica.advance()
    assert first.status == "aborted"
    assert second.status == "running"  # admitted; its 50 tokens take longer than 0.5 s
