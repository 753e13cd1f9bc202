"""Time as people read it: durations ("90s", "2m", "1h30m", 45) both ways, clock faces, --speed.

The one place that formats talk seconds for a screen or a page, and checks a time-compression
factor. Pure; imports nothing of ours.
"""

from __future__ import annotations

import math
import re

from tubedemo.core.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as "2m30s"; ValueError names the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 2m or 1h30m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 90s, 2m or 1h30m")
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError("expected a duration such as 90s, 2m or 1h30m")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"{value!r} is not a duration; write it like 90s, 2m or 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """The shortest "1h2m3s" form; fractions of a second are kept only below a minute."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return "".join(parts)


def clock_face(seconds: float | None) -> str:
    """Talk seconds as ``MM:SS`` (truncated, never negative; ``--:--`` for unknown).

    The dashboard's and the show's clocks: a second is shown once it has fully passed.
    """
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(max(0, int(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


def clock_face_rounded(seconds: float) -> str:
    """Talk seconds as ``M:SS`` rounded to the nearest second (the report's prose: "at 2:05")."""
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes:d}:{secs:02d}"


def check_speed(speed: float) -> float:
    """``speed`` if it can compress time (positive, finite); else a UsageError (exit 2).

    Every ``--speed`` (show, rehearse, watch --replay, the fleet and stand-in servers) and every
    clock that multiplies by a speed checks it here, so all refuse it alike.
    """
    if not (speed > 0 and math.isfinite(speed)):
        raise UsageError(
            f"--speed must be positive and finite (1 = real time, 10 = ten times faster); "
            f"got {speed:g}"
        )
    return speed
