"""The eksctl ClusterConfig of the talk's cluster, rendered from demo.yaml (pure).

It follows Karpenter's getting-started ClusterConfig (v1.14) where Karpenter is concerned: the
discovery tag on every resource eksctl makes (subnets and the cluster security group included),
the controller's role by EKS Pod Identity with the six policies Karpenter's CloudFormation
creates, and an access entry that lets the GPU node role join. Beside that: the AWS Load
Balancer Controller's role (eksctl's well-known policy), the EBS CSI driver add-on with its
default Pod Identity role, the VPC CNI add-on with its network policy agent on (without it EKS
accepts the rendered NetworkPolicy and enforces nothing), OIDC (the gateway's and vLLM's IRSA
roles), and two on-demand system nodes. `tubedemo cluster create` writes it to disk for the
presenter to read, then hands it to `eksctl create cluster -f`.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from tubedemo.core.config import DemoConfig
from tubedemo.eks import pins

DISCOVERY_TAG = "karpenter.sh/discovery"
"""Karpenter's EC2NodeClass finds subnets and security groups by this tag (value: cluster)."""
TALK_TAG = "tubedemo.io/cluster"
"""On every AWS resource `cluster create` makes, so `cluster delete` can prove none is left."""

KARPENTER_POLICIES = (
    "KarpenterControllerNodeLifecyclePolicy",
    "KarpenterControllerIAMIntegrationPolicy",
    "KarpenterControllerEKSIntegrationPolicy",
    "KarpenterControllerInterruptionPolicy",
    "KarpenterControllerResourceDiscoveryPolicy",
    "KarpenterControllerZonalShiftPolicy",
)
"""The managed policies (name prefix; suffix -<cluster>) Karpenter v1.14's CloudFormation
creates for the controller; the controller's role gets all six."""

LOAD_BALANCER_CONTROLLER_SA = "aws-load-balancer-controller"
"""ServiceAccount of the AWS Load Balancer Controller (the chart's name; kube-system)."""
KARPENTER_SA = "karpenter"
"""ServiceAccount of the Karpenter controller (the chart's name)."""


def karpenter_node_role(cfg: DemoConfig) -> str:
    """The node role Karpenter's CloudFormation makes for this cluster."""
    return f"KarpenterNodeRole-{cfg.cluster.name}"


def karpenter_controller_role(cfg: DemoConfig) -> str:
    """The Karpenter controller's role (eksctl makes it; Karpenter's guide names it so)."""
    return f"{cfg.cluster.name}-karpenter"


def cluster_config(cfg: DemoConfig) -> dict[str, Any]:
    """The ClusterConfig for `eksctl create cluster -f`: region, name and account from demo.yaml
    (an unresolved account renders as ${AWS_ACCOUNT_ID}, as an offline `tubedemo render`)."""
    cluster = cfg.cluster
    name = cluster.name
    account = cfg.account
    prerequisites = cfg.prerequisites
    policy = f"arn:aws:iam::{account}:policy"
    return {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {
            "name": name,
            "region": cluster.region,
            "version": pins.KUBERNETES,
            # eksctl puts these on its stacks, hence on the VPC, subnets and security groups;
            # EKS copies them to the cluster security group Karpenter's nodes join.
            "tags": {DISCOVERY_TAG: name, TALK_TAG: name},
        },
        # One NAT gateway (eksctl's default, ~$0.045/h): the GPU nodes are in private subnets.
        "vpc": {"cidr": cluster.vpc_cidr, "nat": {"gateway": "Single"}},
        "iam": {
            "withOIDC": True,  # the gateway's and vLLM's IRSA roles (`tubedemo policy`)
            "podIdentityAssociations": [
                {
                    "namespace": prerequisites.karpenter_namespace,
                    "serviceAccountName": KARPENTER_SA,
                    "roleName": karpenter_controller_role(cfg),
                    "permissionPolicyARNs": [
                        f"{policy}/{prefix}-{name}" for prefix in KARPENTER_POLICIES
                    ],
                },
                {
                    "namespace": prerequisites.load_balancer_controller_namespace,
                    "serviceAccountName": LOAD_BALANCER_CONTROLLER_SA,
                    "roleName": f"{name}-aws-load-balancer-controller",
                    "wellKnownPolicies": {"awsLoadBalancerController": True},
                },
            ],
        },
        # The GPU nodes Karpenter launches authenticate with the node role of Karpenter's stack.
        "accessConfig": {
            "authenticationMode": "API_AND_CONFIG_MAP",
            "accessEntries": [
                {
                    "principalARN": f"arn:aws:iam::{account}:role/{cfg.gpu_pool.node_role}",
                    "type": "EC2_LINUX",
                }
            ],
        },
        "managedNodeGroups": [
            {
                "name": "system",
                "instanceType": pins.SYSTEM_NODE_TYPE,
                "amiFamily": "AmazonLinux2023",
                "desiredCapacity": pins.SYSTEM_NODES,
                "minSize": pins.SYSTEM_NODES,
                "maxSize": pins.SYSTEM_NODES + 1,
                "privateNetworking": True,
                "volumeType": "gp3",
                "labels": {"tubedemo.io/pool": "system"},
            }
        ],
        "addons": [
            # The VPC CNI enforces NetworkPolicy (only the gateway and the collector reach vLLM)
            # only with its network policy agent on; the add-on's schema takes a string "true"
            {"name": "vpc-cni", "configurationValues": json.dumps({"enableNetworkPolicy": "true"})},
            {"name": "coredns"},
            {"name": "kube-proxy"},
            {"name": "eks-pod-identity-agent"},
            # gp3 volumes for the gateway's PVC; its role comes from the add-on's defaults
            {"name": "aws-ebs-csi-driver", "useDefaultPodIdentityAssociations": True},
        ],
    }


def cluster_config_yaml(cfg: DemoConfig) -> str:
    """The ClusterConfig as the YAML file `cluster create` keeps on disk."""
    header = (
        f"# eksctl ClusterConfig for the talk's cluster, rendered from demo.yaml by tubedemo\n"
        f"# (eksctl {pins.EKSCTL}); `tubedemo cluster create` runs `eksctl create cluster -f`\n"
        "# with it. Edit demo.yaml, not this file: the next create renders it again.\n"
    )
    return header + yaml.safe_dump(cluster_config(cfg), sort_keys=False)
