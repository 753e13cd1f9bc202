"""The AWS steps of `cluster create`/`delete`, each against moto in server mode (and the Service
Quotas MOCK of tests/eks/standins.py for the ec2 quota moto does not serve)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tests.aws import moto_server, point_boto3_at
from tests.eks.standins import QuotaService, karpenter_template
from tubedemo.aws.account import gvt_vcpus_needed
from tubedemo.aws.iam import gateway_policy
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.eks import aws_steps
from tubedemo.eks.aws_steps import LeftBehind, Leftover
from tubedemo.eks.eksctl_config import TALK_TAG

REGION = "us-west-2"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with moto_server() as url:
        point_boto3_at(monkeypatch, url)
        yield Aws(REGION)


@pytest.fixture
def cfg() -> DemoConfig:
    return config_from_dict({"cluster": {"account_id": "123456789012"}})


def test_karpenters_stack_is_made_once_then_found_then_deleted(aws: Aws, cfg: DemoConfig) -> None:
    assert aws_steps.ensure_karpenter_stack(aws, cfg, karpenter_template()) == (
        "made",
        "CloudFormation stack Karpenter-tubedemo",
    )
    verb, _ = aws_steps.ensure_karpenter_stack(aws, cfg, karpenter_template())
    assert verb == "found"
    queue = aws.call("sqs", "get_queue_url", QueueName="tubedemo")["QueueUrl"]
    assert queue.endswith("/tubedemo")
    assert aws_steps.delete_karpenter_stack(aws, cfg)[0] == "deleted"
    assert aws_steps.delete_karpenter_stack(aws, cfg)[0] == "gone"


def _vpc_with_private_and_public_tables(aws: Aws) -> tuple[str, list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    private = sorted(
        ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(2)
    )
    return vpc, private


def test_the_s3_endpoint_goes_on_the_private_route_tables_only(aws: Aws, cfg: DemoConfig) -> None:
    vpc, private = _vpc_with_private_and_public_tables(aws)
    assert aws_steps.private_route_tables(aws, vpc) == private
    verb, _ = aws_steps.ensure_s3_endpoint(aws, cfg, vpc)
    assert verb == "made"
    assert aws_steps.ensure_s3_endpoint(aws, cfg, vpc)[0] == "found"
    endpoints = boto3.client("ec2", region_name=REGION).describe_vpc_endpoints()["VpcEndpoints"]
    assert sorted(endpoints[0]["RouteTableIds"]) == private
    assert endpoints[0]["ServiceName"] == "com.amazonaws.us-west-2.s3"
    assert aws_steps.delete_s3_endpoint(aws, cfg, vpc)[0] == "deleted"
    assert aws_steps.delete_s3_endpoint(aws, cfg, vpc)[0] == "gone"


def test_an_irsa_role_trusting_an_old_cluster_is_pointed_at_this_one(
    aws: Aws, cfg: DemoConfig
) -> None:
    old = "https://oidc.eks.us-west-2.amazonaws.com/id/OLD"
    new = "https://oidc.eks.us-west-2.amazonaws.com/id/NEW"
    policy = gateway_policy(cfg)
    assert (
        aws_steps.ensure_irsa_role(aws, cfg, "tubedemo-gateway", "gateway", old, "survey", policy)[
            0
        ]
        == "made"
    )
    assert (
        aws_steps.ensure_irsa_role(aws, cfg, "tubedemo-gateway", "gateway", old, "survey", policy)[
            0
        ]
        == "found"
    )
    verb, what = aws_steps.ensure_irsa_role(
        aws, cfg, "tubedemo-gateway", "gateway", new, "survey", policy
    )
    assert verb == "made" and "trust now this cluster's OIDC provider" in what
    role = boto3.client("iam", region_name=REGION).get_role(RoleName="tubedemo-gateway")["Role"]
    assert "id/NEW" in json.dumps(role["AssumeRolePolicyDocument"])
    assert aws_steps.delete_role(aws, "tubedemo-gateway")[0] == "deleted"
    assert aws_steps.delete_role(aws, "tubedemo-gateway")[0] == "gone"


def test_the_quota_is_asked_for_once_and_found_while_aws_decides(
    aws: Aws, cfg: DemoConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    quotas = QuotaService()
    quotas.server.thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.server.url)
        fresh = Aws(REGION)
        assert aws_steps.ensure_quota(fresh, cfg, "spot")[0] == "made"
        verb, what = aws_steps.ensure_quota(fresh, cfg, "spot")
        assert verb == "found" and "PENDING" in what
        need = float(gvt_vcpus_needed(cfg).vcpus)
        assert [(r["QuotaCode"], r["DesiredValue"]) for r in quotas.requests] == [
            ("L-3819A6DF", need)
        ]
        quotas.applied["L-3819A6DF"] = 10_000.0
        assert aws_steps.ensure_quota(fresh, cfg, "spot")[0] == "found"
        assert aws_steps.ensure_quota(fresh, cfg, "on-demand")[0] == "made"
        assert quotas.requests[-1]["QuotaCode"] == "L-DB2E81BA"
    finally:
        quotas.server.server.shutdown()


def test_the_proof_names_each_billable_thing_left(aws: Aws, cfg: DemoConfig) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(
        AvailabilityZone="us-west-2a",
        Size=1,
        TagSpecifications=[
            {
                "ResourceType": "volume",
                "Tags": [{"Key": "kubernetes.io/created-for/pvc/namespace", "Value": "tubedemo"}],
            }
        ],
    )["VolumeId"]
    assert aws_steps.proof(aws, cfg, None) == [Leftover("volume", volume)]
    with pytest.raises(LeftBehind, match=f"volume {volume}"):
        aws_steps.wait_gone(
            "EBS volumes", lambda: aws_steps.volume_leftovers(aws, cfg), timeout=0.0
        )
    ec2.delete_volume(VolumeId=volume)
    assert aws_steps.proof(aws, cfg, None) == []


def test_the_proof_names_a_nat_gateway_and_elastic_ip_eksctl_left(
    aws: Aws, cfg: DemoConfig
) -> None:
    """eksctl's VPC stack tags what it makes (the ClusterConfig's metadata.tags); an
    interrupted `eksctl delete cluster` can leave the NAT gateway and its address billing."""
    ec2 = boto3.client("ec2", region_name=REGION)
    talk = [{"Key": TALK_TAG, "Value": cfg.cluster.name}]
    vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="192.168.0.0/19")["Subnet"]["SubnetId"]
    address = ec2.allocate_address(
        Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": talk}]
    )["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=subnet,
        AllocationId=address,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": talk}],
    )["NatGateway"]["NatGatewayId"]
    left = aws_steps.proof(aws, cfg, None)
    assert Leftover("NAT gateway", nat) in left and Leftover("Elastic IP", address) in left
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=address)
    assert aws_steps.proof(aws, cfg, None) == []
