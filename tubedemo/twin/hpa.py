"""The Kubernetes HPA controller's decision, ported from kubernetes pkg/controller/podautoscaler.

Upstream files (v1.34, the control plane tubedemo pins): ``horizontal.go`` (reconcileAutoscaler,
normalizeDesiredReplicasWithBehaviors, stabilizeRecommendationWithBehaviors,
convertDesiredReplicasWithBehaviorRate, calculateScale{Up,Down}Limit...) and
``replica_calculator.go`` (Tolerances.isWithin, GetExternalPerPodMetricReplicas).

One ``HpaModel.reconcile`` call is one sync of the controller for one HPA whose only metric is
KEDA's External metric with an AverageValue target, in the controller's order:

0. ``recordInitialRecommendation``: the first sync ever records spec.replicas as a
   recommendation, always and before anything else (so a scale-up stabilization window holds
   the current count until the window has passed);
1. current above max / below min short-circuits to the bound;
2. replica proposal (``GetExternalPerPodMetricReplicas``): usage ratio = metric / (target x
   status replicas); inside the inclusive band ``1 - down <= ratio <= 1 + up`` (per-direction
   tolerances) nothing changes, else ceil(metric / target);
3. stabilization (``stabilizeRecommendationWithBehaviors``): scale-up takes the *minimum* of the
   recommendations within its window, scale-down the *maximum* within its window;
4. rate limits (``convertDesiredReplicasWithBehaviorRate``): each policy's allowance is relative to
   the replica count at the start of its period (changes within the period are subtracted), the
   policies are combined with selectPolicy (Max = most change, Min = least, Disabled = none),
   then clamped to min/max.

Metric values are handled as milli-quantities like the controller does. No clock: ``now`` is
seconds on the caller's timeline; the windows compare with strict "after cutoff" as the Go code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from tubedemo.core.config import HpaControllerConfig, HpaRules, ScalingConfig


@dataclass(frozen=True)
class Policy:
    type: Literal["Pods", "Percent"]
    value: int
    period: float


@dataclass(frozen=True)
class Rules:
    stabilization: float
    policies: tuple[Policy, ...]
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"

    @classmethod
    def from_config(cls, rules: HpaRules) -> Rules:
        return cls(
            stabilization=rules.stabilization,
            policies=tuple(Policy(p.type, p.value, p.period) for p in rules.policies),
            select_policy=rules.select_policy,
        )


@dataclass(frozen=True)
class Decision:
    """One sync's outcome."""

    desired: int
    proposal: int
    """Replicas the metric alone asks for, before stabilization and rate limits."""
    reason: str


@dataclass(frozen=True)
class Tolerances:
    """replica_calculator.go ``Tolerances``: a ratio inside [1 - down, 1 + up] changes nothing."""

    down: float = 0.1
    up: float = 0.1

    @classmethod
    def of(cls, hpa: HpaControllerConfig) -> Tolerances:
        """The HPA controller's tolerances each way: its own for a direction, else the shared
        one."""
        return cls(
            down=hpa.tolerance if hpa.scale_down_tolerance is None else hpa.scale_down_tolerance,
            up=hpa.tolerance if hpa.scale_up_tolerance is None else hpa.scale_up_tolerance,
        )

    def is_within(self, ratio: float) -> bool:
        """``Tolerances.isWithin``: inclusive on both edges."""
        return (1.0 - self.down) <= ratio <= (1.0 + self.up)


@dataclass
class HpaModel:
    """The controller state kept per HPA: past recommendations and scale events."""

    min_replicas: int
    max_replicas: int
    target: float
    scale_up: Rules
    scale_down: Rules
    tolerances: Tolerances = Tolerances()
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[tuple[float, int]] = field(default_factory=list)
    down_events: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    def from_config(cls, scaling: ScalingConfig, tolerances: Tolerances) -> HpaModel:
        return cls(
            # The HPA itself never goes below 1; KEDA owns 0 <-> 1.
            min_replicas=max(scaling.min_replicas, 1),
            max_replicas=scaling.max_replicas,
            target=float(scaling.target),
            scale_up=Rules.from_config(scaling.scale_up),
            scale_down=Rules.from_config(scaling.scale_down),
            tolerances=tolerances,
        )

    def proposal(self, metric: float, status_replicas: int) -> int:
        """GetExternalPerPodMetricReplicas (replica_calculator.go): ceil(metric / target) when
        the usage ratio is outside the tolerance band, else the status replicas unchanged."""
        usage = int(metric * 1000)  # KEDA hands the HPA a milli-quantity, truncated
        target = int(self.target * 1000)
        if status_replicas <= 0:
            # usage / 0 is +Inf (or NaN for 0): never within the band.
            return math.ceil(usage / target)
        ratio = usage / (target * status_replicas)
        if not self.tolerances.is_within(ratio):
            return math.ceil(usage / target)
        return status_replicas

    def reconcile(
        self, now: float, current: int, status_replicas: int, metric: float | None
    ) -> Decision:
        """One controller sync. ``current`` is spec.replicas, ``status_replicas`` the pods that
        exist; ``metric`` None means the metric could not be read (no change)."""
        if not self.recommendations:
            # recordInitialRecommendation (horizontal.go): first, on every HPA's first sync.
            self.recommendations.append((now, current))
        if current == 0 and self.min_replicas != 0:
            return Decision(0, 0, "ScalingDisabled")
        if current > self.max_replicas:
            return self._record_rescale(now, current, Decision(self.max_replicas, current, "max"))
        if current < self.min_replicas:
            return self._record_rescale(now, current, Decision(self.min_replicas, current, "min"))
        if metric is None:
            return Decision(current, current, "FailedGetExternalMetric")
        proposal = self.proposal(metric, status_replicas)
        stabilized = self._stabilize(now, current, proposal)
        desired, reason = self._rate_limit(now, current, stabilized)
        return self._record_rescale(now, current, Decision(desired, proposal, reason))

    def _stabilize(self, now: float, current: int, proposal: int) -> int:
        up_cutoff = now - self.scale_up.stabilization
        down_cutoff = now - self.scale_down.stabilization
        up = proposal
        down = proposal
        kept: list[tuple[float, int]] = []
        for time, recommendation in self.recommendations:
            if time > up_cutoff:
                up = min(up, recommendation)
            if time > down_cutoff:
                down = max(down, recommendation)
            if time > up_cutoff or time > down_cutoff:
                kept.append((time, recommendation))
        kept.append((now, proposal))
        self.recommendations = kept
        recommendation = current
        if recommendation < up:
            recommendation = up
        if recommendation > down:
            recommendation = down
        return recommendation

    def _rate_limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        if desired > current:
            limit = self._scale_up_limit(now, current)
            limit = max(limit, current)
            allowed = min(self.max_replicas, limit)
            reason = "ScaleUpLimit" if allowed < self.max_replicas else "TooManyReplicas"
            if desired > allowed:
                return allowed, reason
        elif desired < current:
            limit = self._scale_down_limit(now, current)
            limit = min(limit, current)
            allowed = max(self.min_replicas, limit)
            reason = "ScaleDownLimit" if allowed > self.min_replicas else "TooFewReplicas"
            if desired < allowed:
                return allowed, reason
        return desired, "DesiredWithinRange"

    @staticmethod
    def _changed_within(now: float, period: float, events: list[tuple[float, int]]) -> int:
        cutoff = now - period
        return sum(change for time, change in events if time > cutoff)

    def _period_start(self, now: float, current: int, period: float) -> int:
        added = self._changed_within(now, period, self.up_events)
        deleted = self._changed_within(now, period, self.down_events)
        return current - added + deleted

    def _scale_up_limit(self, now: float, current: int) -> int:
        rules = self.scale_up
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period)
            if policy.type == "Pods":
                proposals.append(start + policy.value)
            else:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
        if not proposals:
            return current
        return min(proposals) if rules.select_policy == "Min" else max(proposals)

    def _scale_down_limit(self, now: float, current: int) -> int:
        rules = self.scale_down
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period)
            if policy.type == "Pods":
                proposals.append(start - policy.value)
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        if not proposals:
            return current
        return max(proposals) if rules.select_policy == "Min" else min(proposals)

    def _record_rescale(self, now: float, current: int, decision: Decision) -> Decision:
        if decision.desired == current:
            return decision
        if decision.desired > current:
            self.up_events = self._pruned(now, self.up_events, self.scale_up)
            self.up_events.append((now, decision.desired - current))
        else:
            self.down_events = self._pruned(now, self.down_events, self.scale_down)
            self.down_events.append((now, current - decision.desired))
        return decision

    @staticmethod
    def _pruned(
        now: float, events: list[tuple[float, int]], rules: Rules
    ) -> list[tuple[float, int]]:
        longest = max((p.period for p in rules.policies), default=0.0)
        return [(time, change) for time, change in events if time >= now - longest]
