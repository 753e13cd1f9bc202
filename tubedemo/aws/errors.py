"""The one translator of botocore's failures into AwsErrors: one line each, one exit code.

``translate`` reads whatever a boto3 call raised and returns the AwsError the presenter sees;
``Aws.call`` (session.py) applies it to every call, so nothing else in tubedemo reads a botocore
exception. Two kinds come out:

- AwsUnavailable: no credentials, expired or rejected credentials, an endpoint that does not
  answer. Every later call would fail the same way, so callers stop asking (preflight skips the
  remaining AWS checks), and the line is the same whichever command met it.
- AwsRefused: AWS answered this one call with an error code, kept in ``code`` for callers that
  branch on it (``Aws.call(..., missing=...)``). AwsDenied (access denied) and AwsThrottled
  (still throttled after botocore's retries) name the call and what to do.

``step`` prefixes a refusal with what tubedemo was doing ("S3 bucket b: AWS denied ...").

Imports botocore (inside the functions) and tubedemo.core only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tubedemo.core.errors import AwsError

NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE or run `aws configure` (or `aws sso login`)"
EXPIRED = (
    "the AWS credentials have expired: renew them (`aws sso login`, or new keys for "
    "AWS_PROFILE) and run again"
)
REJECTED = (
    "AWS does not accept these credentials (the access key or session token is not valid): "
    "check AWS_PROFILE and AWS_ACCESS_KEY_ID, or run `aws configure`"
)

EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"}
)
"""What AWS answers a request signed with an expired session token: ExpiredToken (STS, IAM,
S3), ExpiredTokenException (JSON services), TokenRefreshRequired (S3), RequestExpired (EC2's
word for it, which EC2 also uses for a clock more than 5 minutes off)."""
REJECTED_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidToken",
    }
)
"""Unknown access key, wrong secret or malformed token, in each service's words."""
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"}
)
"""The identity may not make this call (EC2 says UnauthorizedOperation; an S3 HEAD has no
body, so its refusal is the bare status 403)."""
THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
"""botocore's standard retry mode's throttling codes (botocore/retries/standard.py), less
LimitExceededException, which IAM and others also use for a full quota."""


class AwsUnavailable(AwsError):
    """No usable credentials, or AWS's endpoint does not answer: every later call would fail
    the same way."""


class AwsRefused(AwsError):
    """AWS answered one call with an error code (``code``: AWS's, e.g. NoSuchEntity)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class AwsDenied(AwsRefused):
    """The credentials' identity is not allowed to make this call."""


class AwsThrottled(AwsRefused):
    """AWS still throttled the call after botocore's retries."""


class AwsWaitFailed(AwsError):
    """One of AWS's waiters saw a failure state, or no success in time (Aws.wait)."""


def unreachable(endpoint: str, reason: str) -> str:
    """The line for an endpoint that does not answer; the same for every call to it."""
    return (
        f"cannot reach AWS at {endpoint} ({reason}): check the network, cluster.region or "
        "AWS_ENDPOINT_URL"
    )


def _site(url: str) -> str:
    """scheme://host[:port] of an endpoint URL: the path (an S3 bucket, '/') is per call."""
    match = re.match(r"^([a-z]+://[^/]+)", url)
    return match.group(1) if match else url


def _reason(exc: BaseException) -> str:
    """The root of a connection failure, shortened to what a person acts on."""
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError, SSLError

    if isinstance(exc, ConnectTimeoutError):
        return "connect timed out"
    if isinstance(exc, ReadTimeoutError):
        return "no answer in time"
    if isinstance(exc, SSLError):
        return "TLS failed"
    error = getattr(exc, "kwargs", {}).get("error")
    text = str(error if error is not None else exc)
    text = text.rpartition(": ")[2] if ": " in text else text
    return re.sub(r"^\[Errno -?\d+\] ", "", text).strip() or type(exc).__name__


def _endpoint(exc: BaseException) -> str:
    kwargs = getattr(exc, "kwargs", {})
    return _site(str(kwargs.get("endpoint_url") or kwargs.get("proxy_url") or "?"))


def _flat(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def refused(action: str, code: str, message: str, attempts: int = 0) -> AwsError:
    """The error for AWS's answer ``code``/``message`` to ``action`` (iam:GetRole). Pure."""
    # A body botocore could not parse arrives whole as the message: a proxy's HTML page, or
    # XML where the service speaks JSON (moto answers ECR's and SSM's denials so). Not a line.
    said = "" if message.lstrip().startswith("<") else _flat(message)
    detail = f"{code}: {said}" if said else code
    if code in EXPIRED_CODES:
        return AwsUnavailable(EXPIRED)
    if code in REJECTED_CODES:
        return AwsUnavailable(REJECTED)
    if code in DENIED_CODES:
        return AwsDenied(
            f"AWS denied {action} ({detail}): ask for that permission or switch AWS_PROFILE",
            code,
        )
    if code in THROTTLED_CODES:
        tries = f" after {attempts + 1} attempts" if attempts else ""
        return AwsThrottled(
            f"AWS throttled {action} ({code}){tries}: wait a minute and run it again", code
        )
    return AwsRefused(f"AWS refused {action}: {detail}", code)


def translate(exc: BaseException, action: str) -> AwsError | None:
    """The AwsError for what boto3 raised while calling ``action``; None if ``exc`` is not
    botocore's (a bug of ours, or Ctrl-C: it passes unchanged)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error: dict[str, Any] = exc.response.get("Error", {})
        attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        code = str(error.get("Code") or "")
        return refused(action, code, str(error.get("Message") or ""), attempts)
    if isinstance(exc, bx.NoCredentialsError):
        return AwsUnavailable(NO_CREDENTIALS)
    if isinstance(exc, bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return AwsUnavailable(f"cannot use the AWS credentials ({exc}): {NO_CREDENTIALS}")
    if isinstance(exc, bx.SSOError | bx.TokenRetrievalError | bx.LoginError):
        return AwsUnavailable(EXPIRED)
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return AwsUnavailable(unreachable(_endpoint(exc), _reason(exc)))
    if isinstance(exc, bx.NoRegionError):
        return AwsUnavailable("no AWS region: set cluster.region in demo.yaml")
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(f"AWS {action} failed: {_flat(str(exc))}")
    return None


def reworded(exc: AwsError, message: str) -> AwsError:
    """The same failure (class, AWS's code) with a message that says more."""
    if isinstance(exc, AwsRefused):
        return type(exc)(message, exc.code)
    return type(exc)(message)


@contextmanager
def step(what: str) -> Iterator[None]:
    """A refusal inside names the step: "{what}: AWS refused ...". AwsUnavailable passes
    unchanged: it reads the same wherever it happens."""
    try:
        yield
    except AwsRefused as exc:
        raise reworded(exc, f"{what}: {exc.message}") from exc
