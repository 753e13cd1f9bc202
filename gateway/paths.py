"""What is not the audience's is not served on the audience's port.

`/api/admin`, `/metrics`, `/readyz` and `/openapi.json` are for the presenter's CLI (through
the API server's service proxy), the kubelet and the dashboard. With an internal port
(settings.internal_port) they are served there only: a request for one on any other port is
answered 404, whatever the load balancer in front (an NLB passes every path; it is L4). The
public Service does not expose the internal port (templates/gateway.yaml.j2).

Without one (a laptop), they must at least not be reachable in disguise: the ALB's rules
(templates/ingress.yaml.j2) turn them away by their path as sent; the server decodes
percent-escapes before routing, so `/%6Detrics` would pass the ALB's rule and still reach
`/metrics`. No client of these paths escapes them, so a request that reaches one only after
decoding is answered 404. Pure ASGI, like every middleware here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import error_bytes

NOT_PUBLIC_PREFIXES = ("/api/admin",)
NOT_PUBLIC = frozenset({"/metrics", "/readyz", "/openapi.json"})


def not_public(path: str) -> bool:
    """A path the load balancer refuses. Pure."""
    return path in NOT_PUBLIC or any(
        path == p or path.startswith(p + "/") for p in NOT_PUBLIC_PREFIXES
    )


def disguised(path: str, raw_path: bytes | None) -> bool:
    """True when `path` is not public but was sent encoded, so the balancer did not see it."""
    if raw_path is None or not not_public(path):
        return False
    return raw_path.split(b"?", 1)[0].decode("latin-1") != path


def refused(path: str, raw_path: bytes | None, port: int | None, internal_port: int | None) -> bool:
    """Whether a request for ``path`` that arrived on ``port`` (the listener's, None when
    unknown) is answered 404: a disguised non-public path anywhere; any non-public path off the
    internal port, when there is one. Pure."""
    if disguised(path, raw_path):
        return True
    return internal_port is not None and port != internal_port and not_public(path)


class DisguisedPaths:
    """404 for what `refused` refuses. ``internal_port``: the listener that serves every path
    (its bound port, for a port chosen by the OS), None when one port serves everything."""

    def __init__(self, app: ASGIApp, internal_port: int | None = None) -> None:
        self.app = app
        self.internal_port = internal_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        port = server[1] if server else None
        if scope["type"] == "http" and refused(
            scope["path"], scope.get("raw_path"), port, self.internal_port
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            body = error_bytes("not found", "not_found_error", None)
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
