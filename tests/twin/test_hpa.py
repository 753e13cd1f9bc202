"""The twin's HPA decides like pkg/controller/podautoscaler: table cases per rule."""

from __future__ import annotations

import pytest

from tubedemo.twin.hpa import HpaModel, Policy, Rules, Tolerances

FAST_UP = Rules(0.0, (Policy("Pods", 4, 15.0), Policy("Percent", 900, 15.0)))
NO_STAB_DOWN = Rules(0.0, (Policy("Percent", 100, 15.0),))


def hpa(
    up: Rules = FAST_UP,
    down: Rules = NO_STAB_DOWN,
    min_replicas: int = 1,
    max_replicas: int = 100,
    target: float = 50.0,
) -> HpaModel:
    return HpaModel(min_replicas, max_replicas, target, up, down, Tolerances(0.1, 0.1))


@pytest.mark.parametrize(
    ("current", "metric", "expected"),
    [
        (4, 210.0, 4),  # ratio 1.05: inside the 10 % band, no change
        (4, 180.0, 4),  # ratio 0.90: on the band's edge, still no change
        (4, 230.0, 5),  # ratio 1.15: ceil(230 / 50)
        (4, 170.0, 4),  # ratio 0.85 -> ceil(3.4) = 4
        (4, 140.0, 3),  # ceil(2.8)
        (1, 400.0, 8),  # one replica per waiting request at x50 / target 50
        (3, 50.0, 1),
    ],
)
def test_average_value_proposal_is_ceil_of_metric_over_target_outside_tolerance(
    current: int, metric: float, expected: int
) -> None:
    assert hpa().proposal(metric, current) == expected


def test_scale_up_select_max_takes_the_policy_allowing_most_change() -> None:
    # Pods: 1 + 4 = 5; Percent: ceil(1 x 10) = 10 -> Max picks 10.
    decision = hpa().reconcile(15.0, current=1, status_replicas=1, metric=50 * 30)
    assert decision.desired == 10
    assert decision.reason == "ScaleUpLimit"


def test_scale_up_select_min_takes_the_policy_allowing_least_change() -> None:
    up = Rules(0.0, FAST_UP.policies, "Min")
    decision = hpa(up=up).reconcile(15.0, 1, 1, 50 * 30)
    assert decision.desired == 5


def test_select_policy_disabled_never_scales_that_way() -> None:
    up = Rules(0.0, FAST_UP.policies, "Disabled")
    assert hpa(up=up).reconcile(15.0, 2, 2, 50 * 30).desired == 2


def test_scale_up_period_counts_replicas_added_within_it() -> None:
    model = hpa(up=Rules(0.0, (Policy("Pods", 4, 60.0),)))
    assert model.reconcile(0.0, 1, 1, 1000.0).desired == 5
    # 15 s later the period started at 1 replica: 1 + 4 = 5 is still the cap.
    assert model.reconcile(15.0, 5, 5, 1000.0).desired == 5
    # After the period the start is 5 again: 9.
    assert model.reconcile(61.0, 5, 5, 1000.0).desired == 9


def test_period_boundary_is_exclusive_like_the_controller() -> None:
    model = hpa(up=Rules(0.0, (Policy("Pods", 4, 15.0),)))
    assert model.reconcile(0.0, 1, 1, 1000.0).desired == 5
    # The event at t=0 is not "after" the cutoff 15 - 15 = 0: a full 4 more.
    assert model.reconcile(15.0, 5, 5, 1000.0).desired == 9


def test_scale_down_stabilization_uses_the_highest_recommendation_in_the_window() -> None:
    down = Rules(120.0, (Policy("Percent", 100, 15.0),))
    model = hpa(down=down)
    assert model.reconcile(0.0, 10, 10, 500.0).desired == 10
    assert model.reconcile(15.0, 10, 10, 100.0).desired == 10  # 10 from t=0 still in window
    assert model.reconcile(119.0, 10, 10, 100.0).desired == 10
    # t=0 has left the window (cutoff 1): only the low recommendations remain.
    assert model.reconcile(121.0, 10, 10, 100.0).desired == 2


def test_scale_up_stabilization_uses_the_lowest_recommendation_in_the_window() -> None:
    up = Rules(60.0, FAST_UP.policies)
    model = hpa(up=up)
    assert model.reconcile(0.0, 2, 2, 100.0).desired == 2
    assert model.reconcile(15.0, 2, 2, 400.0).desired == 2  # min(8, 2 from t=0)
    assert model.reconcile(61.0, 2, 2, 400.0).desired == 8  # t=0 left the window


def test_first_sync_seeds_the_scale_down_window_with_the_current_count() -> None:
    down = Rules(300.0, (Policy("Percent", 100, 15.0),))
    model = hpa(down=down)
    assert model.reconcile(0.0, 6, 6, 50.0).desired == 6


def test_scale_down_percent_policy_rounds_down_from_the_period_start() -> None:
    down = Rules(0.0, (Policy("Percent", 50, 60.0),))
    model = hpa(down=down)
    assert model.reconcile(0.0, 10, 10, 50.0).desired == 5
    # Within the period, the start is still 10: 50 % of 10 = 5 is the floor already reached.
    assert model.reconcile(15.0, 5, 5, 50.0).desired == 5
    assert model.reconcile(61.0, 5, 5, 50.0).desired == 2


def test_scale_down_pods_and_percent_with_select_max_removes_most() -> None:
    down = Rules(0.0, (Policy("Pods", 1, 15.0), Policy("Percent", 50, 15.0)))
    assert hpa(down=down).reconcile(0.0, 10, 10, 50.0).desired == 5
    down_min = Rules(0.0, down.policies, "Min")
    assert hpa(down=down_min).reconcile(0.0, 10, 10, 50.0).desired == 9


def test_max_replicas_caps_the_scale_up() -> None:
    decision = hpa(max_replicas=6).reconcile(0.0, 1, 1, 5000.0)
    assert decision.desired == 6
    assert decision.reason == "TooManyReplicas"


def test_min_replicas_floors_the_scale_down() -> None:
    decision = hpa(min_replicas=2).reconcile(0.0, 5, 5, 0.0)
    assert decision.desired == 2


def test_current_above_max_goes_straight_to_max() -> None:
    assert hpa(max_replicas=3).reconcile(0.0, 7, 7, 50.0).desired == 3


def test_unreadable_metric_keeps_the_current_count() -> None:
    decision = hpa().reconcile(0.0, 4, 4, None)
    assert decision.desired == 4
    assert decision.reason == "FailedGetExternalMetric"


def test_tolerance_uses_pods_that_exist_not_the_spec() -> None:
    # spec says 4, only 2 pods exist: ratio 108 / (50 x 2) = 1.08 -> inside the band -> 2.
    model = hpa()
    assert model.proposal(108.0, 2) == 2
    assert model.reconcile(0.0, 4, 2, 108.0).desired == 2


# -- divergences fixed in issue #15: each case failed on the twin before -------------------------


def test_first_sync_records_the_current_count_so_a_scale_up_window_holds_it() -> None:
    # horizontal.go recordInitialRecommendation: the first sync records spec.replicas (1) before
    # anything else, whatever the scale-down window. With a 60 s scale-up window the lowest
    # recommendation within it is that 1, so Kubernetes holds 1 at the first sync (the twin
    # used to jump to 5 when the scale-down window was 0 s).
    up = Rules(60.0, FAST_UP.policies)
    model = hpa(up=up, down=Rules(0.0, NO_STAB_DOWN.policies))
    assert model.reconcile(15.0, current=1, status_replicas=1, metric=250.0).desired == 1
    # Once the first record has left the window, the proposal of 5 wins.
    assert model.reconcile(30.0, 1, 1, 250.0).desired == 1  # t=15 proposal 5, t=0 record 1
    assert model.reconcile(76.0, 1, 1, 250.0).desired == 5


def test_first_sync_at_a_bound_is_still_recorded_first() -> None:
    # The record happens before the min/max short-circuit too.
    model = hpa(up=Rules(60.0, FAST_UP.policies), min_replicas=2)
    assert model.reconcile(0.0, 1, 1, 50.0).desired == 2
    assert model.recommendations[0] == (0.0, 1)


@pytest.mark.parametrize(
    ("tolerances", "ratio", "within"),
    [
        # replica_calculator_test.go TestReplicaCalcConfigurableTolerance, as usage ratios.
        (Tolerances(0.0, 0.0), 1.01, False),  # "Outside of a 0% tolerance"
        (Tolerances(0.1, 2.0), 1.90, True),  # "Within a 200% scale-up tolerance"
        (Tolerances(2.0, 0.08), 1.09, False),  # "Outside 8% scale-up tolerance"
        (Tolerances(0.36, 0.1), 0.65, True),  # "Within a 36% scale-down tolerance"
        (Tolerances(0.34, 0.1), 0.65, False),  # "Outside a 34% scale-down tolerance"
        # The edges are inside: (1 - down) <= ratio <= (1 + up).
        (Tolerances(0.1, 0.1), 1.1, True),
        (Tolerances(0.1, 0.1), 0.9, True),
    ],
)
def test_tolerance_band_is_inclusive_and_per_direction(
    tolerances: Tolerances, ratio: float, within: bool
) -> None:
    assert tolerances.is_within(ratio) is within


@pytest.mark.parametrize(
    ("tolerances", "current", "metric", "target", "expected"),
    [
        # TestReplicaCalcTolerancePerPodCMExternal: 8600 / (2900 x 3) = 0.989, inside 10 %.
        (Tolerances(0.1, 0.1), 3, 8600.0, 2900.0, 3),
        # TestReplicaCalcConfigurableTolerancePerPodCMExternal: 1.024 > 1 + 0.01 -> ceil = 4.
        (Tolerances(0.1, 0.01), 3, 8600.0, 2800.0, 4),
        # 11 waiting on 10 pods (x50, target 50): ratio 1.1 is on the edge, Kubernetes stays.
        (Tolerances(0.1, 0.1), 10, 550.0, 50.0, 10),
        # A per-direction scale-down tolerance keeps 10 pods at ratio 0.7.
        (Tolerances(0.3, 0.1), 10, 350.0, 50.0, 10),
        (Tolerances(0.1, 0.1), 10, 350.0, 50.0, 7),
    ],
)
def test_external_per_pod_proposal_like_replica_calculator(
    tolerances: Tolerances, current: int, metric: float, target: float, expected: int
) -> None:
    model = HpaModel(1, 100, target, FAST_UP, NO_STAB_DOWN, tolerances)
    assert model.proposal(metric, current) == expected


@pytest.mark.parametrize(
    ("name", "recommendations", "current", "proposal", "expected", "up_window", "down_window"),
    [
        # horizontal_test.go TestNormalizeDesiredReplicasWithBehavior (ages in seconds ago).
        ("empty recommendations for scaling down", [], 100, 5, 5, 0, 0),
        ("simple scale down stabilization", [(4, 120), (5, 60)], 100, 3, 5, 0, 180),
        ("simple scale up stabilization", [(4, 120), (5, 60)], 1, 7, 4, 300, 0),
        ("no scale down stabilization", [(1, 120), (2, 60)], 100, 3, 3, 300, 0),
        ("no scale up stabilization", [(4, 120), (5, 60)], 1, 3, 3, 0, 300),
        ("no scale down stabilization, reuse element", [(10, 600), (9, 540)], 100, 3, 3, 0, 0),
        ("no scale up stabilization, reuse element", [(10, 600), (9, 540)], 1, 100, 100, 0, 0),
    ],
)
def test_stabilization_like_upstreams_normalize_table(
    name: str,
    recommendations: list[tuple[int, float]],
    current: int,
    proposal: int,
    expected: int,
    up_window: float,
    down_window: float,
) -> None:
    now = 1000.0
    model = hpa(
        up=Rules(up_window, FAST_UP.policies), down=Rules(down_window, NO_STAB_DOWN.policies)
    )
    model.recommendations = [(now - age, value) for value, age in recommendations]
    assert model._stabilize(now, current, proposal) == expected, name
    assert model.recommendations[-1] == (now, proposal)
