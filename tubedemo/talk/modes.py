"""Flipping the audience page between quiz and survey, behind one small interface.

The show decides *when*; a ``ModeSwitcher`` does it: through the gateway's admin API (rehearsal,
local gateway, or a cluster whose gateway is reachable), or through the cluster's mode ConfigMap
(tubedemo.cluster) once that lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import httpx

from tubedemo.core.config import DemoConfig, Mode
from tubedemo.core.errors import ClusterError, GatewayError


class ModeSwitcher(Protocol):
    """Puts the audience page in a mode; raises a TubedemoError when it cannot."""

    def prepare(self) -> None:
        """Connect and check before the clock starts, so the first flip is on time."""

    def set_mode(self, mode: Mode) -> None: ...

    def describe(self) -> str: ...


class GatewayModeSwitcher:
    """POST /api/admin/mode on the gateway with the admin bearer token."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # One kept-alive connection: a flip is one small request on an open socket.
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def describe(self) -> str:
        return f"gateway {self.base_url}"

    def _request(
        self, method: str, path: str, what: str, body: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise GatewayError(
                f"cannot reach the gateway at {self.base_url} to {what}: {type(exc).__name__}; "
                "is it running? (--gateway URL)"
            ) from exc
        if response.status_code == 401:
            raise GatewayError(
                "the gateway refused the admin token (401); pass --admin-token or set "
                "TUBEDEMO_ADMIN_TOKEN"
            )
        return response

    def prepare(self) -> None:
        """Check that the gateway answers and takes the token before the clock starts."""
        response = self._request("GET", "/api/admin/sessions", "check the admin token")
        if response.status_code >= 400:
            raise GatewayError(
                f"the gateway at {self.base_url} answered HTTP {response.status_code} to an "
                "admin request; is this tubedemo's gateway?"
            )

    def set_mode(self, mode: Mode) -> None:
        response = self._request("POST", "/api/admin/mode", f"flip to {mode}", {"mode": mode})
        if response.status_code == 409:
            raise GatewayError(
                f"the gateway follows the mode ConfigMap and refused the flip to {mode}; "
                "flip through the cluster instead"
            )
        if response.status_code >= 400:
            raise GatewayError(
                f"the gateway refused the flip to {mode} (HTTP {response.status_code})"
            )


class NoModeSwitcher:
    """Leaves the page alone (--mode-via none): flips are only shown as cues."""

    def describe(self) -> str:
        return "none (flips shown, not made)"

    def prepare(self) -> None:
        return None

    def set_mode(self, mode: Mode) -> None:
        return None


class ClusterModeSwitcher:
    """Patches the gateway's mode ConfigMap through tubedemo.cluster (what `tubedemo mode` does).

    Connects on the first flip, so building one (e.g. for --dry-run) touches no cluster.
    """

    def __init__(
        self, cfg: DemoConfig, kubeconfig: Path | None = None, context: str | None = None
    ) -> None:
        self._cfg = cfg
        self._kubeconfig = kubeconfig
        self._context = context or cfg.cluster.context
        self._api: Any = None
        self._ref: Any = None

    def describe(self) -> str:
        return f"cluster ConfigMap ({self._context or 'current context'})"

    def prepare(self) -> None:
        """Render to find the ConfigMap and connect (a wrong kubeconfig fails here, at once)."""
        from tubedemo.cluster import up as up_ops
        from tubedemo.cluster.api import connect
        from tubedemo.manifests.render import render

        if self._ref is None:
            self._ref = up_ops.mode_configmap(render(self._cfg))
            if self._ref is None:
                raise ClusterError(
                    "the render has no mode ConfigMap (gateway TUBEDEMO_MODE_CONFIGMAP)"
                )
        if self._api is None:
            self._api = connect(self._kubeconfig, self._context)

    def set_mode(self, mode: Mode) -> None:
        from tubedemo.cluster import up as up_ops

        self.prepare()
        up_ops.set_mode(self._api, self._ref, mode)
