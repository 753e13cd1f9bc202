"""Preflight's credentials line for an SSO profile: when the sign-in ends, against the talk's end.

SSO credentials renew themselves only while the sign-in lasts; botocore keeps the sign-in's
token in ~/.aws/sso/cache/<SHA-1 of the sso-session's name, or of the start URL>.json. Each test
writes an AWS config and that token cache under a temporary HOME and lets real botocore read
them (no network: building an SSO profile's credentials calls nothing until they are used).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tubedemo.aws import account
from tubedemo.aws.session import Aws

REGION = "us-west-2"
START_URL = "https://corp.awsapps.com/start"
SESSION_PROFILE = """[profile talk]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Presenter
region = us-west-2

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-west-2
sso_registration_scopes = sso:account:access
"""
LEGACY_PROFILE = """[profile talk]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-west-2
sso_account_id = 123456789012
sso_role_name = Presenter
region = us-west-2
"""


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")  # as `aws sso login` writes it


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of the test's own, with no AWS setting of this machine's environment left."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_PROFILE", "talk")
    (tmp_path / ".aws" / "sso" / "cache").mkdir(parents=True)
    return tmp_path


def _sign_in(home: Path, config: str, key: str, token: dict[str, Any]) -> None:
    (home / ".aws" / "config").write_text(config)
    name = hashlib.sha1(key.encode()).hexdigest()
    (home / ".aws" / "sso" / "cache" / f"{name}.json").write_text(json.dumps(token))


def _line(now: datetime, talk_ends: datetime | None) -> str:
    return account.check_credentials(Aws(REGION), now, talk_ends)


NOW = datetime.now(UTC).replace(microsecond=0)


def test_an_sso_sign_in_ending_before_the_talk_is_a_warning_with_its_end(home: Path) -> None:
    ends = NOW + timedelta(minutes=50)
    _sign_in(home, SESSION_PROFILE, "corp", {"accessToken": "t", "expiresAt": _stamp(ends)})
    line = _line(NOW, NOW + timedelta(minutes=90))
    assert line.startswith(account.WARNING), line
    assert f"SSO sign-in corp lasts, and it ends at {ends:%Y-%m-%d %H:%M} UTC" in line
    assert "before the talk's end" in line
    assert "`aws sso login --sso-session corp`" in line


def test_an_sso_sign_in_lasting_past_the_talk_is_said_without_a_warning(home: Path) -> None:
    ends = NOW + timedelta(hours=8)
    _sign_in(home, SESSION_PROFILE, "corp", {"accessToken": "t", "expiresAt": _stamp(ends)})
    line = _line(NOW, NOW + timedelta(minutes=90))
    assert not line.startswith(account.WARNING), line
    assert f"until {ends:%Y-%m-%d %H:%M} UTC, after the talk's end" in line


def test_a_token_botocore_renews_counts_until_its_registration_ends(home: Path) -> None:
    # the access token lasts an hour; botocore renews it with the refresh token until the
    # client registration ends, so an hour-long token is no reason to warn
    token = {
        "accessToken": "t",
        "expiresAt": _stamp(NOW + timedelta(hours=1)),
        "refreshToken": "r",
        "clientId": "c",
        "clientSecret": "s",
        "registrationExpiresAt": _stamp(NOW + timedelta(days=30)),
    }
    _sign_in(home, SESSION_PROFILE, "corp", token)
    line = _line(NOW, NOW + timedelta(hours=3))
    assert not line.startswith(account.WARNING), line
    assert "botocore renews its token" in line
    token["registrationExpiresAt"] = _stamp(NOW + timedelta(hours=2))
    _sign_in(home, SESSION_PROFILE, "corp", token)
    assert _line(NOW, NOW + timedelta(hours=3)).startswith(account.WARNING)


def test_a_profile_without_an_sso_session_keys_its_token_by_the_start_url(home: Path) -> None:
    ends = NOW + timedelta(minutes=30)
    _sign_in(home, LEGACY_PROFILE, START_URL, {"accessToken": "t", "expiresAt": _stamp(ends)})
    # the talk's end unknown: under 2 h warns, as for any other credentials
    line = _line(NOW, None)
    assert line.startswith(account.WARNING), line
    assert f"SSO sign-in {START_URL} lasts, and it ends at {ends:%Y-%m-%d %H:%M} UTC" in line
    assert "before 2 h from now" in line and "(`aws sso login`)" in line


def test_no_cached_sign_in_says_to_sign_in(home: Path) -> None:
    (home / ".aws" / "config").write_text(SESSION_PROFILE)
    line = _line(NOW, NOW + timedelta(hours=1))
    assert line.startswith(account.WARNING), line
    assert "no SSO sign-in of corp in botocore's token cache" in line
