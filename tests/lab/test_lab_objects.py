"""The lab's pure parts: the lab render variant, Karpenter's instance types, KWOK stages."""

from __future__ import annotations

import copy

from tubedemo.core.config import DemoConfig, PriceTable, StartupModel
from tubedemo.lab.objects import instance_types, kwok_stages
from tubedemo.lab.variant import render_lab
from tubedemo.manifests.render import render


def _by_kind(manifests: list[dict[str, object]], kind: str) -> dict[str, object]:
    return next(m for m in manifests if m["kind"] == kind)


def test_lab_render_at_speed_one_differs_from_eks_only_in_the_node_class() -> None:
    cfg = DemoConfig()
    eks, lab = render(cfg), render_lab(cfg)
    assert [m["kind"] for m in lab] == [
        "KWOKNodeClass" if m["kind"] == "EC2NodeClass" else m["kind"] for m in eks
    ]
    assert _by_kind(lab, "ScaledObject") == _by_kind(eks, "ScaledObject")
    pool, eks_pool = copy.deepcopy(_by_kind(lab, "NodePool")), _by_kind(eks, "NodePool")
    ref = pool["spec"]["template"]["spec"]["nodeClassRef"]  # type: ignore[index]
    assert ref == {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": "tubedemo-gpu"}
    ref.update(eks_pool["spec"]["template"]["spec"]["nodeClassRef"])  # type: ignore[index]
    assert pool == eks_pool


def test_lab_render_divides_every_interval_by_the_speed() -> None:
    cfg = DemoConfig()
    s, speed = cfg.scaling, 10
    lab = render_lab(cfg, speed=speed)
    so = _by_kind(lab, "ScaledObject")["spec"]  # type: ignore[index]
    assert so["pollingInterval"] == max(1, round(s.polling_interval / speed))
    assert so["cooldownPeriod"] == round(s.cooldown / speed)
    behavior = so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    for direction, rules in (("scaleUp", s.scale_up), ("scaleDown", s.scale_down)):
        assert behavior[direction]["stabilizationWindowSeconds"] == round(
            rules.stabilization / speed
        )
        assert [p["periodSeconds"] for p in behavior[direction]["policies"]] == [
            max(1, round(p.period / speed)) for p in rules.policies
        ]
    pool = _by_kind(lab, "NodePool")["spec"]  # type: ignore[index]
    consolidate = round(cfg.gpu_pool.consolidate_after / speed)
    assert pool["disruption"]["consolidateAfter"] == f"{consolidate}s"
    node_class = _by_kind(lab, "KWOKNodeClass")["spec"]  # type: ignore[index]
    # node_launch counts from the NodeClaim's launch, after Karpenter's batch, as in the twin
    launch = round(cfg.twin.startup.node_launch / speed)
    assert node_class == {"nodeRegistrationDelay": f"{launch}s"}
    at_1 = _by_kind(render_lab(cfg, speed=1), "KWOKNodeClass")["spec"]  # type: ignore[index]
    assert at_1 == {"nodeRegistrationDelay": f"{cfg.twin.startup.node_launch:.0f}s"}
    assert (
        so["advanced"]["scalingModifiers"]
        == _by_kind(render(cfg), "ScaledObject")[
            "spec"  # type: ignore[index]
        ]["advanced"]["scalingModifiers"]
    )
    assert so["pollingInterval"] < s.polling_interval  # the speed really compressed it


def test_instance_types_are_the_g5_family_with_gpus_spot_and_on_demand() -> None:
    prices = PriceTable(spot={"g5.2xlarge": 0.5}, on_demand={"g5.2xlarge": 1.2})
    types = {t["name"]: t for t in instance_types(prices)}
    assert list(types) == ["g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.8xlarge", "g5.12xlarge"]
    assert types["g5.12xlarge"]["resources"]["nvidia.com/gpu"] == "4"
    assert types["g5.2xlarge"]["resources"] == {
        "cpu": "8",
        "memory": "32Gi",
        "nvidia.com/gpu": "1",
        "pods": "110",
    }
    offers = {
        o["Requirements"][0]["values"][0]: o["Price"] for o in types["g5.2xlarge"]["offerings"]
    }
    assert offers == {"spot": 0.5, "on-demand": 1.2}


UPSTREAM_POD_READY = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "pod-ready"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {
            "matchExpressions": [
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
            ]
        },
        "next": {
            "statusTemplate": 'conditions:\n- status: "True"\n  type: Ready\n'
            '- status: "True"\n  type: ContainersReady\ncontainerStatuses:\n- ready: true\n'
            "{{ $hostIPs := NodeIPsWith .spec.nodeName }}\npodIP: x\nphase: Running\n"
        },
    },
}


def test_vllm_pods_start_after_image_pull_and_turn_ready_after_model_load() -> None:
    startup = StartupModel(image_pull=60, model_load=100)
    stages = {s["metadata"]["name"]: s for s in kwok_stages([UPSTREAM_POD_READY], startup, 10)}
    vllm_only = {"key": '.metadata.labels."app.kubernetes.io/name"', "operator": "In"}
    others = stages["pod-ready"]["spec"]["selector"]["matchExpressions"]
    assert {**vllm_only, "operator": "NotIn", "values": ["vllm"]} in others
    started, ready = stages["vllm-pod-started"]["spec"], stages["vllm-pod-ready"]["spec"]
    assert started["delay"] == {"durationMilliseconds": 6000}
    assert ready["delay"] == {"durationMilliseconds": 10000}
    template = started["next"]["statusTemplate"]
    assert 'status: "True"' not in template and "ready: true" not in template
    assert "phase: Running" in template
    # ready: conditions and containers only; the IPs were set once, when it started
    ready_template = ready["next"]["statusTemplate"]
    assert 'status: "True"\n  type: Ready' in ready_template and "ready: true" in ready_template
    assert "podIP" not in ready_template
    # the kubelet's `started`: false while loading, true once the startupProbe passed; the
    # ready stage takes only pods not started yet, so a started pod that later fails its
    # readiness probe (a busy replica, tests/lab/test_lab_busy_replica.py) stays NotReady
    assert "ready: false\n  started: false\n" in template
    assert "ready: true\n  started: true\n" in ready_template
    not_started = {
        "key": ".status.containerStatuses.[] | .started",
        "operator": "NotIn",
        "values": ["true"],
    }
    assert not_started in ready["selector"]["matchExpressions"]
