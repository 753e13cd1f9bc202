"""The eksctl ClusterConfig rendered from demo.yaml (pure); the real eksctl (built by
scripts/build-eks-tools) loads, defaults and validates it in its dry run, here and in
tests/eks/test_cluster_create_delete.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests import prepared
from tests.aws import moto_server
from tests.eks.standins import EksVersions
from tests.eks.tools import eks_tools_dir
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


def _vpc_cni(rendered: dict[str, object]) -> dict[str, object]:
    addons = rendered["addons"]
    assert isinstance(addons, list)
    return next(addon for addon in addons if addon["name"] == "vpc-cni")


def test_the_vpc_cni_addon_enforces_network_policies() -> None:
    # The rendered NetworkPolicy (only the gateway and the collector reach vLLM, #23) is
    # enforced on EKS only by the VPC CNI's network policy agent, which the add-on runs when
    # its configuration asks (the add-on's schema takes the string "true")
    vpc_cni = _vpc_cni(eksctl_config.cluster_config(config_from_dict({})))
    values = vpc_cni["configurationValues"]
    assert isinstance(values, str)  # eksctl's schema: a JSON (or YAML) string
    assert json.loads(values)["enableNetworkPolicy"] == "true"


def test_the_real_eksctl_accepts_the_cluster_config_and_keeps_the_network_policy_agent(
    tmp_path: Path,
) -> None:
    tools = eks_tools_dir()
    if tools is None:
        prepared.unavailable("eksctl is not built", "eks-tools")
    cfg = config_from_dict({"cluster": {"account_id": "123456789012"}})
    config_file = tmp_path / "cluster.yaml"
    config_file.write_text(eksctl_config.cluster_config_yaml(cfg))
    eksctl = str(tools / "bin" / "eksctl")
    with moto_server() as url:
        # moto answers the availability zones; a MOCK answers EKS's DescribeClusterVersions
        versions = EksVersions(url)
        versions.server.thread.start()
        try:
            done = subprocess.run(
                [eksctl, "create", "cluster", "-f", str(config_file), "--dry-run"],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
                env={
                    "PATH": os.environ.get("PATH", ""),
                    "HOME": str(tmp_path),
                    "AWS_ENDPOINT_URL": url,
                    "AWS_ENDPOINT_URL_EKS": versions.server.url,
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_EC2_METADATA_DISABLED": "true",
                },
            )
        finally:
            versions.server.server.shutdown()
    assert done.returncode == 0, done.stderr
    defaulted = _vpc_cni(yaml.safe_load(done.stdout))
    assert json.loads(str(defaulted["configurationValues"])) == {"enableNetworkPolicy": "true"}
