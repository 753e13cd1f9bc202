"""Abuse limits: who is asking (real address) and how often an identity or address may ask."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ApiError, error_bytes

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IPV6_NETWORK_BITS = 64
"""An IPv6 phone (or laptop) owns a whole /64 and may pick any address in it; the /64 is the
unit a limit can count on."""


ROOM_BURST_MARGIN = 0.1
"""Identities beyond the room one address may obtain at once: phones opening the page twice
(a second browser, a private tab). Every identity beyond the room's is one a script behind the
venue NAT can take: with a burst of twice the room (300 for 150) a script there took 157 and
held 157 streams, and its answers slowed the room's first tokens 1.6-5.5x at p95."""


def room_burst(room: int) -> int:
    """Identities one address may obtain at once: the room plus ROOM_BURST_MARGIN. Pure."""
    return math.ceil(room * (1 + ROOM_BURST_MARGIN))


TOKEN_SLACK = 1e-6
"""How close to a whole token counts as one: a caller that waits exactly the wait it was told
(the chat route holds an early phone until then) may come back a hair short of it by float
rounding on the monotonic clock (2 of 100,000 random exact waits), and must not be refused for
that; a timer that wakes early is `RetryAfterWatch.hold`'s to wait out. A millionth of a token
is a microsecond at 60 per minute."""


class TokenBuckets:
    """One token bucket per key: `rate_per_min` refill, a minute's worth of burst.

    Idle buckets are full by definition, so they are dropped when the table grows; memory stays
    bounded whatever ids a script invents.
    """

    def __init__(
        self, rate_per_min: float, burst: float | None = None, max_keys: int = 100_000
    ) -> None:
        self.rate = rate_per_min / 60.0
        self.capacity = max(1.0, burst if burst is not None else rate_per_min)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Take a token; 0.0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1.0 - TOKEN_SLACK:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (max(0.0, tokens - 1.0), now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


class RetryAfterWatch:
    """When each identity was told it may ask again (a rate limit's Retry-After).

    An identity that asks before then ignored the Retry-After; the chat route holds such a
    request until that time instead of answering it at once. A held request is a sleeping
    coroutine; an answered refusal costs the gateway's one process the CPU the room's streams
    need, and a script that retries 50 ms after each refusal sends 20 of them a second per
    identity (measured behind a venue NAT: 7,696 refusals in 18 s, the phones' TTFT p95 4x).
    A page that waits as told is never held. Bounded memory: past times are dropped when the
    table grows."""

    def __init__(self, max_hold_s: float = 30.0, max_keys: int = 100_000) -> None:
        self.max_hold_s = max_hold_s
        """Longest hold (seconds): below the load balancer's 60 s idle timeout."""
        self.max_keys = max_keys
        self._until: dict[str, float] = {}

    def told(self, key: str, retry_after_s: float, now: float | None = None) -> None:
        """`key` was refused and told to wait `retry_after_s` seconds."""
        now = time.monotonic() if now is None else now
        self._until[key] = now + retry_after_s
        if len(self._until) > self.max_keys:
            self._until = {k: t for k, t in self._until.items() if t > now}

    def early(self, key: str, now: float | None = None) -> float:
        """Seconds `key` asked before the time it was given (0.0: not early), at most
        `max_hold_s`."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        now = time.monotonic() if now is None else now
        if until <= now:
            del self._until[key]
            return 0.0
        return min(until - now, self.max_hold_s)

    async def hold(
        self, key: str, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        """Wait out `key`'s early seconds (at most `max_hold_s`) on the monotonic clock the
        limiter counts with: the event loop's timers can wake a sleep before its deadline
        (uvloop reads a clock cached per loop turn, to the millisecond; measured 0.1 ms early
        under load), and a phone held until its time must then get its token."""
        held = self.early(key)
        if not held:
            return
        deadline = time.monotonic() + held
        while (left := deadline - time.monotonic()) > 0:
            await sleep(left)


class Limiter:
    """Per-identity buckets for chat and survey; a ceiling per source address for requests
    without an identity (fair share off: phones are whoever they say they are).

    An identity's requests are not held to its address's ceiling: identities are issued at a
    bounded rate per address and each has its buckets, so a script behind a venue NAT cannot
    spend the ceiling of the whole room behind it (measured: `nox -s bench -- abuse`)."""

    def __init__(
        self,
        chat_per_min: float,
        survey_per_min: float,
        address_per_min: float,
        chat_burst: float | None = None,
    ) -> None:
        self.buckets = {
            "chat": TokenBuckets(chat_per_min, chat_burst),
            "survey": TokenBuckets(survey_per_min),
        }
        self.address = TokenBuckets(address_per_min)

    def check(self, kind: str, identity: str | None, address: str) -> None:
        if identity is None:
            wait = self.address.take(address)
            if wait:
                raise _limited(f"too many requests from your network; retry in {wait:.0f} s", wait)
        key = identity or f"addr:{address}"
        wait = self.buckets[kind].take(key)
        if wait:
            raise _limited(f"too many {kind} requests from this phone; retry in {wait:.0f} s", wait)


class RateLimited(ApiError):
    """A 429 from a token bucket; `wait_s` is the exact wait the Retry-After rounds."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(
            429, message, code="rate_limited", headers={"Retry-After": str(max(1, round(wait_s)))}
        )
        self.wait_s = wait_s


def _limited(message: str, wait: float) -> RateLimited:
    return RateLimited(message, wait)


@functools.lru_cache(maxsize=8192)
def network_key(address: str) -> str:
    """The unit limits count: the address itself for IPv4, its /64 for IPv6. Pure."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network((addr, IPV6_NETWORK_BITS), strict=False))
    return str(addr)


class ClientAddress:
    """The real client address: X-Forwarded-For is believed only from trusted proxies."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.trusted = [ipaddress.ip_network(c, strict=False) for c in trusted]

        # Per-address answers are cached: the same few proxies and phones ask all night.
        self._is_trusted = functools.lru_cache(maxsize=4096)(self._check)

    def _check(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.trusted)

    def __call__(self, scope: Scope, headers: Headers) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._is_trusted(peer):
            return peer
        # Several X-Forwarded-For lines are one list in order (RFC 9110 5.3): a proxy that adds
        # its own line must not leave the phone's own (forgeable) first line as the answer.
        hops = [
            hop.strip()
            for line in headers.getlist("x-forwarded-for")
            for hop in str(line).split(",")
            if hop.strip()
        ]
        # Walk from the nearest hop outwards; the first untrusted hop is the client (each
        # trusted proxy appended the address it was reached from; anything left of that
        # hop was written by the client and may be forged).
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer


class BodyLimit:
    """Pure ASGI (no BaseHTTPMiddleware, which would hide client disconnects from the proxy)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    message = too_big if declared > 0 else "invalid Content-Length"
                    status = 413 if declared > 0 else 400
                    await send(
                        {
                            "type": "http.response.start",
                            "status": status,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    body = error_bytes(message, "invalid_request_error", "body_too_large")
                    await send({"type": "http.response.body", "body": body})
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, too_big, code="body_too_large")
            return message

        await self.app(scope, limited, send)
