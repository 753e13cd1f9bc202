"""The AWS account's side of preflight, and the one AWS change `up` makes (the survey bucket).

Decide (pure): what the GPU pool needs from the account (``gvt_vcpus_needed``, through
tubedemo.core.capacity), whether the
credentials are for the account demo.yaml names (``account_mismatch``). Do: one check per
prerequisite, each a call or two through the door (session.Aws), returning one line or raising
PreflightFailed with the fix; ``run_check`` runs one by its subject (cluster/preflight.py plans
which). AWS failing to answer is an AwsError (errors.py), never a PreflightFailed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tubedemo.aws import eks_cluster
from tubedemo.aws.errors import AwsDenied
from tubedemo.aws.iam import trust_problem
from tubedemo.aws.session import Aws, CredentialFacts, SsoSignIn
from tubedemo.core.capacity import VcpuNeed, most_vcpus
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import PreflightFailed

SPOT_SERVICE_LINKED_ROLE = "AWSServiceRoleForEC2Spot"
GVT_SPOT_QUOTA = "L-3819A6DF"
"""Service Quotas code of "All G and VT Spot Instance Requests" (vCPUs)."""
GVT_ON_DEMAND_QUOTA = "L-DB2E81BA"
"""Service Quotas code of "Running On-Demand G and VT instances" (vCPUs)."""
SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"

GPUS: dict[str, int] = {"g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8}
GPUS.update({"g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8})
"""GPUs per instance type where it is not one."""

NO_SUCH_ENTITY = ("NoSuchEntity",)
NO_SUCH_PARAMETER = ("ParameterNotFound",)
WARNING = "warning: "
"""A check's line that passes but asks for attention starts so (preflight shows it as warn)."""
CREDENTIALS_WARN = timedelta(hours=2)
"""Credentials that expire sooner than this may expire during the talk (rehearsal, then
`show`, `mode survey`, `winners`, which need them)."""
RENEWING = frozenset(
    {
        "assume-role",
        "assume-role-with-web-identity",
        "sso",
        "iam-role",
        "container-role",
        "custom-process",
    }
)
"""botocore's credential sources that fetch new credentials themselves when these expire."""
NO_SUCH_BUCKET = ("404", "NoSuchBucket", "NotFound")
NO_SUCH_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


# --- decide (pure) ------------------------------------------------------------------------------


def gvt_vcpus_needed(config: DemoConfig) -> VcpuNeed:
    """vCPUs the G/VT quota must allow: the most Karpenter may launch within the pool's GPU
    and cpu limits over every allowed type (tubedemo.core.capacity; 160 for the defaults:
    10 x g5.4xlarge), with GPUs per type from the twin's catalogue. It was the fewest per GPU
    (10 x g5.2xlarge = 80), below the 2 x g5.12xlarge + 2 x g5.2xlarge the twin packs."""
    pool = config.gpu_pool
    gpus = {**GPUS, **config.twin.startup.gpus_per_node}
    return most_vcpus(pool.instance_types, gpus, pool.gpu_limit, pool.cpu_limit)


def account_mismatch(account: str, config: DemoConfig) -> str | None:
    """Why credentials for ``account`` are the wrong ones for this demo.yaml, or None."""
    named = config.cluster.account_id
    if named and account != named:
        return (
            f"AWS credentials are for account {account}, demo.yaml names {named}; switch "
            "AWS_PROFILE or fix cluster.account_id"
        )
    return None


def credentials_line(
    facts: CredentialFacts,
    now: datetime,
    sign_in: SsoSignIn | None = None,
    talk_ends: datetime | None = None,
) -> str:
    """What preflight says of the credentials: where from, when they expire; a warning when
    they may expire during the talk (under 2 h, or temporary with no known end) or, for an
    SSO profile, when its sign-in ends before the talk does. Pure."""
    source = facts.method
    if facts.method == "sso" and sign_in is not None:
        return sso_line(sign_in, now, talk_ends)
    if facts.method in RENEWING:
        until = f" (these until {facts.expires:%H:%M} UTC)" if facts.expires else ""
        also = "; while the SSO sign-in lasts (`aws sso login`)" if facts.method == "sso" else ""
        return f"AWS credentials ({source}) renew themselves{until}{also}"
    renew = (
        "renew them right before the talk (`aws sso login`, or new keys from `aws sts "
        "assume-role --duration-seconds 14400`)"
    )
    if facts.expires is None:
        if not facts.temporary:
            return f"AWS credentials ({source}): long-term keys, no expiry"
        return (
            f"{WARNING}AWS credentials ({source}) carry a session token of unknown expiry "
            "(`aws sts assume-role` gives 1 h by default): if they expire during the talk, "
            f"`show`, `mode survey` and `winners` fail; {renew}"
        )
    left = facts.expires - now
    minutes = max(0, int(left.total_seconds() // 60))
    when = f"{facts.expires:%Y-%m-%d %H:%M} UTC (in {minutes // 60}h{minutes % 60:02d}m)"
    if left < CREDENTIALS_WARN:
        return (
            f"{WARNING}AWS credentials ({source}) expire at {when}, under 2 h: `show`, "
            f"`mode survey` and `winners` fail once they do; {renew}"
        )
    return f"AWS credentials ({source}) expire at {when}"


def sso_line(sign_in: SsoSignIn, now: datetime, talk_ends: datetime | None) -> str:
    """SSO credentials renew themselves only while their sign-in lasts: its end (the token's,
    or, for a token botocore renews, its client registration's), a warning when that comes
    before the talk's end (unknown: within 2 h). Pure."""
    login = f"aws sso login --sso-session {sign_in.name}"
    if "://" in sign_in.name:  # a profile without an sso-session signs in by the profile
        login = "aws sso login"
    if sign_in.expires is None:
        return (
            f"{WARNING}AWS credentials (sso): no SSO sign-in of {sign_in.name} in botocore's "
            f"token cache (~/.aws/sso/cache): sign in right before the talk (`{login}`)"
        )
    ends = sign_in.refresh_until or sign_in.expires
    when = f"{ends:%Y-%m-%d %H:%M} UTC"
    renews = (
        f" (botocore renews its token, now until {sign_in.expires:%H:%M} UTC, until then, "
        "unless IAM Identity Center ends the session sooner)"
        if sign_in.refresh_until is not None
        else ""
    )
    limit = talk_ends if talk_ends is not None else now + CREDENTIALS_WARN
    talk = f"the talk's end ({talk_ends:%Y-%m-%d %H:%M} UTC)" if talk_ends else "2 h from now"
    if ends < limit:
        return (
            f"{WARNING}AWS credentials (sso) renew themselves only while the SSO sign-in "
            f"{sign_in.name} lasts, and it ends at {when}{renews}, before {talk}: `show`, "
            f"`mode survey` and `winners` fail from then; sign in again right before the talk "
            f"(`{login}`)"
        )
    return (
        f"AWS credentials (sso) renew themselves while the SSO sign-in {sign_in.name} lasts: "
        f"until {when}{renews}, after {talk}"
    )


# --- do (through the door) ----------------------------------------------------------------------


def with_account(config: DemoConfig, aws: Aws | None) -> DemoConfig:
    """The config with the account id filled in from STS when demo.yaml leaves it unset."""
    if config.cluster.account_id or config.profile != "eks" or aws is None:
        return config
    return config.with_account(aws.account_id())


def check_account(aws: Aws, config: DemoConfig) -> str:
    account = aws.account_id()
    problem = account_mismatch(account, config)
    if problem:
        raise PreflightFailed(problem)
    return f"AWS account {account}, region {aws.region}"


def check_credentials(aws: Aws, now: datetime, talk_ends: datetime | None = None) -> str:
    facts = aws.credentials()
    if facts is None:
        return ""  # the account check said it: no credentials
    sign_in = aws.sso_sign_in() if facts.method == "sso" else None
    return credentials_line(facts, now, sign_in, talk_ends)


def the_cluster(aws: Aws, config: DemoConfig) -> eks_cluster.EksCluster | None:
    """The EKS cluster demo.yaml names (each check that needs it asks: one cheap call)."""
    return eks_cluster.describe(aws, config.cluster.name)


def check_eks_cluster(aws: Aws, config: DemoConfig) -> str:
    found = the_cluster(aws, config)
    name = config.cluster.name
    if found is None:
        raise PreflightFailed(
            f"no EKS cluster {name} in {aws.region}: Karpenter's node role, interruption queue "
            "and discovery tags, and the IRSA roles, are made for cluster.name; set "
            "cluster.name and cluster.region to the cluster of the kubeconfig context, or "
            "make it: `tubedemo cluster create`"
        )
    return f"EKS cluster {name}: Kubernetes {found.version}, {found.vpc_id}, {found.status}"


DISCOVERY_TAG = "karpenter.sh/discovery"
"""The tag the rendered EC2NodeClass selects its subnets and security groups by (= cluster.name)."""


def check_discovery_tags(aws: Aws, config: DemoConfig) -> str:
    """Subnets and security groups tagged for Karpenter in the cluster's VPC: without them the
    EC2NodeClass matches nothing, never becomes Ready, and no GPU node can start."""
    name = config.cluster.name
    found = the_cluster(aws, config)
    filters = [{"Name": f"tag:{DISCOVERY_TAG}", "Values": [name]}]
    if found is not None and found.vpc_id:
        filters.append({"Name": "vpc-id", "Values": [found.vpc_id]})
    where = f" in {found.vpc_id}" if found is not None and found.vpc_id else ""
    subnets = aws.call("ec2", "describe_subnets", Filters=filters).get("Subnets", [])
    groups = aws.call("ec2", "describe_security_groups", Filters=filters).get("SecurityGroups", [])
    missing = [
        what for what, items in (("subnet", subnets), ("security group", groups)) if not items
    ]
    if missing:
        raise PreflightFailed(
            f"no {' and no '.join(missing)} tagged {DISCOVERY_TAG}={name}{where}: the "
            "EC2NodeClass selects by that tag, would never be Ready, and no GPU node would "
            f"start; tag the cluster's private subnets and its node security group (aws ec2 "
            f"create-tags --resources <ids> --tags Key={DISCOVERY_TAG},Value={name}), or make "
            "the cluster with `tubedemo cluster create`"
        )
    zones = sorted({str(s.get("AvailabilityZone", "")) for s in subnets})
    return (
        f"{len(subnets)} subnet(s) in {', '.join(zones)} and {len(groups)} security group(s) "
        f"tagged {DISCOVERY_TAG}={name}{where}"
    )


def check_nvidia_ami(aws: Aws, config: DemoConfig) -> str:
    """The Bottlerocket NVIDIA AMI that Karpenter will resolve the alias to exists for the
    cluster's Kubernetes minor; else the EC2NodeClass never becomes Ready and `up` waits on a
    Pending vLLM pod."""
    found = the_cluster(aws, config)
    alias = config.gpu_pool.ami_alias
    name = eks_cluster.nvidia_ami_parameter(alias, found.version) if found else None
    if name is None:
        return ""  # no cluster (said above), or an alias of another family: not looked up
    assert found is not None
    parameter = aws.call("ssm", "get_parameter", missing=NO_SUCH_PARAMETER, Name=name)
    if parameter is None:
        listing = f"/aws/service/bottlerocket/aws-k8s-{found.version}-nvidia/x86_64/"
        raise PreflightFailed(
            f"gpu_pool.ami_alias {alias}: Bottlerocket has no NVIDIA image for Kubernetes "
            f"{found.version} ({name} does not exist): Karpenter's EC2NodeClass would never be "
            "Ready and no GPU node would start; set ami_alias to a release that has one (aws "
            f"ssm get-parameters-by-path --recursive --path {listing} --query 'Parameters[].Name')"
        )
    return (
        f"Bottlerocket NVIDIA image for {alias} on Kubernetes {found.version}: "
        f"{parameter['Parameter']['Value']}"
    )


def check_s3_endpoint(aws: Aws, config: DemoConfig) -> str:
    """The weights reach the GPU nodes through the VPC's S3 gateway endpoint, not the NAT
    gateway (~15 GB per replica start at $0.045/GB); a warning without it (it costs, it does
    not break)."""
    found = the_cluster(aws, config)
    if found is None or not found.vpc_id:
        return ""
    endpoints = eks_cluster.s3_gateway_endpoints(aws, aws.region, found.vpc_id)
    private = eks_cluster.private_route_tables(aws, found.vpc_id)
    routed = {str(t) for e in endpoints for t in e.get("RouteTableIds", [])}
    missing = [t for t in private if t not in routed]
    create = (
        f"`tubedemo cluster create` adds it, or aws ec2 create-vpc-endpoint --vpc-id "
        f"{found.vpc_id} --service-name com.amazonaws.{aws.region}.s3 --route-table-ids "
        + " ".join(private or ["<private route tables>"])
    )
    cost = "the weights cross the NAT gateway at $0.045/GB (~$0.70 per replica start)"
    if not endpoints:
        return f"{WARNING}no S3 gateway endpoint in {found.vpc_id}: {cost}; {create}"
    if missing:
        return (
            f"{WARNING}S3 gateway endpoint {endpoints[0]['VpcEndpointId']} is not on route "
            f"table(s) {', '.join(missing)} of {found.vpc_id}: {cost} from those subnets; add "
            "them (aws ec2 modify-vpc-endpoint --add-route-table-ids)"
        )
    return (
        f"S3 gateway endpoint {endpoints[0]['VpcEndpointId']} on the {len(private)} private "
        f"route table(s) of {found.vpc_id}: weights bypass the NAT gateway"
    )


def check_role(aws: Aws, name: str, what: str, fix: str) -> dict[str, Any]:
    reply = aws.call("iam", "get_role", missing=NO_SUCH_ENTITY, RoleName=name)
    if reply is None:
        raise PreflightFailed(f"IAM role {name} ({what}) is missing; {fix}")
    role: dict[str, Any] = reply["Role"]
    return role


SPOT_ROLE_FIX = (
    "create it once per account: aws iam create-service-linked-role --aws-service-name "
    "spot.amazonaws.com"
)
NODE_ROLE_FIX = (
    "create it with Karpenter's getting-started CloudFormation (KarpenterNodeRole-<cluster>) or "
    "set gpu_pool.node_role; it also needs an EKS access entry of type EC2_LINUX"
)


def check_spot_role(aws: Aws) -> str:
    check_role(aws, SPOT_SERVICE_LINKED_ROLE, "EC2 Spot service-linked role", SPOT_ROLE_FIX)
    return f"EC2 Spot service-linked role {SPOT_SERVICE_LINKED_ROLE} exists"


def quota_value(aws: Aws, code: str) -> float:
    """The applied quota, else AWS's default (GetServiceQuota has no value for quotas never
    changed in some accounts)."""
    ask = {"ServiceCode": "ec2", "QuotaCode": code}
    reply = aws.call(
        "service-quotas", "get_service_quota", missing=("NoSuchResourceException",), **ask
    )
    if reply is None:
        reply = aws.call("service-quotas", "get_aws_default_service_quota", **ask)
    return float(reply["Quota"]["Value"])


def check_gvt_quota(aws: Aws, config: DemoConfig, capacity: str) -> str:
    code, name = (
        (GVT_SPOT_QUOTA, "All G and VT Spot Instance Requests")
        if capacity == "spot"
        else (GVT_ON_DEMAND_QUOTA, "Running On-Demand G and VT instances")
    )
    need = gvt_vcpus_needed(config)
    have = quota_value(aws, code)
    pool = config.gpu_pool
    limit = "cpu_limit" if need.capped_by_cpu_limit else f"gpu_limit {pool.gpu_limit} GPUs"
    why = f"the most Karpenter may launch within gpu_pool.{limit}: {need.example}"
    if capacity != "spot":
        why += "; on-demand is the fallback when EC2 has no spot capacity"
    if have < need.vcpus:
        raise PreflightFailed(
            f'quota "{name}" is {have:g} vCPUs, the GPU pool needs {need.vcpus} ({why}); '
            f"request it: aws service-quotas request-service-quota-increase --region "
            f"{aws.region} --service-code ec2 --quota-code {code} --desired-value {need.vcpus}"
        )
    return f'quota "{name}" {have:g} vCPUs >= {need.vcpus} needed ({why})'


def check_node_role(aws: Aws, config: DemoConfig) -> str:
    name = config.gpu_pool.node_role
    check_role(aws, name, "Karpenter's GPU node role", NODE_ROLE_FIX)
    return f"Karpenter node role {name} exists"


def check_interruption_queue(aws: Aws, config: DemoConfig) -> str:
    name = config.interruption_queue
    found = aws.call("sqs", "get_queue_url", missing=NO_SUCH_QUEUE, QueueName=name)
    if found is None:
        raise PreflightFailed(
            f"Karpenter interruption queue {name} is missing; create it with Karpenter's "
            "getting-started CloudFormation (queue + EventBridge rules) and start Karpenter "
            f"with settings.interruptionQueue={name}, or set gpu_pool.interruption_queue"
        )
    arn = aws.call(
        "sqs", "get_queue_attributes", QueueUrl=found["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    rules = aws.call("events", "list_rule_names_by_target", TargetArn=arn).get("RuleNames", [])
    patterns = [str(aws.call("events", "describe_rule", Name=r).get("EventPattern")) for r in rules]
    if not any(SPOT_INTERRUPTION in p for p in patterns):
        raise PreflightFailed(
            f"no EventBridge rule sends '{SPOT_INTERRUPTION}' to queue {name}; Karpenter will "
            "not drain spot nodes before EC2 reclaims them: add the rules from Karpenter's "
            "getting-started CloudFormation"
        )
    return f"Karpenter interruption queue {name} receives spot interruption warnings"


def bucket_exists(aws: Aws, bucket: str) -> bool:
    """Whether the bucket is there. AWS answers HEAD with a bare 403 both for a bucket of
    another account (bucket names are global) and for an identity that may not read it: that
    refusal (AwsDenied) names both."""
    try:
        found = aws.call("s3", "head_bucket", missing=NO_SUCH_BUCKET, Bucket=bucket)
    except AwsDenied as exc:
        raise AwsDenied(
            f"S3 bucket {bucket}: {exc.message}; if the bucket belongs to another account "
            "(bucket names are global), set storage.s3_bucket to another name",
            exc.code,
        ) from exc
    return found is not None


def check_bucket(aws: Aws, config: DemoConfig) -> str:
    bucket = config.s3_bucket
    if bucket_exists(aws, bucket):
        return f"S3 bucket {bucket} exists"
    if config.storage.create_bucket:
        return f"S3 bucket {bucket} will be created by `up` (storage.create_bucket)"
    raise PreflightFailed(
        f"S3 bucket {bucket} is missing; set storage.create_bucket: true (up creates it) or "
        f"aws s3api create-bucket --bucket {bucket} --region {aws.region}"
        + (
            f" --create-bucket-configuration LocationConstraint={aws.region}"
            if aws.region != "us-east-1"
            else ""
        )
    )


def create_bucket(aws: Aws, bucket: str) -> bool:
    """Create the survey bucket (versioned, no public access) unless it exists. True if created."""
    if bucket_exists(aws, bucket):
        return False
    params: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    aws.call("s3", "create_bucket", **params)
    aws.call(
        "s3",
        "put_public_access_block",
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    aws.call(
        "s3", "put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return True


def check_irsa_role(aws: Aws, config: DemoConfig, role: str, service_account: str) -> str:
    """The role exists and lets the ServiceAccount in through this cluster's OIDC provider (a
    role left trusting an earlier cluster's provider lets nobody in)."""
    cluster = the_cluster(aws, config)
    issuer = cluster.oidc_issuer if cluster and cluster.oidc_issuer else "<issuer>"
    print_trust = f"`tubedemo policy {service_account} --trust --oidc-issuer {issuer}`"
    found = check_role(
        aws,
        role,
        f"IRSA role of ServiceAccount {service_account}",
        f"`tubedemo cluster create` makes it, or print its policies with `tubedemo policy "
        f"{service_account}` and {print_trust}, then aws iam create-role",
    )
    provider = cluster.oidc_provider if cluster and cluster.oidc_issuer else None
    problem = trust_problem(
        found.get("AssumeRolePolicyDocument"),
        config.cluster.namespace,
        service_account,
        provider,
    )
    if problem:
        raise PreflightFailed(
            f"IAM role {role}: {problem}; `tubedemo cluster create` corrects it, or replace it "
            f"with {print_trust} (aws iam update-assume-role-policy)"
        )
    through = f" through {provider}" if provider else ""
    return (
        f"IAM role {role} trusts ServiceAccount {config.cluster.namespace}/{service_account}"
        f"{through}"
    )


def run_check(aws: Aws, config: DemoConfig, subject: str, detail: tuple[str, ...]) -> str:
    """Run one account check by its subject (cluster/preflight.py's plan names them)."""
    if subject == "account":
        return check_account(aws, config)
    if subject == "credentials":
        return check_credentials(aws, datetime.now(UTC), config.talk_ends_at)
    if subject == "eks-cluster":
        return check_eks_cluster(aws, config)
    if subject == "discovery-tags":
        return check_discovery_tags(aws, config)
    if subject == "nvidia-ami":
        return check_nvidia_ami(aws, config)
    if subject == "s3-endpoint":
        return check_s3_endpoint(aws, config)
    if subject == "spot-role":
        return check_spot_role(aws)
    if subject == "quota":
        return check_gvt_quota(aws, config, detail[0])
    if subject == "node-role":
        return check_node_role(aws, config)
    if subject == "interruption-queue":
        return check_interruption_queue(aws, config)
    if subject == "bucket":
        return check_bucket(aws, config)
    if subject == "irsa":
        role, service_account = detail
        return check_irsa_role(aws, config, role, service_account)
    raise AssertionError(subject)
