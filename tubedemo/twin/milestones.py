"""A pod's start-up milestones from the twin's start-up steps: the waterfall's bar ends. Pure.

The start-up model (``tubedemo.twin.startup``) names the steps a new pod takes once its node
has the image (the container, the engine, the weights, compile, graphs, the probe); the
dashboard's waterfall shows the milestones a cluster reports (the container started, vLLM's
"Model loading took", the engine's warm-up done, Ready). ``MILESTONE_AFTER`` says which step
ends at which milestone; a step list that names fewer steps (``twin.startup.model_load`` set:
one step to Ready) gives fewer milestones.
"""

from __future__ import annotations

from collections.abc import Iterable

from tubedemo.telemetry.snapshot import StartupStep

MILESTONE_AFTER: dict[str, StartupStep] = {
    "container": "container_started",
    "engine": "weights_loaded",
    "weights": "weights_loaded",
    "compile": "compiled",
    "graphs": "compiled",
    "probe": "ready",
    "ready": "ready",
}
"""The milestone reached when a step ends: the last step of each group sets its time (vLLM logs
"Model loading took" once the weights are in, the warm-up line once compile and graphs are)."""


def pod_milestones(steps: Iterable[tuple[str, float]], start: float) -> dict[StartupStep, float]:
    """Each milestone's time when the pod's steps run back to back from ``start`` (the moment
    the image is on the node and the pod is bound); the last milestone is always ``ready``."""
    out: dict[StartupStep, float] = {}
    at = start
    for name, seconds in steps:
        at += seconds
        milestone = MILESTONE_AFTER.get(name)
        if milestone is not None:
            out[milestone] = at
    out["ready"] = at
    return out
