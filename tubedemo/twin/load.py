"""The load on the twin: k6 VUs in closed loops from the timeline, and the audience's phones.

k6 semantics (ramping-vus, as ``tubedemo.core.timeline.k6_scenarios`` writes them): a linear
ramp adds VU number v at the moment the line reaches v (going up) and removes it when the line
falls to v-1
(going down); a VU told to stop finishes its iteration, but is interrupted after
``k6.graceful_stop`` (gracefulStop/gracefulRampDown). Phases in survey mode run k6's ``survey``
function (phones polling the survey), which sends no chat requests: the twin skips them. A VU loops:
request, wait for the whole answer (or ``gateway.answer_timeout``), sleep ``k6.think_time``.
Rate phases start iterations at the ramped arrival rate (ramping-arrival-rate), open loop.

The audience: ``size`` people ask their first question at times spread over
[join_at, join_at + join_over] (flat or triangular), then ask again after reading the answer
until they have asked their share of ``questions_per_person``.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

from tubedemo.core.config import DemoConfig, Phase
from tubedemo.core.timeline import phase_at
from tubedemo.twin.engine import Request
from tubedemo.twin.world import RequestHook, World


@dataclass(frozen=True)
class VuSlot:
    """When one k6 VU of one phase runs."""

    phase: str
    index: int
    start: float
    stop: float
    """Told to stop (ramp down or phase end): finishes its iteration."""
    hard_stop: float
    """Interrupted here (stop + graceful stop) if its iteration is still running."""


def vu_slots(phases: list[Phase], graceful_stop: float = 0.0) -> list[VuSlot]:
    """Every chat VU's active window, from the phases' constant or [from, to] VU counts."""
    slots: list[VuSlot] = []
    mode = None
    for phase in phases:
        mode = phase.mode or mode
        if phase.vus is None or mode == "survey":
            continue
        if isinstance(phase.vus, int):
            low = high = phase.vus
        else:
            low, high = phase.vus
        for index in range(max(low, high)):
            start, stop = phase.at, phase.end
            if high > low and index >= low:
                start = phase.at + phase.duration * (index + 1 - low) / (high - low)
            if low > high and index >= high:
                stop = phase.at + phase.duration * (low - index) / (low - high)
            if start < stop:
                slots.append(VuSlot(phase.name, index, start, stop, stop + graceful_stop))
    return slots


def rate_arrivals(phase: Phase) -> list[float]:
    """Iteration start times of a rate phase: constant, or linearly ramped, arrival rate."""
    if phase.rate is None:
        return []
    if isinstance(phase.rate, list):
        r0, r1 = phase.rate
    else:
        r0 = r1 = float(phase.rate)
    times: list[float] = []
    slope = (r1 - r0) / phase.duration
    count = 1
    while True:
        # Solve r0*t + slope*t^2/2 = count for t.
        if abs(slope) < 1e-12:
            if r0 <= 0:
                break
            t = count / r0
        else:
            disc = r0 * r0 + 2 * slope * count
            if disc < 0:
                break
            t = (-r0 + math.sqrt(disc)) / slope
        if t < 0 or t >= phase.duration:
            break
        times.append(phase.at + t)
        count += 1
    return times


def audience_plan(config: DemoConfig, rng: random.Random) -> list[tuple[float, int]]:
    """(first question time, questions) per person who asks anything."""
    audience = config.twin.audience
    plan: list[tuple[float, int]] = []
    whole = int(audience.questions_per_person)
    extra = audience.questions_per_person - whole
    for _ in range(audience.size):
        questions = whole + (1 if rng.random() < extra else 0)
        if audience.curve == "uniform":
            offset = rng.uniform(0.0, audience.join_over)
        else:
            offset = rng.triangular(0.0, audience.join_over, audience.join_over / 2)
        if questions > 0:
            plan.append((audience.join_at + offset, questions))
    plan.sort()
    return plan


class Load:
    """Installs k6 and the audience on a World; counts the VUs running for the recorder."""

    def __init__(self, world: World, *, audience: bool = True, k6: bool = True) -> None:
        self.world = world
        self.config = world.config
        self.active_vus = 0
        if k6:
            k6_config = self.config.k6
            for slot in vu_slots(self.config.timeline.phases, k6_config.graceful_stop):
                world.at(slot.start, functools.partial(self._vu_start, slot))
            mode = None
            for phase in self.config.timeline.phases:
                mode = phase.mode or mode
                if mode == "survey":
                    continue
                for time in rate_arrivals(phase):
                    world.at(time, self._open_iteration)
        if audience:
            for when, questions in audience_plan(self.config, world.rng):
                world.at(when, functools.partial(self._person, questions))

    def _open_iteration(self) -> None:
        self._send("k6", self.config.gateway.answer_timeout)

    def _send(self, source: str, timeout: float, after: RequestHook | None = None) -> Request:
        world = self.world
        phase = phase_at(self.config.timeline, world.now)
        request = world.new_request(source, phase.name if phase is not None else None)
        world.submit(request, after)
        if request.status in ("waiting", "running"):
            world.at(world.now + timeout, lambda: world.abort(request, "client timeout"))
        return request

    def _vu_start(self, slot: VuSlot) -> None:
        self.active_vus += 1
        state: dict[str, Request | None] = {"current": None}

        def iterate() -> None:
            if self.world.now >= slot.stop:
                self.active_vus -= 1
                return
            state["current"] = self._send("k6", self.config.gateway.answer_timeout, finished)

        def finished(_: Request) -> None:
            state["current"] = None
            self.world.at(self.world.now + self.config.k6.think_time, iterate)

        def interrupt() -> None:
            current = state["current"]
            if current is not None:
                self.world.abort(current, "k6 graceful stop")

        self.world.at(slot.hard_stop, interrupt)
        iterate()

    def _person(self, questions: int) -> None:
        audience = self.config.twin.audience

        def answered(_: Request) -> None:
            nonlocal questions
            questions -= 1
            if questions > 0:
                self.world.at(self.world.now + audience.ask_again_after, ask)

        def ask() -> None:
            self._send("audience", self.config.gateway.answer_timeout, answered)

        ask()
