"""The AWS steps of `cluster create` and `cluster delete`, each through the one door (aws.Aws).

Every step first looks for its result and says "found" when it is there, else makes it and says
"made"; a delete step says "deleted" or "gone". Nothing here imports boto3: the calls are AWS's
operations by name, through tubedemo.aws.session.Aws.call, which translates every failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tubedemo.aws import account as aws_account
from tubedemo.aws import eks_cluster, s3_layout
from tubedemo.aws import iam as aws_iam
from tubedemo.aws.errors import AwsRefused
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import AwsError
from tubedemo.eks import karpenter_stack
from tubedemo.eks.eksctl_config import TALK_TAG

Outcome = tuple[str, str]
"""("made" | "found" | "deleted" | "gone", what)."""

NO_SUCH_CLUSTER = ("ResourceNotFoundException",)
NO_SUCH_ENTITY = ("NoSuchEntity",)
STACK_WAIT = 900.0
"""Seconds a CloudFormation stack may take (Karpenter's: about a minute)."""
GONE_WAIT = 600.0
"""Seconds to wait for a controller to remove what it made (load balancer, volume, instance)."""


class LeftBehind(AwsError):
    """Something billable of the talk is still in the account after `cluster delete`."""


ClusterFacts = eks_cluster.EksCluster
"""What AWS says about the EKS cluster, for the steps after it."""


def cluster_facts(aws: Aws, cfg: DemoConfig) -> ClusterFacts | None:
    """The cluster's VPC and OIDC issuer, or None when there is no such cluster."""
    return eks_cluster.describe(aws, cfg.cluster.name)


def _talk_tags(cfg: DemoConfig) -> list[dict[str, str]]:
    return [{"Key": TALK_TAG, "Value": cfg.cluster.name}]


# --- the audience's HTTPS certificate (web.ingress.hosted_zone) -------------------------------

CERTIFICATE_WAIT = 1800.0
"""Seconds ACM may take to issue a DNS-validated certificate (minutes once the record
resolves; AWS gives up after 72 h, which no talk waits for)."""
VALIDATION_RECORD_WAIT = 120.0
"""Seconds until ACM names the validation record of a new certificate (a few, usually)."""


def hosted_zone_id(aws: Aws, zone: str) -> str:
    """The id of the account's public Route 53 hosted zone ``zone``; a one-line AwsError
    naming it when the account has none of that name."""
    name = zone.rstrip(".") + "."
    reply = aws.call("route53", "list_hosted_zones_by_name", DNSName=name, MaxItems="10")
    for found in reply.get("HostedZones", []):
        private = (found.get("Config") or {}).get("PrivateZone")
        if found.get("Name") == name and not private:
            return str(found["Id"]).rpartition("/")[2]
    raise AwsError(
        f"no public Route 53 hosted zone {zone} in this account: web.ingress.hosted_zone must "
        "name one (aws route53 list-hosted-zones), or leave it unset"
    )


def _certificates(aws: Aws, host: str) -> list[dict[str, Any]]:
    """ACM certificates for ``host`` that are issued or on their way, issued first."""
    found = [
        c
        for page in aws.pages(
            "acm", "list_certificates", CertificateStatuses=["ISSUED", "PENDING_VALIDATION"]
        )
        for c in page.get("CertificateSummaryList", [])
        if c.get("DomainName") == host
    ]
    return sorted(found, key=lambda c: c.get("Status") != "ISSUED")


def ensure_certificate(aws: Aws, cfg: DemoConfig) -> tuple[str, Outcome]:
    """(its ARN, the step's line): the ACM certificate for web.ingress.host, found (issued or
    pending) or requested with DNS validation."""
    host = str(cfg.web.ingress.host)
    found = _certificates(aws, host)
    if found:
        arn = str(found[0]["CertificateArn"])
        return arn, ("found", f"ACM certificate for {host} ({found[0].get('Status')}): {arn}")
    reply = aws.call(
        "acm",
        "request_certificate",
        DomainName=host,
        ValidationMethod="DNS",
        # the same token within an hour answers the same certificate: an interrupted create
        # that asks again does not make a second one
        IdempotencyToken=f"tubedemo{cfg.cluster.name}".replace("-", "")[:32],
        Tags=_talk_tags(cfg),
    )
    arn = str(reply["CertificateArn"])
    return arn, ("made", f"ACM certificate for {host} (DNS validation requested): {arn}")


def _validation_record(aws: Aws, arn: str) -> dict[str, str]:
    """The CNAME ACM wants for ``arn`` (it names it a moment after the request)."""
    deadline = time.monotonic() + VALIDATION_RECORD_WAIT
    while True:
        described = aws.call("acm", "describe_certificate", CertificateArn=arn)["Certificate"]
        for option in described.get("DomainValidationOptions", []):
            record = option.get("ResourceRecord")
            if record:
                return {k: str(v) for k, v in record.items()}
        if time.monotonic() >= deadline:
            raise AwsError(
                f"ACM named no DNS validation record for {arn} in {VALIDATION_RECORD_WAIT:.0f} s "
                "(aws acm describe-certificate); run `tubedemo cluster create` again"
            )
        time.sleep(2.0)


def ensure_validation_record(aws: Aws, cfg: DemoConfig, arn: str) -> Outcome:
    """The certificate's validation CNAME in the hosted zone: found, or made (UPSERT)."""
    zone = str(cfg.web.ingress.hosted_zone)
    zone_id = hosted_zone_id(aws, zone)
    record = _validation_record(aws, arn)
    what = f"Route 53 CNAME {record['Name']} in {zone} (validates the certificate)"
    listed = aws.call(
        "route53",
        "list_resource_record_sets",
        HostedZoneId=zone_id,
        StartRecordName=record["Name"],
        StartRecordType="CNAME",
        MaxItems="1",
    ).get("ResourceRecordSets", [])
    values = [r.get("Value") for s in listed for r in s.get("ResourceRecords", [])]
    if listed and listed[0].get("Name") == record["Name"] and values == [record["Value"]]:
        return "found", what
    aws.call(
        "route53",
        "change_resource_record_sets",
        HostedZoneId=zone_id,
        ChangeBatch={
            "Comment": f"ACM validation of {cfg.web.ingress.host} (tubedemo cluster create)",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record["Name"],
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": record["Value"]}],
                    },
                }
            ],
        },
    )
    return "made", what


def wait_certificate(
    aws: Aws, arn: str, *, timeout: float = CERTIFICATE_WAIT, poll: float = 15.0
) -> Outcome:
    """Wait (ACM's own waiter) until the certificate is issued."""
    aws.wait("acm", "certificate_validated", timeout=timeout, poll=poll, CertificateArn=arn)
    return "issued", f"ACM certificate {arn}: set web.ingress.certificate_arn to it"


# --- Karpenter's CloudFormation ----------------------------------------------------------------


def _stack(aws: Aws, name: str) -> dict[str, Any] | None:
    # CloudFormation answers a missing stack with the generic ValidationError code
    reply = aws.call(
        "cloudformation", "describe_stacks", missing=("ValidationError",), StackName=name
    )
    if reply is None or not reply.get("Stacks"):
        return None
    stack: dict[str, Any] = reply["Stacks"][0]
    return stack


def ensure_karpenter_stack(aws: Aws, cfg: DemoConfig, template: str) -> Outcome:
    """Deploy Karpenter's stack with ClusterName = cluster.name; an unfinished one (an
    interrupted create) is waited for."""
    name = karpenter_stack.stack_name(cfg)
    stack = _stack(aws, name)
    status = str(stack["StackStatus"]) if stack else ""
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return "found", f"CloudFormation stack {name} ({status})"
    if status.endswith("_IN_PROGRESS") and status.startswith("CREATE"):
        aws.wait(
            "cloudformation", "stack_create_complete", timeout=STACK_WAIT, poll=5.0, StackName=name
        )
        return "found", f"CloudFormation stack {name} (finished creating)"
    if status:
        raise AwsError(
            f"CloudFormation stack {name} is {status}; delete it (aws cloudformation "
            f"delete-stack --stack-name {name}) and run create again"
        )
    aws.call(
        "cloudformation",
        "create_stack",
        StackName=name,
        TemplateBody=template,
        Parameters=[{"ParameterKey": "ClusterName", "ParameterValue": cfg.cluster.name}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=_talk_tags(cfg),
    )
    aws.wait(
        "cloudformation", "stack_create_complete", timeout=STACK_WAIT, poll=5.0, StackName=name
    )
    return "made", f"CloudFormation stack {name}"


def delete_karpenter_stack(aws: Aws, cfg: DemoConfig) -> Outcome:
    name = karpenter_stack.stack_name(cfg)
    if _stack(aws, name) is None:
        return "gone", f"CloudFormation stack {name}"
    aws.call("cloudformation", "delete_stack", StackName=name)
    aws.wait(
        "cloudformation", "stack_delete_complete", timeout=STACK_WAIT, poll=5.0, StackName=name
    )
    return "deleted", f"CloudFormation stack {name}"


# --- account-wide: Spot service-linked role, G/VT quota -----------------------------------------


def ensure_spot_role(aws: Aws) -> Outcome:
    role = aws_account.SPOT_SERVICE_LINKED_ROLE
    if aws.call("iam", "get_role", missing=NO_SUCH_ENTITY, RoleName=role) is not None:
        return "found", f"EC2 Spot service-linked role {role}"
    try:
        aws.call("iam", "create_service_linked_role", AWSServiceName="spot.amazonaws.com")
    except AwsRefused as exc:
        # AWS: InvalidInput "... has been taken in this account"; another create got there first
        if exc.code not in ("InvalidInput", "EntityAlreadyExists"):
            raise
        return "found", f"EC2 Spot service-linked role {role}"
    return "made", f"EC2 Spot service-linked role {role}"


OPEN_REQUEST = ("PENDING", "CASE_OPENED")
QUOTAS = {
    "spot": (aws_account.GVT_SPOT_QUOTA, "All G and VT Spot Instance Requests"),
    "on-demand": (aws_account.GVT_ON_DEMAND_QUOTA, "Running On-Demand G and VT instances"),
}
"""The G/VT vCPU quota of each capacity type the GPU pool may launch (gpu_pool.capacity_types)."""


def ensure_quota(aws: Aws, cfg: DemoConfig, capacity: str) -> Outcome:
    """One G/VT vCPU quota the GPU pool needs (the most Karpenter may launch: preflight's
    figure): found when applied or already asked for, else requested (AWS decides within
    hours; preflight says when it is granted)."""
    code, name = QUOTAS[capacity]
    need = aws_account.gvt_vcpus_needed(cfg).vcpus
    have = aws_account.quota_value(aws, code)
    what = f'quota "{name}" {need} vCPUs'
    if have >= need:
        return "found", f"{what} (applied: {have:g})"
    history = aws.call(
        "service-quotas",
        "list_requested_service_quota_change_history_by_quota",
        ServiceCode="ec2",
        QuotaCode=code,
    )
    for request in history.get("RequestedQuotas", []):
        if request.get("Status") in OPEN_REQUEST and float(request.get("DesiredValue", 0)) >= need:
            return "found", f"{what} (requested, {request['Status']}; applied: {have:g})"
    aws.call(
        "service-quotas",
        "request_service_quota_increase",
        ServiceCode="ec2",
        QuotaCode=code,
        DesiredValue=float(need),
    )
    return "made", f"{what} (requested; applied: {have:g}; AWS answers within hours)"


# --- the VPC's S3 gateway endpoint ---------------------------------------------------------------


def _s3_endpoints(aws: Aws, cfg: DemoConfig, vpc_id: str) -> list[dict[str, Any]]:
    return eks_cluster.s3_gateway_endpoints(aws, cfg.cluster.region, vpc_id)


private_route_tables = eks_cluster.private_route_tables


def ensure_s3_endpoint(aws: Aws, cfg: DemoConfig, vpc_id: str) -> Outcome:
    found = _s3_endpoints(aws, cfg, vpc_id)
    if found:
        return "found", f"S3 gateway endpoint {found[0]['VpcEndpointId']} in {vpc_id}"
    tables = private_route_tables(aws, vpc_id)
    reply = aws.call(
        "ec2",
        "create_vpc_endpoint",
        VpcEndpointType="Gateway",
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{cfg.cluster.region}.s3",
        RouteTableIds=tables,
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": _talk_tags(cfg)}],
    )
    endpoint = reply["VpcEndpoint"]["VpcEndpointId"]
    return "made", f"S3 gateway endpoint {endpoint} on {len(tables)} private route table(s)"


def delete_s3_endpoint(aws: Aws, cfg: DemoConfig, vpc_id: str | None) -> Outcome:
    found = _s3_endpoints(aws, cfg, vpc_id) if vpc_id else []
    if not found:
        return "gone", "S3 gateway endpoint"
    ids = [str(e["VpcEndpointId"]) for e in found]
    aws.call("ec2", "delete_vpc_endpoints", VpcEndpointIds=ids)
    return "deleted", f"S3 gateway endpoint {', '.join(ids)}"


# --- the gateway's and vLLM's IRSA roles (`tubedemo policy`) -------------------------------------


def _document(value: Any) -> Any:
    return json.loads(unquote(value)) if isinstance(value, str) else value


def ensure_irsa_role(
    aws: Aws,
    cfg: DemoConfig,
    role: str,
    service_account: str,
    issuer: str,
    policy_name: str,
    policy: dict[str, Any],
) -> Outcome:
    """The role with the trust `tubedemo policy … --trust` prints for this cluster's issuer and
    the permissions `tubedemo policy …` prints; a role trusting another cluster is corrected."""
    provider = issuer.removeprefix("https://").rstrip("/")
    trust = aws_iam.irsa_trust(cfg, provider, service_account)
    existing = aws.call("iam", "get_role", missing=NO_SUCH_ENTITY, RoleName=role)
    changed = []
    if existing is None:
        aws.call(
            "iam",
            "create_role",
            RoleName=role,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=_talk_tags(cfg),
        )
        changed.append("created")
    elif _document(existing["Role"].get("AssumeRolePolicyDocument")) != trust:
        aws.call(
            "iam", "update_assume_role_policy", RoleName=role, PolicyDocument=json.dumps(trust)
        )
        changed.append("trust now this cluster's OIDC provider")
    current = aws.call(
        "iam", "get_role_policy", missing=NO_SUCH_ENTITY, RoleName=role, PolicyName=policy_name
    )
    if current is None or _document(current.get("PolicyDocument")) != policy:
        aws.call(
            "iam",
            "put_role_policy",
            RoleName=role,
            PolicyName=policy_name,
            PolicyDocument=json.dumps(policy),
        )
        changed.append(f"policy {policy_name}")
    what = f"IAM role {role} for ServiceAccount {cfg.cluster.namespace}/{service_account}"
    return ("made", f"{what} ({', '.join(changed)})") if changed else ("found", what)


def delete_role(aws: Aws, role: str) -> Outcome:
    if aws.call("iam", "get_role", missing=NO_SUCH_ENTITY, RoleName=role) is None:
        return "gone", f"IAM role {role}"
    names = aws.call("iam", "list_role_policies", RoleName=role).get("PolicyNames", [])
    for name in names:
        aws.call("iam", "delete_role_policy", RoleName=role, PolicyName=name)
    aws.call("iam", "delete_role", RoleName=role)
    return "deleted", f"IAM role {role}"


# --- what the controllers made: waits and the proof ---------------------------------------------


@dataclass(frozen=True)
class Leftover:
    """One billable thing of the talk still in the account."""

    kind: str
    id: str


def load_balancer_leftovers(aws: Aws, cfg: DemoConfig) -> list[Leftover]:
    """The LB controller's load balancers, target groups and security groups of this cluster
    (it tags each elbv2.k8s.aws/cluster=<cluster>)."""
    tag = "elbv2.k8s.aws/cluster"
    left: list[Leftover] = []
    arns = [
        lb["LoadBalancerArn"]
        for page in aws.pages("elbv2", "describe_load_balancers")
        for lb in page.get("LoadBalancers", [])
    ]
    groups = [
        tg["TargetGroupArn"]
        for page in aws.pages("elbv2", "describe_target_groups")
        for tg in page.get("TargetGroups", [])
    ]
    for kind, batch in (("load balancer", arns), ("target group", groups)):
        for start in range(0, len(batch), 20):  # DescribeTags takes 20 ARNs at a time
            chunk = batch[start : start + 20]
            reply = aws.call("elbv2", "describe_tags", ResourceArns=chunk)
            for description in reply.get("TagDescriptions", []):
                tags = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
                if tags.get(tag) == cfg.cluster.name:
                    left.append(Leftover(kind, str(description["ResourceArn"])))
    groups_reply = aws.call(
        "ec2",
        "describe_security_groups",
        Filters=[{"Name": f"tag:{tag}", "Values": [cfg.cluster.name]}],
    )
    left += [Leftover("security group", g["GroupId"]) for g in groups_reply["SecurityGroups"]]
    return left


def volume_leftovers(aws: Aws, cfg: DemoConfig) -> list[Leftover]:
    """EBS volumes the CSI driver made for the talk's PVCs (it tags the PVC's namespace)."""
    reply = aws.call(
        "ec2",
        "describe_volumes",
        Filters=[
            {
                "Name": "tag:kubernetes.io/created-for/pvc/namespace",
                "Values": [cfg.cluster.namespace],
            }
        ],
    )
    return [Leftover("volume", v["VolumeId"]) for v in reply.get("Volumes", [])]


LIVE_INSTANCE = ["pending", "running", "stopping", "stopped", "shutting-down"]


def _instances(aws: Aws, tags: list[tuple[str, str]]) -> list[Leftover]:
    left: dict[str, Leftover] = {}
    for name, value in tags:
        for page in aws.pages(
            "ec2",
            "describe_instances",
            Filters=[
                {"Name": f"tag:{name}", "Values": [value]},
                {"Name": "instance-state-name", "Values": LIVE_INSTANCE},
            ],
        ):
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    left[instance["InstanceId"]] = Leftover("instance", instance["InstanceId"])
    return list(left.values())


def gpu_instance_leftovers(aws: Aws, cfg: DemoConfig) -> list[Leftover]:
    """Instances of the GPU pool (Karpenter tags each karpenter.sh/nodepool=<pool>)."""
    return _instances(aws, [("karpenter.sh/nodepool", cfg.gpu_pool.name)])


def instance_leftovers(aws: Aws, cfg: DemoConfig) -> list[Leftover]:
    """Instances of the GPU pool or of the cluster (system nodes: eks:cluster-name; anything
    eksctl made: the talk's tag)."""
    return _instances(
        aws,
        [
            ("karpenter.sh/nodepool", cfg.gpu_pool.name),
            ("eks:cluster-name", cfg.cluster.name),
            (TALK_TAG, cfg.cluster.name),
        ],
    )


def network_leftovers(aws: Aws, cfg: DemoConfig, vpc_id: str | None) -> list[Leftover]:
    """Network interfaces and security groups left in the talk's VPC or tagged for it."""
    left: list[Leftover] = []
    if vpc_id:
        enis = aws.call(
            "ec2", "describe_network_interfaces", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        left += [
            Leftover("network interface", e["NetworkInterfaceId"])
            for e in enis.get("NetworkInterfaces", [])
        ]
    groups = aws.call(
        "ec2",
        "describe_security_groups",
        Filters=[{"Name": "tag:karpenter.sh/discovery", "Values": [cfg.cluster.name]}],
    )
    left += [Leftover("security group", g["GroupId"]) for g in groups.get("SecurityGroups", [])]
    # what eksctl's VPC stack made and tagged (metadata.tags), should its delete stop half-way:
    # the NAT gateway ($0.045/h) and its Elastic IP (billed while allocated)
    talk = [{"Name": f"tag:{TALK_TAG}", "Values": [cfg.cluster.name]}]
    nats = aws.call("ec2", "describe_nat_gateways", Filter=talk).get("NatGateways", [])
    left += [
        Leftover("NAT gateway", n["NatGatewayId"])
        for n in nats
        if n.get("State") not in ("deleted", "deleting", "failed")
    ]
    addresses = aws.call("ec2", "describe_addresses", Filters=talk).get("Addresses", [])
    left += [Leftover("Elastic IP", a["AllocationId"]) for a in addresses]
    return left


def wait_gone(
    what: str,
    look: Callable[[], list[Leftover]],
    *,
    timeout: float = GONE_WAIT,
    poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Wait until ``look`` finds nothing (a controller is removing it); LeftBehind if not."""
    deadline = time.monotonic() + timeout
    while True:
        left = look()
        if not left:
            return "gone", what
        if time.monotonic() >= deadline:
            raise LeftBehind(
                f"{what}: still there after {timeout:.0f} s: "
                + ", ".join(f"{item.kind} {item.id}" for item in left)
            )
        sleep(poll)


def proof(aws: Aws, cfg: DemoConfig, vpc_id: str | None) -> list[Leftover]:
    """Everything billable of the talk still in the account ([] is the proof)."""
    return [
        *instance_leftovers(aws, cfg),
        *load_balancer_leftovers(aws, cfg),
        *volume_leftovers(aws, cfg),
        *network_leftovers(aws, cfg, vpc_id),
    ]


S3_PER_GB_MONTH = 0.023
"""S3 Standard, $/GB-month (first 50 TB, us-east-1 and us-west-2 list price)."""
SNAPSHOT_PER_GB_MONTH = 0.05
"""EBS snapshot (standard tier), $/GB-month of the blocks written."""
GB = 1e9


def _prefix_bytes(aws: Aws, bucket: str, prefix: str) -> tuple[int, int]:
    count = size = 0
    for page in aws.pages("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            count += 1
            size += int(item.get("Size", 0))
    return count, size


def kept(aws: Aws, cfg: DemoConfig) -> list[str]:
    """What delete keeps on purpose, each with its monthly cost: the survey bucket (answers,
    questions, winners), the prepared weights and the image snapshot (the next talk's)."""
    from tubedemo.prepare.plan import snapshot_filters

    lines = []
    bucket = cfg.s3_bucket
    if aws_account.bucket_exists(aws, bucket):
        for what, prefix in (
            ("survey data", cfg.storage.s3_prefix),
            ("prepared weights", s3_layout.weights_key(cfg)),
        ):
            count, size = _prefix_bytes(aws, bucket, prefix)
            lines.append(
                f"{what} s3://{bucket}/{prefix}: {count} objects, {size / GB:.2f} GB, "
                f"~${size / GB * S3_PER_GB_MONTH:.2f}/month"
            )
    reply = aws.call(
        "ec2", "describe_snapshots", OwnerIds=["self"], Filters=snapshot_filters(cfg.model.image)
    )
    for snapshot in reply.get("Snapshots", []):
        size = int(snapshot.get("VolumeSize", 0))
        lines.append(
            f"image snapshot {snapshot['SnapshotId']} ({size} GiB volume): at most "
            f"~${size * SNAPSHOT_PER_GB_MONTH:.2f}/month, EBS bills only the blocks written "
            "(~20-30 GB of the vLLM image: ~$1-1.50)"
        )
    if lines:
        lines.append("`tubedemo prepare --delete` removes the weights and the snapshot")
    return lines
