"""ECR through boto3 against moto in server mode on loopback (a real ECR-speaking HTTP server)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import boto3
import pytest

from tests.aws import moto_server, point_boto3_at
from tubedemo.aws import ecr
from tubedemo.aws.errors import AwsUnavailable
from tubedemo.aws.session import Aws
from tubedemo.images.plan import ecr_registry

ACCOUNT = "123456789012"  # moto's default account
REGISTRY = ecr_registry(f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com")


@pytest.fixture
def moto_ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as endpoint:
        point_boto3_at(monkeypatch, endpoint)
        yield endpoint


def test_missing_repositories_are_created_once_and_existing_ones_kept(moto_ecr: str) -> None:
    assert REGISTRY is not None
    names = ["tubedemo/gateway", "tubedemo/vllm-standin"]
    aws = Aws(REGISTRY.region)
    assert ecr.ensure_repositories(aws, REGISTRY.account, names) == names
    assert ecr.ensure_repositories(aws, REGISTRY.account, names) == []
    listed = boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto_ecr)
    found = listed.describe_repositories()["repositories"]
    assert sorted(r["repositoryName"] for r in found) == names


def test_login_decodes_the_authorization_token_into_user_and_password(moto_ecr: str) -> None:
    assert REGISTRY is not None
    creds = ecr.login(Aws(REGISTRY.region), REGISTRY.account)
    token = boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto_ecr)
    raw = token.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert f"{creds.username}:{creds.password}" == base64.b64decode(raw).decode()
    assert creds.username == "AWS" and creds.password


def test_no_credentials_is_one_line_saying_how_to_get_them(
    moto_ecr: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    assert REGISTRY is not None
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AwsUnavailable, match="no AWS credentials"):
        ecr.login(Aws(REGISTRY.region), REGISTRY.account)
