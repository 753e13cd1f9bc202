"""The weights half of `tubedemo prepare`: from the hub to the per-account bucket.

huggingface_hub downloads the model (HF_TOKEN or the saved `hf auth login` token; HF_ENDPOINT
honoured): the hub refusing is a PrepareError naming the fix. The copy to S3 goes through the
door (tubedemo.aws): multipart, skipping objects already there with the same size and ETag, the
marker written last (tubedemo.aws.s3_layout).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tubedemo.aws import account, s3_layout
from tubedemo.aws.errors import step
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import PrepareError
from tubedemo.prepare import plan

Report = Callable[[str], None]


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
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
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
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise hub_refusal(exc, name, revision) from exc
    return Path(folder), str(info.sha)


def hub_refusal(exc: Exception, name: str, revision: str) -> PrepareError:
    """The one line for the hub refusing a download, saying what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):  # a RepositoryNotFoundError too: asked first
        return PrepareError(
            f"the hub refused {name}: it is gated; accept its licence on "
            f"https://huggingface.co/{name} and set HF_TOKEN (or `hf auth login`)"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return PrepareError(
            f"the hub has no model {name} (or it needs a token: set HF_TOKEN); check model.name"
        )
    if isinstance(exc, RevisionNotFoundError):
        return PrepareError(f"{name} has no revision {revision!r}; check model.revision")
    return PrepareError(f"downloading {name} from the hub failed: {exc}")


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
    bucket, prefix = config.s3_bucket, s3_layout.weights_key(config)
    with step(f"S3 bucket {bucket}"):
        if account.create_bucket(aws, bucket):
            report(f"created S3 bucket {bucket} (versioned, not public)")
        remote: dict[str, tuple[int, str]] = {}
        for page in aws.pages("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                remote[obj["Key"]] = (int(obj["Size"]), str(obj["ETag"]))
    files = local_files(folder)
    uploaded = skipped = sent = 0
    for f, action in plan.upload_actions(files, remote, prefix):
        key = prefix + f.relative
        path = folder / f.relative
        if action == "check-etag" and remote[key][1] == local_etag(path, f.size, part_size):
            skipped += 1
            report(f"s3: {f.relative} already there ({_size(f.size)}, same ETag)")
            continue
        report(f"s3: uploading {f.relative} ({_size(f.size)})")
        with step(f"uploading s3://{bucket}/{key}"):
            aws.upload_file(path, bucket, key, part_size=part_size)
        uploaded += 1
        sent += f.size
    with step("writing the weights marker"):
        aws.call(
            "s3",
            "put_object",
            Bucket=bucket,
            Key=s3_layout.marker_key(config),
            Body=plan.marker_document(config, commit, files).encode(),
            ContentType="application/json",
        )
    return WeightsResult(s3_layout.weights_uri(config), uploaded, skipped, sent)


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
