"""Suite-wide guards: tests talk only to loopback and never read the developer's kubeconfig."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import netns

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent


SHARED_FIXTURE_FOLDERS = ("tests/kube/", "tests/images/", "tests/lab/", "tests/web/")
"""Folders whose tests share one heavy fixture: one control plane per session (tests/kube, in
the same order as a one-process run: the 410-relist test there needs a control plane old
enough to have compacted), the images built once per session, one lab per session, the page
built once per module. Under pytest-xdist (`make test`) each folder's tests go to one worker,
so each is made once; every other test is scheduled on its own."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # The folder is the group. Not xdist_group marks: with pytest 9.2 xdist 3.8.0's loadgroup
    # silently ignores them (it renames node ids, which pytest 9.2 no longer lets it do;
    # pytest-dev/pytest-xdist#1386). Marks with an '@' suffix still group, should that return.
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroups(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            folder = next((f for f in SHARED_FIXTURE_FOLDERS if nodeid.startswith(f)), None)
            return folder or str(super()._split_scope(nodeid))

    return FolderGroups(config, log)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files instead of comparing against them (nox -s golden)",
    )


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like stay on this machine
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    if host in netns.ADDRESSES:  # a network namespace this test run created (tests/netns.py)
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname that is not localhost would need DNS: refuse


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach {address!r}: tests talk only to loopback")
        return real_connect(self, address)

    def guarded_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach {address!r}: tests talk only to loopback")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)
    yield


@pytest.fixture(autouse=True)
def _no_ambient_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A test that wants a cluster passes its own kubeconfig explicitly.
    missing = tmp_path_factory.getbasetemp() / "no-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def wait_until(
    what: str, check: Callable[[], T], timeout: float = 60.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy and return that; on timeout fail the
    test naming ``what`` and the last value seen (the one poll loop of the suite)."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
        last = check()
    return last
