"""AWS in tests: moto in server mode on loopback and loopback HTTP stand-ins beside it.

moto is a STAND-IN for AWS: it answers the APIs and keeps their state, but executes nothing
(an SSM command "succeeds" at once, an instance runs no program). What each test cannot learn
from it is said where the test uses it. The environments below are what a presenter's machine
can be in: no credentials, an expired sign-in, an identity without permissions, no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tubedemo.core.processes import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Fake credentials, and no instance-metadata lookup (it would leave loopback)."""


@contextmanager
def moto_server() -> Iterator[str]:
    """moto on a free loopback port; yields its endpoint URL, stops it afterwards.

    moto's backends are global to the process: a new server would start with what an earlier
    test's server left (and with IAM's managed policies loaded or not as the environment was
    then, MOTO_IAM_LOAD_MANAGED_POLICIES), so it is reset first."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        reset_moto(f"http://{host}:{port}")
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(url: str) -> None:
    """Forget every resource: one server serves a whole module, each test starts empty."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """This process's boto3 (and its children's) talks to ``url`` with fake credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class LoopbackServer:
    """A threading HTTP server on a free 127.0.0.1 port, serving from a daemon thread once
    ``thread`` is started; ``server.shutdown()`` stops it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def without_aws(home: Path) -> dict[str, str]:
    """This process's environment with no AWS settings at all and ``home`` as HOME (no
    ~/.aws): boto3 finds no credentials anywhere (the instance metadata lookup is off, it
    would leave loopback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def expired_sign_in(home: Path) -> dict[str, str]:
    """A profile signed in through IAM Identity Center (`aws sso login`) whose cached token
    has expired, the state of a laptop the morning after: botocore's own SSO token provider
    refuses it before any request is sent ("Token has expired and refresh failed"). botocore
    reads ~/.aws/sso/cache when it is imported: for child processes only."""
    (home / ".aws" / "sso" / "cache").mkdir(parents=True)
    (home / ".aws" / "config").write_text(
        "[profile talk]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "sso_role_name = Presenter\nregion = us-west-2\n\n[sso-session corp]\n"
        "sso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    cached = home / ".aws" / "sso" / "cache" / f"{hashlib.sha1(b'corp').hexdigest()}.json"
    token = {
        "startUrl": "https://corp.awsapps.com/start",
        "region": "us-west-2",
        "accessToken": "expired",
        "expiresAt": "2026-01-01T00:00:00Z",
    }
    cached.write_text(json.dumps(token))
    env = without_aws(home)
    env.update(AWS_CONFIG_FILE=str(home / ".aws" / "config"), AWS_PROFILE="talk")
    return env


def unreachable_endpoint() -> str:
    """A loopback URL nothing listens on (a port just released): AWS, as seen without a
    network."""
    return f"http://127.0.0.1:{free_port()}"


DENIED_USER = "presenter"


@contextmanager
def denied_identity(url: str) -> Iterator[dict[str, str]]:
    """Credentials of an IAM user with no policy attached, and moto checking every request
    against IAM (its /moto-api/reset-auth switch), as AWS does. STS GetCallerIdentity stays
    allowed, as in AWS. Yields the environment of that identity; moto stops checking
    afterwards (its switch is global to this process). moto starts empty (reset_moto)."""
    import boto3

    reset_moto(url)
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **_test_keys())
    iam.create_user(UserName=DENIED_USER)
    key = iam.create_access_key(UserName=DENIED_USER)["AccessKey"]
    _moto_auth(url, "0")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID=key["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
            AWS_EC2_METADATA_DISABLED="true",
        )
        yield env
    finally:
        _moto_auth(url, "inf")


def _test_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def _moto_auth(url: str, after: str) -> None:
    """moto authorises every request once ``after`` requests have passed ("0": from now on,
    "inf": never)."""
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=after.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would hide the body from moto
    )
    urllib.request.urlopen(request).close()
