"""A test host of our own: a network namespace joined to this machine by a veth pair.

Some real components refuse loopback (the kube-apiserver will not proxy to a 127.0.0.0/8
endpoint), and tests may only talk to loopback or to hosts in namespaces they made
themselves. This makes one: a namespace with its own address on a /30 link, created for the
test and deleted afterwards, so nothing ever leaves the machine or touches its own interfaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ADDRESSES: set[str] = set()
"""Addresses of the test hosts alive now: the suite's loopback guard lets tests reach them."""


@dataclass(frozen=True)
class TestHost:
    """The namespace's name and the two ends of its link."""

    __test__ = False  # not a pytest test class

    name: str
    address: str
    """The host's address inside the namespace (servers bind here)."""
    peer: str
    """This machine's end of the link."""

    def wrap(self, argv: list[str]) -> list[str]:
        """argv to run a program inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


def unavailable_reason() -> str | None:
    """Why a test host cannot be made here, or None when it can."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@contextmanager
def test_host() -> Iterator[TestHost]:
    """Create the namespace + veth link; remove both afterwards, even on failure."""
    tag = os.getpid() % 60000
    name = f"tdhost{tag}"
    outside, inside = f"tdo{tag}", f"tdi{tag}"
    # A /30 per process (10.213.0.0/16 split by pid) so parallel runs never share a link.
    base = (tag % 16000) * 4
    net = f"10.213.{base // 256}.{base % 256}"
    prefix = net.rsplit(".", 1)[0]
    last = int(net.rsplit(".", 1)[1])
    peer, address = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
    try:
        _ip("netns", "add", name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{peer}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{address}/30", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        ADDRESSES.add(address)
        yield TestHost(name=name, address=address, peer=peer)
    finally:
        ADDRESSES.discard(address)
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
