"""What the load balancer answers 404 for must not be reachable in disguise.

The ALB's rules (templates/ingress.yaml.j2) turn `/api/admin`, `/metrics`, `/readyz` and
`/openapi.json` away by their path as sent; the server decodes percent-escapes before routing,
so `/%6Detrics` would pass the ALB's rule and still reach `/metrics`. No client of these paths
(the CLI through the API server, the kubelet, the dashboard) escapes them, so a request that
reaches one only after decoding is answered 404 here. Pure ASGI, like every middleware here.
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


class DisguisedPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and disguised(scope["path"], scope.get("raw_path")):
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
