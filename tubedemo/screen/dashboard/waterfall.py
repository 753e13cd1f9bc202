"""The start-up waterfall as text: each replica's way from creation to Ready as one bar of
glyphs (``tubedemo.telemetry.waterfall`` computes the segments). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tubedemo.telemetry.snapshot import STARTUP_STEPS, PodState, StartupStep
from tubedemo.telemetry.waterfall import WORD, segments, total

GLYPH: dict[StartupStep, str] = {
    "node_ready": "░",
    "scheduled": "░",
    "container_started": "▒",
    "weights_loaded": "▓",
    "compiled": "█",
    "ready": "▌",
}
"""One glyph per segment, by the milestone that ends it: the bars read in monochrome too."""
STYLE: dict[StartupStep, str] = {
    "node_ready": "step_node",
    "scheduled": "step_node",
    "container_started": "step_container",
    "weights_loaded": "step_weights",
    "compiled": "step_compiled",
    "ready": "step_ready",
}
"""The palette entry of each segment."""
UNDER_WAY = "╌"
"""The part of a bar still under way, up to now."""
SCALES = (60.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1200.0)
"""Bar scales (s): the smallest that holds the slowest shown start-up."""


def scale_for(pods: Sequence[PodState]) -> float:
    """The bars' common scale (s): the smallest of SCALES holding every shown bar."""
    longest = max((total(p) or 0.0 for p in pods), default=0.0)
    return next((s for s in SCALES if longest <= s), SCALES[-1])


def bar(pod: PodState, width: int, scale: float, styles: dict[str, str]) -> Text:
    """The pod's segments over ``width`` cells, ``scale`` seconds across."""
    out = Text(no_wrap=True, overflow="crop")
    used = 0
    for part in segments(pod):
        cells = round(min(part.end, scale) / scale * width) - used
        if cells <= 0:
            continue
        glyph = GLYPH[part.step] if part.reached else UNDER_WAY
        style = styles[STYLE[part.step]] if part.reached else styles["dim"]
        out.append(glyph * cells, style=style)
        used += cells
    return out


def legend(steps: Sequence[StartupStep], styles: dict[str, str]) -> Text:
    """Glyph and word of every segment kind the shown bars use, in start-up order."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for step in STARTUP_STEPS:
        if step not in steps or (step == "scheduled" and "node_ready" in steps):
            continue
        out.append(GLYPH[step], style=styles[STYLE[step]])
        out.append(f"{WORD[step]} ", style=styles["label"])
    return out
