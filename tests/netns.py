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


SLOTS = 16000
"""Test hosts that can exist at once: slot n is namespace tdhost<n> on 10.213.0.0/16's n-th /30."""


def _claim_slot() -> int:
    """A slot nobody holds: `ip netns add` is the lock (it fails when the name exists), so
    parallel workers and nested test hosts in one process never share a name or a link. The
    search starts at a place derived from the pid to keep workers from racing for slot 0."""
    start = os.getpid() % SLOTS
    for step in range(SLOTS):
        slot = (start + step) % SLOTS
        made = subprocess.run(
            ["ip", "netns", "add", f"tdhost{slot}"], capture_output=True, text=True, timeout=20
        )
        if made.returncode == 0:
            return slot
        if "exists" not in made.stderr:
            raise RuntimeError(f"ip netns add tdhost{slot}: {made.stderr.strip()}")
    raise RuntimeError(f"all {SLOTS} test host slots are taken (stale tdhost* namespaces?)")


@contextmanager
def test_host() -> Iterator[TestHost]:
    """Create the namespace + veth link; remove both afterwards, even on failure."""
    slot = _claim_slot()
    name = f"tdhost{slot}"
    outside, inside = f"tdo{slot}", f"tdi{slot}"
    # the slot's own /30 in 10.213.0.0/16: .1 is this machine's end, .2 the namespace's
    base = slot * 4
    prefix = f"10.213.{base // 256}"
    peer, address = f"{prefix}.{base % 256 + 1}", f"{prefix}.{base % 256 + 2}"
    try:
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
