"""Fixtures: a fake vLLM and the real gateway, both real HTTP servers on loopback ports.

`Running.http` is a phone: it holds an identity obtained the way the page obtains one
(`POST /api/identity`) and obtains a new one when the talk session changes, as the page does.
`Running.phone(name)` gives the headers of another named phone; `Running.anonymous` sends
no identity at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.fake_vllm import FakeVLLM, ServerThread
from gateway.settings import load_settings
from gateway.state import Sources
from gateway.store import Store
from tests.gateway.identities import IDENTITY, PhoneIdentity, obtain_identity
from tests.gateway.moto_s3 import MotoS3

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fake_vllm() -> Iterator[FakeVLLM]:
    fake = FakeVLLM()
    server = ServerThread(fake).start()
    fake.url = server.url  # type: ignore[attr-defined]
    fake.server = server  # type: ignore[attr-defined]
    yield fake
    server.stop()


class Running:
    """A started gateway: its URL, an httpx client, and its in-process Gateway object."""

    def __init__(self, server: ServerThread, app: Any) -> None:
        self.server = server
        self.app = app
        self.url = server.url
        self.http = httpx.Client(base_url=self.url, timeout=10, auth=PhoneIdentity(self.url))
        self.anonymous = httpx.Client(base_url=self.url, timeout=10)
        self._phones: dict[str, str] = {}

    @property
    def gw(self) -> Any:
        return self.app.state.gateway

    def phone(self, name: str) -> dict[str, str]:
        """Headers of the phone called `name`: its identity is obtained once per talk session,
        then kept, as the page keeps it."""
        key = f"{self.gw.state.current}/{name}"
        if key not in self._phones:
            self._phones[key] = obtain_identity(self.anonymous)
        return {IDENTITY: self._phones[key]}

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.anonymous.request(method, path, headers=ADMIN, **kw)

    def stop(self) -> None:
        self.http.close()
        self.anonymous.close()
        self.server.stop()


StartGateway = Callable[..., Running]


@pytest.fixture
def start_gateway(fake_vllm: FakeVLLM, tmp_path: Path) -> Iterator[StartGateway]:
    running: list[Running] = []

    def start(
        store: Store | None = None, sources: Sources | None = None, **overrides: Any
    ) -> Running:
        values: dict[str, Any] = {
            "upstream": fake_vllm.url,  # type: ignore[attr-defined]
            "store": tmp_path / "store",
            "admin_token": ADMIN_TOKEN,
            "rate_chat_per_min": 0,
            "rate_survey_per_min": 0,
            "rate_address_per_min": 0,
            "identity_burst": 10_000,
        }
        values.update(overrides)
        values = {k: v for k, v in values.items() if v is not None}  # None: the gateway's default
        settings = load_settings(env={}, **values)
        app = create_app(settings, store, sources)
        r = Running(ServerThread(app).start(), app)
        running.append(r)
        return r

    yield start
    for r in running:
        r.stop()


@pytest.fixture
def gateway(start_gateway: StartGateway) -> Running:
    return start_gateway()


@pytest.fixture
def survey(start_gateway: StartGateway) -> Running:
    """A gateway already switched to survey mode through the admin API."""
    g = start_gateway()
    assert g.admin("POST", "/api/admin/mode", json={"mode": "survey"}).status_code == 200
    return g


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto = MotoS3()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    yield moto
    moto.stop()
