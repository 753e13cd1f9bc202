"""vLLM's OpenAI-compatible chat surface over a simulated engine, shared by the fleet simulator
(``tubedemo.rehearsal.server``: a whole fleet behind one address) and the stand-in
(``tubedemo.rehearsal.standin``: one replica per pod).

Both answer ``POST /v1/chat/completions`` the way vLLM does: the same request checks and 400/404
bodies, a non-streamed completion, or an SSE stream whose first byte is the first token. What
differs between them is only the backend (``Backend``: the fleet or one replica) and the words
of the canned answer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse

from tubedemo.twin.engine import Request

POLL = 0.01
"""Wall seconds between looks at a stream's progress (tokens are sent as the engine makes them)."""

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Content type of a Prometheus text exposition, as vLLM's /metrics sends it."""


class Backend(Protocol):
    """What serves the requests: runs the engine(s) up to now, counts tokens, frees slots."""

    def advance(self) -> None: ...

    def tokens_so_far(self, request: Request) -> int: ...

    def abort(self, request: Request) -> None: ...


def error(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    """vLLM's error body."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": status}},
        status_code=status,
    )


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """~4 characters per token plus the chat template's few tokens per message."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return max(1, chars // 4 + 8 * len(messages))


def usage(request: Request) -> dict[str, int]:
    """The ``usage`` object of a finished request."""
    return {
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": request.generated,
        "total_tokens": request.prompt_tokens + request.generated,
    }


def models_response(model_id: str, root: str, max_model_len: int) -> JSONResponse:
    """``GET /v1/models`` with the one served model."""
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {
                    "id": model_id,
                    "object": "model",
                    "created": 0,
                    "owned_by": "vllm",
                    "root": root,
                    "max_model_len": max_model_len,
                }
            ],
        }
    )


@dataclass(frozen=True)
class ChatAsk:
    """A chat request that passed vLLM's checks: what the engine needs to serve it."""

    prompt_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool


async def parse_chat(http: HttpRequest, model_name: str) -> ChatAsk | JSONResponse:
    """The request's ask, or the 400/404 error vLLM would answer."""
    try:
        body = json.loads(await http.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "request body is not valid JSON")
    if not isinstance(body, dict):
        return error(400, "request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(400, "messages must be a non-empty list")
    if not all(isinstance(m, dict) for m in messages):
        return error(400, "every message must be an object")
    model = body.get("model", model_name)
    if model != model_name:
        return error(404, f"The model `{model}` does not exist.", "NotFoundError")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        return error(400, "stream must be a boolean")
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        return error(400, "max_tokens must be a positive integer")
    options = body.get("stream_options")
    return ChatAsk(
        prompt_tokens=estimate_prompt_tokens(messages),
        max_tokens=cap,
        stream=stream,
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
    )


async def respond(
    http: HttpRequest,
    backend: Backend,
    request: Request,
    ask: ChatAsk,
    model: str,
    word: Callable[[int], str],
) -> Response:
    """Serve a submitted request as vLLM does: an SSE stream or, without ``stream``, one body."""
    rid = f"chatcmpl-{uuid.uuid4().hex}"
    if ask.stream:
        return StreamingResponse(
            _stream(backend, request, rid, model, word, ask.include_usage),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    return await _complete(http, backend, request, rid, model, word)


async def _complete(
    http: HttpRequest,
    backend: Backend,
    request: Request,
    rid: str,
    model: str,
    word: Callable[[int], str],
) -> Response:
    try:
        while request.status in ("waiting", "running"):
            if await http.is_disconnected():
                backend.abort(request)
                return Response(status_code=499)
            await asyncio.sleep(POLL)
            backend.advance()
    except asyncio.CancelledError:
        backend.abort(request)
        raise
    if request.status != "done":
        return error(502, f"replica stopped ({request.reason})", "InternalServerError")
    return JSONResponse(
        {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(word(i) for i in range(request.generated)),
                    },
                    "finish_reason": request.finish_reason,
                }
            ],
            "usage": usage(request),
        }
    )


async def _stream(
    backend: Backend,
    request: Request,
    rid: str,
    model: str,
    word: Callable[[int], str],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    created = int(time.time())

    def chunk(payload: dict[str, Any]) -> bytes:
        base = {"id": rid, "object": "chat.completion.chunk", "created": created}
        return b"data: " + json.dumps({**base, "model": model, **payload}).encode() + b"\n\n"

    def delta(content: dict[str, Any], finish: str | None) -> bytes:
        return chunk({"choices": [{"index": 0, "delta": content, "finish_reason": finish}]})

    sent = 0
    try:
        # vLLM sends the role chunk with the engine's first output, i.e. after prefill, not
        # on arrival (vllm/entrypoints/openai/serving_chat.py, chat_completion_stream_generator:
        # the role chunk is yielded inside ``async for res in result_generator`` on the first
        # iteration). So a request queued behind a full engine gets no body byte until it is
        # scheduled and its prompt is prefilled, and a client's first byte is its TTFT.
        while request.status in ("waiting", "running") and backend.tokens_so_far(request) == 0:
            await asyncio.sleep(POLL)
            backend.advance()
        if request.status in ("failed", "aborted") and request.generated == 0:
            # The replica went away before the first token: the stream ends with no data.
            return
        yield delta({"role": "assistant", "content": ""}, None)
        while True:
            backend.advance()
            have = backend.tokens_so_far(request)
            while sent < have:
                last = request.status == "done" and sent + 1 == request.generated
                yield delta({"content": word(sent)}, request.finish_reason if last else None)
                sent += 1
            if request.status == "done":
                if include_usage:
                    yield chunk({"choices": [], "usage": usage(request)})
                yield b"data: [DONE]\n\n"
                return
            if request.status in ("failed", "aborted"):
                # vLLM's process went away: the connection ends without [DONE].
                return
            await asyncio.sleep(POLL)
    finally:
        if request.status in ("waiting", "running"):
            backend.abort(request)
