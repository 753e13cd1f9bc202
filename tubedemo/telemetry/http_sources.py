"""HTTP feeds: vLLM /metrics of every replica and the gateway's /metrics, /config and survey count.

The only side effects here are HTTP GETs with short timeouts; parsing is in ``prometheus``.
Scraping through the Kubernetes API server (pod proxy) is done by a fetch function from
``tubedemo.cluster``; this module never imports the Kubernetes client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from tubedemo.telemetry.assembler import GatewayReading, KubeReading, MetricsTarget
from tubedemo.telemetry.prometheus import EngineSample, parse_gateway, parse_vllm
from tubedemo.telemetry.snapshot import HpaState, Interruption, NodeState, ReplicaState

Fetch = Callable[[MetricsTarget, float], str]
"""Returns the /metrics text of one target within the timeout (seconds), or raises."""


class HttpMetricsFeed:
    """Scrapes every target concurrently; a slow or failing pod only affects its own entry."""

    def __init__(self, proxy_fetch: Fetch | None = None, timeout: float = 2.0) -> None:
        self._proxy_fetch = proxy_fetch
        self._timeout = timeout
        self._http = httpx.Client(timeout=timeout)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="scrape")

    def _fetch(self, target: MetricsTarget) -> EngineSample | Exception:
        try:
            if target.url is not None:
                response = self._http.get(target.url)
                response.raise_for_status()
                text = response.text
            elif self._proxy_fetch is not None:
                text = self._proxy_fetch(target, self._timeout)
            else:
                raise ValueError(f"no way to reach {target.name}: neither URL nor pod proxy")
            return parse_vllm(text)
        except Exception as exc:  # reported per pod, never raised into the tick
            return exc

    def scrape(self, targets: tuple[MetricsTarget, ...]) -> Mapping[str, EngineSample | Exception]:
        results = self._pool.map(self._fetch, targets)
        return {t.name: r for t, r in zip(targets, results, strict=True)}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


class HttpGatewayFeed:
    """Reads the gateway's public endpoints: /metrics, /config (mode), /api/survey/results."""

    def __init__(
        self, base_url: str, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        # transport: e.g. the API server's service proxy (tubedemo.cluster.gateway_proxy), so a
        # gateway without a public address can still be read
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, trust_env=False
        )

    def _json(self, path: str) -> dict[str, Any]:
        response = self._http.get(path)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return body

    def read(self) -> GatewayReading:
        metrics = self._http.get("/metrics")
        metrics.raise_for_status()
        sample = parse_gateway(metrics.text)
        mode = self._json("/config").get("mode")
        results = self._json("/api/survey/results")
        total = results.get("total", 0)
        return GatewayReading(
            sample=sample,
            mode=mode if mode in ("quiz", "survey") else None,
            survey_count=int(total) if isinstance(total, int) else 0,
        )

    def close(self) -> None:
        self._http.close()


class TwinStateFeed:
    """The rehearsal's fleet simulator (``GET /twin/state``) in place of the Kubernetes watches.

    The simulator reports replicas, nodes and the HPA in the Snapshot's own shapes, plus one
    /metrics URL per serving replica and its simulated clock (``time_s``), which the assembler
    uses as the talk clock so a sped-up rehearsal shows simulated minutes.
    """

    def __init__(self, base_url: str, timeout: float = 2.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._base = base_url.rstrip("/")
        self.time_s: float = 0.0

    def read(self, now: datetime) -> KubeReading:
        response = self._http.get("/twin/state")
        response.raise_for_status()
        body = response.json()
        self.time_s = float(body.get("time_s", 0.0))
        targets = tuple(
            MetricsTarget(name=str(t["name"]), url=urljoin(self._base + "/", str(t["url"])))
            for t in body.get("targets") or []
        )
        return KubeReading(
            replicas=ReplicaState.model_validate(body["replicas"]),
            nodes=NodeState.model_validate(body["nodes"]),
            hpa=HpaState.model_validate(body["hpa"]),
            targets=targets,
            interruptions=tuple(
                Interruption.model_validate(i) for i in body.get("interruptions") or ()
            ),
        )

    def talk_time(self, now: datetime) -> float:
        return self.time_s

    def close(self) -> None:
        self._http.close()
