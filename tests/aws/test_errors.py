"""The one translator (tubedemo.aws.errors): AWS's answers and botocore's failures -> AwsError.

The states a presenter meets are run end to end in test_one_line_per_failure.py; here, the
words of AWS's answers that moto does not speak (an expired session token, throttling) go
through the pure mapping, and botocore's own exceptions through ``translate``.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from tubedemo.aws.errors import (
    EXPIRED,
    EXPIRED_CODES,
    NO_CREDENTIALS,
    REJECTED,
    REJECTED_CODES,
    AwsDenied,
    AwsRefused,
    AwsThrottled,
    AwsUnavailable,
    refused,
    step,
    translate,
    unreachable,
)
from tubedemo.core.errors import AwsError


@pytest.mark.parametrize("code", sorted(EXPIRED_CODES))
def test_each_of_awss_words_for_an_expired_token_is_the_one_expired_line(code: str) -> None:
    error = refused("ecr:DescribeRepositories", code, "The security token included is expired")
    assert isinstance(error, AwsUnavailable) and error.message == EXPIRED


@pytest.mark.parametrize("code", sorted(REJECTED_CODES))
def test_each_of_awss_words_for_unknown_credentials_is_the_one_rejected_line(code: str) -> None:
    error = refused("sts:GetCallerIdentity", code, "The security token included is invalid")
    assert isinstance(error, AwsUnavailable) and error.message == REJECTED


def test_throttling_that_outlasted_botocores_retries_says_to_wait() -> None:
    error = refused("ec2:DescribeInstances", "RequestLimitExceeded", "Request limit", attempts=2)
    assert isinstance(error, AwsThrottled) and error.code == "RequestLimitExceeded"
    assert error.message == (
        "AWS throttled ec2:DescribeInstances (RequestLimitExceeded) after 3 attempts: wait a "
        "minute and run it again"
    )


def test_a_page_instead_of_awss_answer_is_not_pasted_into_the_line() -> None:
    """A corporate proxy's HTML 403 page arrives whole as botocore's message."""
    error = refused("s3:PutObject", "403", "<html><body><h1>Blocked by policy</h1></body></html>")
    assert isinstance(error, AwsDenied)
    assert error.message == (
        "AWS denied s3:PutObject (403): ask for that permission or switch AWS_PROFILE"
    )


def test_any_other_code_is_a_refusal_naming_the_call_and_keeping_the_code() -> None:
    error = refused("ec2:RunInstances", "InsufficientInstanceCapacity", "No capacity in us-west-2a")
    assert type(error) is AwsRefused and error.code == "InsufficientInstanceCapacity"
    assert error.message == (
        "AWS refused ec2:RunInstances: InsufficientInstanceCapacity: No capacity in us-west-2a"
    )


def test_botocores_own_failures_become_the_same_lines() -> None:
    no_credentials = translate(NoCredentialsError(), "sts:GetCallerIdentity")
    assert isinstance(no_credentials, AwsUnavailable)
    assert no_credentials.message == NO_CREDENTIALS
    refused_connection = ConnectionRefusedError(111, "Connection refused")
    down = translate(
        EndpointConnectionError(
            endpoint_url="https://sts.us-west-2.amazonaws.com/", error=refused_connection
        ),
        "sts:GetCallerIdentity",
    )
    assert isinstance(down, AwsUnavailable)
    assert down.message == unreachable("https://sts.us-west-2.amazonaws.com", "Connection refused")
    answered = ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "GetRole")
    expired = translate(answered, "iam:GetRole")
    assert isinstance(expired, AwsUnavailable) and expired.message == EXPIRED
    assert translate(KeyError("ours"), "iam:GetRole") is None  # a bug of ours passes unchanged


def test_a_step_names_itself_before_a_refusal_but_not_before_missing_credentials() -> None:
    with pytest.raises(AwsDenied) as denied, step("S3 bucket b"):
        raise AwsDenied("AWS denied s3:HeadBucket (403): ask", "403")
    assert denied.value.message == "S3 bucket b: AWS denied s3:HeadBucket (403): ask"
    assert denied.value.code == "403"
    with pytest.raises(AwsUnavailable) as unavailable, step("S3 bucket b"):
        raise AwsUnavailable(NO_CREDENTIALS)
    assert unavailable.value.message == NO_CREDENTIALS
    assert unavailable.value.exit_code == AwsError.exit_code
