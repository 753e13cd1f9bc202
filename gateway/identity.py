"""Identities the gateway issues and verifies, and the load generator's credential.

A phone's identity is a token the gateway signed (HMAC-SHA256): `<id>.<session>.<issued>.<mac>`.
Whatever a phone invents is refused, so a script cannot mint a fresh identity per request;
it must ask `POST /api/identity`, which hands them out at a bounded rate per source address
(gateway/fairshare.py). A token names the talk session it was issued in and stops working when
the presenter starts a new one (the page then asks for a new identity, as it always did).

Both keys derive from the admin token, so nothing new has to be provisioned or kept in step:
whoever holds the admin token (the CLI, a rehearsal) can compute the load credential that k6
sends; the load credential cannot be turned back into the admin token.

No side effects apart from reading the random source given to `issue`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from gateway.errors import ApiError

IDENTITY_HEADER = "x-tubedemo-identity"
"""Request header carrying a phone's identity token."""

_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAC_BYTES = 16
"""128-bit tags: forging one is out of reach; shorter tokens keep headers small."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def derive(admin_token: str, purpose: str) -> bytes:
    """A key for one purpose, derived from the admin token (HMAC-SHA256 as a PRF)."""
    return hmac.new(admin_token.encode(), f"tubedemo {purpose} v1".encode(), "sha256").digest()


def load_token(admin_token: str) -> str:
    """The load generator's bearer credential (k6, the rehearsal's simulated room).

    The CLI computes the same value (`tubedemo.talk.k6.load_credential`); a test keeps both in
    step."""
    return _b64(derive(admin_token, "load credential"))


@dataclass(frozen=True)
class Identity:
    """A verified phone: its stable id within the talk session and when it was issued."""

    id: str
    session: str
    issued_at: int


class IdentityKeys:
    """Issues and verifies identity tokens with a key derived from the admin token."""

    def __init__(self, admin_token: str) -> None:
        self._key = derive(admin_token, "identity")
        self._load = load_token(admin_token).encode()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES])

    def issue(self, session: str, random_bytes: bytes, now: float | None = None) -> str:
        """A new token for `session`; `random_bytes` (16) makes the id unguessable."""
        ident = _b64(random_bytes[:16])
        payload = f"{ident}.{session}.{int(time.time() if now is None else now)}"
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, session: str | None) -> Identity:
        """The identity a token carries, or ApiError 401 (forged, malformed, another session)."""
        parts = token.split(".")
        if len(parts) != 4 or not _ID.match(parts[0]) or not _SESSION.match(parts[1]):
            raise _unknown()
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3].encode(), self._mac(payload).encode()):
            raise _unknown()
        if not parts[2].isdigit():
            raise _unknown()
        if session is not None and parts[1] != session:
            raise ApiError(
                401,
                "your identity belongs to an earlier talk session; reload the page",
                "identity_expired",
                headers={"WWW-Authenticate": 'Tubedemo-Identity error="identity_expired"'},
            )
        return Identity(parts[0], parts[1], int(parts[2]))

    def is_load(self, authorization: str | None) -> bool:
        """True for `Authorization: Bearer <load credential>` (constant-time comparison)."""
        if authorization is None or not authorization.startswith("Bearer "):
            return False
        return hmac.compare_digest(authorization[7:].strip().encode(), self._load)


def _unknown() -> ApiError:
    return ApiError(
        401,
        "no valid identity: open the page again (it asks POST /api/identity for one)",
        "identity_required",
        headers={"WWW-Authenticate": 'Tubedemo-Identity error="identity_required"'},
    )
