"""Decide what `tubedemo prepare` makes and how `up` finds it again. Pure: no AWS, hub or files.

Two things make the talk's cold start ~3 minutes instead of ~10 (README "Start-up time"):

- an EBS snapshot of a Bottlerocket data volume with ``model.image`` already pulled (the
  aws-samples/bottlerocket-images-cache flow), tagged with the image reference so ``auto`` finds
  exactly the snapshot made for this image in this account and region;
- the model's weights in the per-account bucket (where exactly: tubedemo.aws.s3_layout), with a
  marker object written last, so a half-finished copy is never mistaken for a prepared one.

weights.py, snapshot.py, lookup.py and delete.py carry these decisions out.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ConfigError

PART_OF = "app.kubernetes.io/part-of"
TAG_PURPOSE = "tubedemo.dev/purpose"
TAG_IMAGE = "tubedemo.dev/image"
TAG_RUN = "tubedemo.dev/prepare-run"
PURPOSE_SNAPSHOT = "image-snapshot"
PURPOSE_BUILDER = "snapshot-builder"

BUILDER_NAME = "tubedemo-snapshot-builder"
"""IAM role and instance profile of the builder instance (prepare creates them when missing)."""
BUILDER_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
"""SSM Run Command reaches the instance; ECR images can be pulled (bottlerocket-images-cache's
ebs-snapshot-instance.yaml attaches the same two)."""
BUILDER_KUBERNETES = "1.35"
"""Kubernetes minor of the Bottlerocket builder AMI: the newest tubedemo supports (preflight's
SUPPORTED_KUBERNETES). The data volume's containerd store does not depend on it."""
ROOT_DEVICE = "/dev/xvda"
DATA_DEVICE = "/dev/xvdb"
"""Bottlerocket's data volume, the one the EC2NodeClass maps the snapshot to."""

WEIGHT_PATTERNS = ("*.safetensors", "*.json", "*.model", "*.txt", "*.tiktoken", "*.jinja")
"""Files vLLM reads from a weights folder: safetensors, config, tokenizer, chat template."""
SKIPPED_PATTERNS = ("original/*", "*.pth", "*.bin", "*.pt", "*.gguf")
"""Never copied: Meta's original checkpoint (original/*, ~16 GB) and other formats vLLM's
streamer does not read."""
PART_SIZE = 64 * 1024 * 1024
"""S3 multipart part size (bytes): also how an object's ETag is computed to skip re-uploads."""


# --- the image snapshot -------------------------------------------------------------------------


def bottlerocket_version(ami_alias: str) -> str:
    """``bottlerocket@v1.66.0`` -> ``1.66.0`` (SSM paths have no v, Karpenter trims it too);
    ``bottlerocket@latest`` -> ``latest``."""
    family, _, version = ami_alias.partition("@")
    if family != "bottlerocket" or not version:
        raise ConfigError(
            f"gpu_pool.ami_alias {ami_alias!r}: the image snapshot is a Bottlerocket data volume; "
            "use a bottlerocket@<version> alias"
        )
    return version.removeprefix("v")


def ami_parameter(config: DemoConfig) -> str:
    """SSM public parameter with the builder's AMI: the standard Bottlerocket variant of the
    GPU nodes' release (aws-samples uses the same family; the NVIDIA variant needs a GPU)."""
    version = bottlerocket_version(config.gpu_pool.ami_alias)
    return f"/aws/service/bottlerocket/aws-k8s-{BUILDER_KUBERNETES}/x86_64/{version}/image_id"


def qualified_image(reference: str) -> str:
    """The fully-qualified reference ctr needs (it has no docker.io default): ``vllm/x:1`` ->
    ``docker.io/vllm/x:1``, ``busybox`` -> ``docker.io/library/busybox:latest``."""
    name = reference
    first, sep, _ = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if sep else f"docker.io/library/{name}"
    last = name.rpartition("/")[2]
    if "@" not in last and ":" not in last:
        name += ":latest"
    return name


def ecr_region(reference: str) -> str | None:
    """The region of an ECR registry in the reference, or None (a public registry)."""
    match = re.match(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/", reference)
    return match.group(1) if match else None


def pull_command(reference: str, *, ecr_password: str | None = None) -> str:
    """The shell command SSM runs on the builder: ctr (through the admin container's sheltie)
    pulls into containerd's k8s.io namespace on the data volume, labelled as a CRI-managed
    image, which is where kubelet looks on the GPU node that boots from the snapshot."""
    user = f" --user AWS:{ecr_password}" if ecr_password else ""
    return (
        "apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock -n k8s.io images "
        f"pull --label io.cri-containerd.image=managed --platform linux/amd64{user} "
        f"{qualified_image(reference)}"
    )


ADMIN_WAIT_TRIES = 60
"""Five-second tries for the builder's admin container to answer (Bottlerocket starts it after
the SSM agent; `apiclient exec admin` fails until it runs)."""


def ready_command() -> str:
    """The shell command SSM runs on the builder before the pull, as the upstream
    bottlerocket-images-cache flow does: wait until the admin container answers, then stop
    kubelet (the builder is no node: a kubelet that never joins keeps restarting, and its image
    garbage collection must not touch the image being pulled)."""
    return (
        f"for try in $(seq {ADMIN_WAIT_TRIES}); do apiclient exec admin sheltie true && break; "
        "sleep 5; done; apiclient exec admin sheltie systemctl stop kubelet"
    )


BUILDER_DATA_THROUGHPUT = 1000
"""MiB/s of the builder's gp3 data volume (upstream's figure; gp3's base is 125): the pull
writes ~20 GB of layers, which at 125 MiB/s alone takes ~3 min of the builder's time."""
BUILDER_DATA_IOPS = 4000
"""IOPS of the builder's data volume (upstream's figure; gp3's base is 3000)."""


BUILDER_USER_DATA = """\
[settings.host-containers.admin]
enabled = true
"""
"""Bottlerocket settings (TOML) of the builder: the admin container runs sheltie; SSM's control
container is on by default."""


def data_volume_gib(size: str) -> int:
    """gpu_pool.data_volume (``120Gi``, ``200G``) as whole GiB, the snapshot's volume size."""
    match = re.fullmatch(r"(\d+)(Gi|G|Ti|T)?", size.strip())
    if not match:
        raise ConfigError(f"gpu_pool.data_volume {size!r}: write it as e.g. 120Gi")
    value, unit = int(match.group(1)), match.group(2) or "Gi"
    return value * 1024 if unit in ("Ti", "T") else value


def snapshot_tags(config: DemoConfig) -> dict[str, str]:
    return {
        "Name": f"tubedemo {config.model.image}",
        PART_OF: "tubedemo",
        TAG_PURPOSE: PURPOSE_SNAPSHOT,
        TAG_IMAGE: config.model.image,
    }


def snapshot_filters(image: str) -> list[dict[str, Any]]:
    """describe_snapshots filters: tubedemo's snapshots of exactly this image reference."""
    return [
        {"Name": f"tag:{TAG_PURPOSE}", "Values": [PURPOSE_SNAPSHOT]},
        {"Name": f"tag:{TAG_IMAGE}", "Values": [image]},
    ]


def usable_snapshot(snapshots: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The snapshot ``auto`` means: the newest completed one; else the newest still pending (an
    interrupted prepare, worth waiting for); never an errored one."""
    states = {"completed": 0, "pending": 1}
    candidates = [s for s in snapshots if s.get("State") in states]
    if not candidates:
        return None
    candidates.sort(key=lambda s: (states[str(s["State"])], -_start_key(s)))
    return candidates[0]


def _start_key(snapshot: Mapping[str, Any]) -> float:
    from datetime import datetime

    start = snapshot.get("StartTime")
    return start.timestamp() if isinstance(start, datetime) else 0.0


def builder_tags(config: DemoConfig, run: str) -> dict[str, str]:
    return {
        "Name": f"tubedemo snapshot builder ({config.model.image})",
        PART_OF: "tubedemo",
        TAG_PURPOSE: PURPOSE_BUILDER,
        TAG_RUN: run,
    }


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# --- the weights ------------------------------------------------------------------------------


def wanted_file(path: str) -> bool:
    """Whether a repository file is copied to S3 (see WEIGHT_PATTERNS, SKIPPED_PATTERNS)."""
    if any(fnmatch.fnmatch(path, p) for p in SKIPPED_PATTERNS):
        return False
    name = path.rpartition("/")[2]
    return any(fnmatch.fnmatch(name, p) for p in WEIGHT_PATTERNS)


def multipart_etag(part_md5s: list[bytes], size: int, part_size: int = PART_SIZE) -> str:
    """The ETag S3 gives an object uploaded in parts of part_size (boto3's upload_file with
    multipart_threshold = multipart_chunksize = part_size): the MD5 itself below the threshold,
    else md5(concatenated part MD5s)-<parts>. Pure: takes the parts' MD5 digests."""
    import hashlib

    if size < part_size:
        return f'"{part_md5s[0].hex()}"' if part_md5s else '"d41d8cd98f00b204e9800998ecf8427e"'
    whole = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f'"{whole}-{len(part_md5s)}"'


@dataclass(frozen=True)
class LocalFile:
    relative: str
    size: int


Action = Literal["upload", "skip-same-size", "check-etag"]


def upload_actions(
    files: Iterable[LocalFile], remote: Mapping[str, tuple[int, str]], prefix: str
) -> list[tuple[LocalFile, Action]]:
    """For each file: upload (absent or another size), or check its ETag (same size: the
    executor computes the local ETag and skips on a match). Pure."""
    actions: list[tuple[LocalFile, Action]] = []
    for f in sorted(files, key=lambda f: f.relative):
        there = remote.get(prefix + f.relative)
        actions.append((f, "upload" if there is None or there[0] != f.size else "check-etag"))
    return actions


def marker_document(config: DemoConfig, commit: str, files: Iterable[LocalFile]) -> str:
    """What the marker says: model, revision (and the commit it was), files and sizes."""
    listed = sorted(files, key=lambda f: f.relative)
    return json.dumps(
        {
            "model": config.model.name,
            "revision": config.model.revision,
            "commit": commit,
            "files": {f.relative: f.size for f in listed},
            "bytes": sum(f.size for f in listed),
        },
        indent=2,
        sort_keys=True,
    )


def cold_alternative() -> str:
    return "--set gpu_pool.image_snapshot_id= --set model.weights_uri="
