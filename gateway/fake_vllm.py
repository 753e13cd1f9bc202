"""A fake vLLM for tests and benchmarks (never used by the gateway itself).

A real HTTP server (uvicorn on loopback) speaking the parts of vLLM's OpenAI API that the
gateway proxies: streaming and non-streaming chat completions and /v1/models. It has no
model; it emits `tokens` tokens `delay_s` apart. Knobs let tests make it misbehave the way a
real vLLM pod can: die mid-stream (`die_after`), go silent (`hang_s`), answer with an error
status. It records every request body and notices client disconnects, so a test can prove
that the gateway closed the upstream request when the phone went away.

`python -m gateway.fake_vllm --port 0` runs it standalone and prints `PORT <n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class FakeVLLM:
    tokens: int = 16
    """Tokens per completion."""
    delay_s: float = 0.0
    """Seconds between tokens (inter-token latency)."""
    first_delay_s: float = 0.0
    """Seconds before the first token (time to first token)."""
    die_after: int | None = None
    """Abort the connection after this many chunks (a crashing pod)."""
    hang_s: float = 0.0
    """Seconds of silence before answering at all (an overloaded pod)."""
    status: int = 200
    """Answer every chat request with this status (an error body when not 200)."""
    model: str = "llama"
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnects: int = 0
    completed: int = 0
    record: bool = True
    """Keep request bodies (off in benchmarks to save memory)."""
    api_key: str = ""
    """Refuse /v1/* without `Authorization: Bearer <api_key>` (vLLM's --api-key); empty: open."""
    unauthorized: int = 0
    _disconnected: threading.Event = field(default_factory=threading.Event)

    def wait_for_disconnect(self, timeout: float) -> bool:
        return self._disconnected.wait(timeout)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (msg := await receive())["type"] != "lifespan.shutdown":
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if self.api_key and path.startswith("/v1"):
            sent = dict(scope["headers"]).get(b"authorization", b"")
            if sent != f"Bearer {self.api_key}".encode():
                self.unauthorized += 1
                await _json(send, 401, {"error": "Unauthorized"})
                return
        if method == "GET" and path == "/v1/models":
            body = {"object": "list", "data": [{"id": self.model, "object": "model"}]}
            await _json(send, 200, body)
            return
        if method != "POST" or path != "/v1/chat/completions":
            await _json(send, 404, {"object": "error", "message": f"no route {path}"})
            return
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        req = json.loads(raw)
        if self.record:
            self.requests.append(req)
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.status != 200:
            err = {"object": "error", "message": "fake vLLM failure", "code": self.status}
            await _json(send, self.status, err)
            return
        if not req.get("stream"):
            await asyncio.sleep(self.first_delay_s + self.delay_s * self.tokens)
            text = " ".join(f"tok{i}" for i in range(self.tokens))
            await _json(send, 200, _completion(self.model, text, self.tokens))
            self.completed += 1
            return
        await self._stream(receive, send, req)

    async def _stream(self, receive: Any, send: Any, req: dict[str, Any]) -> None:
        n = min(self.tokens, int(req.get("max_tokens") or self.tokens))
        stream_task = asyncio.current_task()
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            self.disconnects += 1
            self._disconnected.set()
            assert stream_task is not None
            stream_task.cancel()

        watcher = asyncio.create_task(watch())
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        cid = f"chatcmpl-{time.monotonic_ns()}"
        try:
            if self.first_delay_s:
                await asyncio.sleep(self.first_delay_s)
            for i in range(n + 1):
                if self.die_after is not None and i >= self.die_after:
                    raise ConnectionAbortedError("fake vLLM dies mid-stream")
                if i and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f"tok{i} "}
                await send(
                    {
                        "type": "http.response.body",
                        "body": _chunk(cid, self.model, delta, None),
                        "more_body": True,
                    }
                )
            final = _chunk(cid, self.model, {}, "stop") + b"data: [DONE]\n\n"
            await send({"type": "http.response.body", "body": final, "more_body": False})
            self.completed += 1
        except asyncio.CancelledError:
            if not gone:
                raise
        finally:
            watcher.cancel()


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _completion(model: str, text: str, tokens: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
    }


async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class ServerThread:
    """A uvicorn server on 127.0.0.1 with an ephemeral port, in a background thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        config.setdefault("log_level", "warning")
        config.setdefault("loop", "uvloop")
        config.setdefault("http", "httptools")
        # The gateway decides which X-Forwarded-For to believe (limits.ClientAddress).
        config.setdefault("proxy_headers", False)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 20) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 20) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m gateway.fake_vllm")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--delay-s", type=float, default=0.0)
    p.add_argument("--first-delay-s", type=float, default=0.0)
    p.add_argument("--api-key", default="", help="refuse /v1/* without it, as vLLM's --api-key")
    args = p.parse_args()
    fake = FakeVLLM(
        tokens=args.tokens,
        delay_s=args.delay_s,
        first_delay_s=args.first_delay_s,
        record=False,
        api_key=args.api_key,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            fake,
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            loop="uvloop",
            http="httptools",
            access_log=False,
            backlog=4096,
        )
    )

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print(f"PORT {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
