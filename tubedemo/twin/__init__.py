"""The digital twin: pure, deterministic models of vLLM, the autoscaling loop and the load.

Nothing here reads the wall clock, sleeps, opens sockets, threads, processes or files: time is
a float (seconds from the start of the talk) passed in by the caller, and randomness comes from
a seeded ``random.Random`` (the "twin is pure" import contract forbids time, socket, threading,
subprocess, asyncio and HTTP libraries). ``tubedemo simulate`` fast-forwards these models; the
rehearsal's fleet simulator (tubedemo.rehearsal) drives the same models from a real clock and
serves them over HTTP; ``view.world_view`` turns either into the Snapshot's cluster groups.

The face: ``from tubedemo.twin import World, SimulationResult, snapshots, world_view, ...``
(``FACE`` below, each name imported on first use); the fast-forward itself is
``simulate.simulate(cfg)``, reached through its module.

Modules: ``simulate`` (start here: the whole talk fast-forwarded, and its summary), ``world`` (the
discrete-event world that runs the models below), ``engine`` (one vLLM replica, continuous
batching), ``hpa`` (the HPA controller's decision), ``karpenter`` (instance options, packing
pending pods onto NodeClaims), ``karpenter_loop`` (the world's GPU nodes: Karpenter's batching,
launches, consolidation, spot interruptions and drains), ``warm_capacity`` (the world's
placeholder pods: their window, preemption and cost), ``replicaset`` (which pod goes first on
scale-down), ``pods`` (pods and GPU nodes as plain data), ``startup`` (how long a new node and pod
take, as the render implies), ``forecast`` (the timeline as replicas each phase needs, for
``scaling.proactive: timeline``), ``milestones`` (a pod's start-up milestones from those steps),
``load`` (k6's VUs and the room's phones), ``view`` (the world as the Snapshot's cluster groups).

May import tubedemo.core and tubedemo.telemetry (the Snapshot contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tubedemo.core.face import lazy_face

if TYPE_CHECKING:  # the face's names for mypy (explicit re-exports)
    from tubedemo.twin.engine import Engine as Engine
    from tubedemo.twin.engine import EngineParams as EngineParams
    from tubedemo.twin.engine import Request as Request
    from tubedemo.twin.load import Load as Load
    from tubedemo.twin.simulate import PhaseShape as PhaseShape
    from tubedemo.twin.simulate import SimulationResult as SimulationResult
    from tubedemo.twin.simulate import snapshots as snapshots
    from tubedemo.twin.startup import resolved_startup as resolved_startup
    from tubedemo.twin.startup import startup_case as startup_case
    from tubedemo.twin.view import world_view as world_view
    from tubedemo.twin.world import TwinEvent as TwinEvent
    from tubedemo.twin.world import World as World

FACE = {
    "World": "world",
    "TwinEvent": "world",
    "PhaseShape": "simulate",
    "SimulationResult": "simulate",
    "snapshots": "simulate",
    "Engine": "engine",
    "EngineParams": "engine",
    "Request": "engine",
    "Load": "load",
    "world_view": "view",
    "resolved_startup": "startup",
    "startup_case": "startup",
}
"""The public names and the module each comes from, imported on first use (core.face)."""

__all__ = sorted(FACE)
__getattr__ = lazy_face(__name__, FACE)
