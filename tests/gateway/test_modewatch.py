"""ModeWatch's 410 relist and reconnect paths, against a fake Kubernetes API server.

The real kube-apiserver test (tests/gateway/test_gateway_mode_watch.py) covers list, watch,
ServiceAccount auth and the 2 s target; a fresh real API server cannot be made to answer
410 Gone on demand, so these two paths use `FakeKubeAPI` below — a fake, named as such.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from gateway.fake_vllm import ServerThread
from gateway.modewatch import ModeWatch


class FakeKubeAPI:
    """A fake API server: list returns the ConfigMap at rv 10; watching from rv 1 gets a 410
    ERROR event (compacted), watching from rv 10 gets one MODIFIED event, then stays open."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail_first = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = dict(
            part.split("=", 1) for part in scope["query_string"].decode().split("&") if part
        )
        self.requests.append((scope["path"], query))
        if self.fail_first > 0:
            self.fail_first -= 1
            await _send(send, 500, b'{"kind":"Status","code":500}')
            return
        cm = {"metadata": {"name": "mode", "resourceVersion": "10"}, "data": {"mode": "survey"}}
        if query.get("watch") != "true":
            await _send(
                send,
                200,
                json.dumps({"metadata": {"resourceVersion": "10"}, "items": [cm]}).encode(),
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        if query.get("resourceVersion") == "1":
            gone = {
                "type": "ERROR",
                "object": {"kind": "Status", "code": 410, "message": "too old"},
            }
            await send({"type": "http.response.body", "body": json.dumps(gone).encode() + b"\n"})
            return
        changed = {
            **cm,
            "metadata": {"name": "mode", "resourceVersion": "11"},
            "data": {"mode": "quiz"},
        }
        event = {"type": "MODIFIED", "object": changed}
        await send(
            {
                "type": "http.response.body",
                "body": json.dumps(event).encode() + b"\n",
                "more_body": True,
            }
        )
        while (await receive())["type"] != "http.disconnect":
            pass


async def _send(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _follow(api: FakeKubeAPI, resource_version: str | None) -> tuple[ModeWatch, list[str]]:
    server = ServerThread(api).start()
    seen: list[str] = []

    async def run() -> ModeWatch:
        watch = ModeWatch(server.url, "demo", "mode", seen.append, token_file=None, ca_file=None)
        task = asyncio.create_task(watch.run(resource_version=resource_version))
        deadline = time.monotonic() + 10
        while seen[-1:] != ["quiz"] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        task.cancel()
        return watch

    try:
        return asyncio.run(run()), seen
    finally:
        server.stop()


def test_410_gone_relists_then_watches_from_the_new_version() -> None:
    api = FakeKubeAPI()
    watch, seen = _follow(api, resource_version="1")
    assert watch.relists == 1
    assert seen == ["survey", "quiz"]  # relist value, then the watched change
    watches = [q for _, q in api.requests if q.get("watch") == "true"]
    assert [q["resourceVersion"] for q in watches[:2]] == ["1", "10"]


def test_api_errors_are_retried_with_backoff() -> None:
    api = FakeKubeAPI()
    api.fail_first = 2
    watch, seen = _follow(api, resource_version=None)
    assert seen == ["survey", "quiz"]
    assert watch.last_error is not None and "500" in watch.last_error
