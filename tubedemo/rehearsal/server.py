"""The fleet simulator's HTTP face: vLLM's OpenAI API, per-replica /metrics, the twin's state.

One asyncio server (uvicorn) on loopback:

- ``POST /v1/chat/completions`` (streaming SSE and not) with token timing from the engine model,
  in real time or x speed; requests go round-robin to the twin's ready replicas;
- ``GET /v1/models``, ``GET /health``;
- ``GET /pods/<name>/metrics``: what that vLLM pod would expose (vllm:* names, labels
  model_name and engine);
- ``GET /twin/state``: replicas, nodes, HPA, scrape targets, events, cost as JSON for the
  dashboard;
- ``POST /twin/start``: talk second 0 is now (the lab starts its talk once ``up`` is done);
- ``GET /metrics``: the queue summed over the serving replicas as one series named
  ``scaling.metric`` (what KEDA's ``metrics-api`` scaler reads in the lab).

With ``--kubeconfig`` (the lab) the replicas are the Ready pods of the vLLM Deployment in
``--namespace``, followed through a watch of the real API server: a pod that becomes Ready gets
an engine, a deleted (or no longer Ready) pod's engine drains. Without it the twin's own
autoscaler decides, as in ``tubedemo rehearse``.

Run it as ``python -m tubedemo.rehearsal.server --port 0 --speed 10``: it prints ``PORT <n>``
once it listens. Bad requests get vLLM's 400/404 error bodies; no replica ready is a 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tubedemo.core.config import DemoConfig, load_config
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import TubedemoError, debug_enabled, error_lines
from tubedemo.rehearsal.fleet import Fleet
from tubedemo.twin.engine import Request

PodSource = Callable[[], "tuple[dict[str, str | None], int | None] | None"]
"""Returns (Ready pod -> node, the Deployment's spec.replicas) now, or None until synced."""

POLL = 0.01
"""Wall seconds between looks at a stream's progress (tokens are sent as the model makes them)."""

_WORDS = [
    "Mind",
    "the",
    "gap,",
    "guv!",
    "The",
    "Tube",
    "opened",
    "in",
    "1863",
    "and",
    "the",
    "Metropolitan",
    "line",
    "still",
    "runs",
    "like",
    "a",
    "proper",
    "old",
    "girl.",
    "Change",
    "at",
    "Baker",
    "Street,",
    "keep",
    "left",
    "on",
    "the",
    "escalator,",
    "and",
    "never,",
    "ever",
    "stand",
    "still",
    "at",
    "the",
    "top.",
    "Cheers!",
]


def _error(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": status}},
        status_code=status,
    )


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """~4 characters per token plus the chat template's few tokens per message."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return max(1, chars // 4 + 8 * len(messages))


def _word(index: int) -> str:
    return _WORDS[index % len(_WORDS)] + " "


class FleetApp:
    """The Starlette app around one Fleet; every handler first advances the world."""

    def __init__(self, fleet: Fleet, pods: PodSource | None = None) -> None:
        self.fleet = fleet
        self.pods = pods
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/pods/{name}/metrics", self.metrics, methods=["GET"]),
                Route("/twin/state", self.state, methods=["GET"]),
                Route("/metrics", self.queue_metrics, methods=["GET"]),
                Route("/twin/start", self.start_talk, methods=["POST"]),
            ]
        )
        self._ticker: asyncio.Task[None] | None = None

    async def tick_forever(self) -> None:
        """Keep the world moving when nobody asks (replicas start, HPA syncs, nodes go)."""
        while True:
            self.sync_pods()
            self.fleet.advance()
            wait = self.fleet.wall_until_next_event()
            await asyncio.sleep(min(wait if wait is not None else 0.05, 0.05))

    def sync_pods(self) -> None:
        """Engines for the cluster's Ready pods (lab only); a no-op until the watch has synced."""
        if self.pods is None:
            return
        reading = self.pods()
        if reading is not None:
            ready, desired = reading
            self.fleet.sync_pods(ready, desired)

    async def queue_metrics(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        return Response(
            self.fleet.queue_metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def start_talk(self, _: HttpRequest) -> Response:
        if self.fleet.world.sent:
            return _error(409, "the talk has started already: requests were served")
        self.fleet.start_talk()
        self.sync_pods()
        return JSONResponse({"time_s": self.fleet.now})

    async def health(self, _: HttpRequest) -> Response:
        return Response(status_code=200)

    async def models(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        if not any(p.serving for p in self.fleet.world.pods):
            return _error(503, "no replica is ready", "ServiceUnavailableError")
        model = self.fleet.model_name
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": 0,
                        "owned_by": "vllm",
                        "root": self.fleet.config.model.name,
                        "max_model_len": self.fleet.config.model.max_model_len,
                    }
                ],
            }
        )

    async def metrics(self, request: HttpRequest) -> Response:
        self.fleet.advance()
        found = self.fleet.replica_metrics(request.path_params["name"])
        if found is None:
            return _error(404, f"no replica {request.path_params['name']!r}", "NotFoundError")
        return Response(found.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def state(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        return JSONResponse(self.fleet.state(lambda name: f"{self.base_url}/pods/{name}/metrics"))

    async def chat(self, http: HttpRequest) -> Response:
        try:
            body = json.loads(await http.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty list")
        if not all(isinstance(m, dict) for m in messages):
            return _error(400, "every message must be an object")
        model = body.get("model", self.fleet.model_name)
        if model != self.fleet.model_name:
            return _error(404, f"The model `{model}` does not exist.", "NotFoundError")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            return _error(400, "stream must be a boolean")
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            return _error(400, "max_tokens must be a positive integer")
        self.fleet.advance()
        request = self.fleet.submit(estimate_prompt_tokens(messages), cap)
        if request.status == "failed":
            return _error(503, "no replica is ready", "ServiceUnavailableError")
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        if stream:
            options = body.get("stream_options")
            usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return StreamingResponse(
                self._stream(request, rid, usage),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        return await self._complete(http, request, rid)

    async def _complete(self, http: HttpRequest, request: Request, rid: str) -> Response:
        try:
            while request.status in ("waiting", "running"):
                if await http.is_disconnected():
                    self.fleet.abort(request)
                    return Response(status_code=499)
                await asyncio.sleep(POLL)
                self.fleet.advance()
        except asyncio.CancelledError:
            self.fleet.abort(request)
            raise
        if request.status != "done":
            return _error(502, f"replica stopped ({request.reason})", "InternalServerError")
        text = "".join(_word(i) for i in range(request.generated))
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.fleet.model_name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": request.finish_reason,
                    }
                ],
                "usage": _usage(request),
            }
        )

    async def _stream(self, request: Request, rid: str, usage: bool) -> AsyncIterator[bytes]:
        created = int(time.time())
        model = self.fleet.model_name

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            payload = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        sent = 0
        try:
            # vLLM sends the role chunk with the engine's first output, i.e. after prefill, not
            # on arrival (vllm/entrypoints/openai/serving_chat.py, chat_completion_stream_generator:
            # the role chunk is yielded inside ``async for res in result_generator`` on the first
            # iteration). So a request queued behind a full engine gets no body byte until it is
            # scheduled and its prompt is prefilled, and a client's first byte is its TTFT.
            while request.status in ("waiting", "running") and (
                self.fleet.tokens_so_far(request) == 0
            ):
                await asyncio.sleep(POLL)
                self.fleet.advance()
            if request.status in ("failed", "aborted") and request.generated == 0:
                # The replica went away before the first token: the stream ends with no data.
                return
            yield chunk({"role": "assistant", "content": ""}, None)
            while True:
                self.fleet.advance()
                have = self.fleet.tokens_so_far(request)
                while sent < have:
                    last = request.status == "done" and sent + 1 == request.generated
                    yield chunk({"content": _word(sent)}, request.finish_reason if last else None)
                    sent += 1
                if request.status == "done":
                    if usage:
                        tail = {
                            "id": rid,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model,
                            "choices": [],
                            "usage": _usage(request),
                        }
                        yield b"data: " + json.dumps(tail).encode() + b"\n\n"
                    yield b"data: [DONE]\n\n"
                    return
                if request.status in ("failed", "aborted"):
                    # vLLM's process went away: the connection ends without [DONE].
                    return
                await asyncio.sleep(POLL)
        finally:
            if request.status in ("waiting", "running"):
                self.fleet.abort(request)


def _usage(request: Request) -> dict[str, int]:
    return {
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": request.generated,
        "total_tokens": request.prompt_tokens + request.generated,
    }


async def serve(
    config: DemoConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    audience: bool = False,
    on_listening: Callable[[int], None] | None = None,
    pods: PodSource | None = None,
    k6_model: bool = False,
) -> None:
    """Run until cancelled or signalled; ``on_listening(port)`` (default: print ``PORT <n>``).

    ``pods``: the lab's Ready pods (``tubedemo.cluster.ready_pods.ReadyPodWatch.read``); the
    fleet then serves one engine per Ready pod instead of running the twin's autoscaler.
    """
    fleet = Fleet(
        config,
        time.monotonic,
        speed=speed,
        audience=audience,
        pods_from_cluster=pods is not None,
        k6_model=k6_model,
    )
    front = FleetApp(fleet, pods)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    front.base_url = f"http://{host}:{bound}"
    server = uvicorn.Server(
        uvicorn.Config(front.app, log_level="warning", access_log=False, lifespan="off")
    )
    ticker = asyncio.create_task(front.tick_forever())
    if on_listening is None:
        print(f"PORT {bound}", flush=True)
    else:
        on_listening(bound)
    try:
        await server.serve(sockets=[sock])
    finally:
        ticker.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tubedemo.rehearsal.server", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--audience", action="store_true", help="simulate the room's phones")
    parser.add_argument(
        "--k6-model",
        action="store_true",
        help="also send the timeline's k6 load as the twin models it (no k6 process)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="the lab: serve one engine per Ready pod of the vLLM Deployment in this cluster",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context (with --kubeconfig)")
    parser.add_argument(
        "--namespace", default=None, help="namespace of the vLLM Deployment (default: config's)"
    )
    args = parser.parse_args(argv)
    watch = None
    try:
        check_speed(args.speed)
        config = load_config(args.config, args.overrides)
        if args.kubeconfig is not None:
            from tubedemo.cluster.ready_pods import ReadyPodWatch

            watch = ReadyPodWatch.connect(
                args.kubeconfig,
                args.context,
                namespace=args.namespace or config.cluster.namespace,
            )
        asyncio.run(
            serve(
                config,
                args.host,
                args.port,
                args.speed,
                args.audience,
                pods=watch.read if watch is not None else None,
                k6_model=args.k6_model,
            )
        )
    except TubedemoError as exc:
        print("\n".join(error_lines(exc, debug=debug_enabled())), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        pass
    finally:
        if watch is not None:
            watch.close()


if __name__ == "__main__":
    main()
