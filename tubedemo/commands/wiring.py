"""Wiring that needs both the cluster and the audience packages: how to reach the gateway.

``open_gateway`` picks the route from the config (a direct URL, else the in-cluster Service
through the API server's proxy, with the admin token from its Secret) and returns the one
gateway client. It lives here, above both packages, so that ``tubedemo.cluster`` never imports
``tubedemo.audience`` nor the other way round. The cluster half is imported only when used:
the kubernetes client is slow to import.
"""

from pathlib import Path
from typing import Any

import httpx

from tubedemo.audience.gateway_client import (
    ADMIN_TOKEN_HEADER,
    DEFAULT_TIMEOUT,
    LOCAL_ADMIN_TOKEN,
    GatewayClient,
    Route,
    direct_route,
)
from tubedemo.core.config import DemoConfig


def proxy_route(
    api_client: Any,
    namespace: str,
    admin_token: str,
    *,
    secret: str | None = None,
    service: str = "gateway",
    port: str = "http",
    timeout: float = DEFAULT_TIMEOUT,
) -> Route:
    """A gateway route through the API server's service proxy (``api_client``: a kubernetes
    ``ApiClient``; typed loosely so only tubedemo.cluster names the kubernetes package)."""
    from tubedemo.cluster.gateway_proxy import TOKEN_KEY, ServiceProxyTransport

    transport = ServiceProxyTransport(
        api_client, namespace, service=service, port=port, timeout=timeout
    )
    http = httpx.Client(
        transport=transport, base_url="http://gateway.invalid", timeout=timeout, trust_env=False
    )
    return Route(
        http=http,
        where=f"service {namespace}/{service} via the API server at {transport.server}",
        admin_headers={ADMIN_TOKEN_HEADER: admin_token},
        token_hint=(
            f"Secret {namespace}/{secret} (key `{TOKEN_KEY}`) does not hold the token the "
            "gateway runs with; fix it, then restart the gateway (kubectl rollout restart "
            f"-n {namespace} deployment/{service})"
            if secret
            else "the token does not match the gateway's TUBEDEMO_ADMIN_TOKEN"
        ),
    )


def cluster_route(
    namespace: str,
    secret: str,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Route:
    """The gateway in the cluster: token from its Secret, requests through the service proxy."""
    from tubedemo.cluster.gateway_proxy import api_client_for, read_admin_token

    api_client = api_client_for(kubeconfig, context)
    token = read_admin_token(api_client, namespace, secret)
    return proxy_route(api_client, namespace, token, secret=secret, timeout=timeout)


def admin_token_for(
    config: DemoConfig,
    explicit: str | None,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> str:
    """The admin token k6's load credential derives from: --admin-token (or
    TUBEDEMO_ADMIN_TOKEN), else on eks the cluster's Secret gateway.admin_token_secret, else a
    rehearsal gateway's local default."""
    if explicit:
        return explicit
    if config.profile != "eks":
        return LOCAL_ADMIN_TOKEN
    from tubedemo.cluster.gateway_proxy import api_client_for, read_admin_token

    api_client = api_client_for(kubeconfig, context or config.cluster.context)
    return read_admin_token(api_client, config.cluster.namespace, config.gateway.admin_token_secret)


def open_gateway(
    config: DemoConfig,
    *,
    url: str | None = None,
    admin_token: str | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> GatewayClient:
    """The gateway of this demo: at `url` (or gateway.url) directly, else in the cluster through
    the API server's service proxy with the token from gateway.admin_token_secret."""
    base = url or config.gateway.url
    if base:
        return GatewayClient(direct_route(base, admin_token, timeout=timeout))
    route = cluster_route(
        config.cluster.namespace,
        config.gateway.admin_token_secret,
        kubeconfig=kubeconfig,
        context=context or config.cluster.context,
        timeout=timeout,
    )
    return GatewayClient(route)
