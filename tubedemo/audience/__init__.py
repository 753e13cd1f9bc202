"""What the audience touches from the presenter's side: the gateway admin client, the winner
reveal, the QR code and the audience URL.

The face: ``from tubedemo.audience import GatewayClient, direct_route, Draw, ...`` (``FACE``
below, each name imported on first use, so the QR code does not load the HTTP client).

Modules: ``gateway_client`` (the one typed client of the gateway's admin and public API: mode,
draw, sessions, export), ``reveal`` (the on-stage winner reveal), ``qr`` (the QR code in the
terminal and as a PNG), ``audience_url`` (which URL the QR code shows, and whether phones can
reach it), ``stage`` (where a running rehearsal's gateway is: the local stage file the
other commands find it by).

May import tubedemo.core only (httpx and pydantic for the client). How a command reaches the
in-cluster gateway (cluster proxy + this client) is wired in tubedemo.commands.wiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tubedemo.core.face import lazy_face

if TYPE_CHECKING:  # the face's names for mypy (explicit re-exports)
    from tubedemo.audience.audience_url import discovered as discovered
    from tubedemo.audience.audience_url import phones_cannot_reach as phones_cannot_reach
    from tubedemo.audience.gateway_client import AdminTokenRejected as AdminTokenRejected
    from tubedemo.audience.gateway_client import Draw as Draw
    from tubedemo.audience.gateway_client import ExportRow as ExportRow
    from tubedemo.audience.gateway_client import GatewayClient as GatewayClient
    from tubedemo.audience.gateway_client import GatewayRefused as GatewayRefused
    from tubedemo.audience.gateway_client import GatewayUnreachable as GatewayUnreachable
    from tubedemo.audience.gateway_client import NoSubmissions as NoSubmissions
    from tubedemo.audience.gateway_client import TalkSession as TalkSession
    from tubedemo.audience.gateway_client import direct_route as direct_route
    from tubedemo.audience.gateway_client import parse_export as parse_export
    from tubedemo.audience.stage import Stage as Stage
    from tubedemo.audience.stage import running_rehearsal as running_rehearsal

FACE = {
    "AdminTokenRejected": "gateway_client",
    "Draw": "gateway_client",
    "ExportRow": "gateway_client",
    "GatewayClient": "gateway_client",
    "GatewayRefused": "gateway_client",
    "GatewayUnreachable": "gateway_client",
    "NoSubmissions": "gateway_client",
    "TalkSession": "gateway_client",
    "direct_route": "gateway_client",
    "parse_export": "gateway_client",
    "discovered": "audience_url",
    "phones_cannot_reach": "audience_url",
    "Stage": "stage",
    "running_rehearsal": "stage",
}
"""The public names and the module each comes from, imported on first use (core.face)."""

__all__ = sorted(FACE)
__getattr__ = lazy_face(__name__, FACE)
