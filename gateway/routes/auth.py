"""Request checks shared by routers: the admin bearer token, who a phone is (`caller`)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.errors import ApiError
from gateway.fairshare import LOAD_LANE
from gateway.identity import IDENTITY_HEADER, Identity
from gateway.limits import network_key
from gateway.runtime import of


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the network it came from and the identity it proved, if any."""

    network: str
    """Source address as limits count it (IPv4 address, IPv6 /64)."""
    identity: Identity | None
    load: bool
    """Carries the load generator's credential (k6, the rehearsal's room)."""

    @property
    def lane(self) -> str:
        return LOAD_LANE if self.load else self.network


def caller(request: Request, *, need_identity: bool) -> Caller:
    """Who is asking; marks their network present. 401 when an identity is needed and the
    request has none that the gateway issued for the current session (the load credential
    stands in for one where `need_identity` allows it)."""
    gw = of(request)
    network = network_key(gw.address(request.scope, request.headers))
    gw.presence.seen(network)
    headers = request.headers
    load = gw.keys.is_load(headers.get("authorization"))
    token = headers.get(IDENTITY_HEADER)
    identity = None
    if token is not None and gw.settings.fair_share:
        identity = gw.keys.verify(token, gw.state.current)
    elif need_identity and not load and gw.settings.fair_share:
        gw.keys.verify("", None)  # raises the 401 that tells the page what to do
    return Caller(network, identity, load)


async def admin(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_tubedemo_admin_token: Annotated[str | None, Header()] = None,
) -> None:
    expected = f"Bearer {of(request).settings.admin_token}".encode()
    # Through the Kubernetes API server's service proxy Authorization never arrives (the
    # API server consumes it for its own authentication), so the CLI sends the token here.
    given = (
        authorization.encode()
        if authorization is not None
        else f"Bearer {x_tubedemo_admin_token}".encode()
        if x_tubedemo_admin_token is not None
        else None
    )
    if given is None or not hmac.compare_digest(given, expected):
        raise ApiError(
            401,
            "admin token missing or wrong (Authorization: Bearer <token>)",
            "unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )


Admin = Depends(admin)
"""Route dependency: 401 unless the request carries the admin token."""
