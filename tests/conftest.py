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


pytest_plugins = ("tests.kube.fixtures",)
"""The control plane's fixtures (`kube`, `namespace`, `test_host`) serve every package's tests."""

SHARED_FIXTURES: dict[str, tuple[str, ...]] = {
    "control plane": (
        "tests/kube/",
        "tests/audience/test_audience_proxy.py",
        "tests/cluster/test_api_errors.py",
        "tests/cluster/test_bootstrap_secret.py",
        "tests/cluster/test_deadline_job.py",
        "tests/cluster/test_first_export.py",
        "tests/cluster/test_mode_status.py",
        "tests/cluster/test_preflight.py",
        "tests/cluster/test_startup_logs.py",
        "tests/cluster/test_teardown.py",
        "tests/cluster/test_up_diff.py",
        "tests/cluster/test_watch.py",
        "tests/cluster/test_watch_pod_proxy.py",
        "tests/eks/test_cluster_create_delete.py",
        "tests/gateway/test_deletion_cost_run.py",
        "tests/gateway/test_gateway_mode_watch.py",
        "tests/manifests/otel/test_otel_collector_run.py",
        "tests/manifests/otel/test_otlp_tls.py",
        "tests/rehearsal/test_lab_fleet.py",
        "tests/talk/test_show_mode.py",
    ),
    "images": ("tests/images/",),
    "lab": ("tests/lab/",),
    "page": ("tests/web/",),
}
"""Tests that share one heavy fixture, by the files (or folders, ending in '/') that hold them:
one control plane per session (tests/kube/fixtures.py), the images built once per session, one
lab per session, the page built once per module. Under pytest-xdist (`make test`) each group's
tests go to one worker in collection order (an `old_control_plane` test after all the others),
so each is made once; every other test is scheduled on its own. A test that uses the control
plane from a file not listed here fails collection (it would start a second control plane on
another worker). Every test of the control-plane files is marked `integration`, as tests/kube's
were."""


def shared_fixture(nodeid: str) -> str | None:
    """The SHARED_FIXTURES group a test belongs to, from its node id (all the xdist scheduler
    sees), or None."""
    path = nodeid.split("::", 1)[0]
    for group, places in SHARED_FIXTURES.items():
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in places):
            return group
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # The shared fixture is the group. Not xdist_group marks: with pytest 9.2 xdist 3.8.0's
    # loadgroup silently ignores them (it renames node ids, which pytest 9.2 no longer lets it
    # do; pytest-dev/pytest-xdist#1386). Marks with an '@' suffix still group, should that return.
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedFixtureGroups(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return shared_fixture(nodeid) or str(super()._split_scope(nodeid))

    return SharedFixtureGroups(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # After every other test (so after the rest of its group, in the order the group's worker
    # runs them): a test that needs the control plane's watch cache to have moved on.
    items.sort(key=lambda item: item.get_closest_marker("old_control_plane") is not None)
    for item in items:
        group = shared_fixture(item.nodeid)
        if group == "control plane":
            item.add_marker(pytest.mark.integration)
        elif "kube" in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(
                f"{item.nodeid} uses the control plane: add {item.nodeid.split('::')[0]} to "
                'SHARED_FIXTURES["control plane"] in tests/conftest.py (one control plane per run)'
            )


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
