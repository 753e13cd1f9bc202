"""`python -m gateway --port P [--internal-port I] --upstream URL --store DIR [--mode quiz|survey]
[--admin-token T]`.

Flags override the TUBEDEMO_* environment (README, "Gateway"). Bad settings print one line
and exit 2; nothing is started. With an internal port, one server (one lifespan, one set of
signal handlers) listens on both sockets; it logs "Uvicorn running on" the public one, as
uvicorn does, then "internal paths on" the other.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from gateway.settings import SettingsError, load_settings


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway", description=__doc__.splitlines()[0])
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (0 = any free port)")
    p.add_argument(
        "--internal-port",
        type=int,
        help="second TCP port, the only one serving /api/admin/*, /metrics, /readyz, /openapi.json",
    )
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
            internal_port=args.internal_port,
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
    sockets: list[socket.socket] | None = None
    if settings.internal_port is not None:
        try:
            sockets = [
                _bind(settings.host, settings.port),
                _bind(settings.host, settings.internal_port),
            ]
        except OSError as exc:
            print(f"gateway: cannot listen on {settings.host}: {exc}", file=sys.stderr)
            return 2
        # the ports as bound (0 asks the OS for one): the app decides by the listener's port
        ports = [s.getsockname()[1] for s in sockets]
        settings = settings.model_copy(update={"port": ports[0], "internal_port": ports[1]})
    app = create_app(settings)
    config = uvicorn.Config(
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
    server = uvicorn.Server(config)
    if sockets is None:
        server.run()
        return 0 if server.started else 3  # uvicorn.run's STARTUP_FAILURE
    log = logging.getLogger("uvicorn.error")
    # uvicorn logs no address for sockets handed to it; these lines say what it would
    log.info("Uvicorn running on http://%s:%d (public)", settings.host, settings.port)
    log.info("internal paths on http://%s:%d", settings.host, settings.internal_port)
    server.run(sockets=sockets)
    return 0 if server.started else 3  # uvicorn.run's STARTUP_FAILURE


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, as uvicorn binds its own (SO_REUSEADDR, IPv6 for a v6 host;
    2048: uvicorn's default backlog)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # listening now: a client told the address below waits in the backlog until the server
    # accepts, instead of being refused
    sock.listen(2048)
    return sock


if __name__ == "__main__":
    sys.exit(main())
