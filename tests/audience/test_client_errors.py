"""Failures the real gateway cannot be made to produce on demand (5xx, not-a-gateway answers).

A stand-in HTTP server on loopback (a real server, not the gateway) answers with a chosen
status and body; the client must turn each into one GatewayError line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tubedemo.audience.gateway_client import (
    AdminTokenRejected,
    GatewayClient,
    GatewayRefused,
    NoSubmissions,
    direct_route,
    parse_export,
)
from tubedemo.cluster.gateway_proxy import api_status, explain_status, proxy_path
from tubedemo.core.errors import ClusterError, GatewayError

ANSWER: dict[str, tuple[int, str, bytes]] = {}


class _StandIn(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        status, ctype, body = ANSWER["next"]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _client(url: str) -> GatewayClient:
    return GatewayClient(direct_route(url, "t"))


def test_a_gateway_5xx_is_one_line_with_its_message(stand_in: str) -> None:
    body = b'{"error": {"message": "store unavailable", "type": "x", "code": null}}'
    ANSWER["next"] = (503, "application/json", body)
    with pytest.raises(GatewayRefused) as exc, _client(stand_in) as gw:
        gw.draw(2)
    assert exc.value.message.endswith("answered 503 to POST /api/admin/draw: store unavailable")
    assert "\n" not in exc.value.message


def test_something_that_is_not_the_gateway_is_named_as_such(stand_in: str) -> None:
    ANSWER["next"] = (200, "text/html", b"<html>hello</html>")
    with (
        pytest.raises(GatewayRefused, match="really the tubedemo gateway"),
        _client(stand_in) as gw,
    ):
        gw.sessions()


def test_403_counts_as_a_wrong_token(stand_in: str) -> None:
    ANSWER["next"] = (403, "text/plain", b"nope")
    with pytest.raises(AdminTokenRejected), _client(stand_in) as gw:
        gw.export_csv()


def test_409_for_another_reason_is_not_no_submissions(stand_in: str) -> None:
    body = b'{"error": {"message": "mode follows the ConfigMap", "code": "mode_from_configmap"}}'
    ANSWER["next"] = (409, "application/json", body)
    with pytest.raises(GatewayError) as exc, _client(stand_in) as gw:
        gw.draw(1)
    assert not isinstance(exc.value, NoSubmissions)


def test_a_url_without_scheme_is_refused() -> None:
    with pytest.raises(GatewayError, match="http://"):
        direct_route("localhost:8080", None)


def test_an_export_with_other_columns_is_refused() -> None:
    with pytest.raises(GatewayRefused, match="columns"):
        parse_export("a,b\n1,2\n")


def test_proxy_path_escapes_names() -> None:
    assert proxy_path("talk ns") == (
        "/api/v1/namespaces/talk%20ns/services/gateway-internal:internal/proxy"
    )


def test_only_the_api_servers_status_objects_are_taken_for_its_errors() -> None:
    status = (
        b'{"kind": "Status", "apiVersion": "v1", "message": "services \\"gateway\\" not found"}'
    )
    assert api_status("application/json", status) is not None
    gateway_error = b'{"error": {"message": "unauthorized"}}'
    assert api_status("application/json", gateway_error) is None
    assert api_status("text/plain", status) is None


def test_api_server_refusals_become_one_line_each() -> None:
    args = {"namespace": "ns", "service": "gateway", "server": "https://k"}
    assert isinstance(explain_status({"message": "x"}, 401, **args), ClusterError)
    forbidden = explain_status({"message": "no"}, 403, **args)
    assert "services/proxy" in str(forbidden)
    assert "tubedemo up" in str(explain_status({"message": "not found"}, 404, **args))
    assert "not answering" in str(explain_status({"message": "no endpoints"}, 503, **args))
