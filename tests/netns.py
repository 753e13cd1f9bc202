"""A test host of our own: a network namespace joined to this machine by a veth pair.

Some real components refuse loopback (the kube-apiserver will not proxy to a 127.0.0.0/8
endpoint), and tests may only talk to loopback or to hosts in namespaces they made
themselves. This makes one: a namespace with its own address on a /30 link, created for the
test and deleted afterwards, so nothing ever leaves the machine or touches its own interfaces.

``test_node`` makes a node instead: a namespace linked to nothing but its pods' namespaces,
forwarding between them, for a packet filter that must see pod-to-pod traffic without touching
this machine's; ``loopback_port_into`` lets a program in it reach a loopback-only server here
(the test's API server).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
def test_host(node: str | None = None) -> Iterator[TestHost]:
    """Create the namespace + veth link; remove both afterwards, even on failure. With
    ``node`` (a namespace of ``test_node``) the link's other end is in that namespace instead
    of on this machine, and the host routes everything through it, as a pod through its node."""
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
        if node is not None:
            _ip("link", "set", outside, "netns", node)
        there = ["-n", node] if node is not None else []
        _ip(*there, "addr", "add", f"{peer}/30", "dev", outside)
        _ip(*there, "link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{address}/30", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        if node is not None:
            _ip("-n", name, "route", "add", "default", "via", peer)
        ADDRESSES.add(address)
        yield TestHost(name=name, address=address, peer=peer)
    finally:
        ADDRESSES.discard(address)
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


@contextmanager
def test_node(pods: int) -> Iterator[tuple[str, list[TestHost]]]:
    """A namespace that forwards between ``pods`` test hosts linked to it (each on its own /30,
    routed, as a CNI's point-to-point pod links are), and is linked to nothing else: what runs
    in it (a node's packet filter) sees every packet between the pods and none of this
    machine's. Yields the node namespace's name and the pods."""
    slot = _claim_slot()
    node = f"tdhost{slot}"
    try:
        subprocess.run(
            ["ip", "netns", "exec", node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
            check=True,
            capture_output=True,
            timeout=20,
        )
        _ip("-n", node, "link", "set", "lo", "up")
        with ExitStack() as stack:
            yield node, [stack.enter_context(test_host(node)) for _ in range(pods)]
    finally:
        subprocess.run(["ip", "netns", "del", node], capture_output=True, timeout=20)


_CLONE_NEWNET = 0x40000000


def _listener_in(namespace: str) -> socket.socket:
    """A socket listening on 127.0.0.1 inside ``namespace``: made by a thread that moves itself
    there (setns changes only the calling thread) and ends; the socket stays in that namespace."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/run/netns/{namespace}") as handle:
                if libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into {namespace}: {os.strerror(errno)}")
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            made.append(listener)
        except BaseException as exc:  # handed to the caller's thread
            made.append(exc)

    thread = threading.Thread(target=make, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass  # the other direction closed both
    finally:
        for s in (source, sink):
            s.close()


@contextmanager
def loopback_port_into(namespace: str, port: int) -> Iterator[int]:
    """This machine's 127.0.0.1:``port`` reachable from inside ``namespace`` at 127.0.0.1 on
    the yielded port (bytes relayed as they are, TLS included): for a program in a test's
    namespace that must reach the test's API server, which listens on loopback only."""
    listener = _listener_in(namespace)

    def serve() -> None:
        while True:
            try:
                inner, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            try:
                outer = socket.create_connection(("127.0.0.1", port), timeout=10)
            except OSError:
                inner.close()
                continue
            outer.settimeout(None)
            threading.Thread(target=_pump, args=(inner, outer), daemon=True).start()
            threading.Thread(target=_pump, args=(outer, inner), daemon=True).start()

    threading.Thread(target=serve, name=f"relay-{namespace}", daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
