"""Follow the mode ConfigMap through the Kubernetes API (list + watch), with plain httpx.

A mounted ConfigMap file lags the kubelet's sync period (a minute or more); a watch sees a
change within a second. The loop lists to get the current value and a resourceVersion, then
watches from it; a 410 Gone (history compacted) relists; any other failure reconnects with
capped exponential backoff. The token is re-read on every connect because it rotates.
No `kubernetes` package: the gateway image stays small and independent of the CLI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("gateway.modewatch")

MODES = ("quiz", "survey")


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


def default_api_url() -> str | None:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        return None
    if ":" in host:  # IPv6 service address
        host = f"[{host}]"
    return f"https://{host}:{port}"


class ModeWatch:
    def __init__(
        self,
        api_url: str,
        namespace: str,
        name: str,
        on_mode: Callable[[str], None],
        *,
        on_audience_url: Callable[[str], None] | None = None,
        token_file: Path | None,
        ca_file: Path | None,
        watch_timeout_s: int = 300,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.namespace = namespace
        self.name = name
        self.on_mode = on_mode
        self.on_audience_url = on_audience_url
        self.token_file = token_file
        self.ca_file = ca_file
        self.watch_timeout_s = watch_timeout_s
        self.max_backoff_s = max_backoff_s
        self.synced = asyncio.Event()
        self.relists = 0
        self.last_error: str | None = None

    @property
    def _path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/configmaps"

    def _client(self) -> httpx.AsyncClient:
        headers = {"Accept": "application/json"}
        if self.token_file is not None and self.token_file.exists():
            headers["Authorization"] = f"Bearer {self.token_file.read_text().strip()}"
        verify: ssl.SSLContext | bool = False
        if self.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.AsyncClient(
            base_url=self.api_url,
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(10.0, read=self.watch_timeout_s + 30.0),
        )

    def _apply(self, obj: dict[str, Any]) -> None:
        # No `mode` key means quiz: `tubedemo up` creates the ConfigMap without data and
        # `tubedemo mode` owns the key.
        data = obj.get("data") or {}
        url = str(data.get("audience_url") or "").strip()
        if url and self.on_audience_url is not None:
            self.on_audience_url(url)  # recorded by `tubedemo up` from the load balancer
        mode = str(data.get("mode") or "quiz").strip()
        if mode in MODES:
            self.on_mode(mode)
        else:
            log.warning(
                "ConfigMap %s/%s has mode %r; expected quiz or survey",
                self.namespace,
                self.name,
                mode,
            )

    async def _list(self, client: httpx.AsyncClient) -> str:
        resp = await client.get(self._path, params={"fieldSelector": f"metadata.name={self.name}"})
        resp.raise_for_status()
        body = resp.json()
        for item in body.get("items", []):
            self._apply(item)
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    async def _watch(self, client: httpx.AsyncClient, rv: str) -> str:
        params = {
            "fieldSelector": f"metadata.name={self.name}",
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.watch_timeout_s),
        }
        async with client.stream("GET", self._path, params=params) as resp:
            if resp.status_code == 410:
                raise Gone()
            resp.raise_for_status()
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise RuntimeError(f"watch error: {obj.get('message')}")
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if kind in ("ADDED", "MODIFIED"):
                    self._apply(obj)
        return rv

    async def run(self, resource_version: str | None = None) -> None:
        """Follow the ConfigMap forever; resume from resource_version when given, else list."""
        backoff = 0.5
        rv = resource_version
        while True:
            try:
                async with self._client() as client:
                    if rv is None:
                        rv = await self._list(client)
                    while True:
                        rv = await self._watch(client, rv)
                        backoff = 0.5  # a watch that ended normally is healthy
            except Gone:
                log.info("watch of %s/%s expired (410); relisting", self.namespace, self.name)
                self.relists += 1
                rv = None
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any API/network failure: retry, never crash the gateway
                self.last_error = repr(exc)
                log.warning("mode watch failed (%r); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
