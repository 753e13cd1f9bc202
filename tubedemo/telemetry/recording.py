"""Recordings: one Snapshot per line of JSON (JSONL), written as the talk runs, read back for
replay and the report.

The writer flushes every line so a crash loses at most the line being written; the reader skips a
truncated last line (the crash case) but refuses a broken line in the middle, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import ValidationError

from tubedemo.errors import TubedemoError
from tubedemo.telemetry.snapshot import Snapshot


class RecordingError(TubedemoError):
    """A recording is missing, unreadable or malformed."""

    exit_code = 8


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
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise RecordingError(
                f"{self.path}: cannot write the recording ({exc.strerror})"
            ) from None
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


@dataclass(frozen=True)
class Recording:
    """A recording read back, oldest snapshot first."""

    snapshots: tuple[Snapshot, ...]
    skipped_last_line: bool
    """True when the final line was truncated (the talk ended mid-write) and was left out."""


def read_recording(path: Path) -> Recording:
    """Every snapshot of a JSONL recording; RecordingError names the file and the bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(
            f"{path}: no such recording; make one with `tubedemo watch --record {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    snapshots: list[Snapshot] = []
    skipped = False
    for index, (number, line) in enumerate(lines):
        try:
            snapshots.append(Snapshot.from_json(line))
        except ValidationError as exc:
            if index == len(lines) - 1 and not text.endswith("\n") and snapshots:
                skipped = True
                break
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise RecordingError(f"{path} line {number}: not a snapshot ({reason})") from None
    if not snapshots:
        raise RecordingError(f"{path}: the recording holds no snapshots")
    snapshots.sort(key=lambda s: s.time)
    return Recording(tuple(snapshots), skipped)


def replay_schedule(
    snapshots: Sequence[Snapshot], speed: float
) -> Iterator[tuple[float, Snapshot]]:
    """(seconds to wait before showing it, snapshot) for each snapshot at ``speed`` x real time.

    Gaps longer than a minute (the recorder was stopped) are shortened to one second so a replay
    never stalls on a coffee break.
    """
    if speed <= 0:
        raise RecordingError("--speed must be positive (1 = real time, 10 = ten times faster)")
    previous = None
    for snapshot in snapshots:
        delay = 0.0
        if previous is not None:
            gap = (snapshot.time - previous.time).total_seconds()
            delay = (gap if 0 <= gap <= 60 else 1.0) / speed
        previous = snapshot
        yield delay, snapshot
