"""`tubedemo prepare --delete`: remove what prepare made (teardown keeps it for the next talk).

This config's image snapshot(s), every version of its weights and marker, every vLLM compile
cache in the bucket (model.compile_cache: derived data, refilled by the next talk's first
replica; caches of earlier configurations would otherwise stay forever), and the builder's IAM
role and instance profile; through the door (tubedemo.aws), so an AWS call failing is an
AwsError naming the step.
"""

from __future__ import annotations

from collections.abc import Callable

from tubedemo.aws import account, s3_layout
from tubedemo.aws.errors import AwsRefused, step
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.prepare import plan

Report = Callable[[str], None]

DELETE_BATCH = 1000
"""S3 DeleteObjects takes at most 1,000 keys per call."""


def delete_prepared(aws: Aws, config: DemoConfig, report: Report) -> int:
    """Remove this config's prepared snapshot(s), weights (every version) and marker, and the
    builder's IAM role and profile. Returns how many things went."""
    gone = _delete_snapshots(aws, config, report)
    gone += _delete_weights(aws, config, report)
    gone += _delete_compile_caches(aws, config, report)
    gone += _delete_builder_role(aws, report)
    return gone


def _delete_snapshots(aws: Aws, config: DemoConfig, report: Report) -> int:
    gone = 0
    with step("deleting the image snapshots"):
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
    return gone


def _delete_weights(aws: Aws, config: DemoConfig, report: Report) -> int:
    bucket = config.s3_bucket
    if not account.bucket_exists(aws, bucket):
        return 0
    with step(f"deleting the weights in {bucket}"):
        prefixes = (s3_layout.weights_key(config), s3_layout.marker_key(config))
        count = _delete_versions(aws, bucket, prefixes)
    if not count:
        return 0
    report(f"deleted {count} object version(s) under {s3_layout.weights_uri(config)}")
    return 1


def _delete_compile_caches(aws: Aws, config: DemoConfig, report: Report) -> int:
    bucket = config.s3_bucket
    if not account.bucket_exists(aws, bucket):
        return 0
    prefix = f"{s3_layout.COMPILE_CACHE_PREFIX}/"
    with step(f"deleting vLLM's compile caches in {bucket}"):
        count = _delete_versions(aws, bucket, (prefix,))
    if not count:
        return 0
    report(f"deleted {count} object version(s) under s3://{bucket}/{prefix}")
    return 1


def _delete_versions(aws: Aws, bucket: str, prefixes: tuple[str, ...]) -> int:
    """Delete every version and delete marker under ``prefixes`` (the bucket is versioned);
    how many went."""
    count = 0
    for prefix in prefixes:
        for page in aws.pages("s3", "list_object_versions", Bucket=bucket, Prefix=prefix):
            versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
            for i in range(0, len(batch), DELETE_BATCH):
                aws.call(
                    "s3",
                    "delete_objects",
                    Bucket=bucket,
                    Delete={"Objects": batch[i : i + DELETE_BATCH], "Quiet": True},
                )
            count += len(batch)
    return count


def _delete_builder_role(aws: Aws, report: Report) -> int:
    name = plan.BUILDER_NAME
    with step(f"deleting IAM {name}"):
        try:
            aws.call(
                "iam", "remove_role_from_instance_profile", InstanceProfileName=name, RoleName=name
            )
            aws.call("iam", "delete_instance_profile", InstanceProfileName=name)
            for policy in plan.BUILDER_POLICIES:
                aws.call("iam", "detach_role_policy", RoleName=name, PolicyArn=policy)
            aws.call("iam", "delete_role", RoleName=name)
        except AwsRefused as exc:
            if exc.code != "NoSuchEntity":
                raise
            return 0  # never made, or deleted before
    report(f"deleted IAM role + instance profile {name}")
    return 1
