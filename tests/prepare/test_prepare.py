"""`tubedemo prepare`, and `up`'s `auto`, against stand-ins on loopback.

AWS is moto in server mode (a stand-in for S3, EC2, IAM and SSM; real boto3 on the wire). Two
gaps of moto 5.2, each named where it is bridged:
- moto publishes no Bottlerocket public SSM parameters, and refuses to store names under /aws;
  `_publish_bottlerocket_ami` writes the one prepare reads into moto's in-process SSM backend.
- moto's SSM Run Command executes nothing: every command "succeeds" at once with empty output,
  so the image pull itself (apiclient/sheltie/ctr on a Bottlerocket instance) is not run here;
  the tests check the command prepare sends, and that the instance is always terminated.
The Hugging Face hub is `HubServer`: a loopback HTTP server speaking the part of the hub's API
that huggingface_hub's own client uses to download a model (model info, HEAD and GET of each
file), fed from a dict of files. It is a stand-in for the hub, named as one.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import cli
from tests.aws import LoopbackServer, moto_server, reset_moto
from tubedemo.aws import s3_layout
from tubedemo.aws.errors import NO_CREDENTIALS
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import AwsError, NotPrepared, PreflightFailed
from tubedemo.manifests.render import render
from tubedemo.prepare import image_snapshot, lookup, plan, weights

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-west-2"
MODEL = "acme/tiny-llm"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUCKET = f"tubedemo-{ACCOUNT}-{REGION}"
MIB = 1024 * 1024


class HubServer(LoopbackServer):
    """STAND-IN for the Hugging Face hub: GET /api/models/<repo>/revision/<rev> and
    /api/models/<repo>/tree/<rev> (the file list), HEAD and GET
    /<repo>/resolve/<rev>/<file>, with the headers huggingface_hub reads (X-Repo-Commit, ETag,
    Content-Length). `gated` answers 401 with X-Error-Code: GatedRepo, as the hub does."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.gated = False
        self.downloads: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _route(self) -> None:
                path = urllib.request.unquote(self.path.split("?", 1)[0])
                if hub.gated:
                    self._send(401, b"gated", {"X-Error-Code": "GatedRepo"})
                    return
                info = f"/api/models/{MODEL}/revision/"
                if path.startswith(info):
                    body = json.dumps(
                        {
                            "id": MODEL,
                            "modelId": MODEL,
                            "sha": COMMIT,
                            "private": False,
                            "siblings": [{"rfilename": f} for f in sorted(hub.files)],
                        }
                    ).encode()
                    self._send(200, body, {"Content-Type": "application/json"})
                    return
                if path.startswith(f"/api/models/{MODEL}/tree/"):
                    entries = [
                        {
                            "type": "file",
                            "path": name,
                            "size": len(data),
                            "oid": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                        }
                        for name, data in sorted(hub.files.items())
                    ]
                    body = json.dumps(entries).encode()
                    self._send(200, body, {"Content-Type": "application/json"})
                    return
                prefix = f"/{MODEL}/resolve/"
                if path.startswith(prefix):
                    _, _, name = path.removeprefix(prefix).partition("/")
                    if name in hub.files:
                        data = hub.files[name]
                        if self.command == "GET":
                            hub.downloads.append(name)
                        self._send(
                            200,
                            data,
                            {
                                "X-Repo-Commit": COMMIT,
                                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                                "Content-Type": "application/octet-stream",
                            },
                        )
                        return
                self._send(404, b"not found", {"X-Error-Code": "EntryNotFound"})

            do_GET = _route
            do_HEAD = _route

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, HubServer]]:
    with pytest.MonkeyPatch.context() as mp:
        # AWS-managed policies (AmazonSSMManagedInstanceCore, ...) exist in every account;
        # moto loads them only when asked
        mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        hub = HubServer()
        hub.thread.start()
        with moto_server() as url:
            try:
                yield url, hub
            finally:
                hub.server.shutdown()


@pytest.fixture
def env(
    servers: tuple[str, HubServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Process environment pointing boto3 at moto and huggingface_hub at the hub stand-in."""
    moto_url, hub = servers
    reset_moto(moto_url)
    hub.files = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
        "tokenizer.json": b'{"version": "1.0"}',
        "model-00001-of-00002.safetensors": os.urandom(300_000),
        "model-00002-of-00002.safetensors": os.urandom(200_000),
        "model.safetensors.index.json": b'{"weight_map": {}}',
        "original/consolidated.00.pth": os.urandom(50_000),
        "README.md": b"# tiny",
    }
    hub.gated = False
    hub.downloads.clear()
    values = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return values


def _cfg(**raw: Any) -> DemoConfig:
    base: dict[str, Any] = {
        "cluster": {"account_id": ACCOUNT, "region": REGION},
        "model": {"name": MODEL},
    }
    for key, value in raw.items():
        base[key] = {**base.get(key, {}), **value}
    return config_from_dict(base)


def _client(service: str) -> Any:
    return boto3.session.Session(region_name=REGION).client(service)


def _publish_bottlerocket_ami(config: DemoConfig) -> str:
    """BRIDGE over a moto gap: AWS publishes /aws/service/bottlerocket/... as public parameters;
    moto has none and refuses to store names under /aws, so the parameter prepare reads is
    written into moto's in-process SSM backend (the server runs in this process). The AMI is one
    moto's EC2 serves."""
    from moto.ec2.models.amis import AMIS
    from moto.ssm.models import Parameter, ssm_backends

    # the first of moto's own AMIs (describe_images over all of them takes seconds)
    ami = AMIS[0]["ami_id"]
    name = plan.ami_parameter(config)
    ssm_backends[ACCOUNT][REGION]._parameters[name].append(
        Parameter(
            account_id=ACCOUNT,
            name=name,
            value=ami,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="aws:ec2:image",
        )
    )
    return str(ami)


def tubedemo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.tubedemo(*args, cwd=cwd, timeout=180, env={**os.environ, "COLUMNS": "200"})


def _write_demo(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(
        f"cluster:\n  account_id: '{ACCOUNT}'\n  region: {REGION}\nmodel:\n  name: {MODEL}\n"
        "gateway:\n  image: registry.invalid/tubedemo/gateway:test\n"
    )


def _objects(prefix: str = "") -> dict[str, dict[str, Any]]:
    reply = _client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o for o in reply.get("Contents", [])}


def _snapshots() -> list[dict[str, Any]]:
    """tubedemo's snapshots of the default image (moto's account has snapshots of its own)."""
    reply = _client("ec2").describe_snapshots(
        OwnerIds=["self"], Filters=plan.snapshot_filters("vllm/vllm-openai:v0.33.0")
    )
    return list(reply["Snapshots"])


def _builders() -> list[dict[str, Any]]:
    reply = _client("ec2").describe_instances(
        Filters=[{"Name": f"tag:{plan.TAG_PURPOSE}", "Values": [plan.PURPOSE_BUILDER]}]
    )
    return [i for r in reply["Reservations"] for i in r["Instances"]]


# --- the pure decisions ---------------------------------------------------------------------------


def test_ctr_gets_fully_qualified_image_references() -> None:
    assert plan.qualified_image("vllm/vllm-openai:v0.33.0") == "docker.io/vllm/vllm-openai:v0.33.0"
    assert plan.qualified_image("busybox") == "docker.io/library/busybox:latest"
    assert plan.qualified_image("public.ecr.aws/x/y:1") == "public.ecr.aws/x/y:1"
    assert plan.qualified_image("localhost:5000/y") == "localhost:5000/y:latest"
    digest = "ghcr.io/a/b@sha256:" + "0" * 64
    assert plan.qualified_image(digest) == digest
    command = plan.pull_command("vllm/vllm-openai:v0.33.0")
    assert command.startswith("apiclient exec admin sheltie ctr -a /run/containerd/containerd.sock")
    assert "-n k8s.io images pull --label io.cri-containerd.image=managed" in command
    assert command.endswith(" docker.io/vllm/vllm-openai:v0.33.0")


def test_the_builder_ami_is_the_standard_bottlerocket_variant_of_the_gpu_nodes_release() -> None:
    assert plan.ami_parameter(DemoConfig()) == (
        "/aws/service/bottlerocket/aws-k8s-1.35/x86_64/1.66.0/image_id"
    )
    with pytest.raises(Exception, match="bottlerocket@<version>"):
        plan.bottlerocket_version("al2023@latest")


def test_weights_copy_skips_the_original_checkpoint_and_files_vllm_does_not_read() -> None:
    assert plan.wanted_file("model-00001-of-00004.safetensors")
    assert plan.wanted_file("tokenizer.json") and plan.wanted_file("config.json")
    assert not plan.wanted_file("original/consolidated.00.pth")
    assert not plan.wanted_file("original/params.json")
    assert not plan.wanted_file("README.md")
    assert not plan.wanted_file("pytorch_model.bin")


def test_auto_finds_a_completed_snapshot_first_then_a_pending_one_never_an_errored_one() -> None:
    t = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    later = t + datetime.timedelta(days=1)
    snaps = [
        {"SnapshotId": "snap-old", "State": "completed", "StartTime": t},
        {"SnapshotId": "snap-new", "State": "completed", "StartTime": later},
        {"SnapshotId": "snap-run", "State": "pending", "StartTime": later},
        {"SnapshotId": "snap-bad", "State": "error", "StartTime": later},
    ]
    assert (plan.usable_snapshot(snaps) or {})["SnapshotId"] == "snap-new"
    assert (plan.usable_snapshot(snaps[2:]) or {})["SnapshotId"] == "snap-run"
    assert plan.usable_snapshot(snaps[3:]) is None


def test_auto_is_the_eks_default_and_the_local_profile_stays_cold() -> None:
    eks = DemoConfig()
    assert (eks.gpu_pool.image_snapshot_id, eks.model.weights_uri) == ("auto", "auto")
    assert eks.snapshot_is_auto and eks.weights_are_auto
    local = DemoConfig.model_validate({"profile": "local"})
    assert (local.gpu_pool.image_snapshot_id, local.model.weights_uri) == ("", "")
    assert not (local.snapshot_is_auto or local.weights_are_auto)
    with pytest.raises(Exception, match="image_snapshot_id"):
        config_from_dict({"gpu_pool": {"image_snapshot_id": "ami-123"}})


# --- the weights ----------------------------------------------------------------------------------


def test_prepare_copies_the_hub_weights_to_the_per_account_bucket_and_marks_them_last(
    env: dict[str, str], tmp_path: Path, servers: tuple[str, HubServer]
) -> None:
    _write_demo(tmp_path)
    done = tubedemo(tmp_path, "prepare", "--no-snapshot")
    assert done.returncode == 0, done.stderr
    key = f"models/{MODEL}/main/"
    assert sorted(_objects(key)) == [
        key + f
        for f in (
            "config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
            "tokenizer.json",
        )
    ]
    hub = servers[1]
    assert not any(d.startswith("original/") for d in hub.downloads)  # never even downloaded
    marker = json.loads(
        _client("s3")
        .get_object(Bucket=BUCKET, Key=f"models/{MODEL}/main{s3_layout.MARKER_SUFFIX}")["Body"]
        .read()
    )
    assert marker["commit"] == COMMIT and len(marker["files"]) == 5
    assert f"s3://{BUCKET}/{key} (5 uploaded, 0 already there)" in done.stdout
    assert "s3: uploading model-00001-of-00002.safetensors" in done.stdout

    again = tubedemo(tmp_path, "prepare", "--no-snapshot")
    assert again.returncode == 0, again.stderr
    assert "(0 uploaded, 5 already there)" in again.stdout


def test_prepare_says_where_vllms_compile_cache_is_and_whether_a_replica_filled_it(
    env: dict[str, str], tmp_path: Path, servers: tuple[str, HubServer]
) -> None:
    _write_demo(tmp_path)
    cached = ("prepare", "--no-snapshot", "--set", "model.compile_cache=true")
    first = tubedemo(tmp_path, *cached)
    assert first.returncode == 0, first.stderr
    key = s3_layout.compile_cache_key(_cfg(model={"name": MODEL, "compile_cache": True}))
    where = f"s3://{BUCKET}/{key}"
    assert f"compile cache: {where} empty; the first replica" in first.stdout
    # the first replica's push (gateway/compile_cache.py) wrote the cache and its marker
    _client("s3").put_object(Bucket=BUCKET, Key=f"{key}.tubedemo-complete.json", Body=b"{}")
    second = tubedemo(tmp_path, *cached)
    assert f"compile cache: {where} complete" in " ".join(second.stdout.split()), second.stdout
    assert "compile cache" not in tubedemo(tmp_path, "prepare", "--no-snapshot").stdout


def test_a_multipart_upload_is_recognised_by_its_etag_and_not_sent_twice(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(os.urandom(11 * MIB))  # 3 parts of 5 MiB
    (folder / "config.json").write_text("{}")
    cfg = _cfg()
    aws = Aws(REGION)
    lines: list[str] = []
    first = weights.upload_weights(aws, cfg, folder, COMMIT, lines.append, part_size=5 * MIB)
    assert (first.uploaded, first.skipped) == (2, 0)
    assert "s3: uploading model.safetensors (11.0 MiB)" in lines
    assert "s3: uploading config.json (2 B)" in lines
    etag = _objects()[f"models/{MODEL}/main/model.safetensors"]["ETag"]
    assert etag.endswith('-3"')  # S3 (moto) computed it from three parts
    assert weights.local_etag(folder / "model.safetensors", 11 * MIB, 5 * MIB) == etag
    second = weights.upload_weights(aws, cfg, folder, COMMIT, lines.append, part_size=5 * MIB)
    assert (second.uploaded, second.skipped) == (0, 2)
    assert "s3: model.safetensors already there (11.0 MiB, same ETag)" in lines
    # same size, other bytes: uploaded again
    (folder / "model.safetensors").write_bytes(os.urandom(11 * MIB))
    third = weights.upload_weights(aws, cfg, folder, COMMIT, lines.append, part_size=5 * MIB)
    assert (third.uploaded, third.skipped) == (1, 1)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (MIB - 1, "1024.0 KiB"),
        (MIB, "1.0 MiB"),
        (16 * 1024 * MIB, "16.0 GiB"),
        (3 * 1024 * 1024 * MIB, "3072.0 GiB"),  # GiB is the largest unit
    ],
)
def test_upload_lines_show_sizes_in_binary_units(size: int, shown: str) -> None:
    assert weights._size(size) == shown


def test_a_gated_model_is_one_line_naming_the_licence_and_hf_token(
    env: dict[str, str], tmp_path: Path, servers: tuple[str, HubServer]
) -> None:
    servers[1].gated = True
    _write_demo(tmp_path)
    done = tubedemo(tmp_path, "prepare", "--no-snapshot")
    assert done.returncode == 18, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: the hub refused acme/tiny-llm"), errors
    assert "HF_TOKEN" in errors[0] and "Traceback" not in done.stderr


def test_prepare_without_aws_credentials_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    _write_demo(tmp_path)
    bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = cli.tubedemo(
        "prepare",
        cwd=tmp_path,
        env={**bare, "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert done.returncode == AwsError.exit_code, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [f"error: {NO_CREDENTIALS}"]


# --- the image snapshot ---------------------------------------------------------------------------


def test_prepare_makes_a_tagged_snapshot_of_the_data_volume_and_terminates_the_builder(
    env: dict[str, str], tmp_path: Path
) -> None:
    _publish_bottlerocket_ami(_cfg())
    _write_demo(tmp_path)
    done = tubedemo(tmp_path, "prepare", "--no-weights")
    assert done.returncode == 0, done.stderr
    snaps = _client("ec2").describe_snapshots(
        OwnerIds=["self"], Filters=plan.snapshot_filters("vllm/vllm-openai:v0.33.0")
    )["Snapshots"]
    assert len(snaps) == 1
    snap = snaps[0]
    assert f"image snapshot {snap['SnapshotId']}" in done.stdout
    tags = {t["Key"]: t["Value"] for t in snap["Tags"]}
    assert tags[plan.TAG_IMAGE] == "vllm/vllm-openai:v0.33.0"
    assert snap["VolumeSize"] == 120  # gpu_pool.data_volume: the node's volume fits it
    (builder,) = _builders()
    assert builder["State"]["Name"] == "terminated"
    assert f"builder: {builder['InstanceId']} terminated" in done.stdout
    # what prepare asked SSM to run on the builder, in order (moto runs nothing: see the
    # docstring): as upstream's bottlerocket-images-cache, first wait for the admin container
    # and stop kubelet, then pull
    commands = _client("ssm").list_commands(InstanceId=builder["InstanceId"])["Commands"]
    assert [c["DocumentName"] for c in commands] == ["AWS-RunShellScript"] * 2
    ready, pull = sorted(commands, key=lambda c: c["RequestedDateTime"])
    assert ready["Parameters"]["commands"] == [plan.ready_command()]
    assert "apiclient exec admin sheltie true && break" in plan.ready_command()
    assert plan.ready_command().endswith("apiclient exec admin sheltie systemctl stop kubelet")
    assert pull["Parameters"]["commands"] == [plan.pull_command("vllm/vllm-openai:v0.33.0")]
    # its data volume writes at upstream's 1000 MiB/s and 4000 IOPS, not gp3's base 125 MiB/s
    # (the volume went with the builder: asked of what prepare hands run_instances)
    launch = image_snapshot._launch_params(_cfg(), "ami-0", "profile", None, "run")
    (data,) = [m for m in launch["BlockDeviceMappings"] if m["DeviceName"] == plan.DATA_DEVICE]
    assert (data["Ebs"]["Throughput"], data["Ebs"]["Iops"]) == (1000, 4000)
    # the builder could reach SSM: its instance profile carries the SSM managed policy
    role = _client("iam").list_attached_role_policies(RoleName=plan.BUILDER_NAME)
    assert {p["PolicyArn"] for p in role["AttachedPolicies"]} == set(plan.BUILDER_POLICIES)

    again = tubedemo(tmp_path, "prepare", "--no-weights")
    assert again.returncode == 0, again.stderr
    assert f"snapshot: reusing {snap['SnapshotId']}" in again.stdout
    assert len(_builders()) == 1  # no second builder launched


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError])
def test_the_builder_is_terminated_on_ctrl_c_and_on_failure(
    env: dict[str, str], interrupt: type[BaseException]
) -> None:
    cfg = _cfg()
    _publish_bottlerocket_ami(cfg)
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        if line.startswith("builder: waiting for SSM"):  # the instance is up, the pull starts
            raise interrupt("stop here")

    with pytest.raises(interrupt):
        image_snapshot.make_snapshot(Aws(REGION), cfg, report, sleep=lambda s: None)
    (builder,) = _builders()
    assert builder["State"]["Name"] == "terminated"
    assert lines[-1] == f"builder: {builder['InstanceId']} terminated"
    assert not _snapshots()


# --- up, preflight, render: auto resolved, or refused ---------------------------------------------


def test_up_refuses_an_unprepared_talk_in_one_line_naming_prepare_and_the_cold_path(
    env: dict[str, str], tmp_path: Path
) -> None:
    _write_demo(tmp_path)
    done = tubedemo(tmp_path, "up")
    assert done.returncode == 17, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    assert "no image snapshot of vllm/vllm-openai:v0.33.0" in errors[0]
    assert f"no weights at s3://{BUCKET}/models/{MODEL}/main/" in errors[0]
    assert "Run `tubedemo prepare`" in errors[0]
    assert "--set gpu_pool.image_snapshot_id= --set model.weights_uri=" in errors[0]


def test_preflight_reports_an_unprepared_talk_as_a_failed_check(env: dict[str, str]) -> None:
    from tubedemo.cluster.preflight import Check, _aws

    with pytest.raises(PreflightFailed, match="Run `tubedemo prepare`"):
        _aws(Aws(REGION), _cfg(), Check("aws", "prepared"))


def test_prepared_ids_reach_the_rendered_ec2nodeclass_and_vllm_args(
    env: dict[str, str], tmp_path: Path
) -> None:
    _publish_bottlerocket_ami(_cfg())
    _write_demo(tmp_path)
    done = tubedemo(tmp_path, "prepare")
    assert done.returncode == 0, done.stderr
    (snap,) = _snapshots()
    resolved = lookup.resolve(Aws(REGION), _cfg())
    manifests = render(resolved)
    nodeclass = next(m for m in manifests if m["kind"] == "EC2NodeClass")
    data = next(
        b for b in nodeclass["spec"]["blockDeviceMappings"] if b["deviceName"] == "/dev/xvdb"
    )
    assert data["ebs"]["snapshotID"] == snap["SnapshotId"]
    vllm = next(
        m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "vllm"
    )
    args = vllm["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == [f"s3://{BUCKET}/models/{MODEL}/main/", "--load-format=runai_streamer"]
    from tubedemo.cluster.preflight import Check, _aws

    line = _aws(Aws(REGION), _cfg(), Check("aws", "prepared"))
    assert line == (
        f"prepared (auto): image snapshot {snap['SnapshotId']}, "
        f"weights s3://{BUCKET}/models/{MODEL}/main/"
    )


def test_prepare_delete_removes_the_snapshot_the_weights_and_the_builder_role(
    env: dict[str, str], tmp_path: Path
) -> None:
    _publish_bottlerocket_ami(_cfg())
    _write_demo(tmp_path)
    assert tubedemo(tmp_path, "prepare").returncode == 0
    # what a talk's first replica pushed (model.compile_cache), and a survey answer beside it
    s3 = _client("s3")
    s3.put_object(Bucket=BUCKET, Key="compile-cache/abc/torch_compile_cache/x", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="compile-cache/abc/.tubedemo-complete.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="tubedemo/answers/1.json", Body=b"{}")
    done = tubedemo(tmp_path, "prepare", "--delete", "--yes")
    assert done.returncode == 0, done.stderr
    assert not _snapshots()
    for prefix in ("models/", "compile-cache/"):
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
        assert not versions.get("Versions") and not versions.get("DeleteMarkers"), prefix
    assert f"deleted 2 object version(s) under s3://{BUCKET}/compile-cache/" in done.stdout
    assert s3.get_object(Bucket=BUCKET, Key="tubedemo/answers/1.json")["Body"].read() == b"{}"
    with pytest.raises(NotPrepared):
        lookup.resolve(Aws(REGION), _cfg())
    assert "Traceback" not in done.stderr
