"""The one typed client for the gateway's admin and public API (docs/api.md).

Every command and loop that speaks to the gateway uses it: the audience commands (draw,
sessions, export, /config), the show's mode flips (``talk.modes.GatewayModeSwitcher``) and the
rehearsal's status strip (``rehearsal.rehearse.StatusPublisher``).

It reaches the gateway one of two ways, both giving the same `GatewayClient`:

- directly at a base URL (rehearsal: the local gateway), admin token as
  ``Authorization: Bearer``;
- in a cluster through the API server's service proxy (``tubedemo.cluster.gateway_proxy``
  builds the transport, ``tubedemo.commands.wiring`` the route), where the API server consumes
  ``Authorization`` for its own authentication and strips it, so the admin token travels in
  ``X-Tubedemo-Admin-Token``.

Imports only ``tubedemo.core`` (and httpx, pydantic).

Every failure becomes one ``GatewayError`` line that says what happened and what to do.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from tubedemo.core.errors import GatewayError

DEFAULT_TIMEOUT = 10.0
"""Seconds per request: a draw or an export is small; a stalled gateway must not hang the stage."""
LOCAL_ADMIN_TOKEN = "tubedemo-local"
"""The token a rehearsal gateway (TUBEDEMO_LOCAL=1) accepts when none was configured."""
ADMIN_TOKEN_HEADER = "X-Tubedemo-Admin-Token"
"""Header carrying the admin token where Authorization is taken (the API server's proxy)."""


class GatewayUnreachable(GatewayError):
    """No HTTP answer from the gateway (refused, timed out, DNS, TLS)."""


class AdminTokenRejected(GatewayError):
    """The gateway answered 401/403 to the admin token."""


class NoSubmissions(GatewayError):
    """A draw found nobody (left) to draw from (409 no_eligible_submissions)."""


class GatewayRefused(GatewayError):
    """Any other 4xx/5xx answer from the gateway."""


M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Winner(_Model):
    id: str
    name: str | None = None
    company: str | None = None


class Concentration(_Model):
    """One source address (a keyed hash, never the address) and what it keeps in the draw."""

    origin: str
    entries: int
    eligible: int


class Raffle(_Model):
    """The raffle before a draw: entries, how many the draw keeps, the most concentrated
    addresses (GET /api/admin/raffle)."""

    entries: int
    eligible: int
    origins: int
    room: int
    already_won: int = 0
    largest: tuple[Concentration, ...] = ()


class Draw(_Model):
    draw_id: str
    seed: int
    session: str
    winners: tuple[Winner, ...]
    raffle: Raffle | None = None


class PublicWinner(_Model):
    id: str
    name: str


class PublicWinners(_Model):
    session: str
    drawn: bool
    winners: tuple[PublicWinner, ...]


class TalkSession(_Model):
    id: str
    name: str | None = None
    created_at: str
    submissions: int = 0
    questions: int = 0
    archived: bool = False
    current: bool = False


EXPORT_COLUMNS = (
    "id",
    "client_id",
    "rating",
    "company",
    "name",
    "created_at",
    "updated_at",
    "winner",
)
_FORMULA_GUARD = ("'=", "'+", "'-", "'@")


class ExportRow(_Model):
    """One submission as the export CSV carries it (`winner`: the draw id that picked it)."""

    id: str
    client_id: str
    rating: int
    company: str
    name: str | None
    created_at: str
    updated_at: str
    winner: str | None


def parse_export(text: str) -> list[ExportRow]:
    """Read an export CSV back into submissions. Pure.

    The gateway prefixes cells that start with = + - @ with a quote so a spreadsheet does not
    run them as formulas; that quote is removed here, so what a person typed comes back.
    """
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != EXPORT_COLUMNS:
        raise GatewayRefused(
            f"the export has columns {reader.fieldnames}, expected {list(EXPORT_COLUMNS)}"
        )
    rows: list[ExportRow] = []
    for record in reader:
        cells = {k: _unguard(v or "") for k, v in record.items()}
        try:
            rows.append(
                ExportRow(
                    id=cells["id"],
                    client_id=cells["client_id"],
                    rating=int(cells["rating"]),
                    company=cells["company"],
                    name=cells["name"] or None,
                    created_at=cells["created_at"],
                    updated_at=cells["updated_at"],
                    winner=cells["winner"] or None,
                )
            )
        except (ValueError, ValidationError) as exc:
            raise GatewayRefused(
                f"export row {reader.line_num} is malformed: {record!r}"[:200]
            ) from exc
    return rows


def _unguard(value: str) -> str:
    return value[1:] if value.startswith(_FORMULA_GUARD) else value


@dataclass(frozen=True)
class Route:
    """How to reach one gateway: an httpx client ready to send, and where that is, in words."""

    http: httpx.Client
    where: str
    """E.g. 'http://127.0.0.1:8080' or 'service tubedemo/gateway via the API server at ...'."""
    admin_headers: Mapping[str, str]
    """Headers that carry the admin token on this route."""
    token_hint: str = (
        "pass the token the gateway was started with (--admin-token / TUBEDEMO_ADMIN_TOKEN)"
    )
    """What to do when the gateway refuses the token on this route."""
    source: str = ""
    """How this gateway was chosen, in words (a command's first line names it)."""
    unreachable_hint: str = (
        "start it (tubedemo rehearse) or check `tubedemo status` (cluster), or pass --gateway-url"
    )
    """What to do when nothing answers on this route."""


def direct_route(
    base_url: str,
    admin_token: str | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token_hint: str | None = None,
) -> Route:
    """A route straight to a gateway's base URL (rehearsal, or a port-forward); no token means
    the rehearsal gateway's local one. ``token_hint``: what to say when the token is refused."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise GatewayError(f"gateway URL {base_url!r} must start with http:// or https://")
    token = admin_token or LOCAL_ADMIN_TOKEN
    http = httpx.Client(base_url=url, timeout=timeout, follow_redirects=False, trust_env=False)
    route = Route(http=http, where=url, admin_headers={"Authorization": f"Bearer {token}"})
    return route if token_hint is None else replace(route, token_hint=token_hint)


class GatewayClient:
    """The gateway's API as typed methods. Use as a context manager to close the connection."""

    def __init__(self, route: Route) -> None:
        self.route = route

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.route.http.close()

    @property
    def where(self) -> str:
        return self.route.where

    # -- admin ---------------------------------------------------------------------------

    def draw(self, count: int, seed: int | None = None, *, redraw: bool = False) -> Draw:
        """Draw `count` winners (the session's latest draw again unless `redraw`)."""
        body = {"count": count, "seed": seed, "redraw": redraw}
        return _parse(Draw, self._admin("POST", "/api/admin/draw", json=body), "draw")

    def raffle(self) -> Raffle:
        """Entries, eligible entries and the most concentrated addresses, before a draw."""
        return _parse(Raffle, self._admin("GET", "/api/admin/raffle"), "raffle")

    def export_csv(self) -> str:
        """The current session's submissions with a `winner` column, as CSV text."""
        return self._admin("GET", "/api/admin/export.csv").text

    def new_session(self, name: str | None = None) -> TalkSession:
        """Archive the current talk session (kept whole) and start an empty one."""
        resp = self._admin("POST", "/api/admin/session", json={"name": name})
        return _parse(TalkSession, resp, "session")

    def check_admin(self) -> None:
        """One harmless admin request: the gateway answers and takes the token (before a show)."""
        self._admin("GET", "/api/admin/sessions")

    def set_mode(self, mode: str) -> None:
        """Flip the audience page (quiz | survey)."""
        resp = self._admin("POST", "/api/admin/mode", json={"mode": mode}, accept=(409,))
        if resp.status_code == 409:
            raise GatewayRefused(
                f"the gateway follows the mode ConfigMap and refused the flip to {mode}; "
                "flip through the cluster instead"
            )

    def set_forecast(
        self, steps: list[tuple[float, int]], warm: list[tuple[float, int]] | None = None
    ) -> None:
        """The timeline's forecast KEDA reads on GET /forecast: (unix seconds, replicas) steps;
        none: 0 from now on (POST /api/admin/forecast). ``warm``: the warm capacity's
        placeholder count the same way, served beside it."""
        body = {
            "steps": [{"at": at, "replicas": replicas} for at, replicas in steps],
            "warm": [{"at": at, "replicas": replicas} for at, replicas in warm or []],
        }
        self._admin("POST", "/api/admin/forecast", json=body)

    def post_status(self, body: Mapping[str, object]) -> None:
        """The phones' status strip (POST /api/admin/status)."""
        self._admin("POST", "/api/admin/status", json=body)

    def sessions(self) -> list[TalkSession]:
        """Every talk session, oldest first."""
        data = _json(self._admin("GET", "/api/admin/sessions"), "sessions")
        if not isinstance(data, list):
            raise GatewayRefused(f"the gateway at {self.where} sent an unexpected session list")
        try:
            return [TalkSession.model_validate(item) for item in data]
        except ValidationError as exc:
            raise GatewayRefused(
                f"the gateway at {self.where} sent an unexpected session list"
            ) from exc

    # -- public --------------------------------------------------------------------------

    def public_winners(self) -> PublicWinners:
        """What phones see: the latest draw's ids and display names."""
        return _parse(PublicWinners, self._send("GET", "/api/survey/winners"), "winners")

    def public_config(self) -> dict[str, Any]:
        """The page's /config (mode, title, audience_url, session)."""
        data = _json(self._send("GET", "/config"), "config")
        if not isinstance(data, dict):
            raise GatewayRefused(f"the gateway at {self.where} sent an unexpected /config")
        return data

    def public_status(self) -> dict[str, Any]:
        """The phones' status strip (/api/status): queue, replicas, GPU nodes, and whether the
        figures are fresh (``available``)."""
        data = _json(self._send("GET", "/api/status"), "status")
        if not isinstance(data, dict):
            raise GatewayRefused(f"the gateway at {self.where} sent an unexpected /api/status")
        return data

    # -- plumbing ------------------------------------------------------------------------

    def _admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._send(method, path, headers=dict(self.route.admin_headers), **kw)

    def _send(
        self, method: str, path: str, *, accept: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        """The response when 2xx (or a status in ``accept``); else one-line GatewayErrors."""
        try:
            resp = self.route.http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise GatewayUnreachable(
                f"the gateway at {self.where} did not answer {method} {path} in time; "
                "check it is running (tubedemo status) and retry"
            ) from exc
        except httpx.HTTPError as exc:
            raise GatewayUnreachable(
                f"cannot reach the gateway at {self.where} ({_reason(exc)}); "
                f"{self.route.unreachable_hint}"
            ) from exc
        if resp.is_success or resp.status_code in accept:
            return resp
        raise _refusal(resp, method, path, self.where, self.route.token_hint)


def _refusal(
    resp: httpx.Response, method: str, path: str, where: str, token_hint: str
) -> GatewayError:
    """One line for a non-2xx gateway answer. Pure."""
    message, code = _error_fields(resp)
    status = resp.status_code
    if status in (401, 403):
        return AdminTokenRejected(
            f"the gateway at {where} refused the admin token ({status}); {token_hint}"
        )
    if status == 409 and code == "no_eligible_submissions":
        return NoSubmissions(
            "no survey submissions to draw from in this session (or everyone has won already); "
            "open the survey (tubedemo mode survey) and let the room submit first"
        )
    detail = f": {message}" if message else ""
    return GatewayRefused(f"the gateway at {where} answered {status} to {method} {path}{detail}")


def _error_fields(resp: httpx.Response) -> tuple[str, str | None]:
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = resp.text.strip().splitlines()
        return (text[0][:200] if text else ""), None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return str(error.get("message") or ""), str(code) if code is not None else None
    if isinstance(body, dict) and "message" in body:
        return str(body["message"]), None
    return "", None


def _json(resp: httpx.Response, what: str) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GatewayRefused(
            f"the gateway at {resp.request.url.host or '?'} sent no JSON for {what}; "
            "is that URL really the tubedemo gateway?"
        ) from exc


def _parse(model: type[M], resp: httpx.Response, what: str) -> M:
    data = _json(resp, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GatewayRefused(
            f"the gateway sent an unexpected {what} answer; are the CLI and the gateway the "
            "same version?"
        ) from exc


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc).strip() or type(exc).__name__
    for marker in ("Connection refused", "Name or service not known", "certificate", "reset"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text.splitlines()[0][:160]
