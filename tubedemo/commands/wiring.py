"""Wiring that needs both the cluster and the audience packages: how to reach the gateway.

``open_gateway`` picks the route (``direct_target``: --gateway-url or TUBEDEMO_GATEWAY_URL, else
the rehearsal running from this folder, found by its stage file, else gateway.url; else the
in-cluster Service through the API server's proxy, with the admin token from its Secret) and
returns the one gateway client; ``Route.source`` says which, for the command's first line.
It lives here, above both packages, so that ``tubedemo.cluster`` never imports
``tubedemo.audience`` nor the other way round. The cluster half is imported only when used:
the kubernetes client is slow to import.
"""

from dataclasses import dataclass, replace
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
from tubedemo.audience.stage import STAGE_FILE, running_rehearsal
from tubedemo.core.config import DemoConfig

GATEWAY_OPTION = "--gateway-url"
"""The one option (and TUBEDEMO_GATEWAY_URL its variable) every command that talks to the
gateway takes (commands.options.GatewayUrl)."""


@dataclass(frozen=True)
class DirectTarget:
    """A gateway called directly: its URL, the admin token to send, and why this one."""

    url: str
    token: str | None
    source: str
    unreachable_hint: str
    rehearsal: bool = False
    """The running rehearsal's own gateway (found by its stage file, or named by its URL)."""


def _same_gateway(url: str, *known: str) -> bool:
    return url.strip().rstrip("/") in {k.strip().rstrip("/") for k in known if k}


def direct_target(
    config: DemoConfig, url: str | None, admin_token: str | None = None
) -> DirectTarget | None:
    """Which gateway to call directly, if any: --gateway-url (or TUBEDEMO_GATEWAY_URL), else the
    rehearsal running from this folder (its stage file: URL and token), else gateway.url; None
    means the cluster's. A rehearsal's token goes with its own URL only, never to another."""
    stage = running_rehearsal()
    if url:
        ours = stage is not None and _same_gateway(url, stage.gateway_url, stage.audience_url)
        token = admin_token
        if token is None and stage is not None and ours:
            token = stage.admin_token
        return DirectTarget(
            url,
            token,
            f"{GATEWAY_OPTION} / TUBEDEMO_GATEWAY_URL",
            "check the URL (--gateway-url / TUBEDEMO_GATEWAY_URL) and that the gateway runs",
            rehearsal=ours,
        )
    if stage is not None:
        return DirectTarget(
            stage.gateway_url,
            admin_token or stage.admin_token,
            f"the rehearsal running from this folder: {STAGE_FILE}",
            "the rehearsal's gateway stopped; start it again (tubedemo rehearse)",
            rehearsal=True,
        )
    if config.gateway.url:
        return DirectTarget(
            config.gateway.url,
            admin_token,
            "gateway.url",
            "start the rehearsal (tubedemo rehearse) or fix gateway.url, or pass --gateway-url",
        )
    return None


def proxy_route(
    api_client: Any,
    namespace: str,
    admin_token: str,
    *,
    secret: str | None = None,
    service: str | None = None,
    port: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Route:
    """A gateway route through the API server's service proxy (``api_client``: a kubernetes
    ``ApiClient``; typed loosely so only tubedemo.cluster names the kubernetes package);
    ``service``/``port``: the gateway's internal Service and port unless named."""
    from tubedemo.cluster.gateway_proxy import (
        PORT_NAME,
        SERVICE,
        TOKEN_KEY,
        ServiceProxyTransport,
    )

    service = service or SERVICE
    port = port or PORT_NAME
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
            f"-n {namespace} deployment/gateway)"
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
    """The gateway of this demo: directly (``direct_target``), else in the cluster through the
    API server's service proxy with the token from gateway.admin_token_secret."""
    target = direct_target(config, url, admin_token)
    if target is not None:
        route = direct_route(target.url, target.token, timeout=timeout)
        return GatewayClient(
            replace(route, source=target.source, unreachable_hint=target.unreachable_hint)
        )
    route = cluster_route(
        config.cluster.namespace,
        config.gateway.admin_token_secret,
        kubeconfig=kubeconfig,
        context=context or config.cluster.context,
        timeout=timeout,
    )
    why = "the cluster's: no --gateway-url, no rehearsal running here, no gateway.url"
    return GatewayClient(replace(route, source=why))


def gateway_line(gw: GatewayClient) -> str:
    """A command's first line: which gateway it talks to and why that one."""
    source = f" ({gw.route.source})" if gw.route.source else ""
    return f"gateway: {gw.where}{source}"
