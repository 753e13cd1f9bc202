"""The plans of `cluster create` and `cluster delete` (pure)."""

from __future__ import annotations

from pathlib import Path

from tubedemo.core.config import config_from_dict
from tubedemo.eks import plan


def test_a_node_role_karpenters_stack_does_not_make_is_named_with_its_fix() -> None:
    cfg = config_from_dict({"cluster": {"name": "talk"}})  # node_role default: ...-tubedemo
    problems = plan.config_problems(cfg)
    assert problems == [
        "gpu_pool.node_role is KarpenterNodeRole-tubedemo, but Karpenter's CloudFormation names "
        "the node role KarpenterNodeRole-talk: set gpu_pool.node_role: KarpenterNodeRole-talk"
    ]


def test_the_default_config_can_become_a_cluster() -> None:
    assert plan.config_problems(config_from_dict({})) == []


def test_the_local_profile_cannot() -> None:
    assert plan.config_problems(config_from_dict({"profile": "local"}))[0].startswith(
        "profile is local"
    )


def test_create_makes_the_stack_before_the_cluster_and_the_controllers_after_it() -> None:
    keys = [s.key for s in plan.create_plan(config_from_dict({}), Path("/x"))]
    assert keys.index("karpenter-stack") < keys.index("cluster") < keys.index("helm-karpenter")
    assert keys.index("helm-keda") < keys.index("helm-keda-otel-scaler")
    assert "irsa-vllm" in keys  # weights stream from S3 by default


def test_delete_waits_for_what_bills_before_the_cluster_and_the_stack_goes_last() -> None:
    keys = [s.key for s in plan.delete_plan(config_from_dict({}))]
    assert keys == [
        "cloudfront",
        "kubeconfig",  # delete may run from another machine than create
        "ingress",
        "volumes",
        "gpu-nodes",
        "s3-endpoint",
        "irsa-roles",
        "cluster",
        "karpenter-stack",
        "proof",
    ]


def test_the_plan_prints_one_numbered_line_per_step_with_its_tool() -> None:
    steps = plan.create_plan(config_from_dict({}), Path("/x"))
    lines = plan.format_plan("plan", steps)
    assert len(lines) == len(steps) + 1
    assert lines[3].startswith(" 3. EKS 1.35 cluster tubedemo") and "[eksctl v0.230.0" in lines[3]


def test_a_hosted_zone_adds_the_certificate_and_its_validation_record_one_line_each() -> None:
    ingress = {"host": "talk.example.com", "hosted_zone": "example.com"}
    steps = plan.create_plan(config_from_dict({"web": {"ingress": ingress}}), Path("/x"))
    keys = [s.key for s in steps]
    assert keys.index("irsa-vllm") < keys.index("certificate") < keys.index("certificate-dns")
    by_key = {s.key: s for s in steps}
    assert by_key["certificate"].what == (
        "ACM certificate for talk.example.com (DNS validation), waited for until issued"
    )
    assert "hosted zone example.com" in by_key["certificate-dns"].what
    assert "certificate" not in [s.key for s in plan.create_plan(config_from_dict({}), Path("/x"))]


def test_a_hosted_zone_needs_the_audience_host_in_it() -> None:
    for host in (None, "talk.example.org", "example.com"):
        cfg = config_from_dict({"web": {"ingress": {"host": host, "hosted_zone": "example.com"}}})
        assert plan.config_problems(cfg) == [
            "web.ingress.hosted_zone is example.com: set web.ingress.host to the audience's "
            "name in it (e.g. talk.example.com), the name the certificate is for"
        ]
