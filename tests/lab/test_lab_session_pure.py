"""The pure parts of the lab session: what the lab must provide before `up`, and the watches'
wall-clock durations turned into talk seconds."""

from __future__ import annotations

from tubedemo.core.config import config_from_dict
from tubedemo.lab.objects import SYSTEM_NODE, support_objects
from tubedemo.manifests.validate import validate_manifests
from tubedemo.rehearsal.lab_feed import _in_talk_seconds
from tubedemo.telemetry.assembler import KubeReading
from tubedemo.telemetry.snapshot import (
    GpuNode,
    HpaState,
    NodeClaimState,
    NodeState,
    PodState,
    ReplicaState,
)


def test_support_objects_are_a_node_outside_the_gpu_pool_and_a_volume_for_the_gateways_claim() -> (
    None
):
    cfg = config_from_dict({"cluster": {"namespace": "talk"}, "storage": {"volume_size": "2Gi"}})
    node, volume, namespace, *secrets = support_objects(cfg)
    assert namespace["metadata"]["name"] == "talk"
    assert sorted(x["metadata"]["name"] for x in secrets) == ["hf-token", "tubedemo-admin"]
    assert node["metadata"]["name"] == SYSTEM_NODE
    assert "karpenter.sh/nodepool" not in node["metadata"]["labels"]  # Karpenter leaves it alone
    assert "taints" not in node.get("spec", {})  # the gateway and collector land here
    assert node["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}
    assert volume["spec"]["claimRef"] == {"namespace": "talk", "name": "gateway-data"}
    assert volume["spec"]["capacity"] == {"storage": "2Gi"}
    assert (
        validate_manifests([node, volume, namespace, *secrets], []) == []
    )  # Kubernetes 1.34's strict schema


def test_ages_and_start_up_times_are_reported_in_talk_seconds() -> None:
    reading = KubeReading(
        replicas=ReplicaState(
            desired=2,
            ready=1,
            pods=(
                PodState(name="a", created_s_ago=3.0, created_to_ready_s=2.0),
                PodState(name="b", created_s_ago=1.0),
            ),
        ),
        nodes=NodeState(
            nodes=(GpuNode(name="n", age_s=4.0, launch_s=0.5),),
            launching=(NodeClaimState(name="c", age_s=0.25),),
        ),
        hpa=HpaState(desired=2),
        targets=(),
    )
    talk = _in_talk_seconds(reading, 10.0)
    assert [(p.created_s_ago, p.created_to_ready_s) for p in talk.replicas.pods] == [
        (30.0, 20.0),
        (10.0, None),
    ]
    assert (talk.nodes.nodes[0].age_s, talk.nodes.nodes[0].launch_s) == (40.0, 5.0)
    assert talk.nodes.launching[0].age_s == 2.5
    assert talk.replicas.desired == 2 and talk.hpa == reading.hpa


def test_the_twin_in_lab_compare_runs_the_intervals_the_lab_really_runs_at() -> None:
    from tubedemo.core.config import DemoConfig
    from tubedemo.rehearsal.agreement import twin_at_lab_speed

    cfg = DemoConfig()
    assert twin_at_lab_speed(cfg, 1.0) is cfg
    at20 = twin_at_lab_speed(cfg, 20.0)
    # Karpenter's Go constants are wall-clock: 20x longer in talk seconds
    startup = at20.twin.startup
    assert (startup.disruption_poll, startup.consolidation_validation) == (200.0, 300.0)
    assert startup.pod_event_dedupe == 200.0
    # what the render compresses comes back rounded: KEDA polls 10 s / 20 -> 1 s -> 20 s
    assert cfg.scaling.polling_interval == 10.0
    assert at20.scaling.polling_interval == 20.0
    assert at20.gpu_pool.consolidate_after == 40.0  # 30 s / 20 = 1.5 -> 2 s
    assert at20.scaling.scrape_interval == 20.0  # the collector scrapes every 1 s at least
    periods = [p.period for p in at20.scaling.scale_down.policies]
    assert periods == [max(1, round(p.period / 20)) * 20 for p in cfg.scaling.scale_down.policies]
    # untouched: the pods' start-up delays (the lab's KWOK stages divide them to the ms)
    assert startup.container_start == cfg.twin.startup.container_start
    # a node's launch: the KWOKNodeClass's whole seconds, one for every type
    assert startup.node_launch == cfg.twin.startup.node_launch  # 40 s / 20 = 2 s exactly
    at7 = twin_at_lab_speed(
        cfg.model_copy(
            update={
                "twin": cfg.twin.model_copy(
                    update={
                        "startup": cfg.twin.startup.model_copy(
                            update={"node_launch_by_type": {"g5.12xlarge": 90.0}}
                        )
                    }
                )
            }
        ),
        7.0,
    )
    assert at7.twin.startup.node_launch == 42.0  # 40 s / 7 = 5.7 -> 6 s of wall time
    assert at7.twin.startup.node_launch_by_type == {}
