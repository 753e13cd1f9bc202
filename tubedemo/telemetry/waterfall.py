"""A pod's start-up as the waterfall's segments, from the milestones its source reported
(``PodState.startup``): waiting for a node, the container, the weights, compile and graphs,
Ready. Pure; the dashboard draws them as text, the report as a chart.

A segment ends at a milestone and is named by it; where a source reports fewer milestones (the
lab without vLLM's log, the twin with ``twin.startup.model_load`` set) a segment runs on to the
next milestone it did report. A pod still starting gets one more segment, up to now, for the
milestone it waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tubedemo.telemetry.snapshot import STARTUP_STEPS, PodState, StartupStep

WORD: dict[StartupStep, str] = {
    "node_ready": "node",
    "scheduled": "node",
    "container_started": "container",
    "weights_loaded": "weights",
    "compiled": "compile",
    "ready": "ready",
}
"""What the segment ending at each milestone is called (being bound once the node is Ready
takes a moment: it counts as waiting for the node)."""


@dataclass(frozen=True)
class Segment:
    """Seconds after the pod's creation from ``start`` to ``end``, ending at ``step``."""

    step: StartupStep
    start: float
    end: float
    reached: bool
    """False for the part still under way (up to now)."""


def segments(pod: PodState) -> list[Segment]:
    """The pod's bar: one segment per reported milestone, then (while it is not Ready) the part
    under way up to now. A pod without milestones has a bar only while it waits for a node
    (not the warm replica, not a source that cannot tell)."""
    live = pod.phase not in ("Terminating", "Failed", "Succeeded")
    if not pod.startup:
        if live and not pod.ready and pod.node is None:
            return [Segment("node_ready", 0.0, pod.created_s_ago, False)]
        return []
    order = {step: i for i, step in enumerate(STARTUP_STEPS)}
    marks = sorted(pod.startup, key=lambda m: order[m.step])
    out: list[Segment] = []
    at = 0.0
    for mark in marks:
        end = max(at, mark.at_s)
        out.append(Segment(mark.step, at, end, True))
        at = end
    last = marks[-1].step
    if last != "ready" and live:
        upcoming = STARTUP_STEPS[order[last] + 1]
        out.append(Segment(upcoming, at, max(at, pod.created_s_ago), False))
    return out


def total(pod: PodState) -> float | None:
    """Seconds from creation to Ready, or so far; None without a bar."""
    parts = segments(pod)
    return parts[-1].end if parts else None


def shown_steps(pods: Sequence[PodState]) -> list[StartupStep]:
    """Every milestone some of ``pods`` reported, in start-up order."""
    return sorted({m.step for p in pods for m in p.startup}, key=STARTUP_STEPS.index)
