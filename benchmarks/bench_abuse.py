"""Abuse: a room of 150 phones and one attacker script against the real gateway (issue #23).

Everything on loopback in separate processes: the fake vLLM (first token after `TTFT_S`, then
`TOKENS` tokens `ITL_S` apart), the gateway (`python -m gateway`, its defaults: fair share on,
320 stream slots, room 150) and this process as the room and the attacker. Phones are
X-Forwarded-For addresses through the trusted loopback proxy, as the ALB presents them; a
venue NAT is every phone on one address. Each scenario gets a fresh gateway.

A phone does what the page does: opens the page (`POST /api/identity`, `GET /config`), asks
one streamed question (on 429/503 it waits the gateway's Retry-After, at most 5 s, and asks
again; its TTFT is from its first try), then enters the raffle once. The attacker, from the
moment the phones start asking until the last is answered, first sends a burst of requests
with identities it made up, then takes every identity the gateway gives its address and keeps
one stream open per identity, asking again the moment an answer ends; then it enters the
raffle with every identity. Bounded: one question per phone, a time limit per scenario.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import Row
from benchmarks.gateway_load import _run
from benchmarks.gateway_servers import Proc, fake_vllm, gateway

TITLE = "Abuse: a hostile room (150 phones and one attacker)"

ROOM = 150
CAPACITY = 320
"""The gateway's default max_streams (10 replicas x 32 slots)."""
TOKENS, ITL_S, TTFT_S = 20, 0.062, 0.15
"""One answer: first token after 150 ms (prefill), then 20 tokens at an A10G's 62 ms."""
SPREAD_S = 10.0
"""The room's questions arrive evenly over this many seconds."""
LIMIT_S = 90.0
FLOOD = 100_000
RSS_LIMIT_MIB = 512
"""The gateway container's memory limit (templates/gateway.yaml.j2)."""
ADMIN = {"authorization": "Bearer tubedemo-local"}
IDENTITY = "x-tubedemo-identity"
QUESTION = {"messages": [{"role": "user", "content": "Which line is the deepest?"}], "stream": True}
ENTRY = {"rating": 5, "company": "Acme Rail", "name": "Ada"}

NOTES = f"""
Setup: fake vLLM with a {TTFT_S * 1000:.0f} ms first token and {TOKENS} tokens
{ITL_S * 1000:.0f} ms apart; the gateway as the EKS render configures it ({CAPACITY} stream
slots, room {ROOM}, identity burst 165 (the room plus 10 %) then 30/min per address, 300
raffle entries per
address, 6 questions/min per identity, 3,000 requests/min per address). *Own
address*: 150 phones on 150 addresses, the attacker on one more. *NAT*: all 150 phones and
the attacker on one address. The attacker runs in a process of its own. *Slots held*: on its own
address, the most streams its address held at once as the gateway counts them
(`GET /api/admin/streams`, sampled every 100 ms); behind the NAT, where the address is
everyone's, the attacker's own estimate (its answers from first token less
{TTFT_S * 1000:.0f} ms to their end, overlapping; its event loop lags under load, so it
overstates). *Raffle*: entries the attacker's address keeps in the draw
(`GET /api/admin/raffle`). *RSS*: the gateway's resident memory after {FLOOD:,} requests
(identities, counted questions and raffle entries from rotating addresses).
"""


def _xff(address: str, token: str | None = None) -> dict[str, str]:
    headers = {"x-forwarded-for": address}
    if token is not None:
        headers[IDENTITY] = token
    return headers


def _retry_after(resp: aiohttp.ClientResponse) -> float:
    try:
        return min(5.0, max(0.05, float(resp.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


async def _identity(s: aiohttp.ClientSession, url: str, address: str) -> tuple[str | None, float]:
    async with s.post(url + "/api/identity", headers=_xff(address)) as r:
        body = await r.read()
        if r.status != 200:
            return None, _retry_after(r)
        return str(json.loads(body)["token"]), 0.0


async def _stream(
    s: aiohttp.ClientSession, url: str, address: str, token: str
) -> tuple[int, float, float, float]:
    """(status, retry-after, first-token time, end time): perf_counter stamps."""
    async with s.post(
        url + "/v1/chat/completions", json=QUESTION, headers=_xff(address, token)
    ) as r:
        first = time.perf_counter()
        if r.status != 200:
            await r.read()
            return r.status, _retry_after(r), first, first
        async for _ in r.content.iter_any():
            pass
        return 200, 0.0, first, time.perf_counter()


@dataclass
class Phone:
    address: str
    token: str | None = None
    ttft_ms: float | None = None
    tries: int = 0


async def _open_page(s: aiohttp.ClientSession, url: str, phone: Phone, deadline: float) -> None:
    async with s.get(url + "/config", headers=_xff(phone.address)) as r:
        await r.read()
    while phone.token is None and time.monotonic() < deadline:
        phone.token, wait = await _identity(s, url, phone.address)
        if phone.token is None:
            await asyncio.sleep(wait)


async def _ask(
    s: aiohttp.ClientSession, url: str, phone: Phone, delay: float, deadline: float
) -> None:
    await asyncio.sleep(delay)
    while phone.token is None and time.monotonic() < deadline:  # a late page
        await _open_page(s, url, phone, deadline)
    started = time.perf_counter()
    while phone.token is not None and time.monotonic() < deadline:
        phone.tries += 1
        status, wait, first, _ = await _stream(s, url, phone.address, phone.token)
        if status == 200:
            phone.ttft_ms = (first - started) * 1000
            return
        await asyncio.sleep(wait)


@dataclass
class Attacker:
    address: str
    tokens: list[str] = field(default_factory=list)
    forged_sent: int = 0
    forged_admitted: int = 0
    spans: list[tuple[float, float]] = field(default_factory=list)
    refused: int = 0

    async def forge(self, s: aiohttp.ClientSession, url: str, n: int = 300) -> None:
        """Identities it makes up: the shape of a real one, a tag of its own."""

        def made_up() -> str:
            raw = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
            mac = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
            return f"{raw}.s.{int(time.time())}.{mac}"

        async def one() -> None:
            headers = {**_xff(self.address, made_up()), "x-client-id": f"bot-{random.random()}"}
            async with s.post(url + "/v1/chat/completions", json=QUESTION, headers=headers) as r:
                await r.read()
                self.forged_sent += 1
                self.forged_admitted += r.status == 200

        await asyncio.gather(*(one() for _ in range(n)))

    async def take_identities(self, s: aiohttp.ClientSession, url: str) -> None:
        while True:
            token, _ = await _identity(s, url, self.address)
            if token is None:
                return
            self.tokens.append(token)

    async def hold(
        self, s: aiohttp.ClientSession, url: str, token: str, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                status, _, first, end = await _stream(s, url, self.address, token)
            except (aiohttp.ClientError, TimeoutError):
                status, first, end = 0, 0.0, 0.0
            if status == 200:
                self.spans.append((first - TTFT_S, end))
            else:
                self.refused += 1
                await asyncio.sleep(0.05)  # no Retry-After manners, only a breath

    async def refill(self, s: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
        """Keeps asking for more identities (30/min refill) and puts each to work."""
        workers = []
        while not stop.is_set():
            await asyncio.sleep(0.5)
            token, _ = await _identity(s, url, self.address)
            if token is not None:
                self.tokens.append(token)
                workers.append(asyncio.create_task(self.hold(s, url, token, stop)))
        await asyncio.gather(*workers)


async def _attack(url: str, address: str, ready: Any, stop: Any) -> dict[str, Any]:
    """The attacker's script, in a process of its own (another laptop: its event loop must
    not slow the phones' measurements down)."""
    attacker = Attacker(address)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=LIMIT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        await attacker.forge(s, url)
        await attacker.take_identities(s, url)
        halt = asyncio.Event()
        holders = [asyncio.create_task(attacker.hold(s, url, t, halt)) for t in attacker.tokens]
        holders.append(asyncio.create_task(attacker.refill(s, url, halt)))
        await asyncio.sleep(1.0)  # its streams are in before the first question
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        halt.set()
        await asyncio.gather(*holders, return_exceptions=True)
    return {
        "tokens": attacker.tokens,
        "forged_sent": attacker.forged_sent,
        "forged_admitted": attacker.forged_admitted,
        "spans": attacker.spans,
    }


def _attacker_process(url: str, address: str, ready: Any, stop: Any, out: Any) -> None:
    out.put(_run(_attack(url, address, ready, stop)))


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def _pct(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q / 100 * len(data)))] if data else float("nan")


@dataclass
class Result:
    answered: int
    ttft_p50: float
    ttft_p95: float
    retried: int
    forged_admitted: int = 0
    forged_sent: int = 0
    identities: int = 0
    max_slots: int = 0
    """From the attacker's own timestamps (an estimate: its event loop lags under load)."""
    lane_max: int = 0
    """The most streams one address held, sampled from the gateway every 100 ms."""
    attacker_streams: int = 0
    entries: int = 0
    eligible: int = 0
    attacker_entries: int = 0
    attacker_eligible: int = 0


async def _largest_lane(s: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> int:
    """The most streams one address held at once, as the gateway counts them."""
    most = 0
    while not stop.is_set():
        async with s.get(url + "/api/admin/streams", headers=ADMIN) as r:
            view = await r.json()
        if view["largest"]:
            most = max(most, int(view["largest"][0]["in_flight"]))
        await asyncio.sleep(0.1)
    return most


async def _scenario(url: str, nat: bool, attack: bool) -> Result:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=LIMIT_S)
    deadline = time.monotonic() + LIMIT_S
    phones = [Phone("10.9.9.9" if nat else f"10.1.{i // 200}.{i % 200 + 1}") for i in range(ROOM)]
    address = "10.9.9.9" if nat else "10.66.6.6"
    ctx = multiprocessing.get_context("spawn")
    ready, halt, out = ctx.Event(), ctx.Event(), ctx.Queue()
    attacked: dict[str, Any] = {"tokens": [], "forged_sent": 0, "forged_admitted": 0, "spans": []}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        # the room opens the page (the phones are present and hold their identities)
        await asyncio.gather(*(_open_page(s, url, p, deadline) for p in phones))
        proc = None
        if attack:
            proc = ctx.Process(target=_attacker_process, args=(url, address, ready, halt, out))
            proc.start()
            while not ready.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_largest_lane(s, url, stop))
        step = SPREAD_S / ROOM
        await asyncio.gather(*(_ask(s, url, p, i * step, deadline) for i, p in enumerate(phones)))
        stop.set()
        lane_max = await sampler
        if proc is not None:
            halt.set()
            attacked = await asyncio.get_running_loop().run_in_executor(None, out.get)
            proc.join(30)
        # the raffle: every phone enters once; the attacker with every identity it holds
        async with s.post(url + "/api/admin/mode", json={"mode": "survey"}, headers=ADMIN) as r:
            await r.read()

        async def enter(address: str, token: str | None) -> bool:
            if token is None:
                return False
            async with s.post(
                url + "/api/survey/submit", json=ENTRY, headers=_xff(address, token)
            ) as r:
                await r.read()
                return r.status == 200

        await asyncio.gather(*(enter(p.address, p.token) for p in phones))
        placed = await asyncio.gather(*(enter(address, t) for t in attacked["tokens"]))
        async with s.get(url + "/api/admin/raffle", headers=ADMIN) as r:
            raffle = await r.json()
    ttfts = [p.ttft_ms for p in phones if p.ttft_ms is not None]
    largest = raffle["largest"][0] if raffle["largest"] else {"entries": 0, "eligible": 0}
    return Result(
        answered=len(ttfts),
        ttft_p50=_pct(ttfts, 50),
        ttft_p95=_pct(ttfts, 95),
        retried=sum(p.tries > 1 for p in phones),
        forged_admitted=int(attacked["forged_admitted"]),
        forged_sent=int(attacked["forged_sent"]),
        identities=len(attacked["tokens"]),
        max_slots=_max_overlap(attacked["spans"]),
        lane_max=lane_max,
        attacker_streams=len(attacked["spans"]),
        entries=int(raffle["entries"]),
        eligible=int(raffle["eligible"]),
        attacker_entries=sum(placed),
        # on its own address the attacker's origin holds the most entries
        attacker_eligible=int(largest["eligible"]) if not nat and attack else 0,
    )


async def _flood(url: str, n: int) -> int:
    """n requests: identities, counted questions, then raffle entries, rotating addresses."""
    sent = 0
    third = -(-n // 3)  # rounded up: three phases of n/3 send at least n (99,999 for 100,000)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def worker(offset: int, stride: int) -> None:
            nonlocal sent
            tokens: list[tuple[str, str]] = []
            for i in range(offset, third, stride):
                address = f"10.{100 + i // 60000}.{i // 250 % 240}.{i % 250 + 1}"
                token, _ = await _identity(s, url, address)
                sent += 1
                if token is not None:
                    tokens.append((address, token))
            body = {"messages": [{"role": "user", "content": "x" * 480}]}
            for address, token in tokens:
                async with s.post(
                    url + "/v1/chat/completions", json=body, headers=_xff(address, token)
                ) as r:
                    await r.read()
                sent += 1
            await switched.wait()
            for address, token in tokens:
                entry = {**ENTRY, "company": "F" * 80, "name": "N" * 40}
                async with s.post(
                    url + "/api/survey/submit", json=entry, headers=_xff(address, token)
                ) as r:
                    await r.read()
                sent += 1

        switched = asyncio.Event()
        workers = [asyncio.create_task(worker(k, 64)) for k in range(64)]
        while sent < 2 * third and not all(w.done() for w in workers):
            await asyncio.sleep(0.2)
        async with s.post(url + "/api/admin/mode", json={"mode": "survey"}, headers=ADMIN) as r:
            await r.read()
        switched.set()
        await asyncio.gather(*workers)
    return sent


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def _gateway(upstream: str, work: Path, name: str) -> Iterator[Proc]:
    """The gateway as `tubedemo render` configures it on EKS: fair share and rate limits on."""
    from tubedemo.core.config import config_from_dict

    cfg = config_from_dict({"profile": "eks"})
    limits = cfg.gateway.rate_limits
    env = {
        **cfg.fair_share_env(),
        "TUBEDEMO_FAIR_SHARE": "1",
        "TUBEDEMO_MAX_TOKENS": str(cfg.gateway.max_tokens),
        "TUBEDEMO_RATE_CHAT_PER_MIN": str(limits.chat_per_minute),
        "TUBEDEMO_RATE_CHAT_BURST": str(limits.chat_burst),
        "TUBEDEMO_RATE_SURVEY_PER_MIN": str(limits.survey_per_minute),
        "TUBEDEMO_RATE_ADDRESS_PER_MIN": str(limits.address_per_minute),
    }
    with gateway(upstream, "aiohttp", work / name, extra_env=env) as proc:
        yield proc


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    flood = 3_000 if quick else FLOOD
    with (
        tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp,
        fake_vllm(TOKENS, ITL_S, TTFT_S) as fake,
    ):
        work = Path(tmp)
        results: dict[tuple[bool, bool], Result] = {}
        for nat in (False, True):
            for attack in (False, True):
                name = f"{'nat' if nat else 'own'}-{'attack' if attack else 'calm'}"
                with _gateway(fake.url, work, name) as gw:
                    results[(nat, attack)] = _run(_scenario(gw.url, nat, attack))
        rows += _rows(results)
        with _gateway(fake.url, work, "flood") as gw:
            before = _rss_mib(gw.popen.pid)
            started = time.perf_counter()
            sent = _run(_flood(gw.url, flood))
            took = time.perf_counter() - started
            after = _rss_mib(gw.popen.pid)
        rows.append(
            Row(
                f"gateway RSS after {sent:,} flood requests",
                f"{after:.0f} MiB (from {before:.0f} MiB, {took:.0f} s)",
                f"< {RSS_LIMIT_MIB} MiB (its limit)",
                after < RSS_LIMIT_MIB,
            )
        )
    return rows


def _rows(results: dict[tuple[bool, bool], Result]) -> list[Row]:
    rows = []
    own, own_calm = results[(False, True)], results[(False, False)]
    nat, nat_calm = results[(True, True)], results[(True, False)]
    rows.append(
        Row(
            "self-made identities admitted (own address / NAT)",
            f"{own.forged_admitted} of {own.forged_sent} / "
            f"{nat.forged_admitted} of {nat.forged_sent}",
            "0",
            own.forged_admitted == 0 and nat.forged_admitted == 0,
        )
    )
    share = own.lane_max / CAPACITY
    rows.append(
        Row(
            "own address: attacker's stream slots at most (gateway's count)",
            f"{own.lane_max} of {CAPACITY} ({share:.1%}); {own.identities} identities, "
            f"{own.attacker_streams} answers",
            "≤ 10 %",
            share <= 0.10,
            f"attacker's own estimate {own.max_slots}",
        )
    )
    rows.append(
        Row(
            "own address: attacker's raffle entries in the draw",
            f"{own.attacker_eligible} (of {own.attacker_entries} accepted; "
            f"{own.eligible} eligible of {own.entries})",
            "≤ 5",
            own.attacker_eligible <= 5,
        )
    )
    for label, hit, calm in (("own address", own, own_calm), ("NAT", nat, nat_calm)):
        rows.append(
            Row(
                f"{label}: honest phones answered (with attacker / without)",
                f"{hit.answered} / {calm.answered} of {ROOM} "
                f"(asked again after a refusal: {hit.retried} / {calm.retried})",
                f"{ROOM}",
                hit.answered == ROOM,
            )
        )
        rows.append(
            Row(
                f"{label}: honest TTFT p50 / p95 (with attacker; without)",
                f"{hit.ttft_p50:.0f} / {hit.ttft_p95:.0f} ms; {calm.ttft_p50:.0f} / "
                f"{calm.ttft_p95:.0f} ms",
                "p95 ≤ 2× without" if label == "NAT" else "",
                hit.ttft_p95 <= 2 * calm.ttft_p95 if label == "NAT" else None,
            )
        )
    bound = nat.identities  # README: one stream per identity it obtains
    rows.append(
        Row(
            "NAT: attacker's stream slots at most (its own estimate)",
            f"{nat.max_slots} of {CAPACITY} ({nat.max_slots / CAPACITY:.1%}) with "
            f"{nat.identities} identities",
            "≤ its identities (README: one stream each)",
            nat.max_slots <= bound,
            f"the address held {nat.lane_max} at most, phones included",
        )
    )
    rows.append(
        Row(
            "NAT: attacker's share of the address's raffle entries",
            f"{nat.attacker_entries} of {nat.entries} entries; {nat.eligible} eligible",
            "in proportion to entries (README)",
            None,
        )
    )
    return rows
