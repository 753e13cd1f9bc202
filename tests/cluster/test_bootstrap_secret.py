"""`cluster create`'s admin Secret carries vLLM's API key beside the admin token (issue #23),
and an existing Secret is never rewritten under running pods."""

from __future__ import annotations

from typing import Any

from tubedemo.cluster import bootstrap
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig


class InMemoryApi:
    """A fake of the two Api calls ensure_admin_token makes (named as such: no server)."""

    def __init__(self) -> None:
        self.objects: dict[Ref, dict[str, Any]] = {}

    def get(self, ref: Ref) -> dict[str, Any] | None:
        return self.objects.get(ref)

    def apply(self, obj: dict[str, Any], *, field_manager: str) -> None:
        data = {k: v.encode().hex() for k, v in obj.get("stringData", {}).items()}
        self.objects[Ref.of(obj)] = {**obj, "data": data}


def test_a_new_admin_secret_holds_a_vllm_api_key_of_its_own() -> None:
    api = InMemoryApi()
    outcome = bootstrap.ensure_admin_token(api, DemoConfig())  # type: ignore[arg-type]
    assert outcome[0] == "made" and "vllm-api-key" in outcome[1]
    secret = api.objects[Ref("v1", "Secret", "tubedemo", "tubedemo-admin")]
    token, key = secret["stringData"]["token"], secret["stringData"]["vllm-api-key"]
    assert len(key) == 48 and key != token


def test_an_existing_secret_is_kept_and_a_missing_vllm_key_is_named() -> None:
    api = InMemoryApi()
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tubedemo-admin",
           "namespace": "tubedemo"}, "data": {"token": "c2VjcmV0"}}  # fmt: skip
    api.objects[
        Ref.of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tubedemo"}})
    ] = {}
    api.objects[Ref.of(old)] = old
    outcome = bootstrap.ensure_admin_token(api, DemoConfig())  # type: ignore[arg-type]
    assert outcome[0] == "found"
    assert "no vllm-api-key" in outcome[1] and "cluster create" in outcome[1]
    assert api.objects[Ref.of(old)] is old
