"""The talk's plan: timeline -> schedule (phase starts, mode flips, cues) and -> k6 scenarios.

Pure functions, no side effects: ``tubedemo show`` runs what these decide. Times are kept in
*talk seconds* (offset from the start of the talk); a schedule maps them to *wall seconds* after
the show starts, compressed by ``speed`` and shifted by ``start_at`` (``--from``).

Under ``--speed`` only time is compressed: VUs and arrival rates stay as configured, so the
gateway sees the same per-second pressure as on stage, for a shorter while.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from tubedemo.core.config import K6Config, Mode, Phase, TimelineConfig
from tubedemo.core.durations import check_speed, format_duration
from tubedemo.core.errors import UsageError

EventKind = Literal["phase", "end"]


@dataclass(frozen=True)
class TimelineEvent:
    """Something the show does at a talk time: start a phase (cue, maybe flip mode) or end."""

    at: float
    """Talk time (s) at which it happens."""
    kind: EventKind
    """phase: a phase starts (or is joined mid-way with --from); end: the talk is over."""
    phase: str
    """Name of the phase starting; empty for the end event."""
    mode: Mode | None = None
    """Mode the audience page is flipped to at this moment; None leaves it."""
    cue: str | None = None
    """What the presenter is prompted to say or do."""
    joined: bool = False
    """True when --from joins this phase after it began (its mode/cue are re-asserted)."""


@dataclass(frozen=True)
class Schedule:
    """Events in order, with the mapping between talk time and wall time of the show."""

    start_at: float
    """Talk time (s) the show starts at (--from)."""
    end_at: float
    """Talk time (s) the show ends at (talk.duration)."""
    speed: float
    """Talk seconds per wall second (--speed)."""
    events: tuple[TimelineEvent, ...]
    """Phase starts and the end, ordered by time."""

    def wall(self, at: float) -> float:
        """Wall seconds after the show starts at which talk time ``at`` is reached."""
        return (at - self.start_at) / self.speed

    def talk(self, wall: float) -> float:
        """Talk time reached ``wall`` seconds after the show starts."""
        return self.start_at + wall * self.speed

    @property
    def wall_duration(self) -> float:
        """How long the show runs (wall seconds) without pauses or skips."""
        return self.wall(self.end_at)


def build_schedule(
    timeline: TimelineConfig, talk_duration: float, *, start_at: float = 0.0, speed: float = 1.0
) -> Schedule:
    """Phase starts, mode flips and cues from ``start_at`` to the end of the talk.

    When ``start_at`` falls inside a phase (or a gap after one), the show opens with that phase's
    cue and the mode the room would be in by then, so a restarted show puts the page right.
    """
    check_speed(speed)
    if start_at < 0:
        raise UsageError("--from must not be negative")
    if start_at >= talk_duration:
        raise UsageError(
            f"--from {format_duration(start_at)} is at or after the end of the talk "
            f"({format_duration(talk_duration)})"
        )
    events: list[TimelineEvent] = []
    if start_at > 0:
        # A show started mid-talk re-asserts the room's mode and the running phase's cue.
        mode = mode_at(timeline, start_at)
        current = phase_at(timeline, start_at)
        if current is not None and current.at == start_at:
            events.append(TimelineEvent(start_at, "phase", current.name, mode, current.cue))
        elif current is not None:
            events.append(
                TimelineEvent(start_at, "phase", current.name, mode, current.cue, joined=True)
            )
        elif mode is not None:
            events.append(TimelineEvent(start_at, "phase", "", mode, None, joined=True))
    for phase in timeline.phases:
        if phase.at < talk_duration and (phase.at > start_at or phase.at == start_at == 0):
            events.append(TimelineEvent(phase.at, "phase", phase.name, phase.mode, phase.cue))
    events.append(TimelineEvent(talk_duration, "end", ""))
    return Schedule(start_at=start_at, end_at=talk_duration, speed=speed, events=tuple(events))


def phase_at(timeline: TimelineConfig, at: float) -> Phase | None:
    """The phase running at talk time ``at`` (None in a gap): the one rule for "which phase is
    it", used by the show, the twin's load, the Snapshot's talk group and the report."""
    for phase in timeline.phases:
        if phase.at <= at < phase.end:
            return phase
    return None


def next_phase(timeline: TimelineConfig, at: float) -> Phase | None:
    """The first phase starting strictly after talk time ``at`` (None when none is left)."""
    # phases are in order (TimelineConfig refuses overlaps and disorder): the first is the next
    return next((phase for phase in timeline.phases if phase.at > at), None)


def next_phase_start(timeline: TimelineConfig, at: float) -> float | None:
    """Talk time of the first phase starting strictly after ``at`` (None when none is left)."""
    upcoming = next_phase(timeline, at)
    return upcoming.at if upcoming is not None else None


def mode_at(timeline: TimelineConfig, at: float) -> Mode | None:
    """The mode the audience page should be in at talk time ``at`` by the timeline."""
    mode: Mode | None = None
    for phase in timeline.phases:
        if phase.at <= at and phase.mode is not None:
            mode = phase.mode
    return mode


# ----------------------------------------------------------------------------- k6 options


def scenario_name(index: int, phase_name: str) -> str:
    """k6 scenario name for a phase: ordered, and only the characters k6 accepts."""
    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", phase_name).strip("-").lower() or "phase"
    return f"p{index + 1:02d}_{slug}"


def k6_duration(seconds: float) -> str:
    """A k6 duration string in whole milliseconds (k6 accepts Go durations)."""
    return f"{max(0, round(seconds * 1000))}ms"


def _endpoints(value: float | list[int] | list[float]) -> tuple[float, float]:
    if isinstance(value, list):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def _has_load(phase: Phase) -> bool:
    for value in (phase.vus, phase.rate):
        if value is not None and max(_endpoints(value)) > 0:
            return True
    return False


def k6_scenarios(
    timeline: TimelineConfig,
    k6: K6Config,
    *,
    start_at: float = 0.0,
    speed: float = 1.0,
    end_at: float | None = None,
) -> dict[str, dict[str, Any]]:
    """One k6 scenario per phase with load, from ``start_at`` on, time compressed by ``speed``.

    VU phases become ``ramping-vus``, rate phases ``ramping-arrival-rate`` (per minute, so
    fractional requests/s survive k6's integer rates). A phase joined mid-way starts at the
    value its linear ramp has reached by then. Phases in survey mode run the ``survey`` function
    (phones polling the survey), the rest ``quiz``. Both work on k6 1.x and 2.x.
    """
    check_speed(speed)
    scenarios: dict[str, dict[str, Any]] = {}
    for index, phase in enumerate(timeline.phases):
        stop = phase.end if end_at is None else min(phase.end, end_at)
        if stop <= start_at or not _has_load(phase):
            continue
        offset = max(phase.at, start_at)
        if stop <= offset:
            continue
        fraction = (offset - phase.at) / phase.duration
        stop_fraction = (stop - phase.at) / phase.duration
        common: dict[str, Any] = {
            "startTime": k6_duration((offset - start_at) / speed),
            "gracefulStop": k6_duration(k6.graceful_stop),
            "exec": "survey" if mode_at(timeline, phase.at) == "survey" else "quiz",
            "tags": {"phase": phase.name},
        }
        stage_duration = k6_duration((stop - offset) / speed)
        if phase.vus is not None:
            first, last = _endpoints(phase.vus)
            scenarios[scenario_name(index, phase.name)] = {
                "executor": "ramping-vus",
                "startVUs": round(first + (last - first) * fraction),
                "stages": [
                    {
                        "duration": stage_duration,
                        "target": round(first + (last - first) * stop_fraction),
                    }
                ],
                "gracefulRampDown": k6_duration(k6.graceful_stop),
                **common,
            }
        elif phase.rate is not None:
            first, last = _endpoints(phase.rate)
            peak = max(first, last)
            pre = max(1, min(k6.max_vus, math.ceil(peak * k6.answer_time)))
            scenarios[scenario_name(index, phase.name)] = {
                "executor": "ramping-arrival-rate",
                "startRate": round((first + (last - first) * fraction) * 60),
                "timeUnit": "1m",
                "preAllocatedVUs": pre,
                "maxVUs": max(pre, k6.max_vus),
                "stages": [
                    {
                        "duration": stage_duration,
                        "target": round((first + (last - first) * stop_fraction) * 60),
                    }
                ],
                **common,
            }
    return scenarios


def burst_scenario(vus: int, duration: float, *, exec_name: str = "quiz") -> dict[str, Any]:
    """A manual burst (`tubedemo load`, the show's burst key): constant VUs for a while."""
    if vus < 1:
        raise UsageError(f"--vus {vus}: needs at least one virtual user")
    if duration <= 0:
        raise UsageError("--duration must be positive")
    return {
        "burst": {
            "executor": "constant-vus",
            "vus": vus,
            "duration": k6_duration(duration),
            "gracefulStop": "5s",
            "exec": exec_name,
            "tags": {"phase": "burst"},
        }
    }


def hold_scenario(
    timeline: TimelineConfig, k6: K6Config, at: float, hold_for: float
) -> dict[str, dict[str, Any]]:
    """While the clock is paused: hold the load the timeline has at ``at``, up to ``hold_for``."""
    phase = phase_at(timeline, at)
    if phase is None or not _has_load(phase):
        return {}
    fraction = (at - phase.at) / phase.duration
    exec_name = "survey" if mode_at(timeline, at) == "survey" else "quiz"
    tags = {"phase": f"{phase.name} (paused)"}
    if phase.vus is not None:
        first, last = _endpoints(phase.vus)
        vus = round(first + (last - first) * fraction)
        if vus < 1:
            return {}
        return {
            "hold": {
                "executor": "constant-vus",
                "vus": vus,
                "duration": k6_duration(hold_for),
                "gracefulStop": k6_duration(k6.graceful_stop),
                "exec": exec_name,
                "tags": tags,
            }
        }
    assert phase.rate is not None
    first, last = _endpoints(phase.rate)
    per_minute = round((first + (last - first) * fraction) * 60)
    if per_minute < 1:
        return {}
    pre = max(1, min(k6.max_vus, math.ceil(per_minute / 60 * k6.answer_time)))
    return {
        "hold": {
            "executor": "constant-arrival-rate",
            "rate": per_minute,
            "timeUnit": "1m",
            "duration": k6_duration(hold_for),
            "preAllocatedVUs": pre,
            "maxVUs": max(pre, k6.max_vus),
            "gracefulStop": k6_duration(k6.graceful_stop),
            "exec": exec_name,
            "tags": tags,
        }
    }


def describe_load(phase: Phase) -> str:
    """Short human text of a phase's load: '2 VUs', '2→8 VUs', '0.5 req/s', 'no load'."""
    if phase.vus is not None and _has_load(phase):
        a, b = _endpoints(phase.vus)
        return f"{a:g} VUs" if a == b else f"{a:g}→{b:g} VUs"
    if phase.rate is not None and _has_load(phase):
        a, b = _endpoints(phase.rate)
        return f"{a:g} req/s" if a == b else f"{a:g}→{b:g} req/s"
    return "no load"
