"""The one reader of k6's JSON time series (``k6 run --out json=FILE``): one ``Point`` per line.

k6 writes a ``Metric`` declaration the first time it sees a metric and then a ``Point`` per
sample (``{"type": "Point", "metric": ..., "data": {"time": ..., "value": ..., "tags": ...}}``).
The stage's live load figures (``tubedemo.talk.load_stats``) and the report's audience-side
view (``tubedemo.screen.report``) both read k6 through ``parse_point``. Parsing is pure;
``SeriesTail`` only reads the new bytes of a growing file, so the show can follow a running k6
without blocking on it, and ``read_points`` reads a finished one.

k6 stamps its points with the wall clock. ``RunClock`` puts them on the talk's clock: the show
lists every k6 run it started beside the recording (``talk.k6.runs.json``: the talk second and
unix time each started at, the show's --speed), and ``read_run_clocks`` reads that list back, so
whoever reads the series later (``tubedemo report``) needs no flag to know a rehearsal's speed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Point:
    """One k6 metric sample."""

    metric: str
    time: float
    """Unix seconds."""
    value: float
    tags: dict[str, str]


@dataclass(frozen=True)
class RunClock:
    """Where one k6 run's wall-clock points fall on the talk's clock."""

    talk_start: float
    """Talk second at which the run started."""
    started_unix: float
    """Unix time (s) at which it started."""
    speed: float = 1.0
    """Talk seconds per wall second (a rehearsal's --speed): k6's durations are multiplied by it."""
    held: bool = False
    """A run that held the load while the show was paused: its talk clock stood still."""

    def talk_seconds(self, unix: float) -> float:
        """The talk second of a point k6 stamped at ``unix``."""
        if self.held:
            return self.talk_start
        return self.talk_start + (unix - self.started_unix) * self.speed


def runs_manifest(recording: Path) -> Path:
    """talk.jsonl -> talk.k6.runs.json: the list of the k6 runs the show started beside it."""
    stem = recording.name.removesuffix(".jsonl").removesuffix(".json")
    return recording.parent / f"{stem}.k6.runs.json"


def read_run_clocks(manifest: Path) -> dict[str, RunClock]:
    """Each listed run's clock, keyed by its series file's name; {} when there is no list (a
    recording from `watch`, or written before there was one) or it cannot be read."""
    try:
        raw: Any = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    clocks: dict[str, RunClock] = {}
    for run in raw.get("runs", []) if isinstance(raw, dict) else []:
        try:
            clocks[str(run["series"])] = RunClock(
                talk_start=float(run["talk_start"]),
                started_unix=float(run["started_unix"]),
                speed=float(run.get("speed", 1.0)),
                held=run.get("kind") == "hold",
            )
        except (KeyError, TypeError, ValueError):  # a run listed without its times: wall clock
            continue
    return clocks


def parse_point(line: str) -> Point | None:
    """A Point from one line of k6's JSON output; None for metric declarations and junk (a
    truncated last line of an interrupted run among them)."""
    try:
        raw: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "Point":
        return None
    data = raw.get("data") or {}
    try:
        when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        return Point(
            metric=str(raw["metric"]),
            time=when.timestamp(),
            value=float(data["value"]),
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        )
    except (AttributeError, KeyError, TypeError, ValueError):  # tags not a mapping, no time...
        return None


def read_points(path: Path, metric: str | None = None) -> list[Point]:
    """All points of a finished series file (optionally of one metric)."""
    points = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            point = parse_point(line)
            if point is not None and (metric is None or point.metric == metric):
                points.append(point)
    return points


class SeriesTail:
    """Follows a k6 JSON output file as it grows; keeps a partial last line for the next read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""

    def read(self, limit: int = 1 << 20) -> list[Point]:
        """Points appended since the last call (at most ``limit`` bytes read per call)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(limit)
        except OSError:
            return []
        self._offset += len(chunk)
        text = self._partial + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return [p for p in (parse_point(line) for line in lines) if p is not None]
