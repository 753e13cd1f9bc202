"""When Karpenter deletes an empty GPU node, as sigs.k8s.io/karpenter v1.14 does it:
Consolidatable once consolidateAfter has passed since the NodeClaim's lastPodEventTime
(nodeclaim/disruption/consolidation.go, podevents/controller.go with its 10 s dedupe), found by
the disruption loop that polls every 10 s (disruption/controller.go pollingPeriod), deleted
after the 15 s validation wait if still empty (disruption/emptiness.go, validation.go;
consolidation.go commandValidationDelay), abandoned on pod churn."""

from __future__ import annotations

from typing import Any

import pytest

from tubedemo.core.config import config_from_dict
from tubedemo.twin.pods import Node
from tubedemo.twin.world import World


def quiet_world(**startup: Any) -> World:
    """No load and no HPA sync within the test (the test sets the replicas): one replica on
    its warm node, and the Karpenter timers given."""
    raw: dict[str, Any] = {
        "timeline": {"phases": [{"name": "quiet", "at": 0, "duration": 600, "vus": 0}]},
        "twin": {"audience": {"size": 0}, "startup": startup, "hpa": {"sync_period": "1h"}},
        "gpu_pool": {"consolidate_after": startup.pop("consolidate_after", "30s")},
    }
    return World(config_from_dict(raw))


def extra_node(world: World, ready_at: float) -> Node:
    node = world._new_node("g5.2xlarge", 1, 0.55, ready_at)
    world.at(ready_at, lambda: world._node_ready(node))
    return node


@pytest.mark.parametrize(
    ("timers", "ready_at", "gone_at"),
    [
        # Consolidatable at 3 + 30 = 33, seen by the poll at 40, deleted after 15 s validation
        ({}, 3.0, 55.0),
        # consolidateAfter 0: the poll at 10 sees it
        ({"consolidate_after": "0s"}, 3.0, 25.0),
        # no validation wait: deleted by the poll that sees it
        ({"consolidation_validation": "0s"}, 3.0, 40.0),
        # a faster loop (the lab's loop seen at speed 1/2 would be 20 s)
        ({"disruption_poll": "20s"}, 3.0, 55.0),
        ({"disruption_poll": "20s"}, 21.0, 75.0),
        # the loop's phase on the talk's clock: passes at 7, 17, 27, 37 -> seen at 37
        ({"disruption_first_poll": "7s"}, 3.0, 52.0),
        # the lab at speed 5, in talk seconds: poll 50 s, validation 75 s, consolidateAfter 30
        (
            {"disruption_poll": "50s", "consolidation_validation": "75s"},
            3.0,
            125.0,
        ),
    ],
)
def test_an_empty_node_goes_after_consolidate_after_the_next_poll_and_the_validation_wait(
    timers: dict[str, Any], ready_at: float, gone_at: float
) -> None:
    world = quiet_world(**timers)
    node = extra_node(world, ready_at)
    world.run_until(gone_at - 0.5)
    assert node.alive
    world.run_until(gone_at)
    assert not node.alive
    assert node.disruption == "consolidated"
    assert world.nodes[0].alive, "the node with the replica stays"


def test_a_pod_bound_during_the_validation_wait_keeps_the_node_and_the_attempt_is_dropped() -> None:
    world = quiet_world()
    node = extra_node(world, 3.0)
    world.run_until(45.0)  # chosen at 40, validation until 55
    world.desired = 2
    world._reconcile_replicaset()  # the new pod binds to the empty node at 45
    assert any(p.node is node for p in world.pods if p.live)
    world.run_until(200.0)
    assert node.alive


def test_consolidate_after_counts_from_the_pods_deletion_not_from_its_end() -> None:
    # lastPodEventTime moves when a pod starts terminating; a terminating pod is not
    # reschedulable, so the node is empty for Karpenter while the pod still drains
    world = quiet_world(consolidate_after="20s")
    node = extra_node(world, 3.0)
    world.run_until(4.0)
    world.desired = 2
    world._reconcile_replicaset()  # binds at 4
    world.run_until(100.0)
    pod = next(p for p in world.pods if p.node is node)
    world.desired = 1
    world._delete_pod(pod, "scaled down")  # at 100: last pod event
    # consolidatable at 120, the poll at 120 chooses it, deleted at 135
    world.run_until(134.5)
    assert node.alive
    world.run_until(135.0)
    assert not node.alive


def test_pod_events_within_the_dedupe_window_do_not_move_the_last_pod_event() -> None:
    world = quiet_world(consolidate_after="20s", pod_event_dedupe="10s")
    node = extra_node(world, 3.0)
    world.run_until(4.0)
    world.desired = 2
    world._reconcile_replicaset()  # bound at 4: last pod event 4
    world.run_until(9.0)
    pod = next(p for p in world.pods if p.node is node)
    world._delete_pod(pod, "scaled down")  # at 9, within 10 s of 4: stays 4
    world.desired = 1
    assert node.last_pod_event == 4.0
    # consolidatable at 24, seen by the poll at 30, deleted at 45
    world.run_until(44.5)
    assert node.alive
    world.run_until(45.0)
    assert not node.alive
