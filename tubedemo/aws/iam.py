"""IAM documents tubedemo prints and checks: the IRSA roles' permissions and trust. Pure.

`tubedemo policy gateway|vllm [--trust]` prints them; preflight (account.py) reads a role's
trust policy back with ``trust_problem``.
"""

from __future__ import annotations

import json
from typing import Any

from tubedemo.aws import s3_layout
from tubedemo.core.config import DemoConfig


def gateway_policy(config: DemoConfig) -> dict[str, Any]:
    """The gateway role's permissions: read and write its bucket prefix (answers, questions,
    winners), nothing else; no DeleteObject: the store only ever writes new revisions."""
    bucket = config.s3_bucket
    prefix = config.storage.s3_prefix
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SurveyObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
            },
            {
                "Sid": "ListSurveyPrefix",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
        ],
    }


def weights_policy(config: DemoConfig) -> dict[str, Any]:
    """vLLM's role: read the weights prefix (the Run:ai streamer lists, then ranges GETs);
    listing is held to the prefix too, so vLLM cannot list the survey's keys in a shared bucket.
    With the compile cache rendered (s3_layout.compile_cache_rendered), read and write its
    prefix in the per-account bucket too (the pod's pull lists and gets, its push puts; no
    DeleteObject: a cache is only ever added to)."""
    bucket, _, prefix = (
        (s3_layout.weights_location(config) or "s3://").removeprefix("s3://").partition("/")
    )
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
    ]
    if s3_layout.compile_cache_rendered(config):
        cache = f"{s3_layout.COMPILE_CACHE_PREFIX}/"
        statements += [
            {
                "Sid": "CompileCacheObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{config.s3_bucket}/{cache}*"],
            },
            {
                "Sid": "ListCompileCache",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{config.s3_bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{cache}*"]}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def irsa_trust(config: DemoConfig, oidc_provider: str, service_account: str) -> dict[str, Any]:
    """Trust policy letting one ServiceAccount assume the role through the cluster's OIDC
    provider (IRSA). `oidc_provider` is the issuer without https://."""
    ns = config.cluster.namespace
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{config.account}:oidc-provider/{oidc_provider}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{oidc_provider}:sub": f"system:serviceaccount:{ns}:{service_account}",
                        f"{oidc_provider}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def trust_problem(
    document: Any, namespace: str, service_account: str, oidc_provider: str | None = None
) -> str | None:
    """Why a role's trust policy does not let this ServiceAccount in via IRSA, or None. With
    ``oidc_provider`` (the cluster's issuer without https://) the statement must name that
    provider: a role trusting an earlier cluster's provider lets nobody in."""
    if isinstance(document, str):
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    others: list[str] = []
    for statement in (document or {}).get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        if subject not in json.dumps(statement.get("Condition", {})):
            continue
        if oidc_provider is None:
            return None
        federated = (statement.get("Principal") or {}).get("Federated", [])
        federated = [federated] if isinstance(federated, str) else list(federated)
        if any(str(f).endswith(f":oidc-provider/{oidc_provider}") for f in federated):
            return None
        others += [str(f).partition(":oidc-provider/")[2] or str(f) for f in federated]
    if others:
        return (
            f"its trust policy lets {subject} in through OIDC provider {', '.join(others)} "
            f"(an earlier cluster's?), not this cluster's {oidc_provider}"
        )
    return f"its trust policy does not let {subject} assume it (sts:AssumeRoleWithWebIdentity)"
