"""The one door to AWS: boto3 clients for one region, and every call through ``Aws.call``.

Credentials come from boto3's usual chain (environment, AWS_PROFILE or ``profile``, SSO, an
instance role); endpoints too: AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (or
``endpoint_url`` for every service), so the same code runs against AWS and against a local
AWS-speaking server in the tests. Every failure leaves here translated (errors.translate): a
caller never sees a botocore exception. ``pages`` walks a paginated listing, ``wait`` runs one
of AWS's own waiters (boto3's acceptors), ``upload_file`` is S3's managed (multipart) upload,
``sso_sign_in`` reads an SSO profile's sign-in from botocore's token cache (when it ends),
``child_environment`` hands the same region, profile and endpoint to an AWS tool run as a child
(eksctl, the aws CLI).

Imports boto3/botocore (inside the methods: `tubedemo --help` never loads them) and core only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from tubedemo.aws.errors import AwsRefused, AwsWaitFailed, refused, translate
from tubedemo.core.errors import AwsError

T = TypeVar("T")

RETRIES = 2
"""botocore's attempts per call beyond the first (throttling, 5xx): a check is one line, not a
minute of retries."""
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection: an unreachable endpoint is said within seconds."""
READ_TIMEOUT = 15.0
"""Seconds AWS may take to answer one call."""


@dataclass(frozen=True)
class CredentialFacts:
    """Where the credentials came from and how long they last, as botocore knows it."""

    method: str
    """botocore's name for the source: env, shared-credentials-file, sso, assume-role, ..."""
    expires: datetime | None
    """When these credentials expire (None: botocore does not know, or never)."""
    temporary: bool
    """They carry a session token (STS credentials: they expire, known or not)."""


@dataclass(frozen=True)
class SsoSignIn:
    """The SSO (IAM Identity Center) sign-in an ``sso`` profile's credentials come from, as
    botocore's token cache holds it."""

    name: str
    """The profile's sso-session, or its start URL (a profile without one: botocore's legacy)."""
    expires: datetime | None
    """The cached token's expiresAt (UTC); None: no token cached (`aws sso login` not run)."""
    refresh_until: datetime | None
    """Until when botocore renews that token itself (an sso-session token with a refresh token:
    its client registration's end); None: it does not, the sign-in ends at ``expires``."""


class Aws:
    """boto3 clients for one region (and profile, and endpoint); every AWS call of tubedemo
    goes through ``call`` (or ``pages``, ``wait``, ``upload_file``)."""

    def __init__(
        self, region: str, *, profile: str | None = None, endpoint_url: str | None = None
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def in_region(self, region: str) -> Aws:
        """The same credentials and endpoint in another region (ECR's registry region)."""
        if region == self.region:
            return self
        return Aws(region, profile=self.profile, endpoint_url=self.endpoint_url)

    def client(self, service: str) -> Any:
        """The boto3 client of ``service``; made once, on first use (the credential chain is
        read then, not at import)."""
        if service not in self._clients:
            self._clients[service] = self._guard(service, "client", self._make_client, service)
        return self._clients[service]

    def _make_client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session(
                region_name=self.region, profile_name=self.profile
            )
        config = Config(
            retries={"max_attempts": RETRIES},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )
        return self._session.client(service, config=config, endpoint_url=self.endpoint_url)

    def action(self, service: str, operation: str) -> str:
        """The IAM action a call needs, as AWS names it in a refusal: iam:GetRole."""
        client = self._clients.get(service)
        api = client.meta.method_to_api_mapping.get(operation, operation) if client else operation
        prefix = client.meta.service_model.signing_name if client else service
        return f"{prefix}:{api}"

    def _guard(self, service: str, operation: str, do: Callable[..., T], *args: Any,
               **kwargs: Any) -> T:  # fmt: skip
        try:
            return do(*args, **kwargs)
        except AwsError:
            raise
        except Exception as exc:
            translated = translate(exc, self.action(service, operation))
            if translated is None:
                raise
            raise translated from exc

    def call(
        self, service: str, operation: str, *, missing: Iterable[str] = (), **params: Any
    ) -> Any:
        """One API call (``operation`` in boto3's snake_case) with AWS's parameters. Returns
        the reply; None when AWS answers one of the ``missing`` codes (NoSuchEntity: the thing
        is not there, which the caller expected might be). Anything else that fails is an
        AwsError (errors.translate)."""
        client = self.client(service)
        try:
            return self._guard(service, operation, getattr(client, operation), **params)
        except AwsRefused as exc:
            if exc.code in set(missing):
                return None
            raise

    def pages(self, service: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Each page of a paginated listing (boto3's paginator), translated like ``call``."""
        paginator = self.client(service).get_paginator(operation)
        pages = iter(paginator.paginate(**params))
        while True:
            page = self._guard(service, operation, next, pages, None)
            if page is None:
                return
            yield page

    def wait(
        self,
        service: str,
        waiter: str,
        *,
        timeout: float,
        poll: float,
        **params: Any,
    ) -> None:
        """Wait with one of AWS's own waiters (``instance_terminated``, ``stack_create_complete``,
        ...: boto3's acceptors decide success and failure), polling every ``poll`` s for at most
        ``timeout`` s. A failure state, or no success in time, is AwsWaitFailed naming the
        waiter; an error answer on the way is translated like ``call``'s."""
        from botocore.exceptions import WaiterError

        handle = self.client(service).get_waiter(waiter)
        attempts = max(1, int(timeout / poll) + 1) if poll > 0 else 1

        def run() -> None:
            try:
                handle.wait(WaiterConfig={"Delay": poll, "MaxAttempts": attempts}, **params)
            except WaiterError as exc:
                error = (exc.last_response or {}).get("Error")
                if error:
                    action = self.action(service, handle.config.operation)
                    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
                    raise refused(action, code, message) from exc
                reason = exc.kwargs.get("reason", exc)
                raise AwsWaitFailed(f"AWS {service} waiter {waiter}: {reason}") from exc

        self._guard(service, waiter, run)

    def upload_file(self, path: Path, bucket: str, key: str, *, part_size: int) -> None:
        """S3's managed upload: multipart in parts of ``part_size`` from that size on (so the
        object's ETag is predictable: prepare's skip check relies on it)."""
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)
        client = self.client("s3")

        def upload() -> None:
            try:
                client.upload_file(str(path), bucket, key, Config=transfer)
            except S3UploadFailedError as exc:
                # boto3 wraps the ClientError of whichever part failed; translate that one
                cause = exc.__context__
                translated = translate(cause, "s3:PutObject") if cause is not None else None
                if translated is None:
                    raise
                raise translated from exc

        self._guard("s3", "put_object", upload)

    def account_id(self) -> str:
        """The account the credentials belong to (STS; needs no permission)."""
        return str(self.call("sts", "get_caller_identity")["Account"])

    def credentials(self) -> CredentialFacts | None:
        """The credentials the clients sign with (after a first call: assumed roles resolve
        lazily), or None when there are none. Read, not refreshed: no call to AWS."""
        self.client("sts")
        found = self._session.get_credentials()
        if found is None:
            return None
        expires = getattr(found, "_expiry_time", None)
        # a refreshable one keeps its token in _token (its .token property would refresh)
        token = found._token if hasattr(found, "_token") else getattr(found, "token", None)
        return CredentialFacts(
            method=str(getattr(found, "method", "") or "unknown"),
            expires=expires if isinstance(expires, datetime) else None,
            temporary=bool(token),
        )

    def sso_sign_in(self) -> SsoSignIn | None:
        """The SSO sign-in of this session's profile, read from botocore's SSO token cache with
        botocore's own loader (the file named by the SHA-1 of the sso-session's name, or of the
        start URL), or None when the profile does not sign in through SSO. No call to AWS."""
        from botocore.exceptions import SSOTokenLoadError
        from botocore.utils import JSONFileCache, SSOTokenLoader

        self.client("sts")
        config = self._session._session.full_config
        profile = (config.get("profiles") or {}).get(self._session.profile_name) or {}
        session_name = profile.get("sso_session")
        sso = (config.get("sso_sessions") or {}).get(session_name) or {} if session_name else {}
        start_url = sso.get("sso_start_url") or profile.get("sso_start_url")
        if not start_url:
            return None
        # botocore's SSOProvider._SSO_TOKEN_CACHE_DIR, expanded now rather than at its import
        cache = os.path.expanduser(os.path.join("~", ".aws", "sso", "cache"))
        name = str(session_name or start_url)
        try:
            token = SSOTokenLoader(cache=JSONFileCache(cache))(start_url, session_name=session_name)
        except (SSOTokenLoadError, KeyError):  # KeyError: a cache file that is not JSON
            return SsoSignIn(name, None, None)
        # botocore's SSOTokenProvider renews only an sso-session's token, with these keys
        renewing = ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")
        refresh = session_name is not None and all(k in token for k in renewing)
        return SsoSignIn(
            name,
            _utc(token["expiresAt"]),
            _utc(token["registrationExpiresAt"]) if refresh else None,
        )

    def child_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for an AWS tool run as a child (eksctl, the aws CLI): this region,
        profile and endpoint, so it acts in the same account as tubedemo does."""
        env = dict(os.environ if environ is None else environ)
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = self.region
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env


def _utc(stamp: Any) -> datetime | None:
    """A token cache's timestamp (ISO 8601, e.g. 2026-12-07T20:00:00Z or ...UTC) as botocore
    parses timestamps, in UTC; None when it is not one."""
    from datetime import UTC

    from botocore.utils import parse_timestamp

    try:
        parsed: datetime = parse_timestamp(stamp)
    except (ValueError, TypeError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
