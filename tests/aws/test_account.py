"""The AWS account's side of preflight, through real boto3, against moto's server mode on loopback.

moto serves STS, IAM, SQS, EventBridge and S3. Its Service Quotas backend answers only the
`vpc` service code (moto 5.2: `get_service_quota` raises NoSuchResource for `ec2`), so the G/VT
vCPU quota is served by `QuotaServer` below: a MOCK of the Service Quotas JSON API (one HTTP
server on loopback, the wire format boto3 sends and parses), named as one. A test pins moto's
gap so the mock goes when moto grows the quota.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest

from tests.aws import LoopbackServer, moto_server, point_boto3_at, reset_moto
from tubedemo.aws import account as aws_ops
from tubedemo.aws import iam as policies
from tubedemo.aws.errors import AwsUnavailable
from tubedemo.aws.session import Aws, CredentialFacts
from tubedemo.cluster.preflight import aws_checks
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import PreflightFailed

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-west-2"


class QuotaServer(LoopbackServer):
    """MOCK of AWS Service Quotas (moto does not serve ec2 quotas): GetServiceQuota and
    GetAWSDefaultServiceQuota over the awsJson1_1 protocol, from a dict of quota code -> value."""

    def __init__(self) -> None:
        self.applied: dict[str, float] = {}
        self.defaults: dict[str, float] = {}
        quotas = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                code = body.get("QuotaCode", "")
                table = quotas.applied if target == "GetServiceQuota" else quotas.defaults
                if code not in table:
                    status, reply = 400, {"__type": "NoSuchResourceException", "Message": code}
                else:
                    status = 200
                    reply = {
                        "Quota": {
                            "ServiceCode": body.get("ServiceCode"),
                            "QuotaCode": code,
                            "Value": table[code],
                        }
                    }
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, QuotaServer]]:
    quotas = QuotaServer()
    quotas.thread.start()
    with moto_server() as url:
        try:
            yield url, quotas
        finally:
            quotas.server.shutdown()


@pytest.fixture
def aws(servers: tuple[str, QuotaServer], monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    moto_url, quotas = servers
    point_boto3_at(monkeypatch, moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", quotas.url)
    reset_moto(moto_url)
    quotas.applied.clear()
    quotas.defaults.clear()
    yield Aws(REGION)


def _cfg(**raw: Any) -> DemoConfig:
    base: dict[str, Any] = {"cluster": {"account_id": ACCOUNT, "region": REGION}}
    base.update(raw)
    return config_from_dict(base)


def _client(service: str) -> Any:
    return boto3.session.Session(region_name=REGION).client(service)


def test_moto_serves_no_ec2_quotas_so_the_quota_server_is_a_mock(aws: Aws) -> None:
    from moto.servicequotas.models import ServiceQuotasBackend

    backend = ServiceQuotasBackend(REGION, ACCOUNT)
    with pytest.raises(Exception, match=r"NoSuchResource|not"):
        backend.get_service_quota("ec2", aws_ops.GVT_SPOT_QUOTA)


def test_the_account_comes_from_sts_when_demo_yaml_leaves_it_unset(aws: Aws) -> None:
    cfg = config_from_dict({"cluster": {"region": REGION}})
    resolved = aws_ops.with_account(cfg, aws)
    assert resolved.cluster.account_id == ACCOUNT
    assert resolved.s3_bucket == f"tubedemo-{ACCOUNT}-{REGION}"
    other = _cfg(cluster={"account_id": "210987654321", "region": REGION})
    with pytest.raises(PreflightFailed, match="credentials are for account 123456789012"):
        aws_ops.check_account(aws, other)


def test_spot_service_linked_role_missing_names_the_create_command_then_passes(aws: Aws) -> None:
    with pytest.raises(PreflightFailed, match="create-service-linked-role --aws-service-name spot"):
        aws_ops.check_spot_role(aws)
    # moto's create_service_linked_role names it AWSServiceRoleForspot; AWS names it EC2Spot
    _client("iam").create_role(
        Path="/aws-service-role/spot.amazonaws.com/",
        RoleName="AWSServiceRoleForEC2Spot",
        AssumeRolePolicyDocument="{}",
    )
    assert "AWSServiceRoleForEC2Spot exists" in aws_ops.check_spot_role(aws)


def test_gvt_quotas_below_what_karpenter_may_launch_name_the_increase_then_pass(
    aws: Aws, servers: tuple[str, QuotaServer]
) -> None:
    _, quotas = servers
    cfg = _cfg()
    # every allowed type may come up (10 x g5.4xlarge); 80 was below the twin's own packing
    assert aws_ops.gvt_vcpus_needed(cfg).vcpus == 160
    quotas.defaults[aws_ops.GVT_SPOT_QUOTA] = 0  # a new account: never adjusted, default 0
    with pytest.raises(PreflightFailed) as failed:
        aws_ops.check_gvt_quota(aws, cfg, "spot")
    assert "All G and VT Spot Instance Requests" in failed.value.message
    assert "10 x g5.4xlarge" in failed.value.message
    assert "--quota-code L-3819A6DF --desired-value 160" in failed.value.message
    quotas.applied[aws_ops.GVT_SPOT_QUOTA] = 96
    with pytest.raises(PreflightFailed, match="needs 160"):
        aws_ops.check_gvt_quota(aws, cfg, "spot")
    quotas.applied[aws_ops.GVT_SPOT_QUOTA] = 160
    assert ">= 160 needed" in aws_ops.check_gvt_quota(aws, cfg, "spot")
    # the on-demand fallback (capacity_types: [spot, on-demand] by default) has its own quota
    quotas.defaults[aws_ops.GVT_ON_DEMAND_QUOTA] = 64
    with pytest.raises(PreflightFailed) as failed:
        aws_ops.check_gvt_quota(aws, cfg, "on-demand")
    assert "Running On-Demand G and VT instances" in failed.value.message
    assert "fallback when EC2 has no spot capacity" in failed.value.message
    assert "--quota-code L-DB2E81BA --desired-value 160" in failed.value.message


def test_karpenter_node_role_missing_then_present(aws: Aws) -> None:
    cfg = _cfg()
    with pytest.raises(PreflightFailed, match=r"KarpenterNodeRole-tubedemo .*is missing"):
        aws_ops.check_node_role(aws, cfg)
    _client("iam").create_role(RoleName="KarpenterNodeRole-tubedemo", AssumeRolePolicyDocument="{}")
    assert "exists" in aws_ops.check_node_role(aws, cfg)


def test_interruption_queue_needs_the_queue_and_a_spot_interruption_rule(aws: Aws) -> None:
    cfg = _cfg()
    with pytest.raises(PreflightFailed, match="interruption queue tubedemo is missing"):
        aws_ops.check_interruption_queue(aws, cfg)
    url = _client("sqs").create_queue(QueueName="tubedemo")["QueueUrl"]
    with pytest.raises(PreflightFailed, match="no EventBridge rule"):
        aws_ops.check_interruption_queue(aws, cfg)
    arn = _client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = _client("events")
    pattern = {"source": ["aws.ec2"], "detail-type": [aws_ops.SPOT_INTERRUPTION]}
    events.put_rule(Name="tubedemo-spot", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="tubedemo-spot", Targets=[{"Id": "q", "Arn": arn}])
    assert "receives spot interruption warnings" in aws_ops.check_interruption_queue(aws, cfg)


def test_bucket_missing_names_the_fix_and_up_creates_it_when_asked(aws: Aws) -> None:
    cfg = _cfg()
    with pytest.raises(PreflightFailed, match=r"storage\.create_bucket: true"):
        aws_ops.check_bucket(aws, cfg)
    asked = _cfg(storage={"create_bucket": True})
    assert "will be created by `up`" in aws_ops.check_bucket(aws, asked)
    assert aws_ops.create_bucket(aws, asked.s3_bucket) is True
    assert aws_ops.create_bucket(aws, asked.s3_bucket) is False  # idempotent
    s3 = _client("s3")
    assert s3.get_bucket_versioning(Bucket=asked.s3_bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=asked.s3_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert "exists" in aws_ops.check_bucket(aws, cfg)


def test_gateway_role_must_exist_and_trust_the_gateway_service_account(aws: Aws) -> None:
    cfg = _cfg()
    with pytest.raises(PreflightFailed, match=r"IAM role tubedemo-gateway .*is missing"):
        aws_ops.check_irsa_role(aws, cfg, "tubedemo-gateway", "gateway")
    iam = _client("iam")
    wrong = policies.irsa_trust(cfg, "oidc.eks.us-west-2.amazonaws.com/id/ABC", "someone-else")
    iam.create_role(RoleName="tubedemo-gateway", AssumeRolePolicyDocument=json.dumps(wrong))
    with pytest.raises(PreflightFailed, match="does not let system:serviceaccount:tubedemo:gat"):
        aws_ops.check_irsa_role(aws, cfg, "tubedemo-gateway", "gateway")
    right = policies.irsa_trust(cfg, "oidc.eks.us-west-2.amazonaws.com/id/ABC", "gateway")
    iam.update_assume_role_policy(RoleName="tubedemo-gateway", PolicyDocument=json.dumps(right))
    assert "trusts ServiceAccount tubedemo/gateway" in aws_ops.check_irsa_role(
        aws, cfg, "tubedemo-gateway", "gateway"
    )


def test_the_printed_gateway_policy_lets_the_role_use_its_prefix_and_nothing_else(aws: Aws) -> None:
    """The policy tubedemo prints is accepted by IAM (moto parses it) and attached to the role."""
    cfg = _cfg()
    document = policies.gateway_policy(cfg)
    iam = _client("iam")
    iam.create_role(RoleName="tubedemo-gateway", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(
        RoleName="tubedemo-gateway", PolicyName="survey", PolicyDocument=json.dumps(document)
    )
    stored = iam.get_role_policy(RoleName="tubedemo-gateway", PolicyName="survey")
    resources = json.dumps(stored["PolicyDocument"])
    assert f"arn:aws:s3:::tubedemo-{ACCOUNT}-{REGION}/tubedemo/*" in resources
    assert "s3:*" not in resources


def test_no_credentials_is_one_reason_not_one_failure_per_check(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AwsUnavailable, match="no AWS credentials"):
        Aws(REGION).account_id()


def test_the_eks_profile_checks_the_account_in_the_order_a_new_account_meets_it() -> None:
    subjects = [c.subject for c in aws_checks(_cfg(model={"weights_uri": "s3://w/llama/"}))]
    assert subjects == [
        "account",
        "credentials",
        "eks-cluster",
        "spot-role",
        "quota",  # spot
        "quota",  # on-demand, the fallback
        "node-role",
        "interruption-queue",
        "discovery-tags",
        "nvidia-ami",
        "s3-endpoint",  # the weights come from S3
        "bucket",
        "irsa",
        "prepared",  # image_snapshot_id is auto by default
        "irsa",
    ]
    explicit = _cfg(
        model={"weights_uri": "s3://w/llama/"},
        gpu_pool={"image_snapshot_id": "snap-0123456789abcdef0"},
    )
    assert "prepared" not in [c.subject for c in aws_checks(explicit)]


# --- the cluster's side: its OIDC issuer, Kubernetes version and VPC ----------------------------


def _eks_cluster(name: str = "tubedemo", version: str = "1.35") -> dict[str, Any]:
    """An EKS cluster in moto with a VPC as eksctl makes one: a public route table (to an
    internet gateway) and a private one per private subnet. Its description and the ids."""
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    subnets, private = [], []
    for index in range(2):
        subnet = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"192.168.{index * 32}.0/19",
            AvailabilityZone=f"{REGION}{'ab'[index]}",
        )
        subnets.append(subnet["Subnet"]["SubnetId"])
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnets[-1])
        private.append(table)
    role = _client("iam").create_role(RoleName=f"{name}-eks", AssumeRolePolicyDocument="{}")
    cluster = _client("eks").create_cluster(
        name=name,
        version=version,
        roleArn=role["Role"]["Arn"],
        resourcesVpcConfig={"subnetIds": subnets},
    )["cluster"]
    return {"cluster": cluster, "vpc": vpc, "private": private, "public": public}


def _publish_parameter(name: str, value: str) -> None:
    """BRIDGE over a moto gap (as tests/prepare's): AWS publishes /aws/service/bottlerocket/...
    as public parameters; moto has none and refuses names under /aws, so the parameter is
    written into moto's in-process SSM backend."""
    from moto.ssm.models import Parameter, ssm_backends

    ssm_backends[ACCOUNT][REGION]._parameters[name].append(
        Parameter(
            account_id=ACCOUNT,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="aws:ec2:image",
        )
    )


def test_preflight_names_the_eks_cluster_demo_yaml_names_or_how_to_make_it(aws: Aws) -> None:
    cfg = _cfg()
    with pytest.raises(PreflightFailed, match=r"no EKS cluster tubedemo in us-west-2.*cluster cr"):
        aws_ops.check_eks_cluster(aws, cfg)
    made = _eks_cluster(version="1.34")
    assert aws_ops.check_eks_cluster(aws, cfg).startswith(
        f"EKS cluster tubedemo: Kubernetes 1.34, {made['vpc']}"
    )


def test_an_irsa_role_trusting_an_earlier_clusters_oidc_provider_fails_naming_this_ones(
    aws: Aws,
) -> None:
    """The role a deleted cluster's create left behind still names the gateway's
    ServiceAccount, but through the old cluster's OIDC provider: STS would refuse the gateway
    at the talk (the survey cannot be written)."""
    cfg = _cfg()
    issuer = _eks_cluster()["cluster"]["identity"]["oidc"]["issuer"]
    provider = issuer.removeprefix("https://")
    old = policies.irsa_trust(cfg, "oidc.eks.us-west-2.amazonaws.com/id/0LDC1USTER", "gateway")
    iam = _client("iam")
    iam.create_role(RoleName="tubedemo-gateway", AssumeRolePolicyDocument=json.dumps(old))
    with pytest.raises(PreflightFailed) as failed:
        aws_ops.check_irsa_role(aws, cfg, "tubedemo-gateway", "gateway")
    assert "through OIDC provider oidc.eks.us-west-2.amazonaws.com/id/0LDC1USTER" in (
        failed.value.message
    )
    assert f"not this cluster's {provider}" in failed.value.message
    assert f"--oidc-issuer {issuer}`" in failed.value.message  # the fix, with the real issuer
    right = policies.irsa_trust(cfg, provider, "gateway")
    iam.update_assume_role_policy(RoleName="tubedemo-gateway", PolicyDocument=json.dumps(right))
    assert aws_ops.check_irsa_role(aws, cfg, "tubedemo-gateway", "gateway").endswith(
        f"tubedemo/gateway through {provider}"
    )


def test_the_nvidia_bottlerocket_image_karpenter_resolves_must_exist_for_the_clusters_version(
    aws: Aws,
) -> None:
    cfg = _cfg(gpu_pool={"ami_alias": "bottlerocket@v1.66.0"})
    _eks_cluster(version="1.35")
    with pytest.raises(PreflightFailed) as failed:
        aws_ops.check_nvidia_ami(aws, cfg)
    name = "/aws/service/bottlerocket/aws-k8s-1.35-nvidia/x86_64/1.66.0/image_id"
    assert f"({name} does not exist)" in failed.value.message
    assert "EC2NodeClass would never be Ready" in failed.value.message
    _publish_parameter(name, "ami-0123456789abcdef0")
    assert aws_ops.check_nvidia_ami(aws, cfg) == (
        "Bottlerocket NVIDIA image for bottlerocket@v1.66.0 on Kubernetes 1.35: "
        "ami-0123456789abcdef0"
    )
    # another family is not Bottlerocket's parameter: not looked up here
    assert aws_ops.check_nvidia_ami(aws, _cfg(gpu_pool={"ami_alias": "al2023@latest"})) == ""


def test_without_the_s3_gateway_endpoint_on_every_private_route_table_preflight_warns(
    aws: Aws,
) -> None:
    cfg = _cfg(model={"weights_uri": "auto"})
    made = _eks_cluster()
    line = aws_ops.check_s3_endpoint(aws, cfg)
    assert line.startswith(f"{aws_ops.WARNING}no S3 gateway endpoint in {made['vpc']}")
    assert "$0.045/GB" in line and "--route-table-ids " + " ".join(sorted(made["private"])) in line
    ec2 = _client("ec2")
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Gateway",
        VpcId=made["vpc"],
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=made["private"][:1],
    )["VpcEndpoint"]["VpcEndpointId"]
    line = aws_ops.check_s3_endpoint(aws, cfg)
    assert line.startswith(f"{aws_ops.WARNING}S3 gateway endpoint {endpoint} is not on route")
    assert made["private"][1] in line
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, AddRouteTableIds=made["private"][1:])
    assert aws_ops.check_s3_endpoint(aws, cfg) == (
        f"S3 gateway endpoint {endpoint} on the 2 private route table(s) of {made['vpc']}: "
        "weights bypass the NAT gateway"
    )


NOW = datetime.datetime(2026, 12, 8, 17, 0, tzinfo=datetime.UTC)


def test_credentials_that_end_within_two_hours_are_a_warning_with_their_time() -> None:
    def line(method: str, minutes: float | None, temporary: bool = True) -> str:
        expires = None if minutes is None else NOW + datetime.timedelta(minutes=minutes)
        return aws_ops.credentials_line(CredentialFacts(method, expires, temporary), NOW)

    soon = line("env", 59)
    assert soon.startswith(aws_ops.WARNING)
    assert "expire at 2026-12-08 17:59 UTC (in 0h59m), under 2 h" in soon
    assert "`show`, `mode survey` and `winners` fail" in soon
    assert line("env", 121) == "AWS credentials (env) expire at 2026-12-08 19:01 UTC (in 2h01m)"
    # a session token with no known end ("export" of an assume-role): may be 1 h
    assert line("shared-credentials-file", None).startswith(aws_ops.WARNING)
    assert line("shared-credentials-file", None, temporary=False) == (
        "AWS credentials (shared-credentials-file): long-term keys, no expiry"
    )
    # sources that fetch new credentials themselves: shown, not a warning
    assert line("assume-role", 30) == (
        "AWS credentials (assume-role) renew themselves (these until 17:30 UTC)"
    )
    assert "while the SSO sign-in lasts" in line("sso", 30)


def test_preflight_reads_the_expiry_botocore_has_for_the_credentials(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exported temporary credentials (`aws configure export-credentials --format env` sets
    AWS_CREDENTIAL_EXPIRATION), as botocore reads them, against moto."""
    ends = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=75)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
    fresh = Aws(REGION)
    assert fresh.account_id() == ACCOUNT
    line = aws_ops.check_credentials(fresh, datetime.datetime.now(datetime.UTC))
    assert line.startswith(f"{aws_ops.WARNING}AWS credentials (env) expire at ")
    assert "under 2 h" in line


def test_karpenters_discovery_tags_on_subnets_and_a_security_group_of_the_clusters_vpc(
    aws: Aws,
) -> None:
    cfg = _cfg()
    made = _eks_cluster()
    ec2 = _client("ec2")
    with pytest.raises(PreflightFailed) as failed:
        aws_ops.check_discovery_tags(aws, cfg)
    assert (
        f"no subnet and no security group tagged karpenter.sh/discovery=tubedemo in {made['vpc']}"
        in failed.value.message
    )
    assert "would never be Ready" in failed.value.message
    subnets = made["cluster"]["resourcesVpcConfig"]["subnetIds"]
    tag = [{"Key": "karpenter.sh/discovery", "Value": "tubedemo"}]
    ec2.create_tags(Resources=subnets, Tags=tag)
    with pytest.raises(PreflightFailed, match="no security group tagged"):
        aws_ops.check_discovery_tags(aws, cfg)
    # a tagged group of another VPC is not the cluster's
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="x", Description="x", VpcId=other)
    ec2.create_tags(Resources=[elsewhere["GroupId"]], Tags=tag)
    with pytest.raises(PreflightFailed, match="no security group tagged"):
        aws_ops.check_discovery_tags(aws, cfg)
    group = ec2.create_security_group(GroupName="nodes", Description="n", VpcId=made["vpc"])
    ec2.create_tags(Resources=[group["GroupId"]], Tags=tag)
    assert aws_ops.check_discovery_tags(aws, cfg).startswith(
        "2 subnet(s) in us-west-2a, us-west-2b and 1 security group(s) tagged "
        f"karpenter.sh/discovery=tubedemo in {made['vpc']}"
    )
