"""The one pooled HTTP client to the model server, behind a small interface.

Two backends (httpx and aiohttp) exist so the benchmark can choose by numbers; both map their
failures onto the three errors below, which the proxy turns into OpenAI-style errors.
`aclose()` on an unfinished response closes the connection itself (not back to the pool), so
vLLM sees the disconnect and frees the slot at once.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any


class UpstreamError(Exception):
    """A failure of the model server. `str()` carries the details (host, port, the client
    library's error) for the gateway's log; phones only ever see `public`."""

    status = 502
    code = "upstream_error"
    public = "the model server failed; please try again"


class UpstreamUnavailable(UpstreamError):
    """Could not connect (no replica, scaled to zero, refused)."""

    status = 503
    code = "upstream_unavailable"
    public = "the model server is not reachable right now; please try again shortly"


class UpstreamTimeout(UpstreamError):
    """Connected, but the model server went silent for longer than the read timeout."""

    status = 504
    code = "upstream_timeout"
    public = "the model server took too long to answer; please try again"


class UpstreamBroken(UpstreamError):
    """The model server closed the connection or sent a broken response."""

    status = 502
    code = "upstream_disconnected"
    public = "the model server stopped answering; please try again"


class UpstreamResponse(abc.ABC):
    status: int
    content_type: str

    @abc.abstractmethod
    def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; raises UpstreamError subclasses."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """The whole body."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the response; an unfinished one closes its connection."""


class Upstream(abc.ABC):
    @abc.abstractmethod
    async def open(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> UpstreamResponse:
        """Send a request, return once the response headers are in."""

    @abc.abstractmethod
    async def close(self) -> None: ...


# ---------------------------------------------------------------- httpx


class _HttpxResponse(UpstreamResponse):
    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self.status = resp.status_code
        self.content_type = resp.headers.get("content-type", "application/json")

    async def chunks(self) -> AsyncIterator[bytes]:
        import httpx

        try:
            async for chunk in self._resp.aiter_raw():
                yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the model server stopped sending") from exc
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise UpstreamBroken(f"the model server broke the stream: {exc!r}") from exc

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    async def aclose(self) -> None:
        await self._resp.aclose()


def _auth(api_key: str) -> dict[str, str]:
    """The model server's bearer key on every request (vLLM's --api-key / VLLM_API_KEY)."""
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


class HttpxUpstream(Upstream):
    def __init__(
        self, base_url: str, connect_s: float, read_s: float, max_conn: int, api_key: str = ""
    ) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s),
            limits=httpx.Limits(max_connections=max_conn, max_keepalive_connections=max_conn),
            headers=_auth(api_key),
        )

    async def open(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> UpstreamResponse:
        httpx = self._httpx
        request = self._client.build_request(method, path, content=body, headers=headers)
        try:
            resp = await self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise UpstreamUnavailable(f"cannot reach the model server: {exc!r}") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the model server did not answer in time") from exc
        except httpx.TransportError as exc:
            raise UpstreamBroken(f"the model server closed the connection: {exc!r}") from exc
        return _HttpxResponse(resp)

    async def close(self) -> None:
        await self._client.aclose()


# ---------------------------------------------------------------- aiohttp


class _AiohttpResponse(UpstreamResponse):
    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self.status = resp.status
        self.content_type = resp.headers.get("content-type", "application/json")

    async def chunks(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the model server stopped sending") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamBroken(f"the model server broke the stream: {exc!r}") from exc

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    async def aclose(self) -> None:
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


class AiohttpUpstream(Upstream):
    def __init__(
        self, base_url: str, connect_s: float, read_s: float, max_conn: int, api_key: str = ""
    ) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_conn, ttl_dns_cache=30),
            timeout=aiohttp.ClientTimeout(total=None, connect=connect_s, sock_read=read_s),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
            headers=_auth(api_key),
        )

    async def open(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> UpstreamResponse:
        aiohttp = self._aiohttp
        try:
            resp = await self._session.request(
                method, self._base + path, data=body, headers=headers
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise UpstreamUnavailable(f"cannot reach the model server: {exc!r}") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the model server did not answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamBroken(f"the model server closed the connection: {exc!r}") from exc
        return _AiohttpResponse(resp)

    async def close(self) -> None:
        await self._session.close()


def make_upstream(
    kind: str, base_url: str, connect_s: float, read_s: float, max_conn: int, api_key: str = ""
) -> Upstream:
    cls = AiohttpUpstream if kind == "aiohttp" else HttpxUpstream
    return cls(base_url, connect_s, read_s, max_conn, api_key)
