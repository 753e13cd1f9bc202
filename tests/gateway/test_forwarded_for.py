"""Behind a load balancer each phone keeps its own limits: a real reverse proxy process in front
of the real gateway appends X-Forwarded-For; phones are distinct loopback source addresses.

Topology (all on 127.0.0.0/8): phone 127.0.0.N -> proxy (listens on 127.0.0.1) -> gateway,
which the proxy reaches from 127.0.0.1, the one address the gateway trusts as a proxy (as the
EKS render trusts the VPC range the ALB lives in). Only the per-address ceiling is switched on
(2 a minute), so every 429 below is about which address the gateway believed.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.identities import obtain_identity

PROXY = Path(__file__).resolve().parent / "forwarding_proxy.py"
USER = [{"role": "user", "content": "Mind the gap?"}]
CEILING = 2  # requests per source address per minute
# The ceiling holds requests without an identity (fair share off); it is the observable here
# because it counts by the address the gateway believes, the thing under test.


@pytest.fixture
def start_proxy() -> Iterator[Callable[[str], str]]:
    procs: list[subprocess.Popen[str]] = []

    def start(upstream: str) -> str:
        proc = subprocess.Popen(
            [sys.executable, str(PROXY), "--upstream", upstream, "--source", "127.0.0.1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=30), "proxy did not start within 30 s"
        line = proc.stdout.readline()
        assert line.startswith("listening "), line
        return line.split()[1]

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def phone(address: str, url: str) -> httpx.Client:
    """A phone: an HTTP client whose connections come from `address`, holding an identity it
    obtained as the page does (identities are not counted against the address ceiling)."""
    client = httpx.Client(
        base_url=url,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=10,
        trust_env=False,
    )
    client.headers["X-Tubedemo-Identity"] = obtain_identity(client)
    return client


def ask(client: httpx.Client, n: int = 1, **headers: str) -> list[int]:
    return [
        client.post("/v1/chat/completions", json={"messages": USER}, headers=headers).status_code
        for _ in range(n)
    ]


def test_through_the_proxy_each_phone_has_its_own_address_limit(start_gateway, start_proxy) -> None:  # type: ignore[no-untyped-def]
    g = start_gateway(
        fair_share=False, rate_address_per_min=CEILING, trusted_proxies=("127.0.0.1/32",)
    )
    lb = start_proxy(g.url)
    phones = {n: phone(f"127.0.0.{n}", lb) for n in (2, 3, 4)}
    assert ask(phones[2], 3) == [200, 200, 429]  # phone 2 used its own ceiling ...
    assert ask(phones[3], 2) == [200, 200]  # ... and its neighbours still have theirs
    assert ask(phones[4], 3) == [200, 200, 429]
    assert "your network" in phones[2].post("/v1/chat/completions", json={"messages": USER}).text


def test_an_untrusted_proxy_puts_the_whole_room_behind_one_address(
    start_gateway, start_proxy
) -> None:  # type: ignore[no-untyped-def]
    # What the EKS render did before: the load balancer's range not trusted, so the room
    # shares the proxy's address and the third phone is refused before it asked anything.
    g = start_gateway(
        fair_share=False, rate_address_per_min=CEILING, trusted_proxies=("10.0.0.0/8",)
    )
    lb = start_proxy(g.url)
    codes = [ask(phone(f"127.0.0.{n}", lb))[0] for n in (2, 3, 4)]
    assert codes == [200, 200, 429]


def test_a_phone_cannot_forge_its_way_past_the_proxy(start_gateway, start_proxy) -> None:  # type: ignore[no-untyped-def]
    g = start_gateway(
        fair_share=False, rate_address_per_min=CEILING, trusted_proxies=("127.0.0.1/32",)
    )
    lb = start_proxy(g.url)
    liar = phone("127.0.0.5", lb)
    # Each request claims another origin (even the trusted proxy's own address); the proxy
    # appends the real peer and the gateway takes the right-most untrusted hop: the liar.
    codes = [
        ask(liar, **{"X-Forwarded-For": forged})[0]
        for forged in ("198.51.100.1", "198.51.100.2", "127.0.0.1", "127.0.0.9, 127.0.0.1")
    ]
    assert codes == [200, 200, 429, 429]
    assert ask(phone("127.0.0.6", lb)) == [200]


def test_forwarded_for_from_a_phone_that_skips_the_proxy_is_ignored(start_gateway) -> None:  # type: ignore[no-untyped-def]
    g = start_gateway(
        fair_share=False, rate_address_per_min=CEILING, trusted_proxies=("127.0.0.1/32",)
    )
    direct = phone("127.0.0.7", g.url)
    codes = [ask(direct, **{"X-Forwarded-For": f"127.0.0.{n}"})[0] for n in (20, 21, 22)]
    assert codes == [200, 200, 429]  # all three counted against 127.0.0.7


def test_every_forwarded_for_line_counts_not_only_the_first(start_gateway) -> None:  # type: ignore[no-untyped-def]
    # A proxy that adds its own X-Forwarded-For line below the phone's (forgeable) one.
    g = start_gateway(fair_share=False, rate_address_per_min=1, trusted_proxies=("127.0.0.1/32",))
    proxy = phone("127.0.0.1", g.url)

    def via(forged: str, real: str) -> int:
        headers = [("X-Forwarded-For", forged), ("X-Forwarded-For", real)]
        return proxy.post(
            "/v1/chat/completions", json={"messages": USER}, headers=headers
        ).status_code

    assert via("198.51.100.1", "203.0.113.9") == 200
    assert via("198.51.100.2", "203.0.113.9") == 429  # same real phone, other forged line
    assert via("198.51.100.2", "203.0.113.10") == 200
