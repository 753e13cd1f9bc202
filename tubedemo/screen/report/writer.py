"""``write_report``: read a recording (and k6's series), then write the charts and the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tubedemo.core.errors import ReportError
from tubedemo.screen.report.data import (
    K6Series,
    Summary,
    k6_series,
    series,
    summarize,
)
from tubedemo.screen.report.page import page
from tubedemo.screen.report.plots import draw_charts
from tubedemo.telemetry.k6_points import RunClock, read_run_clocks, runs_manifest
from tubedemo.telemetry.recording import read_recording
from tubedemo.telemetry.snapshot import Snapshot


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    """The self-contained page (report.html)."""
    charts: tuple[Path, ...]
    """Every PNG, the overview first."""
    summary: Summary
    k6: K6Series | None = None
    """What the phones saw through k6, on the talk's clock; None without k6's series."""


def write_report(recording: Path, out_dir: Path, k6_json: Path | None = None) -> ReportFiles:
    """Read ``recording`` (and k6's series beside it, or ``k6_json``), write PNG charts and
    report.html into ``out_dir``. k6's points go on the talk's clock as each run's listing
    says (``talk.k6.runs.json``: its start and the show's --speed), so a rehearsal's report
    written by hand is the one the rehearsal wrote."""
    snapshots = read_recording(recording).snapshots
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"{out_dir}: cannot create the report directory ({exc.strerror})"
        ) from exc
    sm = summarize(snapshots)
    k6 = read_k6(recording, snapshots, k6_json)
    charts = draw_charts(series(snapshots), k6, out_dir, sm.startups)
    html_path = out_dir / "report.html"
    html_path.write_text(page(recording, snapshots, sm, k6, charts), encoding="utf-8")
    return ReportFiles(html_path, tuple(charts), sm, k6)


def read_k6(
    recording: Path, snapshots: Sequence[Snapshot], k6_json: Path | None = None
) -> K6Series | None:
    """The audience-side view from k6's series files (``k6_json``, else those beside the
    recording), on the recording's talk clock; None without any."""
    paths = [k6_json] if k6_json is not None else k6_files_beside(recording)
    if not paths:
        return None
    clocks = read_run_clocks(runs_manifest(recording))
    for path in paths:
        if path.name not in clocks:  # a series given by hand: its own folder's listing
            for manifest in sorted(path.parent.glob("*.k6.runs.json")):
                clocks = {**read_run_clocks(manifest), **clocks}
    # A series no listing names (k6 run by hand beside `watch --record`): wall clock, the
    # talk starting where the recording's first snapshot says it did.
    talk_zero = snapshots[0].time - timedelta(seconds=snapshots[0].talk.elapsed_s)
    wall = RunClock(talk_start=0.0, started_unix=talk_zero.timestamp())
    parts = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ReportError(f"{path}: cannot read k6 output ({exc.strerror})") from exc
        parts.append((lines, clocks.get(path.name, wall)))
    return k6_series(parts)


def k6_view(recording: Path) -> K6Series | None:
    """The k6 figures the report of ``recording`` gives, without drawing it."""
    return read_k6(recording, read_recording(recording).snapshots)


def k6_files_beside(recording: Path) -> list[Path]:
    """talk.jsonl -> talk.k6.json and its continuation parts talk.k6-2.json, ..."""
    stem = recording.with_suffix("")
    first = stem.with_name(stem.name + ".k6.json")
    parts = sorted(stem.parent.glob(stem.name + ".k6-*.json"))
    parts = [p for p in parts if not p.name.endswith("-summary.json")]
    return ([first] if first.exists() else []) + parts
