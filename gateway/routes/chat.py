"""The chat proxy: /v1/chat/completions (shaped, limited, counted) and /v1/models."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from gateway.errors import ApiError
from gateway.limits import RateLimited
from gateway.proxy import ProxyResponse, shape_chat
from gateway.routes.auth import caller
from gateway.runtime import of

router = APIRouter(tags=["audience"])

CHAT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["messages"],
                    "properties": {
                        "model": {"type": "string"},
                        "messages": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["role", "content"],
                                "properties": {
                                    "role": {
                                        "type": "string",
                                        "enum": ["system", "developer", "user", "assistant"],
                                    },
                                    "content": {"type": "string"},
                                },
                            },
                        },
                        "stream": {"type": "boolean"},
                        "max_tokens": {"type": "integer", "minimum": 1},
                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "An OpenAI chat completion, or an SSE stream of chunks when stream=true",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        "400": {"description": "Invalid request (message says which field)"},
        "401": {"description": "No identity the gateway issued (POST /api/identity)"},
        "413": {"description": "Body too large"},
        "429": {"description": "Rate limited, or this identity already has a stream (Retry-After)"},
        "502": {"description": "The model server failed"},
        "503": {"description": "No model server reachable, or no free slot in time"},
        "504": {"description": "The model server timed out"},
    },
}


@router.post("/v1/chat/completions", openapi_extra=CHAT_SCHEMA)
async def chat(
    request: Request,
    x_tubedemo_counted: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    gw = of(request)
    who = caller(request, need_identity=True)
    ident = who.identity.id if who.identity is not None else None
    if ident is not None and not who.load:
        # one that ignored the Retry-After it was given waits here, where waiting is cheap
        await gw.retry_watch.hold(ident)
    raw = await request.body()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply", "invalid_json") from None
    except ValueError:
        raise ApiError(400, "request body is not valid JSON", "invalid_json") from None
    s = gw.settings
    plan = shape_chat(
        body,
        system_prompt=s.system_prompt,
        max_tokens=s.max_tokens,
        model=s.model,
        max_prompt_chars=s.max_prompt_chars,
        max_messages=s.max_messages,
    )
    if not who.load:
        try:
            gw.limiter.check("chat", ident, who.network)
        except RateLimited as exc:
            if ident is not None:
                gw.retry_watch.told(ident, exc.wait_s)
            raise
    issued = who.identity.issued_at if who.identity is not None else 0
    ticket = gw.gate.reserve(who.lane, ident, issued)
    if not who.load and (x_tubedemo_counted or "true").strip().lower() != "false":
        gw.remember_question(plan.question, ident)
    assert gw.upstream is not None
    return ProxyResponse(
        gw.upstream,
        "POST",
        "/v1/chat/completions",
        plan.payload,
        plan.stream,
        gw.metrics,
        gate=gw.gate,
        ticket=ticket,
        queue_timeout_s=s.stream_queue_timeout_s,
        keepalive_s=s.stream_keepalive_s,
    )


@router.get("/v1/models")
async def models(request: Request) -> Response:
    gw = of(request)
    assert gw.upstream is not None
    return ProxyResponse(gw.upstream, "GET", "/v1/models", None, False, gw.metrics)
