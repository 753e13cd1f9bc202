"""The gateway follows the mode ConfigMap through a real kube-apiserver, as a ServiceAccount.

The gateway never imports `kubernetes`; the test uses it only to arrange the cluster side
(ConfigMap, ServiceAccount, RBAC, a token from the TokenRequest API) the way the templates do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from gateway.app import create_app
from gateway.fake_vllm import ServerThread
from gateway.settings import load_settings

CM = "tubedemo-mode"


def _service_account(
    kube: Any, namespace: str, tmp_path: Path, *, allowed: bool = True
) -> dict[str, Any]:
    api = kube.api_client()
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "gateway"}})
    if allowed:
        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "gateway-mode"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps"],
                        # as templates/gateway.yaml.j2: only its own ConfigMap
                        "resourceNames": [CM],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "gateway-mode"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "gateway-mode",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "gateway", "namespace": namespace}],
            },
        )
    token = core.create_namespaced_service_account_token(
        "gateway", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    token_file = tmp_path / "token"
    token_file.write_text(token)
    return {
        "kube_api": api.configuration.host,
        "kube_token_file": token_file,
        "kube_ca_file": Path(api.configuration.ssl_ca_cert),
    }


def _set_mode(kube: Any, namespace: str, mode: str | None, create: bool = False) -> None:
    core = client.CoreV1Api(kube.api_client())
    body = {"metadata": {"name": CM}, "data": {"mode": mode} if mode else {}}
    if create:
        core.create_namespaced_config_map(namespace, body)
    else:
        core.patch_namespaced_config_map(CM, namespace, body)


def _gateway(tmp_path: Path, namespace: str, creds: dict[str, Any], **kw: Any) -> ServerThread:
    settings = load_settings(
        env={},
        **kw,
        store=tmp_path / "store",
        admin_token="kube-test-admin-token",
        mode_configmap=f"{namespace}/{CM}",
        **creds,
    )
    return ServerThread(create_app(settings)).start()


def _wait(predicate: Any, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def test_mode_change_in_the_configmap_reaches_config_within_2s(kube, namespace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _set_mode(kube, namespace, None, create=True)  # as `tubedemo up` creates it: no key = quiz
    creds = _service_account(kube, namespace, tmp_path)
    server = _gateway(tmp_path, namespace, creds, mode="survey")
    try:
        http = httpx.Client(base_url=server.url, timeout=5)
        assert _wait(lambda: http.get("/readyz").status_code == 200, 10) is not None
        assert http.get("/config").json()["mode"] == "quiz"
        for mode in ("survey", "quiz", "survey"):
            _set_mode(kube, namespace, mode)
            took = _wait(lambda m=mode: http.get("/config").json()["mode"] == m, 5)
            assert took is not None and took <= 2.0, f"{mode} took {took}"
        refused = http.post(
            "/api/admin/mode",
            json={"mode": "quiz"},
            headers={"Authorization": "Bearer kube-test-admin-token"},
        )
        assert refused.status_code == 409
        assert http.get("/readyz").json()["mode_source"] == "configmap"
    finally:
        server.stop()


def test_gateway_without_rbac_stays_unready_and_keeps_serving(kube, namespace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _set_mode(kube, namespace, "survey", create=True)
    creds = _service_account(kube, namespace, tmp_path, allowed=False)
    server = _gateway(tmp_path, namespace, creds)
    try:
        http = httpx.Client(base_url=server.url, timeout=5)
        time.sleep(1.0)
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["mode_synced"] is False
        assert http.get("/healthz").status_code == 200
        assert "403" in ready.json()["mode_error"]
    finally:
        server.stop()


def test_the_audience_url_up_records_in_the_configmap_reaches_the_presenter_screen(  # type: ignore[no-untyped-def]
    kube, namespace, tmp_path
) -> None:
    _set_mode(kube, namespace, None, create=True)
    creds = _service_account(kube, namespace, tmp_path)
    server = _gateway(tmp_path, namespace, creds)
    core = client.CoreV1Api(kube.api_client())
    url = "http://k8s-tubedemo-gateway-0123456789.us-west-2.elb.amazonaws.com/"
    try:
        http = httpx.Client(base_url=server.url, timeout=5)
        assert _wait(lambda: http.get("/readyz").status_code == 200, 10) is not None
        assert http.get("/config").json()["audience_url"] == ""
        # what `tubedemo up` writes once the load balancer has its address
        core.patch_namespaced_config_map(CM, namespace, {"data": {"audience_url": url}})
        took = _wait(lambda: http.get("/config").json()["audience_url"] == url, 5)
        assert took is not None, http.get("/config").json()
        assert http.get("/config").json()["mode"] == "quiz"  # the mode is untouched
    finally:
        server.stop()
    explicit = _gateway(tmp_path, namespace, creds, audience_url="https://tube.example.com/")
    try:
        http = httpx.Client(base_url=explicit.url, timeout=5)
        assert _wait(lambda: http.get("/readyz").status_code == 200, 10) is not None
        assert http.get("/config").json()["audience_url"] == "https://tube.example.com/"
    finally:
        explicit.stop()
