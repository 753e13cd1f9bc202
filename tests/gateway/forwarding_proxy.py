"""A real HTTP reverse proxy, run as its own process, that appends X-Forwarded-For.

It stands where the ALB (or ingress-nginx) stands in front of the gateway: it accepts phones on
one loopback address, connects to the gateway from another (`--source`), and forwards each
request with the peer's address appended to X-Forwarded-For, as both of those do (several
incoming X-Forwarded-For lines are joined first, like nginx's $proxy_add_x_forwarded_for).
Responses are streamed back chunk by chunk (SSE answers pass through as they come).

    python tests/gateway/forwarding_proxy.py --upstream http://127.0.0.1:PORT --source 127.0.0.1

prints `listening http://HOST:PORT` once it accepts connections; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import aiohttp
from aiohttp import web

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
    "x-forwarded-for",
}


def forwarded_for(request: web.Request) -> str:
    earlier = [v.strip() for v in request.headers.getall("X-Forwarded-For", []) if v.strip()]
    return ", ".join([*earlier, str(request.remote)])


async def serve(upstream: str, source: str, host: str) -> None:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(source, 0)), auto_decompress=False
    )

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = forwarded_for(request)
        body = await request.read()
        async with session.request(
            request.method,
            upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status)
            for key, value in answer.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await session.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--upstream", required=True, help="gateway base URL")
    p.add_argument("--source", default="127.0.0.1", help="address to connect to the gateway from")
    p.add_argument("--host", default="127.0.0.1", help="address to accept phones on")
    args = p.parse_args()
    asyncio.run(serve(args.upstream.rstrip("/"), args.source, args.host))


if __name__ == "__main__":
    main()
