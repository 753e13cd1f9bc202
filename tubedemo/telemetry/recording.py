"""Recordings: one Snapshot per line of JSON (JSONL), written as the talk runs, read back for
replay and the report.

The writer flushes every line so a crash loses at most the line being written, and starts a
fresh line when it appends to a file whose last line was cut off. The reader skips such damaged
lines (and says how many) so nothing already recorded is lost, but refuses a file that is mostly
not snapshots (the wrong file), naming its first bad line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import ValidationError

from tubedemo.core.durations import check_speed
from tubedemo.core.errors import RecordingError
from tubedemo.telemetry.snapshot import Snapshot


class Recorder:
    """Appends snapshots to a JSONL file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self.count = 0

    def __enter__(self) -> Recorder:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # append: re-running `watch --record` after a crash continues the same talk
            cut_off = self.path.exists() and not _ends_with_newline(self.path)
            self._file = self.path.open("a", encoding="utf-8")
            if cut_off:
                self._file.write("\n")  # the crashed write stays one damaged line on its own
        except OSError as exc:
            raise RecordingError(
                f"{self.path}: cannot write the recording ({exc.strerror})"
            ) from exc
        return self

    def write(self, snapshot: Snapshot) -> None:
        if self._file is None:
            raise RecordingError("recorder used outside its `with` block")
        self._file.write(snapshot.to_json() + "\n")
        self._file.flush()
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        if f.seek(0, 2) == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


@dataclass(frozen=True)
class Recording:
    """A recording read back, oldest snapshot first."""

    snapshots: tuple[Snapshot, ...]
    damaged_lines: tuple[int, ...] = ()
    """Line numbers that were not snapshots (cut off by a crash) and were left out."""


def read_recording(path: Path) -> Recording:
    """Every snapshot of a JSONL recording; RecordingError names the file and the bad line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise RecordingError(
            f"{path}: no such recording; make one with `tubedemo watch --record {path}`"
        ) from exc
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc.strerror})") from exc
    snapshots: list[Snapshot] = []
    damaged: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            snapshots.append(Snapshot.from_json(line))
        except ValidationError as exc:
            damaged.append((number, str(exc.errors()[0]["msg"]).removeprefix("Value error, ")))
    if damaged and len(damaged) >= len(snapshots):
        number, reason = damaged[0]
        raise RecordingError(f"{path} line {number}: not a snapshot ({reason})")
    if not snapshots:
        raise RecordingError(f"{path}: the recording holds no snapshots")
    snapshots.sort(key=lambda s: s.time)
    return Recording(tuple(snapshots), tuple(n for n, _ in damaged))


def replay_schedule(
    snapshots: Sequence[Snapshot], speed: float
) -> Iterator[tuple[float, Snapshot]]:
    """(seconds to wait before showing it, snapshot) for each snapshot at ``speed`` x real time.

    Gaps longer than a minute (the recorder was stopped) are shortened to one second so a replay
    never stalls on a coffee break.
    """
    check_speed(speed)
    previous = None
    for snapshot in snapshots:
        delay = 0.0
        if previous is not None:
            gap = (snapshot.time - previous.time).total_seconds()
            delay = (gap if 0 <= gap <= 60 else 1.0) / speed
        previous = snapshot
        yield delay, snapshot
