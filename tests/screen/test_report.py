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
from tubedemo.screen.report import (
    k6_figures,
    k6_files_beside,
    k6_series,
    series,
    summarize,
    write_report,
)
from tubedemo.telemetry.k6_points import RunClock
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
    assert "startup.png" in names  # the pods reported their start-up milestones
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
    talk_zero = began - timedelta(seconds=90)
    parsed = k6_series([(lines, RunClock(talk_start=0.0, started_unix=talk_zero.timestamp()))])
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
    from tubedemo.screen.report.page import _times

    assert _times([45.0, 41.0], "nodes", "none") == "45 s, 41 s"
    assert _times([40.0, 45.0, 45.0, 50.0, 60.0], "nodes", "none") == (
        "5 nodes: min 40 s, median 45 s, max 60 s"
    )


def _k6_points(start: datetime, seconds: range, ttfb_ms: float) -> list[str]:
    """k6 --out json lines: one request and its first byte at each wall second after start."""
    lines = []
    for i in seconds:
        stamp = (start + timedelta(seconds=i)).isoformat()
        for metric, value in (("http_reqs", 1.0), ("tubedemo_ttfb", ttfb_ms)):
            point = {"type": "Point", "metric": metric, "data": {"time": stamp, "value": value}}
            lines.append(json.dumps(point))
    return lines


def test_k6_of_a_rehearsal_goes_on_the_talk_clock_its_runs_listing_gives(tmp_path: Path) -> None:
    # A --speed 10 rehearsal: k6 stamps and times in wall seconds. The show lists each run with
    # the talk second and unix time it started at and its speed; the report reads that list,
    # so 30 wall seconds from talk second 60 are talk seconds 60-360 and a 0.4 s first byte is
    # 4 s of the talk, the unit of the recording's vLLM TTFT beside it. No --speed flag.
    recording = tmp_path / "rehearse.jsonl"
    with Recorder(recording) as recorder:
        for snapshot in HISTORY:
            recorder.write(snapshot)
    began = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    (tmp_path / "rehearse.k6.json").write_text("\n".join(_k6_points(began, range(30), 400.0)))
    held = began + timedelta(seconds=40)  # paused at talk second 360: the clock stands still
    (tmp_path / "rehearse.k6-2.json").write_text("\n".join(_k6_points(held, range(5), 400.0)))
    runs = [
        {"kind": "timeline", "talk_start": 60.0, "speed": 10, "started_unix": began.timestamp(),
         "series": "rehearse.k6.json"},
        {"kind": "hold", "talk_start": 360.0, "speed": 10, "started_unix": held.timestamp(),
         "series": "rehearse.k6-2.json"},
    ]  # fmt: skip
    (tmp_path / "rehearse.k6.runs.json").write_text(json.dumps({"runs": runs}))

    k6 = write_report(recording, tmp_path / "report").k6
    assert k6 is not None and k6.requests == 35
    assert min(k6.t) == pytest.approx(1.0 + 5 / 3600 * 60)  # talk 60-70 s: minute 1.08
    assert max(k6.t) == pytest.approx(6.0 + 5 / 3600 * 60)  # talk 360-370 s, the held run too
    assert k6.ttft_p50_all_s == pytest.approx(4.0)
    assert k6.requests_per_s[0] == pytest.approx(1 / 10)  # one request per wall s = 10 talk s
    figures = k6_figures(k6)
    assert "first byte p50 4.00 s / p95 4.00 s" in figures and "35 requests" in figures


def test_k6_without_a_runs_listing_stays_on_the_wall_clock_from_the_recordings_start(
    recording: Path, tmp_path: Path
) -> None:
    # `watch --record` beside a k6 run by hand: no listing, so speed 1 and the talk's second 0
    # where the recording's first snapshot puts it.
    talk_zero = HISTORY[0].time - timedelta(seconds=HISTORY[0].talk.elapsed_s)
    k6_out = tmp_path / "talk.k6.json"
    k6_out.write_text("\n".join(_k6_points(talk_zero + timedelta(seconds=120), range(5), 400.0)))
    k6 = write_report(recording, tmp_path / "report").k6
    assert k6 is not None and k6.ttft_p50_all_s == pytest.approx(0.4)
    assert k6.t == [pytest.approx(2.0 + 5 / 60)]


def test_every_replica_that_started_gets_its_waterfall_as_last_seen() -> None:
    rows = summarize(HISTORY).startups
    assert [r.pod for r in rows] == ["vllm-1", "vllm-2", "vllm-3", "vllm-4"]
    first = rows[0]
    assert first.created_at_s == 90.0 and first.ready and not first.deleted
    # node 48 s, then container, weights, compile, Ready 95 s after the node (talk_samples)
    assert [(p.step, p.end) for p in first.segments] == [
        ("node_ready", 48.0),
        ("scheduled", 49.0),
        ("container_started", 63.0),
        ("weights_loaded", 100.0),
        ("compiled", 138.0),
        ("ready", 143.0),
    ]


def test_a_spot_interruption_is_a_summary_row_against_its_notice() -> None:
    from tubedemo.screen.report.page import _summary_rows
    from tubedemo.telemetry.snapshot import Interruption

    notice = Interruption(
        node="gpu-a",
        instance_type="g5.2xlarge",
        notice_s_ago=300,
        pods=1,
        drained_s=10.0,
        replaced_s=145.0,
        gone_s=120.0,
    )
    last = HISTORY[-1].model_copy(update={"interruptions": (notice,)})
    rows = dict(_summary_rows(summarize([*HISTORY[:-1], last]), None))
    assert rows["Spot interruption of gpu-a (g5.2xlarge)"] == (
        "120 s notice, 1 vLLM pod(s) on it; drained 10 s after, a replacement serving 145 s "
        "after (after the notice), the node gone 120 s after"
    )
