"""`cluster create`'s admin Secret carries vLLM's API key beside the admin token (issue #23),
and an existing Secret without it gets one; an existing key's value never changes."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from tests.kube.fixtures import Kube
from tubedemo.cluster import bootstrap
from tubedemo.cluster.api import connect
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig, config_from_dict


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


def test_an_existing_secret_without_the_vllm_key_gets_one_and_keeps_its_token(
    kube: Kube, namespace: str
) -> None:
    # a cluster created before #23: the Secret holds the admin token only
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "kept"}}
    )
    api = connect(kube.kubeconfig)
    cfg = config_from_dict({"cluster": {"namespace": namespace}})
    verb, what = bootstrap.ensure_admin_token(api, cfg)
    assert verb == "made" and "vllm-api-key" in what, what
    data = core.read_namespaced_secret("tubedemo-admin", namespace).data
    assert set(data) == {"token", "vllm-api-key"}
    assert base64.b64decode(data["token"]) == b"kept"
    key = base64.b64decode(data["vllm-api-key"])
    assert len(key) == 48

    # run again: found, and neither key changes
    verb, what = bootstrap.ensure_admin_token(api, cfg)
    assert verb == "found", what
    assert core.read_namespaced_secret("tubedemo-admin", namespace).data == data
