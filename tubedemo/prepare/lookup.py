"""Find what `tubedemo prepare` made: `up`, `diff` and preflight turn `auto` into real ids.

``resolve`` replaces every ``auto`` (gpu_pool.image_snapshot_id, model.weights_uri) with the
snapshot and S3 prefix prepare made in this account and region, or refuses with NotPrepared (one
line naming prepare and the explicit cold alternative). An AWS call failing on the way is an
AwsError: AWS's refusal wins over NotPrepared.
"""

from __future__ import annotations

from typing import Any

from tubedemo.aws import s3_layout
from tubedemo.aws.errors import step
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import NotPrepared
from tubedemo.prepare import plan

NO_MARKER = ("404", "NoSuchKey", "NotFound", "NoSuchBucket", "403")
"""A HEAD of the marker answered one of these: no complete copy here (S3 answers 403, not 404,
for a missing key when the identity may not list the bucket)."""


def find_snapshot(aws: Aws, image: str) -> dict[str, Any] | None:
    """The snapshot `auto` means for this image (plan.usable_snapshot), or None."""
    with step("looking for the image snapshot"):
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
    with step("looking for the prepared weights"):
        found = aws.call(
            "s3",
            "head_object",
            missing=NO_MARKER,
            Bucket=config.s3_bucket,
            Key=s3_layout.marker_key(config),
        )
    return found is not None


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
            weights = s3_layout.weights_uri(config)
        else:
            missing.append(f"no weights at {s3_layout.weights_uri(config)}")
    if missing:
        where = f"account {config.cluster.account_id or '?'} {config.cluster.region}"
        raise NotPrepared(
            f"the talk is not prepared in {where}: {'; '.join(missing)}. Run `tubedemo prepare` "
            f"(~15-20 min, once per account and image), or go cold explicitly "
            f"({plan.cold_alternative()}: image pull ~4-5 min, hub download per pod)"
        )
    return config.with_prepared(snapshot, weights)


def found_line(config: DemoConfig, resolved: DemoConfig) -> str:
    """What `auto` resolved to, one line: "prepared (auto): image snapshot snap-..., weights
    s3://..." (up, diff and preflight print it)."""
    found = []
    if config.snapshot_is_auto:
        found.append(f"image snapshot {resolved.gpu_pool.image_snapshot_id}")
    if config.weights_are_auto:
        found.append(f"weights {resolved.model.weights_uri}")
    return f"prepared (auto): {', '.join(found)}"


COMPILE_CACHE_MARKER = ".tubedemo-complete.json"
"""The object gateway/compile_cache.py writes after a complete cache (its MARKER)."""


def compile_cache_state(aws: Aws, config: DemoConfig) -> str:
    """One line on vLLM's compile cache for this configuration (model.compile_cache): where it
    is and whether it is complete; listed, as vLLM's role does (its policy lists the prefix)."""
    key = s3_layout.compile_cache_key(config)
    where = f"s3://{config.s3_bucket}/{key}"
    with step("looking for vLLM's compile cache"):
        marker = key + COMPILE_CACHE_MARKER
        reply = aws.call(
            "s3",
            "list_objects_v2",
            missing=("NoSuchBucket",),
            Bucket=config.s3_bucket,
            Prefix=marker,
            MaxKeys=1,
        )
    if reply is not None and any(o["Key"] == marker for o in reply.get("Contents", [])):
        return f"compile cache: {where} complete; new replicas load their compiled graphs"
    return (
        f"compile cache: {where} empty; the first replica (the warm one, at `up`) compiles "
        "cold and fills it"
    )
