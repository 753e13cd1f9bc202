"""The gateway benches' load generators: bounded aiohttp clients on uvloop (a fixed request
count at a fixed concurrency with a time limit per run, or open-loop arrivals at a fixed rate),
and the identities the page obtains for them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from benchmarks.gateway_servers import MASTER_KEY

CONCURRENCY = 200

USER = [{"role": "user", "content": "How deep is the deepest Tube station?"}]


@dataclass
class StreamStats:
    ttfb_ms: list[float]
    tokens: int
    seconds: float
    errors: int

    def pct(self, q: float) -> float:
        data = sorted(self.ttfb_ms)
        return data[min(len(data) - 1, int(q / 100 * len(data)))] if data else float("nan")


async def _stream_one(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    ttfb: list[float],
) -> int | None:
    """POST one streamed completion; its first byte's milliseconds go to ``ttfb``. Returns the
    tokens it streamed, or None when it was refused (not 200) or the connection failed."""
    t0 = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            if resp.status != 200:
                await resp.read()
                return None
            first = True
            buf = bytearray()
            async for chunk in resp.content.iter_any():
                if first:
                    ttfb.append((time.perf_counter() - t0) * 1000)
                    first = False
                buf += chunk
            return buf.count(b'"content":"tok')
    except (aiohttp.ClientError, TimeoutError):
        return None


def _address(i: int) -> str:
    """Phone i's own source address (10.20.0.1 on), as X-Forwarded-For from a trusted proxy."""
    return f"10.{20 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


async def _stream_load(url: str, n: int, concurrency: int, limit_s: float) -> StreamStats:
    body = json.dumps({"model": "llama", "messages": USER, "stream": True}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"}
    ttfb: list[float] = []
    tokens = errors = 0
    queue = iter(range(n))
    deadline = time.monotonic() + limit_s
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal tokens, errors
        for _ in queue:
            if time.monotonic() > deadline:
                return
            seen = await _stream_one(session, url, body, headers, ttfb)
            if seen is None:
                errors += 1
            else:
                tokens += seen

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return StreamStats(ttfb, tokens, time.perf_counter() - started, errors)


def stream_load(
    url: str, n: int, concurrency: int = CONCURRENCY, limit_s: float = 120
) -> StreamStats:
    return _run(_stream_load(url + "/v1/chat/completions", n, concurrency, limit_s))


async def _post_load(
    url: str, n: int, concurrency: int, make_body: Callable[[int], bytes] | None
) -> tuple[int, float, int]:
    ok = errors = 0
    queue = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok, errors
        for i in queue:
            try:
                if make_body is None:
                    async with session.get(url) as resp:
                        await resp.read()
                else:
                    async with session.post(
                        url, data=make_body(i), headers={"content-type": "application/json"}
                    ) as resp:
                        await resp.read()
                if resp.status == 200:
                    ok += 1
                else:
                    errors += 1
            except aiohttp.ClientError:
                errors += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return ok, time.perf_counter() - started, errors


_T = TypeVar("_T")


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run one load generator to completion on uvloop; returns what the coroutine returns."""
    import uvloop

    return uvloop.run(coro)


async def _steady_load(
    url: str, rate: float, seconds: float, tokens: list[str] | None
) -> tuple[StreamStats, int]:
    """Open-loop arrivals, `rate` streams a second for `seconds`, as phones ask (a stream does
    not wait for another to end); each from an address of its own and, with `tokens`, an
    identity of its own. Returns the stats and the most streams in flight at once."""
    body = json.dumps({"model": "llama", "messages": USER, "stream": True}).encode()
    n = int(rate * seconds)
    ttfb: list[float] = []
    tokens_seen = errors = in_flight = most = 0
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)

    async def one(session: aiohttp.ClientSession, i: int, at: float) -> None:
        nonlocal tokens_seen, errors, in_flight, most
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {MASTER_KEY}",
            "x-forwarded-for": _address(i),
        }
        if tokens is not None:
            headers["x-tubedemo-identity"] = tokens[i]
        in_flight += 1
        most = max(most, in_flight)
        try:
            seen = await _stream_one(session, url, body, headers, ttfb)
            if seen is None:
                errors += 1
            else:
                tokens_seen += seen
        finally:
            in_flight -= 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(session, i, start + i / rate) for i in range(n)))
        took = time.perf_counter() - start
    return StreamStats(ttfb, tokens_seen, took, errors), most


async def _identities(url: str, n: int) -> list[str]:
    """n identities, each obtained the page's way from the address that will use it."""
    out: list[str] = [""] * n
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(k: int) -> None:
            for i in range(k, n, 64):
                xff = {"x-forwarded-for": _address(i)}
                async with session.post(url + "/api/identity", headers=xff) as resp:
                    out[i] = str((await resp.json())["token"])

        await asyncio.gather(*(worker(k) for k in range(64)))
    return out
