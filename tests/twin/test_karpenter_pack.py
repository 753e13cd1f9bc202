"""Karpenter's packing of a batch onto NodeClaims, as scheduling/scheduler.go does it."""

from __future__ import annotations

import pytest

from tubedemo.core.config import DemoConfig
from tubedemo.twin.karpenter import instance_options, pack

OPTIONS = instance_options(DemoConfig(), "spot")


@pytest.mark.parametrize(
    ("pods", "budget", "launched", "unplaced"),
    [
        (1, 10, ["g5.2xlarge"], 0),  # one pod: the cheapest type that fits it
        (2, 10, ["g5.12xlarge"], 0),  # two pods fit only the 4-GPU type: one node
        (4, 10, ["g5.12xlarge"], 0),
        (5, 10, ["g5.12xlarge", "g5.2xlarge"], 0),  # 2-5 replicas on 1-2 nodes
        (8, 10, ["g5.12xlarge", "g5.12xlarge"], 0),
        # subtractMax charges the limit 4 per NodeClaim with a 4-GPU option: 10 -> 6 -> 2, then
        # only 1-GPU types fit the rest.
        (10, 10, ["g5.12xlarge", "g5.12xlarge", "g5.2xlarge", "g5.2xlarge"], 0),
        # filterByRemainingResources: with 3 GPUs left the 4-GPU type is out.
        (3, 3, ["g5.2xlarge", "g5.2xlarge", "g5.2xlarge"], 0),
        (3, 1, ["g5.2xlarge"], 2),  # the limit leaves two pods pending
        (1, 0, [], 1),
    ],
)
def test_batch_is_packed_first_fit_and_each_nodeclaim_launches_its_cheapest_option(
    pods: int, budget: int, launched: list[str], unplaced: int
) -> None:
    claims, left = pack(OPTIONS, pods, budget)
    assert sorted(c.launch.instance_type for c in claims) == sorted(launched)
    assert sum(c.pods for c in claims) == pods - unplaced
    assert left == unplaced
    for claim in claims:
        assert all(o.gpus >= claim.pods for o in claim.options)
