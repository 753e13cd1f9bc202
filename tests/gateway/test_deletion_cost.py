"""Cheap survivors: gateway.deletion_cost keeps each vLLM pod's pod-deletion-cost at minus its
node's price, so the ReplicaSet empties the most expensive nodes first: the pure decision (the
program run against the API server: test_deletion_cost_run.py)."""

from __future__ import annotations

from typing import Any

from gateway.deletion_cost import ANNOTATION, patches
from tubedemo.twin.replicaset import node_price_cost

PRICES = {"spot": {"g5.2xlarge": 0.55, "g5.12xlarge": 2.40}, "on-demand": {"g5.2xlarge": 1.212}}


def _pod(name: str, node: str | None, cost: str | None = None, **meta: Any) -> dict[str, Any]:
    annotations = {ANNOTATION: cost} if cost is not None else {}
    return {
        "metadata": {"name": name, "annotations": annotations, **meta},
        "spec": {"nodeName": node} if node else {},
    }


def _labels(kind: str, capacity: str) -> dict[str, str]:
    return {"node.kubernetes.io/instance-type": kind, "karpenter.sh/capacity-type": capacity}


def test_each_pod_is_priced_by_its_node_and_only_changes_are_patched() -> None:
    nodes = {
        "big": _labels("g5.12xlarge", "spot"),
        "small": _labels("g5.2xlarge", "spot"),
        "od": _labels("g5.2xlarge", "on-demand"),
        "unknown": _labels("p5.48xlarge", "spot"),
    }
    pods = [
        _pod("a", "big"),
        _pod("b", "small", cost="-550"),  # already right
        _pod("c", "small", cost="0"),
        _pod("d", "od"),
        _pod("e", "unknown"),  # no price: left alone
        _pod("f", None),  # not bound yet
        _pod("g", "big", deletionTimestamp="2026-12-07T12:00:00Z"),  # going anyway
    ]
    assert patches(pods, nodes, PRICES) == {"a": "-2400", "c": "-550", "d": "-1212"}


def test_the_program_writes_what_the_twins_replicaset_model_reads() -> None:
    # the twin's scale-down order (tubedemo/twin/replicaset.py) assumes exactly these values
    from tubedemo.twin.pods import Node, Pod

    node = Node(
        name="n",
        instance_type="g5.12xlarge",
        capacity_type="spot",
        gpus=4,
        created_at=0.0,
        ready_at=40.0,
        price_per_hour=2.40,
    )
    pod = Pod(name="p", created_at=0.0, node=node)
    assert patches([_pod("p", "n")], {"n": _labels("g5.12xlarge", "spot")}, PRICES) == {
        "p": str(node_price_cost(pod))
    }
