"""Request checks shared by routers: the admin bearer token, the X-Client-Id header."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.errors import ApiError
from gateway.limits import CLIENT_ID
from gateway.runtime import of


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


def client_id_header(x_client_id: str | None) -> str | None:
    if x_client_id is None:
        return None
    if not CLIENT_ID.match(x_client_id):
        raise ApiError(
            400, "X-Client-Id must be 1-64 letters, digits, '-' or '_'", "invalid_client_id"
        )
    return x_client_id
