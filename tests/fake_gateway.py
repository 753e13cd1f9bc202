"""FAKE gateway for the timeline tests: a small streaming OpenAI-style server on loopback.

It is a fake, named as one: it stands in for the real gateway (+ upstream) only where the real
gateway is not available, and records what the load and the show did to it (requests, headers,
concurrency, mode flips with their arrival times) so tests can check the effects from outside.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "fake-admin-token"


@dataclass
class Recorded:
    chats: list[dict[str, Any]] = field(default_factory=list)
    flips: list[tuple[float, str]] = field(default_factory=list)
    """(time.time() on arrival, mode) per POST /api/admin/mode."""
    active: int = 0
    peak: int = 0
    gets: list[str] = field(default_factory=list)


class FakeGateway:
    """FAKE: streams `tokens` chunks per chat after `first_token_delay`, `token_delay` apart."""

    def __init__(
        self,
        *,
        tokens: int = 5,
        first_token_delay: float = 0.05,
        token_delay: float = 0.01,
        fail_every: int = 0,
        questions: list[str] | None = None,
    ) -> None:
        self.tokens = tokens
        self.first_token_delay = first_token_delay
        self.token_delay = token_delay
        self.fail_every = fail_every
        self.questions = questions or []
        self.mode = "quiz"
        self.rec = Recorded()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {TOKEN}"

            def do_GET(self) -> None:
                with fake._lock:
                    fake.rec.gets.append(self.path)
                if self.path == "/config":
                    self._json(200, {"mode": fake.mode})
                elif self.path == "/api/survey/winners":
                    self._json(200, {"session": "s", "drawn": False, "winners": []})
                elif self.path == "/api/admin/questions":
                    if not self._authorized():
                        self._json(401, {"error": {"message": "unauthorized"}})
                    else:
                        self._json(200, [{"text": q} for q in fake.questions])
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path == "/api/admin/mode":
                    arrived = time.time()
                    if not self._authorized():
                        self._json(401, {"error": {"message": "unauthorized"}})
                        return
                    mode = json.loads(raw)["mode"]
                    with fake._lock:
                        old, fake.mode = fake.mode, mode
                        fake.rec.flips.append((arrived, mode))
                    self._json(200, {"old": old, "new": mode})
                    return
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(raw)
                with fake._lock:
                    fake.rec.chats.append(
                        {
                            "t": time.time(),
                            "client": self.headers.get("X-Client-Id"),
                            "counted": self.headers.get("X-Tubedemo-Counted"),
                            "body": body,
                        }
                    )
                    n = len(fake.rec.chats)
                    fake.rec.active += 1
                    fake.rec.peak = max(fake.rec.peak, fake.rec.active)
                try:
                    if fake.fail_every and n % fake.fail_every == 0:
                        self._json(502, {"error": {"message": "upstream failed"}})
                        return
                    # Like a proxy that answers once the first token is there: TTFB == TTFT.
                    time.sleep(fake.first_token_delay)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    for i in range(fake.tokens):
                        if i:
                            time.sleep(fake.token_delay)
                        chunk = {"choices": [{"index": 0, "delta": {"content": f"tok{i} "}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    usage = {"choices": [], "usage": {"completion_tokens": fake.tokens}}
                    self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with fake._lock:
                        fake.rec.active -= 1

        return Handler
