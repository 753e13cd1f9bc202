"""The one door to AWS (tubedemo.aws.session.Aws), through real boto3, against moto's server
mode on loopback (a stand-in for AWS, tests/aws)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws import moto_server, point_boto3_at, reset_moto
from tubedemo.aws.errors import AwsRefused, AwsWaitFailed
from tubedemo.aws.session import Aws
from tubedemo.core.errors import AwsError

REGION = "us-west-2"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    point_boto3_at(monkeypatch, moto_url)
    reset_moto(moto_url)
    return Aws(REGION)


def test_a_code_the_caller_expects_is_none_and_any_other_refusal_keeps_awss_code(
    aws: Aws,
) -> None:
    assert aws.call("iam", "get_role", missing=("NoSuchEntity",), RoleName="nobody") is None
    with pytest.raises(AwsRefused) as refused:
        aws.call("iam", "get_role", RoleName="nobody")
    assert refused.value.code == "NoSuchEntity"
    assert refused.value.message.startswith("AWS refused iam:GetRole: NoSuchEntity: ")
    assert refused.value.exit_code == AwsError.exit_code


def test_pages_walk_a_listing_to_its_end_and_a_failing_listing_is_translated(aws: Aws) -> None:
    bucket = "tubedemo-pages"
    where = {"LocationConstraint": REGION}
    aws.call("s3", "create_bucket", Bucket=bucket, CreateBucketConfiguration=where)
    for key in ("a", "b", "c"):
        aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=b"x")
    pages = list(aws.pages("s3", "list_objects_v2", Bucket=bucket, MaxKeys=1))
    assert [[o["Key"] for o in page["Contents"]] for page in pages] == [["a"], ["b"], ["c"]]
    with pytest.raises(AwsRefused) as missing:
        list(aws.pages("s3", "list_objects_v2", Bucket="no-such-bucket"))
    assert missing.value.code == "NoSuchBucket"


def _instance(aws: Aws) -> str:
    from moto.ec2.models.amis import AMIS

    reply = aws.call(
        "ec2", "run_instances", ImageId=AMIS[0]["ami_id"], MinCount=1, MaxCount=1,
        InstanceType="t3.micro",
    )  # fmt: skip
    return str(reply["Instances"][0]["InstanceId"])


def test_wait_runs_awss_own_waiter_and_names_it_when_time_runs_out(aws: Aws) -> None:
    running = _instance(aws)
    aws.wait("ec2", "instance_running", timeout=10, poll=0.1, InstanceIds=[running])
    with pytest.raises(AwsWaitFailed, match=r"AWS ec2 waiter instance_stopped: Max attempts"):
        aws.wait("ec2", "instance_stopped", timeout=0.3, poll=0.1, InstanceIds=[running])
    aws.call("ec2", "terminate_instances", InstanceIds=[running])
    aws.wait("ec2", "instance_terminated", timeout=10, poll=0.1, InstanceIds=[running])


def test_an_upload_s3_refuses_is_translated_like_any_call(aws: Aws, tmp_path: Path) -> None:
    """boto3's managed upload wraps S3's refusal in its own exception; the door unwraps it."""
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"\0" * 1024)
    with pytest.raises(AwsRefused) as refused:
        aws.upload_file(path, "no-such-bucket", "w", part_size=5 * 1024 * 1024)
    assert refused.value.code == "NoSuchBucket"
    assert refused.value.message.startswith("AWS refused s3:PutObject: NoSuchBucket")


def test_an_aws_tool_run_as_a_child_acts_in_the_same_region_profile_and_endpoint(
    tmp_path: Path,
) -> None:
    """The child here is boto3 itself in a new process (eksctl and the aws CLI read the same
    variables): it resolves the region, profile and endpoint this Aws uses."""
    config = tmp_path / "config"
    config.write_text("[profile talk]\nregion = us-east-2\n")
    aws = Aws("eu-west-1", profile="talk", endpoint_url="http://127.0.0.1:4566")
    env = aws.child_environment({"AWS_CONFIG_FILE": str(config), "PATH": "/usr/bin:/bin"})
    probe = (
        "import boto3, json; s = boto3.session.Session(); c = s.client('sts', "
        "aws_access_key_id='k', aws_secret_access_key='s'); print(json.dumps("
        "[s.profile_name, c.meta.region_name, c.meta.endpoint_url]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["talk", "eu-west-1", "http://127.0.0.1:4566"]
