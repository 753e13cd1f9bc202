"""Do: make, find and delete what the prepared talk starts from (prepared.py decides).

Weights: huggingface_hub downloads the model (HF_TOKEN or the saved `hf auth login` token;
HF_ENDPOINT honoured), boto3 copies it to the per-account bucket (multipart, skipping objects
already there with the same size and ETag) and writes the marker last. Image snapshot: the
aws-samples/bottlerocket-images-cache flow with boto3: a Bottlerocket builder instance pulls
model.image through SSM Run Command, stops, its data volume is snapshotted and tagged, and the
instance is terminated on every path out (success, failure, Ctrl-C). Every AWS call goes through
aws.Aws, so endpoints follow AWS_ENDPOINT_URL* (the tests point them at moto on loopback).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tubedemo.cluster import aws as aws_ops
from tubedemo.cluster import prepared as plan
from tubedemo.cluster.aws import Aws, AwsUnavailable
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError, NotPrepared, PrepareError

Report = Callable[[str], None]


def _client_error(exc: BaseException) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', exc)}"
    return None


@contextmanager
def _step(what: str) -> Iterator[None]:
    """AWS refusals inside become one PrepareError line naming the step."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise AwsUnavailable("no AWS credentials: set AWS_PROFILE or run `aws configure`") from None
    except ClientError as exc:
        raise PrepareError(f"{what}: {_client_error(exc)}") from exc
    except BotoCoreError as exc:
        raise PrepareError(f"{what}: {exc}") from exc


# --- find (up, preflight) -----------------------------------------------------------------------


def find_snapshot(aws: Aws, image: str) -> dict[str, Any] | None:
    """The snapshot `auto` means for this image (prepared.usable_snapshot), or None."""
    with _step("looking for the image snapshot"):
        reply = aws.call(
            "ec2",
            "describe_snapshots",
            OwnerIds=["self"],
            Filters=plan.snapshot_filters(image),
        )
    found = plan.usable_snapshot(reply.get("Snapshots", []))
    return dict(found) if found is not None else None


def weights_prepared(aws: Aws, config: DemoConfig) -> bool:
    """Whether the marker of a complete copy is in the bucket."""
    from botocore.exceptions import ClientError

    try:
        aws.call("s3", "head_object", Bucket=config.s3_bucket, Key=plan.marker_key(config))
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchBucket", "403"):
            return False
        raise PrepareError(f"looking for the prepared weights: {_client_error(exc)}") from exc
    return True


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def resolve(aws: Aws | None, config: DemoConfig) -> DemoConfig:
    """The config with every `auto` replaced by what `tubedemo prepare` made; NotPrepared (one
    line naming prepare and the explicit cold alternative) when something is missing."""
    if not (config.snapshot_is_auto or config.weights_are_auto):
        return config
    if aws is None:
        raise NotPrepared(
            "gpu_pool.image_snapshot_id / model.weights_uri are auto, which looks them up in the "
            "AWS account, but prerequisites.aws_checks is off: set the snap-... id and s3:// URI, "
            f"or go cold explicitly ({plan.cold_alternative()})"
        )
    missing: list[str] = []
    snapshot = config.gpu_pool.image_snapshot_id
    if config.snapshot_is_auto:
        found = find_snapshot(aws, config.model.image)
        if found is None:
            missing.append(f"no image snapshot of {config.model.image}")
            snapshot = None
        elif found.get("State") != "completed":
            missing.append(
                f"the image snapshot {found['SnapshotId']} is still {found.get('State')} "
                f"({found.get('Progress', '?')})"
            )
            snapshot = None
        else:
            snapshot = str(found["SnapshotId"])
    weights = config.model.weights_uri
    if config.weights_are_auto:
        if weights_prepared(aws, config):
            weights = config.prepared_weights_uri
        else:
            missing.append(f"no weights at {config.prepared_weights_uri}")
    if missing:
        where = f"account {config.cluster.account_id or '?'} {config.cluster.region}"
        raise NotPrepared(
            f"the talk is not prepared in {where}: {'; '.join(missing)}. Run `tubedemo prepare` "
            f"(~15-20 min, once per account and image), or go cold explicitly "
            f"({plan.cold_alternative()}: image pull ~4-5 min, hub download per pod)"
        )
    return config.with_prepared(snapshot, weights)


# --- weights --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsResult:
    uri: str
    uploaded: int
    skipped: int
    bytes_uploaded: int


def download_weights(
    config: DemoConfig, cache_dir: Path | None, report: Report
) -> tuple[Path, str]:
    """Download the model's wanted files from the hub; (local folder, commit)."""
    import sys

    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils.tqdm import disable_progress_bars

    if not sys.stderr.isatty():
        disable_progress_bars()  # bars for a person watching; a log gets the report lines
    name, revision = config.model.name, config.model.revision
    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, not at huggingface_hub import
    try:
        info = HfApi(endpoint=endpoint).model_info(name, revision=revision)
        files = [s.rfilename for s in info.siblings or [] if plan.wanted_file(s.rfilename)]
        if not any(f.endswith(".safetensors") for f in files):
            raise PrepareError(
                f"{name}@{revision} has no safetensors files; vLLM's Run:ai streamer reads only "
                "safetensors: choose another model.name or go cold (model.weights_uri empty)"
            )
        report(f"hub: {name}@{revision} (commit {str(info.sha)[:12]}), {len(files)} files")
        folder = snapshot_download(
            name,
            revision=str(info.sha),
            allow_patterns=files,
            ignore_patterns=list(plan.SKIPPED_PATTERNS),
            cache_dir=cache_dir,
            endpoint=endpoint,
        )
    except GatedRepoError as exc:
        raise PrepareError(
            f"the hub refused {name}: it is gated; accept its licence on "
            f"https://huggingface.co/{name} and set HF_TOKEN (or `hf auth login`)"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise PrepareError(
            f"the hub has no model {name} (or it needs a token: set HF_TOKEN); check model.name"
        ) from exc
    except RevisionNotFoundError as exc:
        raise PrepareError(f"{name} has no revision {revision!r}; check model.revision") from exc
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise PrepareError(f"downloading {name} from the hub failed: {exc}") from exc
    return Path(folder), str(info.sha)


def local_files(folder: Path) -> list[plan.LocalFile]:
    """The wanted files under a downloaded folder (the hub cache's symlinks followed)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            relative = path.relative_to(folder).as_posix()
            if plan.wanted_file(relative):
                found.append(plan.LocalFile(relative, path.stat().st_size))
    return found


def local_etag(path: Path, size: int, part_size: int = plan.PART_SIZE) -> str:
    """The ETag S3 would give this file uploaded by upload_weights (prepared.multipart_etag)."""
    digests: list[bytes] = []
    with path.open("rb") as fh:
        while chunk := fh.read(part_size):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    return plan.multipart_etag(digests, size, part_size)


def upload_weights(
    aws: Aws,
    config: DemoConfig,
    folder: Path,
    commit: str,
    report: Report,
    *,
    part_size: int = plan.PART_SIZE,
) -> WeightsResult:
    """Copy the folder's wanted files to the bucket, skip what is already there, marker last."""
    from boto3.s3.transfer import TransferConfig

    bucket, prefix = config.s3_bucket, config.prepared_weights_key
    with _step(f"S3 bucket {bucket}"):
        if aws_ops.create_bucket(aws, bucket):
            report(f"created S3 bucket {bucket} (versioned, not public)")
        remote: dict[str, tuple[int, str]] = {}
        pages = aws.client("s3").get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                remote[obj["Key"]] = (int(obj["Size"]), str(obj["ETag"]))
    files = local_files(folder)
    transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)
    uploaded = skipped = sent = 0
    for f, action in plan.upload_actions(files, remote, prefix):
        key = prefix + f.relative
        path = folder / f.relative
        if action == "check-etag" and remote[key][1] == local_etag(path, f.size, part_size):
            skipped += 1
            report(f"s3: {f.relative} already there ({_size(f.size)}, same ETag)")
            continue
        report(f"s3: uploading {f.relative} ({_size(f.size)})")
        with _step(f"uploading s3://{bucket}/{key}"):
            aws.client("s3").upload_file(str(path), bucket, key, Config=transfer)
        uploaded += 1
        sent += f.size
    with _step("writing the weights marker"):
        aws.call(
            "s3",
            "put_object",
            Bucket=bucket,
            Key=plan.marker_key(config),
            Body=plan.marker_document(config, commit, files).encode(),
            ContentType="application/json",
        )
    return WeightsResult(config.prepared_weights_uri, uploaded, skipped, sent)


def _size(n: int) -> str:
    """Bytes for a progress line: 2 B, 1.5 KiB, 11.0 MiB; GiB is the largest unit."""
    if n < 1024:
        return f"{n} B"
    size, unit = n / 1024, "KiB"
    for larger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


# --- the image snapshot -------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """How long prepare waits for each stage (s) and how often it looks (s)."""

    poll: float = 5.0
    ssm_online: float = 600.0
    pull: float = 3600.0
    stop: float = 600.0
    snapshot: float = 3600.0
    terminate: float = 600.0


def make_snapshot(
    aws: Aws,
    config: DemoConfig,
    report: Report,
    *,
    timing: Timing = Timing(),
    sleep: Callable[[float], None] = time.sleep,
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
    with _step(f"SSM parameter {parameter}"):
        ami = aws.call("ssm", "get_parameter", Name=parameter)["Parameter"]["Value"]
    profile = ensure_builder_profile(aws, report)
    subnet = builder_subnet(aws, config)
    run = uuid.uuid4().hex[:12]
    try:
        with _step("the snapshot builder"):
            instance = _launch(aws, config, ami, profile, subnet, run, report, timing, sleep)
            _pull(aws, config, instance, report, timing, sleep)
            report(f"builder: stopping {instance}")
            aws.call("ec2", "stop_instances", InstanceIds=[instance])
            _wait_state(aws, instance, "stopped", timing.stop, timing.poll, sleep)
            volume = _data_volume(aws, instance)
        with _step(f"snapshotting {volume}"):
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
    aws: Aws,
    run: str,
    report: Report,
    timing: Timing = Timing(),
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Terminate every builder instance of this run (found by its tag, so one launched just
    before a Ctrl-C is found too) and wait until EC2 says terminated. Never leaves a GPU-less
    but billed instance behind; a failure here is reported, never hidden."""
    filters = [
        {"Name": f"tag:{plan.TAG_RUN}", "Values": [run]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
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
    except (ClusterError, PrepareError) as exc:
        raise PrepareError(
            f"could not terminate the builder instance(s) of run {run}: {exc}; terminate them: "
            f"aws ec2 terminate-instances (tag {plan.TAG_RUN}={run})"
        ) from exc
    except Exception as exc:
        detail = _client_error(exc) or str(exc)
        raise PrepareError(
            f"could not terminate the builder instance(s) of run {run}: {detail}; terminate "
            f"them: aws ec2 terminate-instances (tag {plan.TAG_RUN}={run})"
        ) from exc


def ensure_builder_profile(aws: Aws, report: Report) -> str:
    """The builder's instance profile (and role), created when missing."""
    import json

    from botocore.exceptions import ClientError

    name = plan.BUILDER_NAME
    try:
        aws.call("iam", "get_instance_profile", InstanceProfileName=name)
        return name
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise PrepareError(f"IAM instance profile {name}: {_client_error(exc)}") from exc
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with _step(f"creating IAM role and instance profile {name}"):
        try:
            aws.call(
                "iam",
                "create_role",
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="tubedemo prepare: the image snapshot builder (SSM, ECR read)",
                Tags=[{"Key": plan.PART_OF, "Value": "tubedemo"}],
            )
        except ClientError as exc:
            if _code(exc) != "EntityAlreadyExists":
                raise
        for policy in plan.BUILDER_POLICIES:
            aws.call("iam", "attach_role_policy", RoleName=name, PolicyArn=policy)
        aws.call("iam", "create_instance_profile", InstanceProfileName=name)
        aws.call("iam", "add_role_to_instance_profile", InstanceProfileName=name, RoleName=name)
    report(f"created IAM role + instance profile {name} (SSM managed instance, ECR read)")
    return name


def builder_subnet(aws: Aws, config: DemoConfig) -> str | None:
    """A subnet Karpenter also uses (karpenter.sh/discovery=<cluster>), so the builder reaches
    registries the way GPU nodes do; None: the default VPC's."""
    with _step("looking for a subnet"):
        reply = aws.call(
            "ec2",
            "describe_subnets",
            Filters=[{"Name": "tag:karpenter.sh/discovery", "Values": [config.cluster.name]}],
        )
    subnets = sorted(reply.get("Subnets", []), key=lambda s: -int(s["AvailableIpAddressCount"]))
    return str(subnets[0]["SubnetId"]) if subnets else None


def _launch(
    aws: Aws,
    config: DemoConfig,
    ami: str,
    profile: str,
    subnet: str | None,
    run: str,
    report: Report,
    timing: Timing,
    sleep: Callable[[float], None],
) -> str:
    from botocore.exceptions import ClientError

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
    deadline = time.monotonic() + 60.0
    while True:
        try:
            reply = aws.client("ec2").run_instances(**params)
            break
        except ClientError as exc:
            # a new instance profile takes a few seconds to reach EC2
            if "instance profile" in str(exc).lower() and time.monotonic() < deadline:
                sleep(timing.poll)
                continue
            raise PrepareError(f"launching the builder: {_client_error(exc)}") from exc
    instance = str(reply["Instances"][0]["InstanceId"])
    report(
        f"builder: {instance} ({config.gpu_pool.snapshot_builder_type}, {ami}, "
        f"{plan.data_volume_gib(config.gpu_pool.data_volume)} GiB data volume) launching"
    )
    _wait_state(aws, instance, "running", timing.ssm_online, timing.poll, sleep)
    return instance


def _pull(
    aws: Aws,
    config: DemoConfig,
    instance: str,
    report: Report,
    timing: Timing,
    sleep: Callable[[float], None],
) -> None:
    from botocore.exceptions import ClientError

    image = config.model.image
    password = None
    region = plan.ecr_region(image)
    if region:
        with _step("ECR login for the image pull"):
            token = Aws(region).call("ecr", "get_authorization_token")["authorizationData"][0]
            password = base64.b64decode(token["authorizationToken"]).decode().partition(":")[2]
    command = plan.pull_command(image, ecr_password=password)
    report(f"builder: waiting for SSM, then pulling {plan.qualified_image(image)}")
    deadline = time.monotonic() + timing.ssm_online
    while True:
        try:
            sent = aws.client("ssm").send_command(
                InstanceIds=[instance],
                DocumentName="AWS-RunShellScript",
                Comment="tubedemo prepare: pull the vLLM image",
                Parameters={"commands": [command], "executionTimeout": [str(int(timing.pull))]},
            )
            break
        except ClientError as exc:
            # InvalidInstanceId until the SSM agent of the new instance has registered
            if _code(exc) == "InvalidInstanceId" and time.monotonic() < deadline:
                sleep(timing.poll)
                continue
            raise PrepareError(f"SSM send-command to {instance}: {_client_error(exc)}") from exc
    command_id = sent["Command"]["CommandId"]
    deadline = time.monotonic() + timing.pull
    started = time.monotonic()
    while True:
        try:
            status = aws.client("ssm").get_command_invocation(
                CommandId=command_id, InstanceId=instance
            )
        except ClientError as exc:
            if _code(exc) != "InvocationDoesNotExist":
                raise PrepareError(f"SSM command {command_id}: {_client_error(exc)}") from exc
            status = {"Status": "Pending"}
        state = status.get("Status")
        if state == "Success":
            report(f"builder: pulled {image} in {time.monotonic() - started:.0f} s")
            return
        if state not in ("Pending", "InProgress", "Delayed"):
            tail = status.get("StandardErrorContent") or status.get("StatusDetails") or ""
            raise PrepareError(
                f"pulling {image} on the builder failed ({state}): {str(tail).strip()[-300:]}"
            )
        if time.monotonic() >= deadline:
            raise PrepareError(f"pulling {image} took over {timing.pull:.0f} s")
        sleep(timing.poll)


def _wait_state(
    aws: Aws,
    instance: str,
    state: str,
    timeout: float,
    poll: float,
    sleep: Callable[[float], None],
) -> None:
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = aws.call("ec2", "describe_instances", InstanceIds=[instance])
            now = reply["Reservations"][0]["Instances"][0]["State"]["Name"]
        except ClientError as exc:
            # EC2 is eventually consistent: a new instance may not be described yet
            if _code(exc) != "InvalidInstanceID.NotFound" or time.monotonic() >= deadline:
                raise
            now = "not yet described"
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


def _wait_snapshot(
    aws: Aws, snap: str, report: Report, timing: Timing, sleep: Callable[[float], None]
) -> str:
    deadline = time.monotonic() + timing.snapshot
    last = ""
    while True:
        with _step(f"snapshot {snap}"):
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


# --- delete -------------------------------------------------------------------------------------


def delete_prepared(aws: Aws, config: DemoConfig, report: Report) -> int:
    """Remove this config's prepared snapshot(s), weights (every version) and marker, and the
    builder's IAM role and profile. Returns how many things went."""
    from botocore.exceptions import ClientError

    gone = 0
    with _step("deleting the image snapshots"):
        reply = aws.call(
            "ec2",
            "describe_snapshots",
            OwnerIds=["self"],
            Filters=plan.snapshot_filters(config.model.image),
        )
        for snap in reply.get("Snapshots", []):
            aws.call("ec2", "delete_snapshot", SnapshotId=snap["SnapshotId"])
            report(f"deleted snapshot {snap['SnapshotId']} ({config.model.image})")
            gone += 1
    bucket = config.s3_bucket
    if aws_ops.bucket_exists(aws, bucket):
        with _step(f"deleting the weights in {bucket}"):
            keys = (config.prepared_weights_key, plan.marker_key(config))
            pages = aws.client("s3").get_paginator("list_object_versions")
            count = 0
            for prefix in keys:
                for page in pages.paginate(Bucket=bucket, Prefix=prefix):
                    versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
                    batch = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                    for i in range(0, len(batch), 1000):
                        aws.call(
                            "s3",
                            "delete_objects",
                            Bucket=bucket,
                            Delete={"Objects": batch[i : i + 1000], "Quiet": True},
                        )
                    count += len(batch)
            if count:
                report(f"deleted {count} object version(s) under {config.prepared_weights_uri}")
                gone += 1
    name = plan.BUILDER_NAME
    try:
        aws.call(
            "iam", "remove_role_from_instance_profile", InstanceProfileName=name, RoleName=name
        )
        aws.call("iam", "delete_instance_profile", InstanceProfileName=name)
        for policy in plan.BUILDER_POLICIES:
            aws.call("iam", "detach_role_policy", RoleName=name, PolicyArn=policy)
        aws.call("iam", "delete_role", RoleName=name)
        report(f"deleted IAM role + instance profile {name}")
        gone += 1
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise PrepareError(f"deleting IAM {name}: {_client_error(exc)}") from exc
    return gone
