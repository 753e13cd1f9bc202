"""The dashboard's "Kubernetes" feed in a rehearsal: the fleet simulator's /twin/state.

It satisfies ``tubedemo.telemetry.assembler.KubeFeed``, so the rehearsal's dashboard is the same
Assembler and render as on stage; only the source of pods, nodes and HPA differs. Scrape
targets are the simulated replicas' /metrics URLs.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from tubedemo.telemetry.assembler import KubeReading, MetricsTarget
from tubedemo.telemetry.snapshot import HpaState, NodeState, ReplicaState


class TwinStateFeed:
    def __init__(self, base_url: str, timeout: float = 2.0) -> None:
        self.url = base_url.rstrip("/") + "/twin/state"
        self._http = httpx.Client(timeout=timeout)

    def read(self, now: datetime) -> KubeReading:
        response = self._http.get(self.url)
        response.raise_for_status()
        state = response.json()
        return KubeReading(
            replicas=ReplicaState.model_validate(state["replicas"]),
            nodes=NodeState.model_validate(state["nodes"]),
            hpa=HpaState.model_validate(state["hpa"]),
            targets=tuple(
                MetricsTarget(name=t["name"], url=t["url"]) for t in state.get("targets", [])
            ),
        )

    def close(self) -> None:
        self._http.close()
