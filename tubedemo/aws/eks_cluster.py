"""What AWS says about the talk's EKS cluster and its VPC, for preflight and `cluster create`.

Do (through the door): ``describe`` (the cluster's Kubernetes version, VPC and OIDC issuer),
``s3_gateway_endpoints`` and ``private_route_tables`` (the VPC's S3 gateway endpoint and the
route tables it must be on). Pure: ``nvidia_ami_parameter`` (the SSM public parameter Karpenter
resolves a Bottlerocket alias to on a GPU instance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tubedemo.aws.session import Aws

NO_SUCH_CLUSTER = ("ResourceNotFoundException",)


@dataclass(frozen=True)
class EksCluster:
    """The EKS cluster as AWS describes it."""

    name: str
    version: str
    """Kubernetes minor, e.g. 1.35."""
    vpc_id: str
    oidc_issuer: str
    """https://oidc.eks.<region>.amazonaws.com/id/<id>"""
    status: str

    @property
    def oidc_provider(self) -> str:
        """The issuer as IAM names its OIDC provider (no https://)."""
        return self.oidc_issuer.removeprefix("https://").rstrip("/")


def describe(aws: Aws, name: str) -> EksCluster | None:
    """The cluster, or None when the region has no EKS cluster of that name."""
    reply = aws.call("eks", "describe_cluster", missing=NO_SUCH_CLUSTER, name=name)
    if reply is None:
        return None
    cluster = reply["cluster"]
    network = cluster.get("resourcesVpcConfig", {})
    vpc_id = str(network.get("vpcId", ""))
    if not vpc_id and network.get("subnetIds"):
        # EKS names the VPC; moto leaves it out, so ask of the cluster's first subnet
        subnet = aws.call("ec2", "describe_subnets", SubnetIds=network["subnetIds"][:1])
        vpc_id = str(subnet["Subnets"][0]["VpcId"])
    return EksCluster(
        name=name,
        version=str(cluster.get("version", "")),
        vpc_id=vpc_id,
        oidc_issuer=str(cluster.get("identity", {}).get("oidc", {}).get("issuer", "")),
        status=str(cluster.get("status", "")),
    )


def s3_gateway_endpoints(aws: Aws, region: str, vpc_id: str) -> list[dict[str, Any]]:
    """The VPC's S3 gateway endpoints (not deleted)."""
    reply = aws.call(
        "ec2",
        "describe_vpc_endpoints",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "service-name", "Values": [f"com.amazonaws.{region}.s3"]},
            {"Name": "vpc-endpoint-type", "Values": ["Gateway"]},
        ],
    )
    return [e for e in reply.get("VpcEndpoints", []) if e.get("State") != "deleted"]


def private_route_tables(aws: Aws, vpc_id: str) -> list[str]:
    """Route tables of the VPC without a route to an internet gateway: the private subnets',
    whose traffic to S3 would otherwise cross the NAT gateway ($0.045/GB)."""
    reply = aws.call(
        "ec2", "describe_route_tables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    private = []
    for table in reply.get("RouteTables", []):
        if any(str(r.get("GatewayId", "")).startswith("igw-") for r in table.get("Routes", [])):
            continue
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue  # the main table has no subnet of eksctl's
        private.append(str(table["RouteTableId"]))
    return sorted(private)


def nvidia_ami_parameter(ami_alias: str, kubernetes: str, arch: str = "x86_64") -> str | None:
    """The SSM public parameter Karpenter reads for ``bottlerocket@<version>`` on a GPU instance
    type (the -nvidia variant of the cluster's Kubernetes minor; Karpenter trims the v), or None
    for an alias of another family. Pure."""
    family, _, version = ami_alias.partition("@")
    if family != "bottlerocket" or not version:
        return None
    return (
        f"/aws/service/bottlerocket/aws-k8s-{kubernetes}-nvidia/{arch}/"
        f"{version.removeprefix('v')}/image_id"
    )
