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


def test_the_audience_certificate_is_requested_validated_in_the_hosted_zone_and_waited_for(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import settings

    # moto issues a DNS-validated certificate once it is this many seconds old (it does not
    # resolve the validation record: that part is emulated); AWS takes minutes
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 1)
    cfg = config_from_dict(
        {
            "cluster": {"account_id": "123456789012"},
            "web": {"ingress": {"host": "talk.example.com", "hosted_zone": "example.com"}},
        }
    )
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="talk")["HostedZone"]
    arn, made = aws_steps.ensure_certificate(aws, cfg)
    assert made == (
        "made",
        f"ACM certificate for talk.example.com (DNS validation requested): {arn}",
    )
    assert aws_steps.ensure_validation_record(aws, cfg, arn)[0] == "made"
    wanted = boto3.client("acm", region_name=REGION).describe_certificate(CertificateArn=arn)
    record = wanted["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    cnames = [
        (r["Name"], r["ResourceRecords"][0]["Value"]) for r in records if r["Type"] == "CNAME"
    ]
    assert cnames == [(record["Name"], record["Value"])]
    assert aws_steps.wait_certificate(aws, arn, timeout=30, poll=1) == (
        "issued",
        f"ACM certificate {arn}: set web.ingress.certificate_arn to it",
    )
    # run again: the same certificate and record are found, nothing is added
    again, found = aws_steps.ensure_certificate(aws, cfg)
    assert (again, found[0]) == (arn, "found") and "(ISSUED)" in found[1]
    assert aws_steps.ensure_validation_record(aws, cfg, arn)[0] == "found"
    listed = boto3.client("acm", region_name=REGION).list_certificates()["CertificateSummaryList"]
    assert len(listed) == 1
    after = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert after == records


def test_a_hosted_zone_the_account_does_not_have_is_one_line_naming_it(aws: Aws) -> None:
    from tubedemo.core.errors import AwsError

    with pytest.raises(AwsError, match=r"no public Route 53 hosted zone example\.org in this"):
        aws_steps.hosted_zone_id(aws, "example.org")


def test_create_makes_the_certificate_last_of_the_account_side_with_a_line_per_step(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import settings

    from tubedemo.eks import create

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 1)  # as above: moto issues it
    quotas = QuotaService()
    quotas.server.thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.server.url)
        fresh = Aws(REGION)
        ingress = {"host": "talk.example.com", "hosted_zone": "example.com"}
        cfg = config_from_dict(
            {"cluster": {"account_id": "123456789012"}, "web": {"ingress": ingress}}
        )
        boto3.client("route53", region_name=REGION).create_hosted_zone(
            Name="example.com", CallerReference="talk"
        )
        vpc, _ = _vpc_with_private_and_public_tables(fresh)
        issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/TALK"
        facts = aws_steps.ClusterFacts("tubedemo", "1.35", vpc, issuer, "ACTIVE")
        lines: list[str] = []
        create.ensure_account_side(fresh, cfg, facts, lines.append)
    finally:
        quotas.server.server.shutdown()
    verbs = [line.split()[0] for line in lines]
    assert verbs[-3:] == ["made", "made", "issued"], lines
    assert "ACM certificate for talk.example.com" in lines[-3]
    assert "Route 53 CNAME _" in lines[-2] and "in example.com" in lines[-2]
    assert "set web.ingress.certificate_arn" in lines[-1]
