"""Amazon ECR through boto3: create our repositories when missing, get push credentials.

The only module of tubedemo that talks to ECR. Credentials and region come from the usual AWS
chain (environment, profile, SSO, instance role); the endpoint honours ``AWS_ENDPOINT_URL``
(``AWS_ENDPOINT_URL_ECR``), which is how the tests point it at moto on loopback.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from tubedemo.core.errors import ImageError
from tubedemo.images.plan import EcrRegistry


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def _client(registry: EcrRegistry) -> Any:
    # a fresh session: the credential chain is read now, not whenever boto3 first ran
    return boto3.session.Session().client("ecr", region_name=registry.region)


def _fail(what: str, exc: Exception) -> ImageError:
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ImageError(f"{what}: no AWS credentials (aws configure, or AWS_PROFILE)")
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return ImageError(f"{what}: {err.get('Code', 'error')}: {err.get('Message', exc)}")
    return ImageError(f"{what}: {exc}")


def ensure_repositories(registry: EcrRegistry, names: list[str]) -> list[str]:
    """Create each repository that does not exist yet; returns the ones created."""
    client = _client(registry)
    created = []
    for name in names:
        try:
            client.describe_repositories(registryId=registry.account, repositoryNames=[name])
            continue
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                raise _fail(f"ECR repository {name}", exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise _fail(f"ECR repository {name}", exc) from exc
        try:
            client.create_repository(
                registryId=registry.account,
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _fail(f"creating ECR repository {name}", exc) from exc
        created.append(name)
    return created


def login(registry: EcrRegistry) -> Login:
    """A registry login from get_authorization_token (user AWS, valid for 12 hours)."""
    try:
        reply = _client(registry).get_authorization_token(registryIds=[registry.account])
        token = reply["authorizationData"][0]["authorizationToken"]
        username, password = base64.b64decode(token).decode().split(":", 1)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail("ECR login", exc) from exc
    except (KeyError, IndexError, ValueError) as exc:
        raise ImageError(f"ECR login: unexpected authorization token: {exc}") from exc
    return Login(username, password)
