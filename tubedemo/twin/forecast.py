"""The timeline as a forecast: how many replicas each phase needs, and from when. Pure.

The conductor knows the talk: the burst starts at minute 2, the room joins then. Each phase
needs the fewest replicas that carry its peak load at ``scaling.forecast.concurrency`` requests
in flight each (the engine's knee) or less, from the phase's load and the engine model:

- a k6 VU in a closed loop is in flight for one answer, then thinks ``k6.think_time``: its share
  in flight is e2e / (e2e + think); a rate phase has rate x e2e in flight (Little's law);
- the room asks ``questions_per_person`` each, their first questions spread over ``join_over``
  (flat, or triangular peaking mid-way): at most peak rate x questions x e2e in flight;
- e2e is one answer on a replica carrying c requests: prefill, then ``output_tokens`` decode
  steps of ``decode_step_base + decode_step_per_seq x c``; more in flight makes each answer
  slower and so more in flight, so c is found as the fixed point for each replica count.

The forecast only has that capacity Ready when the phase begins; the queue's formula still
scales to its own target once the load is there. A phase's forecast applies ``lead`` seconds
before it starts (a new replica's start-up on a new node plus one HPA sync) until it ends;
where windows overlap the larger need wins, so a forecast rises early and falls only when its
phase is over. Outside every window it is 0: the queue alone decides. ``forecast_at`` is the
value on the talk's clock, the one the twin's KEDA reads, the fleet serves in the lab and
``tubedemo show`` keeps on the gateway.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from tubedemo.core.config import DemoConfig, Phase
from tubedemo.core.errors import TwinError
from tubedemo.twin.startup import new_node_seconds


@dataclass(frozen=True)
class PhaseNeed:
    """What one phase of the timeline asks of the fleet, at its peak."""

    phase: str
    in_flight: float
    """Requests in flight at the phase's peak (k6 and the room) on ``replicas``."""
    replicas: int
    """The fewest replicas carrying it at forecast.concurrency each or less, within
    min_replicas..max_replicas; 0: the phase has no load."""


@dataclass(frozen=True)
class ForecastStep:
    """The forecast from ``start`` (talk seconds) until the next step: ``replicas``."""

    start: float
    replicas: int
    phase: str | None
    """The phase whose need sets it (None: no phase asks for anything)."""


def answer_seconds(cfg: DemoConfig, concurrency: float) -> float:
    """One answer's e2e on a replica carrying ``concurrency`` requests (s)."""
    engine = cfg.twin.engine
    output = min(engine.output_tokens, cfg.gateway.max_tokens)
    step = engine.decode_step_base + engine.decode_step_per_seq * concurrency
    return engine.prompt_tokens / engine.prefill_tokens_per_s + output * step


def _room_rate(cfg: DemoConfig, start: float, end: float) -> float:
    """The room's highest first-question rate (people/s) within [start, end]."""
    room = cfg.twin.audience
    if room.size == 0 or room.questions_per_person == 0 or room.join_over <= 0:
        return 0.0
    lo, hi = max(start, room.join_at), min(end, room.join_at + room.join_over)
    if lo >= hi:
        return 0.0
    if room.curve == "uniform":
        return room.size / room.join_over
    middle = room.join_at + room.join_over / 2
    nearest = min(max(middle, lo), hi)
    peak = 2 * room.size / room.join_over
    return peak * (1 - abs(nearest - middle) / (room.join_over / 2))


def _in_flight(cfg: DemoConfig, vus: float, rate: float, room: float, replicas: int) -> float:
    """Requests in flight on ``replicas`` with this load: the fixed point of in flight ->
    per-replica concurrency -> e2e -> in flight (it converges: e2e grows slowly with it)."""
    think = cfg.k6.think_time
    in_flight = 0.0
    for _ in range(50):
        e2e = answer_seconds(cfg, in_flight / replicas)
        busy = e2e / (e2e + think) if e2e + think > 0 else 1.0
        new = vus * busy + (rate + room) * e2e
        if abs(new - in_flight) < 1e-6:
            break
        in_flight = new
    return in_flight


def phase_needs(cfg: DemoConfig) -> list[PhaseNeed]:
    """Every phase's need at its peak, in timeline order."""
    scaling = cfg.scaling
    per_replica = scaling.forecast.concurrency
    out = []
    mode = None
    for phase in cfg.timeline.phases:
        mode = phase.mode or mode
        vus, rate = (0.0, 0.0) if mode == "survey" else _k6_load(phase)
        room = _room_rate(cfg, phase.at, phase.end) * cfg.twin.audience.questions_per_person
        if vus + rate + room <= 0:
            out.append(PhaseNeed(phase.name, 0.0, 0))
            continue
        replicas = max(scaling.min_replicas, 1)
        while (
            replicas < scaling.max_replicas
            and _in_flight(cfg, vus, rate, room, replicas) > per_replica * replicas
        ):
            replicas += 1
        out.append(PhaseNeed(phase.name, _in_flight(cfg, vus, rate, room, replicas), replicas))
    return out


def _k6_load(phase: Phase) -> tuple[float, float]:
    """The phase's peak k6 load: (VUs, arrival rate per s)."""
    if phase.vus is not None:
        return float(max(phase.vus) if isinstance(phase.vus, list) else phase.vus), 0.0
    if phase.rate is not None:
        return 0.0, float(max(phase.rate) if isinstance(phase.rate, list) else phase.rate)
    return 0.0, 0.0


def forecast_lead(cfg: DemoConfig) -> float:
    """How long before a phase its forecast applies (s): set, else a new node's start-up plus
    one HPA sync."""
    lead = cfg.scaling.forecast.lead
    if lead is not None:
        return lead
    return new_node_seconds(cfg) + cfg.twin.hpa.sync_period


def forecast_schedule(cfg: DemoConfig) -> list[ForecastStep]:
    """The forecast as steps on the talk's clock (the first at 0), merged where equal."""
    lead = forecast_lead(cfg)
    windows = [
        (max(0.0, phase.at - lead), phase.end, need)
        for phase, need in zip(cfg.timeline.phases, phase_needs(cfg), strict=True)
        if need.replicas > 0
    ]
    marks = sorted({0.0, *(w[0] for w in windows), *(w[1] for w in windows)})
    steps: list[ForecastStep] = []
    for mark in marks:
        inside = [need for start, end, need in windows if start <= mark < end]
        best = max(inside, key=lambda n: n.replicas, default=None)
        replicas = best.replicas if best is not None else 0
        if steps and steps[-1].replicas == replicas:
            continue
        steps.append(ForecastStep(mark, replicas, best.phase if best is not None else None))
    return steps


def forecast_at(schedule: list[ForecastStep], t: float) -> int:
    """The forecast (replicas) at talk second ``t``; 0 before the talk."""
    if not schedule or t < schedule[0].start:
        return 0
    index = bisect.bisect_right([s.start for s in schedule], t) - 1
    return schedule[index].replicas


def warm_window(cfg: DemoConfig) -> tuple[float, float] | None:
    """scaling.warm_capacity's window on the talk's clock (s): from ``lead`` before the busiest
    phase (the first that needs the most replicas, by ``phase_needs``) to the end of ``until``
    (else of the busiest phase). None when off or when no phase has load."""
    warm = cfg.scaling.warm_capacity
    if warm.replicas == 0:
        return None
    phases = cfg.timeline.phases
    needs = phase_needs(cfg)
    most = max((n.replicas for n in needs), default=0)
    if most == 0:
        return None
    busiest = next(p for p, n in zip(phases, needs, strict=True) if n.replicas == most)
    last = busiest if warm.until is None else next(p for p in phases if p.name == warm.until)
    start = max(0.0, busiest.at - warm.lead)
    if last.end <= start:
        raise TwinError(
            f"scaling.warm_capacity.until {last.name!r} ends before the headroom starts "
            f"({start:g} s, lead {warm.lead:g} s before {busiest.name!r}); name a later phase"
        )
    return start, last.end


def warm_schedule(cfg: DemoConfig) -> list[ForecastStep]:
    """The warm capacity as steps on the talk's clock: 0, ``replicas`` placeholders over
    ``warm_window``, then 0; empty when off. What `tubedemo show` posts to the gateway and the
    lab's fleet serves, for the placeholders' ScaledObject."""
    window = warm_window(cfg)
    if window is None:
        return []
    start, end = window
    held = ForecastStep(start, cfg.scaling.warm_capacity.replicas, "warm capacity")
    steps = [held, ForecastStep(end, 0, None)]
    return steps if start == 0 else [ForecastStep(0.0, 0, None), *steps]
