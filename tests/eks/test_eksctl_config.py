"""The eksctl ClusterConfig rendered from demo.yaml (pure); eksctl's own loader reads it in
tests/eks/test_tools.py."""

from __future__ import annotations

import yaml

from tubedemo.core.config import config_from_dict
from tubedemo.eks import eksctl_config, pins


def test_region_cluster_name_and_account_come_from_demo_yaml() -> None:
    cfg = config_from_dict(
        {
            "cluster": {"name": "talk", "region": "eu-west-1", "account_id": "012345678901"},
            "gpu_pool": {"node_role": "KarpenterNodeRole-talk"},
        }
    )
    rendered = eksctl_config.cluster_config(cfg)
    assert rendered["metadata"]["name"] == "talk"
    assert rendered["metadata"]["region"] == "eu-west-1"
    assert rendered["metadata"]["version"] == pins.KUBERNETES
    entry = rendered["accessConfig"]["accessEntries"][0]
    assert entry == {
        "principalARN": "arn:aws:iam::012345678901:role/KarpenterNodeRole-talk",
        "type": "EC2_LINUX",
    }


def test_every_resource_eksctl_makes_carries_karpenters_discovery_tag() -> None:
    rendered = eksctl_config.cluster_config(config_from_dict({}))
    assert rendered["metadata"]["tags"]["karpenter.sh/discovery"] == "tubedemo"


def test_karpenters_controller_role_gets_the_six_policies_of_its_stack() -> None:
    cfg = config_from_dict({"cluster": {"account_id": "123456789012"}})
    association = eksctl_config.cluster_config(cfg)["iam"]["podIdentityAssociations"][0]
    assert association["serviceAccountName"] == "karpenter"
    assert association["namespace"] == "kube-system"
    assert association["roleName"] == "tubedemo-karpenter"
    assert len(association["permissionPolicyARNs"]) == 6
    assert (
        "arn:aws:iam::123456789012:policy/KarpenterControllerNodeLifecyclePolicy-tubedemo"
        in association["permissionPolicyARNs"]
    )


def test_an_unknown_account_renders_as_the_placeholder_an_offline_render_shows() -> None:
    text = eksctl_config.cluster_config_yaml(config_from_dict({}))
    assert "arn:aws:iam::${AWS_ACCOUNT_ID}:role/KarpenterNodeRole-tubedemo" in text
    assert yaml.safe_load(text)["metadata"]["version"] == "1.35"  # a string, not 1.35 the float
