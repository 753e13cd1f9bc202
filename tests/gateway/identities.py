"""Identities for test phones, obtained exactly as the page obtains them."""

from __future__ import annotations

from collections.abc import Generator

import httpx

IDENTITY = "X-Tubedemo-Identity"


def obtain_identity(client: httpx.Client) -> str:
    """A new identity token, asked for as the page asks for one."""
    resp = client.post("/api/identity")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


class PhoneIdentity(httpx.Auth):
    """Sends an identity with every request; a new one when the gateway says the session
    moved on (401 identity_expired), like the page on a new talk session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token: str | None = None

    def _renew(self) -> str:
        with httpx.Client(base_url=self.base_url, timeout=10, trust_env=False) as c:
            self.token = obtain_identity(c)
        return self.token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if IDENTITY in request.headers:  # the test chose who is asking
            yield request
            return
        request.headers[IDENTITY] = self.token or self._renew()
        response = yield request
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code == 401 and "identity_expired" in challenge:
            request.headers[IDENTITY] = self._renew()
            yield request
