"""The AWS side of preflight, and the one AWS change `up` makes (the survey bucket), via boto3.

Decide (pure): what the GPU pool needs from the account (`gvt_vcpus_needed`), the IAM policy
and trust documents tubedemo prints (`gateway_policy`, `irsa_trust`). Do: one boto3 call per
check, each returning one line or raising PreflightFailed with the fix. boto3 finds its
endpoints the usual way (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the same code runs
against AWS and against a local AWS-speaking server in tests.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError

SPOT_SERVICE_LINKED_ROLE = "AWSServiceRoleForEC2Spot"
GVT_SPOT_QUOTA = "L-3819A6DF"
"""Service Quotas code of "All G and VT Spot Instance Requests" (vCPUs)."""
GVT_ON_DEMAND_QUOTA = "L-DB2E81BA"
"""Service Quotas code of "Running On-Demand G and VT instances" (vCPUs)."""
SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"

VCPUS: dict[str, int] = {
    "g5.xlarge": 4,
    "g5.2xlarge": 8,
    "g5.4xlarge": 16,
    "g5.8xlarge": 32,
    "g5.12xlarge": 48,
    "g5.16xlarge": 64,
    "g5.24xlarge": 96,
    "g5.48xlarge": 192,
    "g6.xlarge": 4,
    "g6.2xlarge": 8,
    "g6.4xlarge": 16,
    "g6.8xlarge": 32,
    "g6.12xlarge": 48,
    "g6.16xlarge": 64,
    "g6.24xlarge": 96,
    "g6.48xlarge": 192,
}
"""vCPUs per instance type (EC2 instance type specifications)."""
GPUS: dict[str, int] = {"g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8}
GPUS.update({"g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8})
"""GPUs per instance type where it is not one."""


class PreflightFailed(ClusterError):
    """A prerequisite of `up` is missing; the message is the first failing check."""


class AwsUnavailable(ClusterError):
    """boto3 has no credentials or cannot reach AWS; every AWS check would fail the same way."""


# --- decide (pure) ------------------------------------------------------------------------------


def gvt_vcpus_needed(config: DemoConfig) -> int:
    """vCPUs the G/VT quota must allow for the pool to reach its GPU limit: gpu_limit GPUs on
    the type with the fewest vCPUs per GPU (10 x g5.2xlarge = 80), capped by cpu_limit."""
    pool = config.gpu_pool
    per_gpu = [VCPUS[t] / GPUS.get(t, 1) for t in pool.instance_types if t in VCPUS]
    if not per_gpu:
        return 0
    return min(math.ceil(pool.gpu_limit * min(per_gpu)), pool.cpu_limit)


def gateway_policy(config: DemoConfig) -> dict[str, Any]:
    """The gateway role's permissions: its bucket prefix only (answers, questions, winners)."""
    bucket = config.s3_bucket
    prefix = config.storage.s3_prefix
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SurveyObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
            },
            {
                "Sid": "ListSurveyPrefix",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
        ],
    }


def weights_policy(config: DemoConfig) -> dict[str, Any]:
    """vLLM's role: read the weights prefix (the Run:ai streamer lists, then ranges GETs)."""
    bucket, _, prefix = (config.weights_location or "s3://").removeprefix("s3://").partition("/")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
        ],
    }


def irsa_trust(config: DemoConfig, oidc_provider: str, service_account: str) -> dict[str, Any]:
    """Trust policy letting one ServiceAccount assume the role through the cluster's OIDC
    provider (IRSA). `oidc_provider` is the issuer without https://."""
    ns = config.cluster.namespace
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{config.account}:oidc-provider/{oidc_provider}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{oidc_provider}:sub": f"system:serviceaccount:{ns}:{service_account}",
                        f"{oidc_provider}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def trust_problem(document: Any, namespace: str, service_account: str) -> str | None:
    """Why a role's trust policy does not let this ServiceAccount in via IRSA, or None."""
    if isinstance(document, str):
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    for statement in (document or {}).get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        if subject in json.dumps(statement.get("Condition", {})):
            return None
    return f"its trust policy does not let {subject} assume it (sts:AssumeRoleWithWebIdentity)"


# --- do (boto3) -----------------------------------------------------------------------------------


class Aws:
    """boto3 clients for one region; every AWS call of preflight and `up` goes through here."""

    def __init__(self, region: str) -> None:
        import boto3
        from botocore.config import Config

        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=15)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, config=self._config)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> Any:
        """One API call; missing credentials or an unreachable endpoint become AwsUnavailable."""
        from botocore.exceptions import (
            BotoCoreError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
        )

        try:
            return getattr(self.client(service), operation)(**params)
        except NoCredentialsError:
            raise AwsUnavailable(
                "no AWS credentials: set AWS_PROFILE or run `aws configure` (or turn off "
                "prerequisites.aws_checks for a cluster that is not on AWS)"
            ) from None
        except (EndpointConnectionError, NoRegionError) as exc:
            raise AwsUnavailable(f"cannot reach AWS {service} in {self.region}: {exc}") from exc
        except BotoCoreError as exc:
            raise AwsUnavailable(f"AWS {service} {operation} failed: {exc}") from exc

    def account_id(self) -> str:
        return str(self.call("sts", "get_caller_identity")["Account"])


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _missing(exc: Exception, *codes: str) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and _code(exc) in codes


def with_account(config: DemoConfig, aws: Aws | None) -> DemoConfig:
    """The config with the account id filled in from STS when demo.yaml leaves it unset."""
    if config.cluster.account_id or config.profile != "eks" or aws is None:
        return config
    return config.with_account(aws.account_id())


def check_account(aws: Aws, config: DemoConfig) -> str:
    account = aws.account_id()
    if config.cluster.account_id and account != config.cluster.account_id:
        raise PreflightFailed(
            f"AWS credentials are for account {account}, demo.yaml names "
            f"{config.cluster.account_id}; switch AWS_PROFILE or fix cluster.account_id"
        )
    return f"AWS account {account}, region {aws.region}"


def check_role(aws: Aws, name: str, what: str, fix: str) -> dict[str, Any]:
    try:
        role: dict[str, Any] = aws.call("iam", "get_role", RoleName=name)["Role"]
    except ClusterError:
        raise
    except Exception as exc:
        if _missing(exc, "NoSuchEntity"):
            raise PreflightFailed(f"IAM role {name} ({what}) is missing; {fix}") from None
        raise
    return role


def check_spot_role(aws: Aws) -> str:
    check_role(
        aws,
        SPOT_SERVICE_LINKED_ROLE,
        "EC2 Spot service-linked role",
        "create it once per account: aws iam create-service-linked-role "
        "--aws-service-name spot.amazonaws.com",
    )
    return f"EC2 Spot service-linked role {SPOT_SERVICE_LINKED_ROLE} exists"


def quota_value(aws: Aws, code: str) -> float:
    """The applied quota, else AWS's default (GetServiceQuota has no value for quotas never
    changed in some accounts)."""
    try:
        reply = aws.call("service-quotas", "get_service_quota", ServiceCode="ec2", QuotaCode=code)
    except ClusterError:
        raise
    except Exception as exc:
        if not _missing(exc, "NoSuchResourceException"):
            raise
        reply = aws.call(
            "service-quotas", "get_aws_default_service_quota", ServiceCode="ec2", QuotaCode=code
        )
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
    if have < need:
        raise PreflightFailed(
            f'quota "{name}" is {have:g} vCPUs, the GPU pool needs {need} '
            f"({pool.gpu_limit} GPUs, gpu_pool.gpu_limit); request it: aws service-quotas "
            f"request-service-quota-increase --region {aws.region} --service-code ec2 "
            f"--quota-code {code} --desired-value {need}"
        )
    return f'quota "{name}" {have:g} vCPUs >= {need} needed'


def check_node_role(aws: Aws, config: DemoConfig) -> str:
    name = config.gpu_pool.node_role
    check_role(
        aws,
        name,
        "Karpenter's GPU node role",
        "create it with Karpenter's getting-started CloudFormation (KarpenterNodeRole-<cluster>) "
        "or set gpu_pool.node_role; it also needs an EKS access entry of type EC2_LINUX",
    )
    return f"Karpenter node role {name} exists"


def check_interruption_queue(aws: Aws, config: DemoConfig) -> str:
    name = config.interruption_queue
    try:
        url = aws.call("sqs", "get_queue_url", QueueName=name)["QueueUrl"]
    except ClusterError:
        raise
    except Exception as exc:
        if _missing(exc, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise PreflightFailed(
                f"Karpenter interruption queue {name} is missing; create it with Karpenter's "
                "getting-started CloudFormation (queue + EventBridge rules) and start Karpenter "
                f"with settings.interruptionQueue={name}, or set gpu_pool.interruption_queue"
            ) from None
        raise
    arn = aws.call("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
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
    try:
        aws.call("s3", "head_bucket", Bucket=bucket)
    except ClusterError:
        raise
    except Exception as exc:
        if _missing(exc, "404", "NoSuchBucket", "NotFound"):
            return False
        if _missing(exc, "403", "Forbidden"):
            raise PreflightFailed(
                f"S3 bucket {bucket} belongs to another account (bucket names are global); "
                "set storage.s3_bucket to another name"
            ) from None
        raise
    return True


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
    found = check_role(
        aws,
        role,
        f"IRSA role of ServiceAccount {service_account}",
        f"print its policies with `tubedemo policy {service_account}` and `tubedemo policy "
        f"{service_account} --trust --oidc-issuer <issuer>`, then aws iam create-role",
    )
    problem = trust_problem(
        found.get("AssumeRolePolicyDocument"), config.cluster.namespace, service_account
    )
    if problem:
        raise PreflightFailed(
            f"IAM role {role}: {problem}; replace it with `tubedemo policy {service_account} "
            "--trust --oidc-issuer <issuer>` (aws iam update-assume-role-policy)"
        )
    return f"IAM role {role} trusts ServiceAccount {config.cluster.namespace}/{service_account}"
