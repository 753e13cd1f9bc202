"""`tubedemo status` prices the warm capacity (scaling.warm_capacity): each placeholder bound to
a GPU node costs its share of that node's $/h, by the rule simulate's warm capacity cost
follows, so the two agree for the same config."""

from __future__ import annotations

from typing import Any

from tests.cluster.test_plan import node
from tubedemo.cluster.plan import Ref
from tubedemo.cluster.status import gpu_nodes_of, summarise, vllm_target, warm_per_hour
from tubedemo.core.config import config_from_dict
from tubedemo.twin.forecast import warm_window
from tubedemo.twin.world import World

NOW = 1_800_000_000.0
CREATED = "2027-01-15T07:50:00Z"


def placeholder(name: str, node_name: str | None, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "warm-capacity"}}
    if deleting:
        meta["deletionTimestamp"] = CREATED
    return {"metadata": meta, "spec": {"nodeName": node_name} if node_name else {}}


def test_each_bound_placeholder_costs_its_nodes_price_per_gpu_and_a_pending_one_nothing() -> None:
    cfg = config_from_dict({"gpu_pool": {"name": "gpu"}})
    nodes = gpu_nodes_of(
        [
            node("small", "gpu", "g5.2xlarge", "spot", CREATED),
            node("big", "gpu", "g5.12xlarge", "spot", CREATED),
        ],
        "gpu",
        cfg,
        now=NOW,
    )
    pods = [
        placeholder("p1", "small"),
        placeholder("p2", "big"),
        placeholder("p3", None),  # pending: Karpenter is launching its node
        placeholder("p4", "big", deleting=True),  # preempted: its GPU is vLLM's now
    ]
    held, per_hour = warm_per_hour(pods, nodes, cfg.twin.startup.gpus_per_node)
    spot = cfg.prices.spot
    assert held == 2
    assert per_hour == spot["g5.2xlarge"] + spot["g5.12xlarge"] / 4
    view = summarise(
        context="ctx",
        server="https://x",
        version="v1.34.4",
        namespace="tubedemo",
        objects=[],
        scaled_workload=None,
        max_replicas=10,
        nodes=nodes,
        mode=None,
        placeholders=pods,
        gpus_per_node=cfg.twin.startup.gpus_per_node,
    )
    assert (view.placeholders, view.warm_per_hour) == (2, per_hour)
    assert view.per_hour == spot["g5.2xlarge"] + spot["g5.12xlarge"]


def test_status_rate_over_the_held_time_is_simulates_warm_capacity_cost() -> None:
    # one placeholder the whole window (max_replicas 1: no vLLM pod ever preempts it)
    cfg = config_from_dict(
        {
            "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
            "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
            "scaling": {"max_replicas": 1, "warm_capacity": {"replicas": 1, "until": "steady"}},
        }
    )
    window = warm_window(cfg)
    assert window is not None
    world = World(cfg)
    world.run_until(window[1])
    (pod,) = world.placeholders
    assert pod.node is not None and pod.scheduled_at is not None
    # what `status` sees mid-window: that pod on that node
    observed = gpu_nodes_of(
        [
            node(
                pod.node.name,
                cfg.gpu_pool.name,
                pod.node.instance_type,
                pod.node.capacity_type,
                CREATED,
            )
        ],
        cfg.gpu_pool.name,
        cfg,
        now=NOW,
    )
    held, per_hour = warm_per_hour(
        [placeholder("warm-1", pod.node.name)], observed, cfg.twin.startup.gpus_per_node
    )
    assert held == 1 and per_hour > 0
    hours = (window[1] - pod.scheduled_at) / 3600
    assert abs(per_hour * hours - world.warm_cost(window[1])) < 1e-9


def test_the_replicas_status_shows_are_vllms_not_the_placeholders() -> None:
    targets = {
        Ref("apps/v1", "Deployment", "tubedemo", "warm-capacity"),
        Ref("apps/v1", "Deployment", "tubedemo", "vllm"),
    }
    assert vllm_target(targets) == Ref("apps/v1", "Deployment", "tubedemo", "vllm")
    assert vllm_target(set()) is None
