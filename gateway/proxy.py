"""The OpenAI-compatible proxy: shape the request (pure), then stream it (raw ASGI).

`shape_chat` decides what goes upstream: the configured system prompt replaces any the client
sent, max_tokens is capped, the model is fixed; bad input raises an ApiError (400).

`ProxyResponse` talks to the upstream inside the ASGI call and listens for the client's
`http.disconnect` at the same time; when the phone goes away the upstream response is closed
at once, so the model server frees the slot. (Starlette's BaseHTTPMiddleware would hide the
disconnect, which is why every middleware here is pure ASGI.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.errors import ApiError, error_bytes
from gateway.fairshare import StreamGate, Ticket
from gateway.metrics import Metrics
from gateway.upstream import Upstream, UpstreamError

log = logging.getLogger("gateway.proxy")
T = TypeVar("T")

PASS_THROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stream_options",
)
ROLES = ("system", "developer", "user", "assistant")


@dataclass(frozen=True)
class ChatPlan:
    payload: bytes
    stream: bool
    question: str


def _encodable(text: str, index: int) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, f"messages[{index}].content contains characters that are not text"
        ) from None
    return text


def _text(content: Any, index: int) -> str:
    if isinstance(content, str):
        return _encodable(content, index)
    if isinstance(content, list):
        parts = []
        for part in content:
            if not (
                isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                raise ApiError(400, f"messages[{index}].content: only text parts are accepted")
            parts.append(part["text"])
        return _encodable("".join(parts), index)
    raise ApiError(400, f"messages[{index}].content must be a string or a list of text parts")


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(value)


def shape_chat(
    body: Any,
    *,
    system_prompt: str,
    max_tokens: int,
    model: str,
    max_prompt_chars: int,
    max_messages: int,
) -> ChatPlan:
    """What to send upstream for a client's chat request (no side effects).

    Every message counts against `max_prompt_chars`, whatever its role: a client's assistant
    turns are prefill on the GPU just like its questions."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list")
    if len(messages) > max_messages:
        raise ApiError(400, f"at most {max_messages} messages per request")
    kept: list[dict[str, str]] = [{"role": "system", "content": system_prompt}]
    chars = 0
    question = ""
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ApiError(400, f"messages[{i}] must be an object with role and content")
        role = msg.get("role")
        if role not in ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {', '.join(ROLES)}")
        text = _text(msg.get("content"), i)
        chars += len(text)
        if role in ("system", "developer"):
            continue  # the configured system prompt is not the audience's to replace
        if role == "user":
            question = text
        kept.append({"role": role, "content": text})
    if not question.strip():
        raise ApiError(400, "ask a question: no user message with text")
    if chars > max_prompt_chars:
        raise ApiError(
            400,
            f"question too long: {chars} characters, at most {max_prompt_chars}",
            code="prompt_too_long",
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false")
    asked = [_positive_int(body, "max_tokens"), _positive_int(body, "max_completion_tokens")]
    capped = min([a for a in asked if a is not None] + [max_tokens])
    out: dict[str, Any] = {k: body[k] for k in PASS_THROUGH if k in body}
    if "stream_options" in out and not stream:
        del out["stream_options"]  # vLLM rejects stream_options without stream
    out.update(model=model, messages=kept, max_tokens=capped, stream=stream, n=1)
    return ChatPlan(json.dumps(out).encode(), stream, question)


UPSTREAM_HEADERS = {"content-type": "application/json", "accept-encoding": "identity"}
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx-style ingresses must not buffer the stream
]


def _upstream_error_body(status: int, raw: bytes) -> bytes:
    """Pass an upstream 4xx through when it is OpenAI-shaped, else describe it."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = None
    if status < 500 and isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return raw
    if status < 500 and isinstance(parsed, dict) and "message" in parsed:  # vLLM's own shape
        return error_bytes(str(parsed["message"]), "invalid_request_error", None)
    log.warning("model server answered %s: %.500r", status, raw)
    return error_bytes(
        f"the model server answered {status}", "upstream_error", f"upstream_{status}"
    )


KEEP_ALIVE = b": keep-alive\n\n"
"""An SSE comment: bytes that keep CloudFront (60 s origin timeout) and the ALB from calling
the stream dead while the question waits for a slot or in vLLM's queue; every SSE parser skips
it (the page's, the openai client's; k6 reads only `data:` lines)."""


def first_token_note(after_headers_s: float) -> bytes:
    """The SSE comment sent just before the first token of a stream that was committed early:
    milliseconds from the headers to that token, so a client that can only time the first byte
    (k6) still gets the time to first token (its first byte + this)."""
    return f": first-token-after-headers-ms={round(after_headers_s * 1000)}\n\n".encode()


class ProxyResponse(Response):
    """An ASGI response that runs the upstream request and stops it when the client leaves.

    With a `ticket`, it first waits for a slot at the `gate` (the phone's wait is part of its
    time to first token) and gives the slot back however the request ends.

    A stream's headers go with its first token (so a failure before it is a real HTTP status),
    unless `keepalive_s` passes first: then the gateway commits (200, SSE headers), sends a
    keep-alive comment every `keepalive_s` until the first token, and a failure after that is
    a final SSE error event with the same fixed message the status would have carried."""

    def __init__(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        payload: bytes | None,
        stream: bool,
        metrics: Metrics,
        *,
        gate: StreamGate | None = None,
        ticket: Ticket | None = None,
        queue_timeout_s: float = 60.0,
        keepalive_s: float | None = None,
    ) -> None:
        self.gate = gate
        self.ticket = ticket
        self.queue_timeout_s = queue_timeout_s
        self.upstream = upstream
        self.method = method
        self.path = path
        self.payload = payload
        self.stream = stream
        self.keepalive_s = keepalive_s if stream else None
        self.metrics = metrics
        self.started = time.perf_counter()
        self.committed_at: float | None = None
        self.quiet_since = self.started  # when the phone last got a byte (or asked)
        self.beat_sending = False  # a keep-alive is between its first and last byte
        self.background = None
        self.status_code = 200
        self.raw_headers = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate, ticket = self.gate, self.ticket
        if gate is not None and ticket is not None:
            inner = send

            async def send(message: Message) -> None:
                # The slot is free before the last byte leaves: the phone's next question
                # (on the same connection, the moment it has this answer) must not find its
                # identity still holding this one.
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    gate.release(ticket)
                await inner(message)

        pump = asyncio.create_task(self._pump(send))
        watch = asyncio.create_task(self._watch(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            if self.gate is not None and self.ticket is not None:
                self.gate.release(self.ticket)
        if not pump.cancelled() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]

    @staticmethod
    async def _watch(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _commit(self, send: Send) -> None:
        """Send the stream's 200 and SSE headers, once."""
        if self.committed_at is None:
            self.committed_at = time.perf_counter()
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def _alive_until(self, send: Send, step: Awaitable[T]) -> T:
        """Await `step` in this task; meanwhile a beat task commits the stream and sends a
        keep-alive each time the phone has had nothing for `keepalive_s`."""
        if self.keepalive_s is None:
            return await step
        stop = asyncio.Event()
        beat = asyncio.create_task(self._beat(send, self.keepalive_s, stop))
        try:
            return await step
        finally:
            if self.beat_sending:
                # let the send finish: a message cut in half would break the stream
                stop.set()
                await asyncio.gather(beat, return_exceptions=True)
            else:
                # Asleep: cancel without waiting for it. Awaiting would yield to the loop, and
                # aiohttp drops the chunks it holds once the upstream's abort lands meanwhile.
                beat.cancel()

    async def _beat(self, send: Send, every_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(max(self.quiet_since + every_s - time.perf_counter(), 0.0))
            self.beat_sending = True
            try:
                await self._commit(send)
                await send({"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True})
            finally:
                self.beat_sending = False
            self.quiet_since = time.perf_counter()

    async def _fail(
        self, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """An OpenAI error: its status before the stream is committed; after, the final SSE
        error event (the headers, 200, are gone)."""
        if self.committed_at is None:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.body", "body": b"data: " + body + b"\n\n"})

    async def _error(self, send: Send, exc: UpstreamError) -> None:
        self.metrics.upstream_errors.labels(code=exc.code).inc()
        log.warning("upstream %s: %s", exc.code, exc)  # the details stay here, not on phones
        body = error_bytes(exc.public, "upstream_error", exc.code)
        await self._fail(send, exc.status, body, JSON_HEADERS)

    async def _pump(self, send: Send) -> None:
        if self.gate is not None and self.ticket is not None:
            try:
                await self._alive_until(send, self.gate.admit(self.ticket, self.queue_timeout_s))
            except ApiError as exc:
                headers = [*JSON_HEADERS] + [
                    (k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()
                ]
                body = error_bytes(exc.message, exc.type, exc.code)
                await self._fail(send, exc.status_code, body, headers)
                return
        try:
            resp = await self._alive_until(
                send, self.upstream.open(self.method, self.path, self.payload, UPSTREAM_HEADERS)
            )
        except UpstreamError as exc:
            await self._error(send, exc)
            return
        try:
            if resp.status >= 400 or not self.stream:
                try:
                    raw = await self._alive_until(send, resp.read())
                except UpstreamError as exc:
                    await self._error(send, exc)
                    return
                if resp.status >= 400:
                    # a refused API key is the gateway's misconfiguration, not the phone's
                    status = resp.status if resp.status < 500 else 502
                    if resp.status in (401, 403):
                        status = 502
                    self.metrics.upstream_errors.labels(code=f"upstream_{resp.status}").inc()
                    await self._fail(
                        send, status, _upstream_error_body(resp.status, raw), JSON_HEADERS
                    )
                    return
                await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
                await send({"type": "http.response.body", "body": raw})
                return
            await self._stream(send, resp)
        finally:
            await resp.aclose()

    async def _first_chunk(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        """The upstream's first non-empty chunk (its first token), or None if it ends first."""
        async for chunk in chunks:
            if chunk:
                return chunk
        return None

    async def _stream(self, send: Send, resp: Any) -> None:
        # Headers wait for the first chunk: vLLM sends its 200 before it has a token, so
        # holding them makes time-to-first-byte equal time-to-first-token for any client
        # (k6 has no SSE parser), and a failure before the first token stays a real HTTP
        # error status instead of a 200 with an error event. Unless the token takes longer
        # than keepalive_s: then keep-alives commit the stream, and a note before the first
        # token tells first-byte clients how much later it came.
        gauge = self.metrics.streams_in_flight
        gauge.inc()
        tail = b"\n\n"
        chunks = resp.chunks()
        try:
            try:
                first = await self._alive_until(send, self._first_chunk(chunks))
                if first is not None:
                    now = time.perf_counter()
                    self.metrics.ttft.observe(now - self.started)  # the token, not a keep-alive
                    note = b""
                    if self.committed_at is not None:
                        note = first_token_note(now - self.committed_at)
                    await self._commit(send)
                    await send(
                        {"type": "http.response.body", "body": note + first, "more_body": True}
                    )
                    tail = (tail + first)[-2:]
                    async for chunk in chunks:
                        if not chunk:
                            continue
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        tail = (tail + chunk)[-2:]
            except UpstreamError as exc:
                if self.committed_at is None:
                    await self._error(send, exc)
                    return
                # Headers are gone; the OpenAI way to fail now is a final SSE error event.
                self.metrics.upstream_errors.labels(code=exc.code).inc()
                log.warning("upstream %s mid-stream: %s", exc.code, exc)
                event = error_bytes(exc.public, "upstream_error", exc.code)
                sep = b"" if tail == b"\n\n" else b"\n\n"
                body = sep + b"data: " + event + b"\n\n"
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await self._commit(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gauge.dec()
