"""The post-talk report: numbers from a recording, PNG charts, one self-contained HTML page."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.talk_samples import talk_history
from tubedemo.screen.report import k6_files_beside, k6_series, series, summarize, write_report
from tubedemo.telemetry.recording import Recorder

HISTORY = talk_history()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "talk.jsonl"
    with Recorder(path) as recorder:
        for snapshot in HISTORY:
            recorder.write(snapshot)
    return path


def test_summary_has_the_talks_key_numbers() -> None:
    sm = summarize(HISTORY)
    assert sm.peak_queue == 20 and sm.peak_commuters == 1000
    assert (sm.max_replicas_desired, sm.max_replicas_ready) == (5, 5)
    # queue first > 0 at 72 s; second replica ready at 232 s (node 48 s + 95 s cold start)
    assert sm.first_queue_to_new_replica_s == pytest.approx(160.0)
    assert sorted(sm.node_launch_s) == [48.0, 51.0, 54.0, 57.0]
    assert (min(sm.pod_startup_s), max(sm.pod_startup_s)) == (95.0, 110.0)
    assert sm.total_cost == HISTORY[-1].cost.total > 0


def test_series_marks_phases_and_mode_flips() -> None:
    s = series(HISTORY)
    assert [name for _, _, name in s.phases] == ["warm-up", "audience joins", "steady", "survey"]
    assert s.mode_flips == [(5.0, "survey")]
    assert s.t[0] == 0.0 and len(s.t) == len(HISTORY)


def test_a_queue_that_never_formed_has_no_scaling_delay() -> None:
    calm = [
        s.model_copy(update={"queue": s.queue.model_copy(update={"waiting": 0})}) for s in HISTORY
    ]
    sm = summarize(calm)
    assert sm.peak_queue == 0 and sm.first_queue_to_new_replica_s is None


def test_report_writes_pngs_and_one_self_contained_page(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    files = write_report(recording, out)
    names = {p.name for p in files.charts}
    assert {"overview.png", "queue.png", "replicas.png", "latency.png", "cost.png"} <= names
    for chart in files.charts:
        assert chart.read_bytes().startswith(PNG)
    page = files.html.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(files.charts)
    assert all(base64.b64decode(i).startswith(PNG) for i in images)
    assert 'src="http' not in page and "<link" not in page  # nothing fetched when opened
    for label in (
        "Peak queue",
        "Max replicas",
        "First queue → first new replica ready",
        "GPU node launch",
        "Total GPU cost",
        "Scaling 1 → 5",
    ):
        assert label in page


K6_SCRIPT = """
import http from "k6/http";
import { Trend, Rate } from "k6/metrics";
const ttft = new Trend("tubedemo_ttft", true);
const failed = new Rate("tubedemo_failed");
import { sleep } from "k6";
export const options = { vus: 2, iterations: 40 };
export default function () {
  const r = http.get(__ENV.TARGET);
  ttft.add(r.timings.waiting);
  failed.add(r.status !== 200);
  sleep(0.05);
}
"""


def test_k6_json_beside_the_recording_adds_the_audience_view(tmp_path: Path) -> None:
    from datetime import timedelta

    from prometheus_client import start_http_server

    server, _ = start_http_server(0, addr="127.0.0.1")
    script = tmp_path / "probe.js"
    script.write_text(K6_SCRIPT, encoding="utf-8")
    recording = tmp_path / "talk.jsonl"
    k6_out = tmp_path / "talk.k6.json"
    k6 = Path(sys.executable).parent / "k6"
    began = datetime.now(UTC)
    try:
        done = subprocess.run(
            [
                str(k6),
                "run",
                "--quiet",
                "--no-usage-report",
                "--out",
                f"json={k6_out}",
                "-e",
                f"TARGET=http://127.0.0.1:{server.server_port}/metrics",
                str(script),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-2000:]
    # the talk as the recorder saw it on the same clock: k6 ran 90 s into the talk
    shift = began - timedelta(seconds=90) - HISTORY[0].time
    with Recorder(recording) as recorder:
        for snapshot in HISTORY:
            recorder.write(snapshot.model_copy(update={"time": snapshot.time + shift}))
    assert k6_files_beside(recording) == [k6_out]

    lines = k6_out.read_text().splitlines()
    parsed = k6_series(lines, start=began - timedelta(seconds=90))
    assert parsed is not None and parsed.requests == 40 and parsed.failed == 0
    assert parsed.ttft_p95_all_s is not None and parsed.ttft_p95_all_s < 5
    assert all(1.4 <= minute <= 1.9 for minute in parsed.t)  # on the talk's minute axis

    files = write_report(recording, tmp_path / "with-k6")
    assert "k6.png" in {p.name for p in files.charts}
    assert "k6 requests" in files.html.read_text(encoding="utf-8")


def test_report_of_a_missing_recording_is_one_line_and_exit_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo", "report", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 8
    assert done.stderr.strip().startswith("error:") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_smoothing_averages_finite_values_within_the_window_only() -> None:
    from tubedemo.screen.report import smooth

    t = [i / 60 for i in range(6)]  # one sample per second, in minutes
    values = [0.0, 10.0, float("nan"), 20.0, 0.0, 0.0]
    out = smooth(t, values, seconds=2.0)  # the sample itself and one either side
    assert out[1] == pytest.approx(5.0) and out[2] == pytest.approx(15.0)
    assert out[3] == pytest.approx(10.0)


def test_a_lone_request_waiting_during_the_warm_up_is_not_the_queue_that_scaled() -> None:
    blip = [
        s.model_copy(update={"queue": s.queue.model_copy(update={"waiting": 1})})
        if 10 <= s.talk.elapsed_s < 14
        else s
        for s in HISTORY
    ]
    assert summarize(blip).first_queue_to_new_replica_s == pytest.approx(160.0)


def test_many_node_launches_are_summarised() -> None:
    from tubedemo.screen.report import _times

    assert _times([45.0, 41.0], "nodes", "none") == "45 s, 41 s"
    assert _times([40.0, 45.0, 45.0, 50.0, 60.0], "nodes", "none") == (
        "5 nodes: min 40 s, median 45 s, max 60 s"
    )


def test_k6_first_byte_of_a_rehearsal_is_scaled_to_talk_seconds_by_its_speed() -> None:
    # k6 measures wall time; at --speed 10 a 0.4 s first byte is 4 s of the talk, the unit of
    # the recording's vLLM TTFT beside it in the report.
    start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    lines = [
        json.dumps(
            {
                "type": "Point",
                "metric": "tubedemo_ttfb",
                "data": {"time": (start + timedelta(seconds=i)).isoformat(), "value": 400.0},
            }
        )
        for i in range(5)
    ]
    wall = k6_series(lines, start=start)
    talk = k6_series(lines, start=start, speed=10)
    assert wall is not None and talk is not None
    assert wall.ttft_p50_all_s == pytest.approx(0.4)
    assert talk.ttft_p50_all_s == pytest.approx(4.0)
