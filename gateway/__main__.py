"""`python -m gateway --port P --upstream URL --store DIR [--mode quiz|survey] [--admin-token T]`.

Flags override the TUBEDEMO_* environment (README, "Gateway"). Bad settings print one line
and exit 2; nothing is started.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gateway.settings import SettingsError, load_settings


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway", description=__doc__.splitlines()[0])
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (0 = any free port)")
    p.add_argument("--upstream", help="OpenAI-compatible model server base URL")
    p.add_argument("--store", type=Path, help="local store directory")
    p.add_argument("--mode", choices=("quiz", "survey"), help="audience mode at start")
    p.add_argument("--admin-token", help="bearer token for /api/admin/*")
    p.add_argument("--upstream-client", choices=("httpx", "aiohttp"), help="upstream HTTP client")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            upstream=args.upstream,
            store=args.store,
            mode=args.mode,
            admin_token=args.admin_token,
            upstream_client=args.upstream_client,
        )
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from gateway.app import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        # uvicorn would rewrite the client address from X-Forwarded-For itself; the gateway
        # does that only for its configured trusted proxies (limits.ClientAddress).
        proxy_headers=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
        # Keep-alive above typical ingress idle timeouts so the ingress never reuses a dead socket.
        timeout_keep_alive=75,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
