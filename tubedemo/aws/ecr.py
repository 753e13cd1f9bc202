"""Amazon ECR: create our repositories when missing, get a registry login.

`images push` to an ECR registry and `prepare`'s builder (pulling model.image from ECR) use it.
The Aws it is given is the registry's region (Aws.in_region); every call goes through the door.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from tubedemo.aws.errors import step
from tubedemo.aws.session import Aws
from tubedemo.core.errors import AwsError


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def ensure_repositories(aws: Aws, account: str, names: list[str]) -> list[str]:
    """Create each repository of ``account``'s registry that does not exist yet; returns the
    ones created."""
    created = []
    for name in names:
        with step(f"ECR repository {name}"):
            found = aws.call(
                "ecr",
                "describe_repositories",
                missing=("RepositoryNotFoundException",),
                registryId=account,
                repositoryNames=[name],
            )
        if found is not None:
            continue
        with step(f"creating ECR repository {name}"):
            aws.call(
                "ecr",
                "create_repository",
                registryId=account,
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
            )
        created.append(name)
    return created


def login(aws: Aws, account: str | None = None) -> Login:
    """A registry login from get_authorization_token (user AWS, valid for 12 hours); the
    default registry of the credentials' account unless ``account`` names one."""
    ids = {"registryIds": [account]} if account else {}
    with step("ECR login"):
        reply = aws.call("ecr", "get_authorization_token", **ids)
    try:
        token = reply["authorizationData"][0]["authorizationToken"]
        username, password = base64.b64decode(token).decode().split(":", 1)
    except (KeyError, IndexError, ValueError) as exc:
        raise AwsError(f"ECR login: unexpected authorization token: {exc}") from exc
    return Login(username, password)
