"""The image half of `tubedemo prepare`: an EBS snapshot with model.image already pulled.

The aws-samples/bottlerocket-images-cache flow, through the door (tubedemo.aws): a Bottlerocket
builder instance pulls model.image through SSM Run Command, stops, its data volume is
snapshotted and tagged (plan.py decides the tags), and the instance is terminated on every path
out (success, failure, Ctrl-C). The builder's pull failing, a snapshot in state error or a wait
running out is a PrepareError; an AWS call failing is an AwsError.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tubedemo.aws import ecr
from tubedemo.aws.account import NO_SUCH_ENTITY
from tubedemo.aws.errors import AwsRefused, reworded, step
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import AwsError, PrepareError
from tubedemo.prepare import plan
from tubedemo.prepare.lookup import find_snapshot

Report = Callable[[str], None]
Sleep = Callable[[float], None]


MINUTE = 60.0


@dataclass(frozen=True)
class Timing:
    """How long prepare waits for each stage of the builder, and how often it looks (s)."""

    poll: float = 5.0
    """Seconds between two looks at EC2 or SSM (their APIs are polled, not pushed)."""
    ssm_online: float = 10 * MINUTE
    """For the new instance to run and its SSM agent to register."""
    pull: float = 60 * MINUTE
    """For the image pull (~15 GB of vLLM image from a slow registry)."""
    stop: float = 10 * MINUTE
    """For the builder to stop before its volume is snapshotted."""
    snapshot: float = 60 * MINUTE
    """For EBS to complete the snapshot (~10-20 min for the data volume)."""
    terminate: float = 10 * MINUTE
    """For EC2 to say terminated: prepare never returns before."""


def make_snapshot(
    aws: Aws,
    config: DemoConfig,
    report: Report,
    *,
    timing: Timing = Timing(),
    sleep: Sleep = time.sleep,
) -> str:
    """The snapshot id for model.image: an existing tagged one, else a new one (the builder
    instance is terminated whatever happens)."""
    image = config.model.image
    existing = find_snapshot(aws, image)
    if existing is not None and existing.get("State") == "completed":
        report(f"snapshot: reusing {existing['SnapshotId']} (tagged {image})")
        return str(existing["SnapshotId"])
    if existing is not None:
        report(f"snapshot: {existing['SnapshotId']} of {image} is still pending; waiting")
        return _wait_snapshot(aws, str(existing["SnapshotId"]), report, timing, sleep)
    parameter = plan.ami_parameter(config)
    with step(f"SSM parameter {parameter}"):
        ami = aws.call("ssm", "get_parameter", Name=parameter)["Parameter"]["Value"]
    profile = ensure_builder_profile(aws, report)
    subnet = builder_subnet(aws, config)
    run = uuid.uuid4().hex[:12]
    try:
        with step("the snapshot builder"):
            instance = _launch(aws, config, ami, profile, subnet, run, report, timing, sleep)
            _pull(aws, config, instance, report, timing, sleep)
            report(f"builder: stopping {instance}")
            aws.call("ec2", "stop_instances", InstanceIds=[instance])
            _wait_state(aws, instance, "stopped", timing.stop, timing.poll, sleep)
            volume = _data_volume(aws, instance)
        with step(f"snapshotting {volume}"):
            snap = aws.call(
                "ec2",
                "create_snapshot",
                VolumeId=volume,
                Description=f"Bottlerocket data volume with {image} (tubedemo prepare)",
                TagSpecifications=[
                    {"ResourceType": "snapshot", "Tags": plan.tag_list(plan.snapshot_tags(config))}
                ],
            )["SnapshotId"]
        report(f"snapshot: {snap} of {volume} started")
        return _wait_snapshot(aws, str(snap), report, timing, sleep)
    finally:
        terminate_builders(aws, run, report, timing, sleep)


def terminate_builders(
    aws: Aws, run: str, report: Report, timing: Timing = Timing(), sleep: Sleep = time.sleep
) -> list[str]:
    """Terminate every builder instance of this run (found by its tag, so one launched just
    before a Ctrl-C is found too) and wait until EC2 says terminated. Never leaves a GPU-less
    but billed instance behind; a failure here is reported with the command that finishes the
    job, never hidden (AWS's refusal keeps its family, anything else is a PrepareError)."""
    filters = [
        {"Name": f"tag:{plan.TAG_RUN}", "Values": [run]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    fix = f"terminate them: aws ec2 terminate-instances (tag {plan.TAG_RUN}={run})"
    what = f"could not terminate the builder instance(s) of run {run}"
    try:
        reply = aws.call("ec2", "describe_instances", Filters=filters)
        ids = [i["InstanceId"] for r in reply.get("Reservations", []) for i in r["Instances"]]
        if not ids:
            return []
        aws.call("ec2", "terminate_instances", InstanceIds=ids)
        for instance in ids:
            _wait_state(aws, instance, "terminated", timing.terminate, timing.poll, sleep)
            report(f"builder: {instance} terminated")
        return ids
    except AwsError as exc:
        raise reworded(exc, f"{what}: {exc.message}; {fix}") from exc
    except Exception as exc:
        message = exc.message if isinstance(exc, PrepareError) else str(exc)
        raise PrepareError(f"{what}: {message}; {fix}") from exc


BUILDER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
"""The builder's role may be assumed by EC2 (its instance profile)."""


def ensure_builder_profile(aws: Aws, report: Report) -> str:
    """The builder's instance profile (and role), created when missing."""
    name = plan.BUILDER_NAME
    with step(f"IAM instance profile {name}"):
        found = aws.call(
            "iam", "get_instance_profile", missing=NO_SUCH_ENTITY, InstanceProfileName=name
        )
    if found is not None:
        return name
    with step(f"creating IAM role and instance profile {name}"):
        aws.call(
            "iam",
            "create_role",
            missing=("EntityAlreadyExists",),
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(BUILDER_TRUST),
            Description="tubedemo prepare: the image snapshot builder (SSM, ECR read)",
            Tags=[{"Key": plan.PART_OF, "Value": "tubedemo"}],
        )
        for policy in plan.BUILDER_POLICIES:
            aws.call("iam", "attach_role_policy", RoleName=name, PolicyArn=policy)
        aws.call("iam", "create_instance_profile", InstanceProfileName=name)
        aws.call("iam", "add_role_to_instance_profile", InstanceProfileName=name, RoleName=name)
    report(f"created IAM role + instance profile {name} (SSM managed instance, ECR read)")
    return name


def builder_subnet(aws: Aws, config: DemoConfig) -> str | None:
    """A subnet Karpenter also uses (karpenter.sh/discovery=<cluster>), so the builder reaches
    registries the way GPU nodes do; None: the default VPC's."""
    with step("looking for a subnet"):
        reply = aws.call(
            "ec2",
            "describe_subnets",
            Filters=[{"Name": "tag:karpenter.sh/discovery", "Values": [config.cluster.name]}],
        )
    subnets = sorted(reply.get("Subnets", []), key=lambda s: -int(s["AvailableIpAddressCount"]))
    return str(subnets[0]["SubnetId"]) if subnets else None


def _launch_params(
    config: DemoConfig, ami: str, profile: str, subnet: str | None, run: str
) -> dict[str, Any]:
    """run_instances' parameters for the builder. Pure."""
    params: dict[str, Any] = {
        "ImageId": ami,
        "InstanceType": config.gpu_pool.snapshot_builder_type,
        "MinCount": 1,
        "MaxCount": 1,
        "IamInstanceProfile": {"Name": profile},
        "UserData": base64.b64encode(plan.BUILDER_USER_DATA.encode()).decode(),
        "InstanceInitiatedShutdownBehavior": "terminate",
        "BlockDeviceMappings": [
            {
                "DeviceName": plan.DATA_DEVICE,
                "Ebs": {
                    "VolumeSize": plan.data_volume_gib(config.gpu_pool.data_volume),
                    "VolumeType": "gp3",
                    "Throughput": plan.BUILDER_DATA_THROUGHPUT,
                    "Iops": plan.BUILDER_DATA_IOPS,
                    "DeleteOnTermination": True,
                },
            }
        ],
        "MetadataOptions": {"HttpTokens": "required"},
        "TagSpecifications": [
            {"ResourceType": kind, "Tags": plan.tag_list(plan.builder_tags(config, run))}
            for kind in ("instance", "volume")
        ],
    }
    if subnet:
        params["SubnetId"] = subnet
    return params


def _launch(
    aws: Aws,
    config: DemoConfig,
    ami: str,
    profile: str,
    subnet: str | None,
    run: str,
    report: Report,
    timing: Timing,
    sleep: Sleep,
) -> str:
    params = _launch_params(config, ami, profile, subnet, run)
    deadline = time.monotonic() + 60.0
    while True:
        try:
            reply = aws.call("ec2", "run_instances", **params)
            break
        except AwsRefused as exc:
            # a new instance profile takes a few seconds to reach EC2
            if "instance profile" in exc.message.lower() and time.monotonic() < deadline:
                sleep(timing.poll)
                continue
            raise
    instance = str(reply["Instances"][0]["InstanceId"])
    report(
        f"builder: {instance} ({config.gpu_pool.snapshot_builder_type}, {ami}, "
        f"{plan.data_volume_gib(config.gpu_pool.data_volume)} GiB data volume) launching"
    )
    _wait_state(aws, instance, "running", timing.ssm_online, timing.poll, sleep)
    return instance


def _send(
    aws: Aws, instance: str, command: str, comment: str, timeout: float, timing: Timing,
    sleep: Sleep,
) -> str:  # fmt: skip
    """Send a shell command through SSM Run Command once the instance's agent has registered;
    the command id."""
    deadline = time.monotonic() + timing.ssm_online
    while True:
        try:
            sent = aws.call(
                "ssm",
                "send_command",
                InstanceIds=[instance],
                DocumentName="AWS-RunShellScript",
                Comment=comment,
                Parameters={"commands": [command], "executionTimeout": [str(int(timeout))]},
            )
            return str(sent["Command"]["CommandId"])
        except AwsRefused as exc:
            # InvalidInstanceId until the SSM agent of the new instance has registered
            if exc.code == "InvalidInstanceId" and time.monotonic() < deadline:
                sleep(timing.poll)
                continue
            raise


def _run_command(
    aws: Aws,
    instance: str,
    command: str,
    *,
    what: str,
    timeout: float,
    timing: Timing,
    sleep: Sleep,
) -> None:
    """Run one shell command on the builder and wait for it; PrepareError naming ``what``
    with the end of its error output when it fails or runs out of time."""
    command_id = _send(aws, instance, command, f"tubedemo prepare: {what}", timeout, timing, sleep)
    deadline = time.monotonic() + timeout
    while True:
        status = aws.call(
            "ssm",
            "get_command_invocation",
            missing=("InvocationDoesNotExist",),
            CommandId=command_id,
            InstanceId=instance,
        ) or {"Status": "Pending"}
        state = status.get("Status")
        if state == "Success":
            return
        if state not in ("Pending", "InProgress", "Delayed"):
            tail = str(status.get("StandardErrorContent") or status.get("StatusDetails") or "")
            raise PrepareError(f"{what} on the builder failed ({state}): {tail.strip()[-300:]}")
        if time.monotonic() >= deadline:
            raise PrepareError(f"{what} on the builder took over {timeout:.0f} s")
        sleep(timing.poll)


def _pull(
    aws: Aws,
    config: DemoConfig,
    instance: str,
    report: Report,
    timing: Timing,
    sleep: Sleep,
) -> None:
    image = config.model.image
    region = plan.ecr_region(image)
    password = ecr.login(aws.in_region(region)).password if region else None
    report("builder: waiting for SSM and the admin container, then stopping kubelet")
    _run_command(
        aws,
        instance,
        plan.ready_command(),
        what="waiting for the admin container and stopping kubelet",
        timeout=timing.ssm_online,
        timing=timing,
        sleep=sleep,
    )
    report(f"builder: pulling {plan.qualified_image(image)}")
    started = time.monotonic()
    _run_command(
        aws,
        instance,
        plan.pull_command(image, ecr_password=password),
        what=f"pulling {image}",
        timeout=timing.pull,
        timing=timing,
        sleep=sleep,
    )
    report(f"builder: pulled {image} in {time.monotonic() - started:.0f} s")


def _wait_state(
    aws: Aws, instance: str, state: str, timeout: float, poll: float, sleep: Sleep
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # EC2 is eventually consistent: a new instance may not be described yet
        reply = aws.call(
            "ec2",
            "describe_instances",
            missing=("InvalidInstanceID.NotFound",),
            InstanceIds=[instance],
        )
        now = (
            reply["Reservations"][0]["Instances"][0]["State"]["Name"]
            if reply is not None
            else "not yet described"
        )
        if now == state:
            return
        if state != "terminated" and now in ("terminated", "shutting-down"):
            raise PrepareError(f"builder {instance} is {now}, expected {state}")
        if time.monotonic() >= deadline:
            raise PrepareError(f"builder {instance} still {now} after {timeout:.0f} s")
        sleep(poll)


def _data_volume(aws: Aws, instance: str) -> str:
    reply = aws.call("ec2", "describe_instances", InstanceIds=[instance])
    for mapping in reply["Reservations"][0]["Instances"][0].get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == plan.DATA_DEVICE:
            return str(mapping["Ebs"]["VolumeId"])
    raise PrepareError(f"builder {instance} has no data volume at {plan.DATA_DEVICE}")


def _wait_snapshot(aws: Aws, snap: str, report: Report, timing: Timing, sleep: Sleep) -> str:
    deadline = time.monotonic() + timing.snapshot
    last = ""
    while True:
        with step(f"snapshot {snap}"):
            found = aws.call("ec2", "describe_snapshots", SnapshotIds=[snap])["Snapshots"][0]
        state, progress = found.get("State"), found.get("Progress", "")
        if state == "completed":
            report(f"snapshot: {snap} completed")
            return snap
        if state == "error":
            raise PrepareError(f"snapshot {snap} failed: {found.get('StateMessage', '')}")
        if progress != last:
            report(f"snapshot: {snap} {progress or state}")
            last = progress
        if time.monotonic() >= deadline:
            raise PrepareError(f"snapshot {snap} still {state} after {timing.snapshot:.0f} s")
        sleep(timing.poll)
