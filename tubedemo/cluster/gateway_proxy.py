"""Reach the in-cluster gateway through the API server's service proxy, as the kubeconfig's user.

``/api/v1/namespaces/NS/services/gateway-internal:internal/proxy/<path>`` is served by the API
server itself, so no port-forward, no public address and no extra credentials are needed:
whoever may ``create services/proxy`` and ``get secrets`` in the namespace may run the draw.
``gateway-internal`` is the ClusterIP Service of the gateway's internal port, the only port
serving /api/admin/*, /metrics and /readyz (the public Service ``gateway`` answers them 404,
as no load balancer in front of it, an NLB included, may publish them).

Requests go through the kubernetes client's own urllib3 pool (the kubeconfig's CA, client
certificate, token, exec plugin and refresh hook), wrapped as an httpx transport, so the
gateway client (``tubedemo.audience.gateway_client``) works the same on both routes; the two
meet in ``tubedemo.commands.wiring``, not here (this module imports nothing from audience/).
The API server strips ``Authorization`` after authenticating the caller, so the admin token
travels in ``X-Tubedemo-Admin-Token`` (the client's ``ADMIN_TOKEN_HEADER``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import urllib3
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException

from tubedemo.cluster.errors import api_error, root_reason, unreachable
from tubedemo.core.errors import ClusterError, GatewayError

SERVICE = "gateway-internal"
PORT_NAME = "internal"
"""The Service and port the CLI proxies to (templates/gateway.yaml.j2)."""
PUBLIC_SERVICE = "gateway"
"""The audience's Service (and Ingress): where the page's public address is found."""
TOKEN_KEY = "token"
# Hop-by-hop or owned by the API server's authentication: never forwarded from the caller.
_DROP = frozenset({"host", "authorization", "connection", "content-length", "transfer-encoding"})


class ProxyUnreachable(GatewayError):
    """The API server that proxies to the gateway did not answer (refused, timed out, TLS)."""


class GatewayServiceDown(GatewayError):
    """The API server has no ready endpoint to proxy to, or the endpoint did not answer."""


class ProxyForbidden(ClusterError):
    """The kubeconfig's user may not proxy to the Service or read the token Secret."""


class AdminSecretMissing(ClusterError):
    """The admin-token Secret or its `token` key does not exist."""


def proxy_path(namespace: str, service: str = SERVICE, port: str = PORT_NAME) -> str:
    """The API server path prefix that proxies to a Service port. Pure."""
    return (
        f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
        f"{quote(service, safe='')}:{quote(port, safe='')}/proxy"
    )


def api_status(content_type: str, body: bytes) -> dict[str, Any] | None:
    """The API server's own `Status` object, when a response is one (never the gateway's). Pure."""
    if "json" not in content_type:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and data.get("kind") == "Status" and data.get("apiVersion") == "v1":
        return data
    return None


def explain_status(
    status: Mapping[str, Any], code: int, *, namespace: str, service: str, server: str
) -> Exception:
    """One line for an API-server-made error in front of the gateway. Pure."""
    message = str(status.get("message") or "").strip().splitlines()
    text = message[0][:200] if message else ""
    target = f"service {namespace}/{service}"
    if code == 401:
        return ClusterError(
            f"the API server at {server} rejected the kubeconfig's credentials (401); refresh "
            "them (e.g. `aws eks update-kubeconfig`) and retry"
        )
    if code == 403:
        return ProxyForbidden(
            f"the API server refused to proxy to {target} (403: {text}); the user needs "
            "`get` and `create` on services/proxy in that namespace"
        )
    if code == 404:
        return GatewayServiceDown(
            f"no {target} in the cluster ({text}); run `tubedemo up` first, or pass "
            "--gateway-url for a rehearsal gateway"
        )
    return GatewayServiceDown(
        f"the gateway behind {target} is not answering ({code}: {text}); check "
        "`tubedemo status` (is the gateway pod ready?)"
    )


class ServiceProxyTransport(httpx.BaseTransport):
    """httpx transport: each request goes to the API server's service proxy for one Service."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        namespace: str,
        *,
        service: str = SERVICE,
        port: str = PORT_NAME,
        timeout: float,
    ) -> None:
        self._api = api_client
        self._namespace = namespace
        self._service = service
        self._server = str(api_client.configuration.host).rstrip("/")
        self._prefix = self._server + proxy_path(namespace, service, port)
        self._timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)

    @property
    def server(self) -> str:
        return self._server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        auth: dict[str, str] = {}
        try:
            # The kubeconfig's bearer token (refreshed by its exec plugin / hook when it has one);
            # client certificates are already in the pool's TLS settings.
            self._api.update_params_for_auth(auth, [], ["BearerToken"])
        except (ConfigException, OSError, ValueError) as exc:
            raise ClusterError(f"cannot get credentials from the kubeconfig: {exc}") from exc
        headers.update(auth)
        url = self._prefix + request.url.raw_path.decode("ascii")
        try:
            resp = self._api.rest_client.pool_manager.request(
                request.method,
                url,
                body=request.read() or None,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ProxyUnreachable(
                f"cannot reach the Kubernetes API at {self._server} to proxy to the gateway "
                f"({root_reason(exc)}); check the cluster and the kubeconfig context"
            ) from exc
        body = bytes(resp.data)
        content_type = str(resp.headers.get("Content-Type", ""))
        if resp.status >= 400:
            status = api_status(content_type, body)
            if status is not None:
                raise explain_status(
                    status,
                    resp.status,
                    namespace=self._namespace,
                    service=self._service,
                    server=self._server,
                )
            if resp.status in (502, 503) and "text/plain" in content_type:
                # The proxy's own dial failure ("Error trying to reach service: ...").
                raise GatewayServiceDown(
                    f"the gateway behind service {self._namespace}/{self._service} is not "
                    f"answering ({resp.status}: {body.decode(errors='replace').strip()[:160]}); "
                    "check `tubedemo status` (is the gateway pod ready?)"
                )
        out_headers = [
            (k, v)
            for k, v in resp.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        ]
        return httpx.Response(resp.status, headers=out_headers, content=body, request=request)


def read_admin_token(api_client: k8s_client.ApiClient, namespace: str, secret: str) -> str:
    """The admin bearer token from Secret `secret` (key `token`) in `namespace`."""
    core = k8s_client.CoreV1Api(api_client)
    try:
        obj = core.read_namespaced_secret(secret, namespace, _request_timeout=(5.0, 10.0))
    except k8s_client.ApiException as exc:
        if exc.status == 404:
            raise AdminSecretMissing(
                f"Secret {namespace}/{secret} with the gateway's admin token does not exist; "
                f"create it: kubectl -n {namespace} create secret generic {secret} "
                "--from-literal=token=$(openssl rand -hex 24)"
            ) from exc
        if exc.status == 403:
            raise ProxyForbidden(
                f"the kubeconfig's user may not read Secret {namespace}/{secret} (403); "
                "ask for `get secrets` in that namespace"
            ) from exc
        raise api_error(
            exc, f"reading Secret {namespace}/{secret}", server=api_client.configuration.host
        ) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise unreachable(
            exc, api_client.configuration.host, then="check the cluster and the kubeconfig context"
        ) from exc
    raw = (obj.data or {}).get(TOKEN_KEY)
    if not raw:
        raise AdminSecretMissing(
            f"Secret {namespace}/{secret} has no `{TOKEN_KEY}` key; put the admin token there"
        )
    try:
        token = base64.b64decode(raw, validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AdminSecretMissing(
            f"Secret {namespace}/{secret}: key `{TOKEN_KEY}` is not valid text"
        ) from exc
    if not token:
        raise AdminSecretMissing(f"Secret {namespace}/{secret}: key `{TOKEN_KEY}` is empty")
    return token


def api_client_for(kubeconfig: Path | None, context: str | None) -> k8s_client.ApiClient:
    """An ApiClient for the kubeconfig (default $KUBECONFIG, ~/.kube/config) at a context."""
    from tubedemo.cluster.api import connect

    api = connect(kubeconfig, context)
    client: k8s_client.ApiClient = api.client
    return client


def public_objects(
    api_client: k8s_client.ApiClient,
    namespace: str,
    name: str = PUBLIC_SERVICE,
    *,
    then: str = "set talk.audience_url or pass --url",
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The gateway's Ingress and Service as plain dicts (None when absent), for URL discovery;
    ``then``: what to do when the API server cannot be reached (names the caller's option)."""
    core = k8s_client.CoreV1Api(api_client)
    net = k8s_client.NetworkingV1Api(api_client)
    found: list[dict[str, Any] | None] = []
    for read in (net.read_namespaced_ingress, core.read_namespaced_service):
        try:
            obj = read(name, namespace, _request_timeout=(5.0, 10.0))
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                found.append(None)
                continue
            raise api_error(
                exc,
                f"reading {namespace}/{name} to find the audience URL",
                server=api_client.configuration.host,
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise unreachable(exc, api_client.configuration.host, then=then) from exc
        found.append(api_client.sanitize_for_serialization(obj))
    return found[0], found[1]
