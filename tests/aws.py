"""AWS in tests: moto in server mode on loopback and loopback HTTP stand-ins beside it.

moto is a STAND-IN for AWS: it answers the APIs and keeps their state, but executes nothing
(an SSM command "succeeds" at once, an instance runs no program). What each test cannot learn
from it is said where the test uses it.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Fake credentials, and no instance-metadata lookup (it would leave loopback)."""


@contextmanager
def moto_server() -> Iterator[str]:
    """moto on a free loopback port; yields its endpoint URL, stops it afterwards.

    moto's backends are global to the process: a new server would start with what an earlier
    test's server left (and with IAM's managed policies loaded or not as the environment was
    then, MOTO_IAM_LOAD_MANAGED_POLICIES), so it is reset first."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        reset_moto(f"http://{host}:{port}")
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(url: str) -> None:
    """Forget every resource: one server serves a whole module, each test starts empty."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """This process's boto3 (and its children's) talks to ``url`` with fake credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class LoopbackServer:
    """A threading HTTP server on a free 127.0.0.1 port, serving from a daemon thread once
    ``thread`` is started; ``server.shutdown()`` stops it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"
