"""The talk clock: which timeline phase runs at a given second and what the next cue is. Pure."""

from __future__ import annotations

from tubedemo.core.config import TimelineConfig
from tubedemo.telemetry.snapshot import TalkClock


def talk_clock(timeline: TimelineConfig, duration_s: float, elapsed_s: float) -> TalkClock:
    """Where the talk is ``elapsed_s`` seconds after it started."""
    current = next((p for p in timeline.phases if p.at <= elapsed_s < p.end), None)
    upcoming = next((p for p in timeline.phases if p.at > elapsed_s), None)
    return TalkClock(
        elapsed_s=elapsed_s,
        duration_s=duration_s,
        phase=current.name if current else None,
        phase_remaining_s=(current.end - elapsed_s) if current else None,
        next_phase=upcoming.name if upcoming else None,
        next_cue=upcoming.cue if upcoming else None,
        next_in_s=(upcoming.at - elapsed_s) if upcoming else None,
    )
