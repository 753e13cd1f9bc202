"""No exposure mode publishes what is not the audience's (issue #23: "the NLB exposure mode has
no path-level 404"). An NLB is L4 and passes every path, so the gateway serves `/api/admin/*`,
`/metrics`, `/readyz` and `/openapi.json` on an internal port only (`--internal-port`) and
answers 404 for them on the public one; the rendered public Service exposes the public port
only, a ClusterIP Service the internal one (the CLI's route through the API server).

The real `python -m gateway` on loopback (tests/gateway_proc.py), and the rendered manifests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway_proc import ADMIN_TOKEN, running_gateway
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

NOT_PUBLIC = ["/metrics", "/readyz", "/openapi.json", "/api/admin/questions"]
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, headers=BEARER, timeout=10, trust_env=False)


def test_with_an_internal_port_the_public_port_answers_404_for_what_is_not_the_audiences(
    tmp_path: Path,
) -> None:
    with running_gateway(tmp_path, internal=True) as gw:
        assert gw.internal_port is not None and gw.internal_port != gw.port
        for path in NOT_PUBLIC:
            public = _get(gw.url, path)
            assert public.status_code == 404, (path, public.text)
            assert public.json()["error"]["type"] == "not_found_error"
            assert _get(gw.internal_url, path).status_code == 200, path
        # the admin token does not open the public port either, nor does a trailing path
        assert _get(gw.url, "/api/admin/sessions").status_code == 404
        # the audience's paths are still served on the public port
        assert _get(gw.url, "/config").status_code == 200
        assert _get(gw.url, "/healthz").status_code == 200
        assert httpx.post(gw.url + "/api/identity", timeout=10).status_code == 200


def test_without_an_internal_port_one_port_serves_everything_as_on_a_laptop(
    tmp_path: Path,
) -> None:
    with running_gateway(tmp_path) as gw:
        assert gw.internal_port is None
        for path in NOT_PUBLIC:
            assert _get(gw.url, path).status_code == 200, path


def test_an_internal_port_equal_to_the_public_one_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--port=18080", "--internal-port=18080",
         f"--store={tmp_path}", "--admin-token=some-secret-token-123"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal_port" in lines[0], result.stderr


def _objects(exposure: str) -> dict[tuple[str, str], dict[str, Any]]:
    raw = {"profile": "eks", "web": {"exposure": exposure}}
    return {(o["kind"], o["metadata"]["name"]): o for o in render(config_from_dict(raw))}


@pytest.mark.parametrize("exposure", ["loadbalancer", "ingress", "none"])
def test_the_public_service_exposes_only_the_public_port_and_the_internal_one_stays_inside(
    exposure: str,
) -> None:
    objs = _objects(exposure)
    pod = objs[("Deployment", "gateway")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(ports) == {"http", "internal"} and ports["http"] != ports["internal"]
    assert f"--internal-port={ports['internal']}" in container["args"]
    assert f"--port={ports['http']}" in container["args"]
    public = objs[("Service", "gateway")]["spec"]
    assert [p["targetPort"] for p in public["ports"]] == ["http"]
    internal = objs[("Service", "gateway-internal")]["spec"]
    assert internal.get("type", "ClusterIP") == "ClusterIP"
    assert [(p["name"], p["targetPort"]) for p in internal["ports"]] == [("internal", "internal")]
    assert internal["selector"] == public["selector"]
    # the kubelet asks /readyz where it is served
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "internal"}


def test_the_albs_health_check_asks_the_internal_port() -> None:
    objs = _objects("ingress")
    (container,) = objs[("Deployment", "gateway")]["spec"]["template"]["spec"]["containers"]
    internal = next(p["containerPort"] for p in container["ports"] if p["name"] == "internal")
    notes = objs[("Ingress", "gateway")]["metadata"]["annotations"]
    assert notes["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
    assert notes["alb.ingress.kubernetes.io/healthcheck-port"] == str(internal)
