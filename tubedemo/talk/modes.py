"""Flipping the audience page between quiz and survey, behind one small interface.

The show decides *when*; a ``ModeSwitcher`` does it: through the gateway's admin API (rehearsal,
local gateway, or a cluster whose gateway is reachable), or through the cluster's mode ConfigMap
(tubedemo.cluster) once that lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from tubedemo.audience.gateway_client import GatewayClient, direct_route
from tubedemo.core.config import DemoConfig, Mode
from tubedemo.core.errors import ClusterError


class ModeSwitcher(Protocol):
    """Puts the audience page in a mode; raises a TubedemoError when it cannot."""

    def prepare(self) -> None:
        """Connect and check before the clock starts, so the first flip is on time."""

    def set_mode(self, mode: Mode) -> None: ...

    def describe(self) -> str: ...


class GatewayModeSwitcher:
    """POST /api/admin/mode on the gateway with the admin bearer token (the gateway client)."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        # One kept-alive connection: a flip is one small request on an open socket.
        self._client = GatewayClient(
            direct_route(
                self.base_url,
                token,
                timeout=timeout,
                token_hint="pass --admin-token or set TUBEDEMO_ADMIN_TOKEN",
            )
        )

    def describe(self) -> str:
        return f"gateway {self.base_url}"

    def prepare(self) -> None:
        """Check that the gateway answers and takes the token before the clock starts."""
        self._client.check_admin()

    def set_mode(self, mode: Mode) -> None:
        self._client.set_mode(mode)

    def close(self) -> None:
        self._client.close()


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
