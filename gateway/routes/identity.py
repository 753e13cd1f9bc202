"""POST /api/identity: a phone's identity for this talk session, signed by the gateway."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request

from gateway.errors import ApiError
from gateway.routes.auth import caller
from gateway.runtime import of

router = APIRouter(tags=["audience"])


@router.post("/api/identity", responses={429: {}})
async def identity(request: Request) -> dict[str, Any]:
    """A new identity. Phones ask once per talk session and keep it (localStorage); one
    address gets `identity_burst` at once and `identity_per_min` after that, so a script
    cannot mint a fresh one per request. The load credential is not counted."""
    gw = of(request)
    who = caller(request, need_identity=False)
    if not who.load:
        wait = gw.issuance.take(who.network)
        if wait:
            raise ApiError(
                429,
                f"too many new phones from your network right now; retry in {wait:.0f} s",
                "identity_rate_limited",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
    session = gw.state.current
    assert session is not None
    token = gw.keys.issue(session, os.urandom(16))
    return {"token": token, "id": token.split(".", 1)[0], "session": session}
