"""The pure parts of the lab session: what the lab must provide before `up`, and the watches'
wall-clock durations turned into talk seconds."""

from __future__ import annotations

from tubedemo.core.config import config_from_dict
from tubedemo.manifests.validate import validate_manifests
from tubedemo.rehearsal.lab import SYSTEM_NODE, _in_talk_seconds, support_objects
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
