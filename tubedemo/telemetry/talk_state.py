"""Where the talk is at a given second: the Snapshot's talk group from the timeline. Pure.

"Which phase runs at t" is ``tubedemo.core.timeline.phase_at``; this only dresses it (and the
next phase) as the ``TalkState`` the dashboard and the recording carry.
"""

from __future__ import annotations

from tubedemo.core.config import TimelineConfig
from tubedemo.core.timeline import next_phase, phase_at
from tubedemo.telemetry.snapshot import TalkState


def talk_state(timeline: TimelineConfig, duration_s: float, elapsed_s: float) -> TalkState:
    """Where the talk is ``elapsed_s`` seconds after it started."""
    current = phase_at(timeline, elapsed_s)
    upcoming = next_phase(timeline, elapsed_s)
    return TalkState(
        elapsed_s=elapsed_s,
        duration_s=duration_s,
        phase=current.name if current else None,
        phase_remaining_s=(current.end - elapsed_s) if current else None,
        next_phase=upcoming.name if upcoming else None,
        next_cue=upcoming.cue if upcoming else None,
        next_in_s=(upcoming.at - elapsed_s) if upcoming else None,
    )
