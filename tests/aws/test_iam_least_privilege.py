"""The IRSA roles' permissions grant what the pods use and nothing more (issue #23). Pure."""

from __future__ import annotations

import json
from typing import Any

from tubedemo.aws import iam
from tubedemo.core.config import config_from_dict

ACCOUNT, REGION = "123456789012", "us-west-2"


def _cfg(**raw: Any) -> Any:
    return config_from_dict({"cluster": {"account_id": ACCOUNT, "region": REGION}, **raw})


def _actions(document: dict[str, Any]) -> set[str]:
    return {a for s in document["Statement"] for a in s["Action"]}


def test_the_gateway_may_read_and_write_its_prefix_but_never_delete() -> None:
    actions = _actions(iam.gateway_policy(_cfg()))
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert "Delete" not in json.dumps(iam.gateway_policy(_cfg()))


def test_vllm_lists_only_its_weights_prefix_so_the_survey_keys_stay_out_of_sight() -> None:
    cfg = _cfg(model={"weights_uri": "s3://shared-bucket/weights/llama/"})
    document = iam.weights_policy(cfg)
    assert _actions(document) == {"s3:GetObject", "s3:ListBucket"}
    for statement in document["Statement"]:
        if statement["Action"] == ["s3:ListBucket"]:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["weights/llama/*"]}}, (
                statement
            )
        else:
            assert statement["Resource"] == ["arn:aws:s3:::shared-bucket/weights/llama/*"]


def test_vllm_reads_and_writes_only_the_compile_cache_prefix_beside_its_weights() -> None:
    cfg = _cfg(profile="eks", model={"compile_cache": True})
    document = iam.weights_policy(cfg)
    cache = [s for s in document["Statement"] if "CompileCache" in s.get("Sid", "")]
    assert [s["Action"] for s in cache] == [["s3:GetObject", "s3:PutObject"], ["s3:ListBucket"]]
    assert cache[0]["Resource"] == [f"arn:aws:s3:::{cfg.s3_bucket}/compile-cache/*"]
    assert cache[1]["Condition"] == {"StringLike": {"s3:prefix": ["compile-cache/*"]}}
    assert "Delete" not in json.dumps(document)
    assert _actions(iam.weights_policy(_cfg(profile="eks"))) == {"s3:GetObject", "s3:ListBucket"}
