"""Twin vs lab: the same timeline's scaling, side by side, and how well they agree. Pure.

Both runs are reduced to ``ScaleSample``s on the talk's clock: desired replicas (the HPA's
output, spec.replicas of the vLLM Deployment), Ready replicas and the Ready GPU nodes by
instance type. ``agree`` compares them the way the issue states the target: the share of 15 s
samples where desired replicas are within one replica, the node count at the end of every
phase, and when each first scaled up. ``scale_events`` lists every change with the delay until
it was served (desired reached by Ready pods).

The twin's side of a fair comparison is here too: ``twin_at_lab_speed`` gives the twin the
intervals the lab really runs at a speed (Karpenter's fixed timers, the render's whole-second
rounding), ``at_hpa_phase`` the HPA's measured phase, ``twin_ensemble`` the twin over seeds and
phases. The runs themselves are ``tubedemo.rehearsal.twin_vs_lab``'s.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tubedemo.core.config import DemoConfig, HpaRules
from tubedemo.twin.simulate import SimulationResult

SAMPLE_EVERY = 15.0
"""Seconds between the samples the agreement is counted on (the HPA's default sync period)."""

TARGET_SHARE = 0.9
"""At least this share of samples with desired replicas within one replica."""
TARGET_FIRST_SCALE_UP = 20.0
"""First scale-up of the twin and the lab at most this many seconds apart."""
LIKELY = 0.1
"""A node count the twin's ensemble gives at least this often is one the twin predicts: at a
phase end inside a node launch or a scale-down the count is random in a real cluster too (when
nodes turn Ready, the ReplicaSet's UID tie-break, the HPA's phase), so one lab run is one draw."""


@dataclass(frozen=True)
class ScaleSample:
    time: float
    """Talk seconds."""
    desired: int
    ready: int
    nodes: tuple[str, ...]
    """Instance types of the Ready GPU nodes, sorted."""
    launching: int = 0
    """NodeClaims/nodes not Ready yet."""

    @property
    def node_count(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class ScaleEvent:
    time: float
    what: str
    """'desired' or 'nodes'."""
    before: int
    after: int
    served_after: float | None
    """Seconds until Ready replicas (nodes) reached ``after`` on a scale-up; None if never or
    for a scale-down."""


@dataclass(frozen=True)
class PhaseEnd:
    phase: str
    time: float
    twin_nodes: int
    lab_nodes: int
    twin_types: tuple[str, ...]
    lab_types: tuple[str, ...]


@dataclass(frozen=True)
class Agreement:
    samples: int
    within_one: int
    phase_ends: tuple[PhaseEnd, ...]
    twin_first_scale_up: float | None
    lab_first_scale_up: float | None
    largest_gap: tuple[float, int, int] | None
    """(time, twin desired, lab desired) where they differ most."""

    @property
    def share(self) -> float:
        return self.within_one / self.samples if self.samples else 0.0

    @property
    def nodes_equal_at_phase_ends(self) -> bool:
        return all(p.twin_nodes == p.lab_nodes for p in self.phase_ends)

    @property
    def first_scale_up_gap(self) -> float | None:
        if self.twin_first_scale_up is None or self.lab_first_scale_up is None:
            return None
        return abs(self.twin_first_scale_up - self.lab_first_scale_up)

    @property
    def meets_target(self) -> bool:
        gap = self.first_scale_up_gap
        both_never = self.twin_first_scale_up is None and self.lab_first_scale_up is None
        return (
            self.share >= TARGET_SHARE
            and self.nodes_equal_at_phase_ends
            and (both_never or (gap is not None and gap <= TARGET_FIRST_SCALE_UP))
        )


def twin_samples(result: SimulationResult) -> list[ScaleSample]:
    """The twin's frames (every dashboard tick, the first at one tick) as samples."""
    out = []
    for frame in result.frames:
        view = frame.view
        out.append(
            ScaleSample(
                time=frame.time,
                desired=view.desired,
                ready=view.ready,
                nodes=tuple(sorted(n.instance_type for n in view.nodes if n.ready)),
                launching=sum(1 for n in view.nodes if not n.ready),
            )
        )
    return out


def at(samples: Sequence[ScaleSample], time: float) -> ScaleSample | None:
    """The last sample taken at or before ``time`` (what was known then)."""
    found = None
    for sample in samples:
        if sample.time <= time + 1e-6:
            found = sample
        else:
            break
    return found


def start_replicas(config: DemoConfig) -> int:
    """Desired replicas when the talk starts, in the twin and the lab (the Deployment as `up`
    leaves it; the lab's forecast is 0 until the talk starts)."""
    return max(config.scaling.min_replicas, 1)


def first_scale_up(samples: Sequence[ScaleSample], start: int | None = None) -> float | None:
    """When desired replicas first rose above ``start``, where the run started (default: the
    first sample's). Pass it when the first sample may come after the first sync: the twin's
    first frame is at one tick, and a proactive talk's forecast scales at the first sync."""
    if not samples:
        return None
    base = samples[0].desired if start is None else start
    return next((s.time for s in samples if s.desired > base), None)


def agree(
    config: DemoConfig,
    twin: Sequence[ScaleSample],
    lab: Sequence[ScaleSample],
    every: float = SAMPLE_EVERY,
) -> Agreement:
    """Compare on the 15 s grid both runs covered, phase ends and first scale-ups."""
    end = min(twin[-1].time, lab[-1].time) if twin and lab else 0.0
    within = total = 0
    gap: tuple[float, int, int] | None = None
    k = 1
    while k * every <= end + 1e-6:
        t = k * every
        a, b = at(twin, t), at(lab, t)
        k += 1
        if a is None or b is None:
            continue
        total += 1
        diff = abs(a.desired - b.desired)
        if diff <= 1:
            within += 1
        if gap is None or diff > abs(gap[1] - gap[2]):
            gap = (t, a.desired, b.desired)
    ends = []
    marks = [(p.name, p.end) for p in config.timeline.phases]
    marks.append(("tail", config.talk.duration + config.twin.tail))
    for name, when in marks:
        if when > end + 1e-6:
            continue
        a, b = at(twin, when), at(lab, when)
        if a is None or b is None:
            continue
        ends.append(PhaseEnd(name, when, a.node_count, b.node_count, a.nodes, b.nodes))
    return Agreement(
        samples=total,
        within_one=within,
        phase_ends=tuple(ends),
        twin_first_scale_up=first_scale_up(twin, start_replicas(config)),
        lab_first_scale_up=first_scale_up(lab, start_replicas(config)),
        largest_gap=gap if gap is not None and gap[1] != gap[2] else None,
    )


def scale_events(samples: Sequence[ScaleSample]) -> list[ScaleEvent]:
    """Every change of desired replicas and of Ready nodes, with how long a rise took to be
    served: desired -> Ready replicas reaching it; nodes -> (launch is the node itself)."""
    events: list[ScaleEvent] = []
    for before, now in itertools.pairwise(samples):
        if now.desired != before.desired:
            served = None
            if now.desired > before.desired:
                reached = next(
                    (s.time for s in samples if s.time >= now.time and s.ready >= now.desired),
                    None,
                )
                served = None if reached is None else reached - now.time
            events.append(ScaleEvent(now.time, "desired", before.desired, now.desired, served))
        if now.node_count != before.node_count:
            events.append(ScaleEvent(now.time, "nodes", before.node_count, now.node_count, None))
    return events


def node_count_odds(
    ensemble: Sequence[Sequence[ScaleSample]], times: Sequence[float]
) -> list[dict[int, float]]:
    """For each of ``times``, how often each node count occurs across ``ensemble`` (twin runs
    of the same timeline over seeds and HPA phases), as shares summing to 1."""
    odds = []
    for t in times:
        counts = Counter(s.node_count if (s := at(run, t)) else 0 for run in ensemble)
        total = sum(counts.values())
        odds.append({n: k / total for n, k in sorted(counts.items())} if total else {})
    return odds


def likely(odds: dict[int, float], count: int) -> bool:
    """Whether the twin's ensemble gives ``count`` at least ``LIKELY`` of the time."""
    return odds.get(count, 0.0) >= LIKELY - 1e-9


def hpa_phase(samples: Sequence[ScaleSample], sync_period: float) -> float | None:
    """Where the HPA's rhythm fell on the talk's clock in a run, in (0, sync_period]: its
    first change of desired replicas (every change happens at a sync), taken midway between
    the sample before and the sample that shows it, modulo the period. None if it never
    changed. Good to half a sampling step plus the watch's latency."""
    for before, now in itertools.pairwise(samples):
        if now.desired != before.desired:
            phase = ((before.time + now.time) / 2) % sync_period
            return phase or sync_period
    return None


def fewest_desired(samples: Sequence[ScaleSample], start: float, end: float) -> int | None:
    """The fewest desired replicas of the samples in [start, end); None if none is there."""
    within = [s.desired for s in samples if start <= s.time < end]
    return min(within) if within else None


def need_at_target(cfg: DemoConfig, phase: str) -> int:
    """Replicas ``phase``'s peak load needs at the formula's target (requests in flight per
    replica, the default formula's unit): what the HPA settles at once the queue is served.
    Desired replicas below it in a phase with steady load delete a replica that the queue
    then asks for again, a cold start in front of the room (issue 24)."""
    from tubedemo.twin.forecast import phase_needs

    s = cfg.scaling
    forecast = s.forecast.model_copy(update={"concurrency": s.target})
    at_target = cfg.model_copy(update={"scaling": s.model_copy(update={"forecast": forecast})})
    return next(n.replicas for n in phase_needs(at_target) if n.phase == phase)


def cheapest_types(cfg: DemoConfig) -> frozenset[str]:
    """The pool's instance types at the lowest price per node for the capacity type Karpenter
    launches (spot when the pool allows it): the node a talk should keep when one is left."""
    from tubedemo.twin.karpenter import instance_options

    options = instance_options(
        cfg, "spot" if "spot" in cfg.gpu_pool.capacity_types else "on-demand"
    )
    low = min(o.price_per_hour for o in options)
    return frozenset(o.instance_type for o in options if o.price_per_hour <= low + 1e-9)


# --- the twin at the lab's intervals ---------------------------------------------------------


KARPENTER_FIXED_TIMERS = ("disruption_poll", "consolidation_validation", "pod_event_dedupe")
"""``twin.startup`` fields that are Go constants in Karpenter (the disruption loop's 10 s poll,
the 15 s validation wait, the 10 s pod-event dedupe): the lab cannot divide them by its speed."""


def twin_at_lab_speed(cfg: DemoConfig, speed: float) -> DemoConfig:
    """The config the twin runs in ``compare``: the intervals the lab really runs at ``speed``,
    in talk seconds. Pure.

    - what the lab render divides by ``speed`` is rounded to whole seconds on the way
      (``tubedemo.lab.variant.compress``: KEDA polling, the HPA behaviour's windows and
      periods, consolidateAfter), so it comes back as ``rounded x speed``, not the original;
    - Karpenter's disruption timers (``KARPENTER_FIXED_TIMERS``) stay at their wall-clock
      value, i.e. ``speed`` times longer in talk time;
    - a node's launch is the KWOKNodeClass's nodeRegistrationDelay, whole seconds for every
      instance type (40 s / 7 -> 6 s -> 42 talk s).
    At speed 1 it is ``cfg``.
    """
    from tubedemo.lab.variant import compress, node_registration_delay, whole_seconds

    if speed == 1:
        return cfg
    lab = compress(cfg, speed)

    def back(rules: HpaRules) -> HpaRules:
        return rules.model_copy(
            update={
                "stabilization": rules.stabilization * speed,
                "policies": [
                    p.model_copy(update={"period": p.period * speed}) for p in rules.policies
                ],
            }
        )

    s = lab.scaling
    scaling = s.model_copy(
        update={
            "polling_interval": s.polling_interval * speed,
            "scrape_interval": s.scrape_interval * speed,
            "cooldown": s.cooldown * speed,
            "scale_up": back(s.scale_up),
            "scale_down": back(s.scale_down),
        }
    )
    pool = lab.gpu_pool.model_copy(
        update={"consolidate_after": lab.gpu_pool.consolidate_after * speed}
    )
    # the KWOKNodeClass holds one whole-second delay for every type (lab.variant)
    registration = whole_seconds(node_registration_delay(cfg.twin.startup, speed))
    startup = cfg.twin.startup.model_copy(
        update={
            **{k: getattr(cfg.twin.startup, k) * speed for k in KARPENTER_FIXED_TIMERS},
            "node_launch": float(registration.removesuffix("s")) * speed,
            "node_launch_by_type": {},
        }
    )
    twin = cfg.twin.model_copy(update={"startup": startup})
    return cfg.model_copy(update={"scaling": scaling, "gpu_pool": pool, "twin": twin})


def twin_ensemble(
    cfg: DemoConfig, speed: float, seeds: Sequence[int], phases: int
) -> list[list[ScaleSample]]:
    """The twin at the lab's intervals (``twin_at_lab_speed``) over ``seeds`` x ``phases`` HPA
    phases spread evenly over one sync period, each seed with its own phase of Karpenter's
    disruption loop (spread over one poll by the golden ratio, so any number of seeds covers
    it evenly): what it predicts for a run whose random draws, HPA phase and Karpenter phase
    nobody chose, as in the lab and on stage. Pure (about 0.3 s a run)."""
    from tubedemo.twin.simulate import simulate

    base = twin_at_lab_speed(cfg, speed)
    sync = base.twin.hpa.sync_period
    poll = base.twin.startup.disruption_poll
    runs: list[list[ScaleSample]] = []
    for k in range(1, phases + 1):
        at_phase = at_hpa_phase(base, sync * k / phases)
        for i, seed in enumerate(seeds):
            karpenter = at_disruption_phase(at_phase, poll * ((i * GOLDEN) % 1.0))
            runs.append(twin_samples(simulate(karpenter, seed=seed)))
    return runs


GOLDEN = (5**0.5 - 1) / 2
"""0.618...: i x GOLDEN mod 1 spreads any count of points evenly over [0, 1)."""


def at_disruption_phase(cfg: DemoConfig, first_poll: float) -> DemoConfig:
    """``cfg`` with Karpenter's first disruption pass at ``first_poll`` talk seconds."""
    startup = cfg.twin.startup.model_copy(update={"disruption_first_poll": first_poll})
    return cfg.model_copy(update={"twin": cfg.twin.model_copy(update={"startup": startup})})


def at_hpa_phase(cfg: DemoConfig, first_sync: float | None) -> DemoConfig:
    """``cfg`` with the HPA's first sync at ``first_sync`` talk seconds (None: unchanged)."""
    if first_sync is None:
        return cfg
    hpa = cfg.twin.hpa.model_copy(update={"first_sync": first_sync})
    return cfg.model_copy(update={"twin": cfg.twin.model_copy(update={"hpa": hpa})})
