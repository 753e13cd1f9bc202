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
