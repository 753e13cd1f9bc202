"""Each way AWS can fail a presenter is one line and one exit code, whichever command meets it.

`preflight`, `prepare`, `images push` (ECR) and the prepared-talk lookup (`diff`; `up` looks up
the same way) run as a presenter runs them, as child processes, in the states of tests/aws: no
credentials, an expired sign-in (refused by botocore's own SSO provider before any request), no
network, and an identity AWS denies (moto in server mode, a stand-in for AWS, checking every
request against IAM). The first three make every call fail alike, so the line is the same from
every command; a denial names the call it met.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import prepared
from tests.aws import (
    DENIED_USER,
    denied_identity,
    expired_sign_in,
    moto_server,
    unreachable_endpoint,
    without_aws,
)
from tubedemo.aws.errors import EXPIRED, NO_CREDENTIALS, unreachable
from tubedemo.aws.session import Aws
from tubedemo.cluster.preflight import aws_checks, run_checks
from tubedemo.core.config import config_from_dict
from tubedemo.core.errors import AwsError, error_lines

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-west-2"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
TAG = "aws-seam-test"

# fmt: off
COMMANDS: dict[str, list[str]] = {
    # no cluster.account_id: preflight's first AWS call asks STS for it
    "preflight": ["preflight"],
    "prepare": ["prepare", "--no-weights", "-c", "demo-account.yaml"],
    "images push": ["images", "push", "--registry", ECR, "--image", "gateway", "--tag", TAG,
                    "--tool", "buildah"],
    # cluster.account_id set: the first AWS call is the lookup itself (ec2:DescribeSnapshots)
    "prepared lookup": ["diff", "-c", "demo-account.yaml"],
}
# fmt: on


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A presenter's folder: two demo.yaml (with and without the account id) and a container
    storage of its own holding a `gateway` image (an empty one: the push fails before its
    layers matter)."""
    if shutil.which("buildah") is None:
        prepared.unavailable("buildah is not installed", "container-tools")
    here = tmp_path_factory.mktemp("presenter")
    (here / "demo.yaml").write_text(f"cluster:\n  region: {REGION}\n")
    (here / "demo-account.yaml").write_text(
        f"cluster:\n  region: {REGION}\n  account_id: '{ACCOUNT}'\n"
    )
    storage = here / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{here / "graph"}"\nrunroot = "{here / "run"}"\n'
    )
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(storage)}

    def buildah(*args: str) -> str:
        return subprocess.run(
            ["buildah", *args], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()

    container = buildah("from", "scratch")
    buildah("commit", "--quiet", container, f"localhost/tubedemo/gateway:{TAG}")
    buildah("rm", container)
    return here


def tubedemo(folder: Path, command: str, env: dict[str, str]) -> tuple[list[str], int]:
    """Run one command as the presenter would; (its non-empty stderr lines, exit code)."""
    storage = str(folder / "storage.conf")
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo", *COMMANDS[command]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "CONTAINERS_STORAGE_CONF": storage, "COLUMNS": "200"},
    )
    return [line for line in done.stderr.splitlines() if line.strip()], done.returncode


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_credentials_is_the_same_line_and_exit_code_from_every_command(
    folder: Path, tmp_path: Path, command: str
) -> None:
    lines, code = tubedemo(folder, command, without_aws(tmp_path))
    assert (lines, code) == ([f"error: {NO_CREDENTIALS}"], AwsError.exit_code)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_expired_sign_in_is_the_same_line_and_exit_code_from_every_command(
    folder: Path, tmp_path: Path, command: str
) -> None:
    lines, code = tubedemo(folder, command, expired_sign_in(tmp_path))
    assert (lines, code) == ([f"error: {EXPIRED}"], AwsError.exit_code)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unreachable_endpoint_is_the_same_line_and_exit_code_from_every_command(
    folder: Path, command: str
) -> None:
    url = unreachable_endpoint()
    env = {**without_aws(folder), "AWS_ENDPOINT_URL": url}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    lines, code = tubedemo(folder, command, env)
    expected = unreachable(url, "Connection refused")
    assert (lines, code) == ([f"error: {expected}"], AwsError.exit_code)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _denied(action: str) -> str:
    """What moto's IAM says for an identity without that permission, in our line."""
    said = f"User: arn:aws:iam::{ACCOUNT}:user/{DENIED_USER} is not authorized to perform"
    fix = "ask for that permission or switch AWS_PROFILE"
    return f"AWS denied {action} (AccessDenied: {said}: {action}): {fix}"


def test_a_denial_is_one_line_naming_the_call_from_prepare_push_and_the_lookup(
    folder: Path, moto_url: str
) -> None:
    snapshots = f"error: looking for the image snapshot: {_denied('ec2:DescribeSnapshots')}"
    expected = {
        "prepare": snapshots,
        "prepared lookup": snapshots,
        # moto answers ECR's denial in XML, not ECR's JSON: botocore keeps only the status
        "images push": "error: ECR repository tubedemo/gateway: AWS denied "
        "ecr:DescribeRepositories (403): ask for that permission or switch AWS_PROFILE",
    }
    with denied_identity(moto_url) as env:
        seen = {command: tubedemo(folder, command, env) for command in expected}
    assert seen == {command: ([line], AwsError.exit_code) for command, line in expected.items()}


def test_preflight_names_each_denied_check_and_exits_with_the_aws_code(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preflight's account checks, run as `tubedemo preflight` runs them after the cluster's
    (which need a cluster, so they are not run here): a denial does not stop the others."""
    cfg = config_from_dict({"cluster": {"region": REGION, "account_id": ACCOUNT}})
    reported: list[tuple[bool, str]] = []
    with denied_identity(moto_url) as env:
        for key, value in env.items():
            if key.startswith("AWS_"):
                monkeypatch.setenv(key, value)
        with pytest.raises(AwsError) as failed:
            run_checks(None, aws_checks(cfg), lambda ok, text: reported.append((ok, text)), cfg,
                       Aws(REGION))  # type: ignore[arg-type]  # fmt: skip
    assert reported[0] == (True, f"AWS account {ACCOUNT}, region {REGION}")
    # the credentials' line reads them locally: no call to deny
    assert reported[1] == (True, "AWS credentials (env): long-term keys, no expiry")
    denials = [text for ok, text in reported[2:] if not ok]
    assert len(denials) == len(reported) - 2 == len(aws_checks(cfg)) - 2
    assert all("AWS denied " in text for text in denials), denials
    # moto answers EKS's denial without a body: botocore keeps only the status
    first = "AWS denied eks:DescribeCluster (403): ask for that permission or switch AWS_PROFILE"
    assert error_lines(failed.value, debug=False) == [
        f"error: {first} (and {len(denials) - 1} more above)"
    ]
    assert failed.value.exit_code == AwsError.exit_code
