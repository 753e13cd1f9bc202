"""Which vLLM pods the ReplicaSet deletes first on a scale-down, as kube-controller-manager does
it (Kubernetes v1.34 pkg/controller/controller_utils.go ActivePodsWithRanks.Less, ranked by
pkg/controller/replicaset/replica_set.go getPodsRankedByRelatedPodsOnSameNode)."""

from __future__ import annotations

import pytest

from tubedemo.twin.pods import Node, Pod
from tubedemo.twin.replicaset import node_price_cost, scale_down_order

NOW = 1000.0


def node(name: str, gpus: int = 4, image_ready_at: float | None = 0.0, price: float = 1.0) -> Node:
    return Node(
        name=name,
        instance_type="g5.12xlarge" if gpus == 4 else "g5.2xlarge",
        capacity_type="spot",
        gpus=gpus,
        created_at=0.0,
        ready_at=0.0,
        price_per_hour=price,
        is_ready=True,
        image_ready_at=image_ready_at,
    )


def pod(name: str, on: Node | None, ready_at: float | None, created_at: float = 0.0) -> Pod:
    p = Pod(name=name, created_at=created_at, node=on, ready_at=ready_at)
    p.is_ready = ready_at is not None and ready_at <= NOW
    if on is not None:
        on.pods.append(p)
    return p


def order(pods: list[Pod]) -> list[str]:
    return [p.name for p in scale_down_order(pods, NOW)]


def case_unassigned_before_assigned() -> list[Pod]:
    a = node("a")
    return [pod("ready", a, 100.0), pod("pending", None, None, created_at=900.0)]


def case_not_started_before_loading_before_ready() -> list[Pod]:
    pulling = node("pulling", image_ready_at=NOW + 60)
    loaded = node("loaded")
    return [
        pod("ready", loaded, 500.0),
        pod("loading", loaded, None, created_at=950.0),
        pod("pulling", pulling, None, created_at=990.0),
    ]


def case_doubled_up_before_alone() -> list[Pod]:
    # the newest Ready pod is alone on its node: the three sharing a 4-GPU node go first,
    # newest of them first
    big, small = node("big"), node("small", gpus=1)
    return [
        pod("alone-newest", small, 990.0, created_at=900.0),
        pod("shared-old", big, 100.0, created_at=50.0),
        pod("shared-mid", big, 600.0, created_at=500.0),
        pod("shared-new", big, 950.0, created_at=900.0),
    ]


def case_spread_across_nodes() -> list[Pod]:
    # the burst's end state: 4+4 on two 4-GPU nodes, one each on two 1-GPU nodes
    x, y, s1, s2 = node("x"), node("y"), node("s1", 1), node("s2", 1)
    pods = [pod("s1-0", s1, 0.0), pod("s2-0", s2, 300.0, created_at=200.0)]
    for n in (x, y):
        for i in range(4):
            t = 300.0 + 10 * i + (5 if n is y else 0)
            pods.append(pod(f"{n.name}-{i}", n, t, created_at=t - 100))
    return pods


def case_same_log_bucket_goes_newest_first() -> list[Pod]:
    # Ready 300 s and 500 s ago: the same log2 bucket (2^38 ns <= d < 2^39 ns), so the ready
    # times do not decide (without the buckets "ready-later" would go first); a cluster then
    # goes by UID (random), the twin newest pod first
    a, b = node("a", 1), node("b", 1)
    return [
        pod("ready-later", a, 700.0, created_at=10.0),
        pod("created-later", b, 500.0, created_at=20.0),
    ]


def case_different_log_buckets_newest_ready_first() -> list[Pod]:
    a, b = node("a", 1), node("b", 1)
    return [pod("long-ready", a, 0.0, created_at=20.0), pod("just-ready", b, 990.0)]


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (case_unassigned_before_assigned, ["pending", "ready"]),
        (case_not_started_before_loading_before_ready, ["pulling", "loading", "ready"]),
        (
            case_doubled_up_before_alone,
            ["shared-new", "shared-mid", "shared-old", "alone-newest"],
        ),
        (case_same_log_bucket_goes_newest_first, ["created-later", "ready-later"]),
        (case_different_log_buckets_newest_ready_first, ["just-ready", "long-ready"]),
    ],
    ids=lambda v: v.__name__.removeprefix("case_") if callable(v) else "",
)
def test_scale_down_deletes_in_the_replicaset_controllers_order(
    build: object, expected: list[str]
) -> None:
    assert callable(build)
    assert order(build()) == expected


def test_scaling_the_burst_down_takes_pods_from_the_full_nodes_and_leaves_one_on_each() -> None:
    # the lab's steady phase: the HPA goes 10 -> 5 -> 4; each step ranks the pods afresh
    pods = case_spread_across_nodes()
    first = scale_down_order(pods, NOW)[:5]
    assert {p.node.name for p in first if p.node} <= {"x", "y"}, "only doubled-up pods go"


def test_the_next_step_down_leaves_one_pod_on_each_node() -> None:
    # 5 -> 4 with two pods on x: the ReplicaSet ranks afresh and takes x's newest
    x, y, s1, s2 = node("x"), node("y"), node("s1", 1), node("s2", 1)
    pods = [
        pod("s1-0", s1, 0.0),
        pod("s2-0", s2, 990.0),
        pod("x-0", x, 300.0),
        pod("x-1", x, 800.0),
        pod("y-0", y, 310.0),
    ]
    assert [p.name for p in scale_down_order(pods, NOW)[:1]] == ["x-1"]


def test_pods_being_deleted_are_not_ranked_again() -> None:
    a = node("a")
    gone = pod("terminating", a, 100.0)
    gone.deleting_at = 900.0
    stays = pod("live", a, 200.0)
    assert scale_down_order([gone, stays], NOW) == [stays]


def test_with_node_price_costs_the_pods_of_the_dearest_node_go_before_any_doubled_up_pod() -> None:
    # the burst's end: a g5.12xlarge ($2.40/h) holding one pod, a g5.2xlarge ($0.55/h) one and
    # a g5.4xlarge ($0.72/h) two; rule 4 (pod-deletion-cost) comes before rule 5 (doubled up)
    big, small, mid = (
        node("big", 4, price=2.40),
        node("small", 1, price=0.55),
        node("mid", 2, price=0.72),
    )
    pods = [
        pod("small-0", small, 100.0),
        pod("big-0", big, 990.0),
        pod("mid-0", mid, 500.0),
        pod("mid-1", mid, 900.0),
    ]
    ranked = [p.name for p in scale_down_order(pods, NOW, node_price_cost)]
    assert ranked == ["big-0", "mid-1", "mid-0", "small-0"]
    # without the annotation the ReplicaSet thins the doubled-up node first and keeps the
    # dearest node's pod, as the lab did
    assert [p.name for p in scale_down_order(pods, NOW)][:2] == ["mid-1", "mid-0"]


def test_the_cost_never_outranks_readiness() -> None:
    # rule 3 before rule 4: a loading pod on the cheapest node still goes before a Ready pod
    # on the dearest
    big, small = node("big", 4, price=2.40), node("small", 1, price=0.55)
    pods = [pod("ready-big", big, 100.0), pod("loading-small", small, None, created_at=950.0)]
    assert [p.name for p in scale_down_order(pods, NOW, node_price_cost)] == [
        "loading-small",
        "ready-big",
    ]


def test_node_price_cost_is_minus_the_nodes_price_in_thousandths() -> None:
    assert node_price_cost(pod("p", node("n", 1, price=0.55), 0.0)) == -550
    assert node_price_cost(pod("unbound", None, None)) == 0
