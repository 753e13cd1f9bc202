"""A collector outage on the lab: the real collector feeds the scaler stand-in (which answers 0,
not an error, for series gone stale, as the Kedify scaler does), the real KEDA and HPA decide.
Stopping the collector must not scale vLLM down to its minimum: the heartbeat trigger reads 0
and the formula holds scaling.fallback.replicas, which the HPA then asks for."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.conftest import wait_until
from tests.prepared import unavailable
from tubedemo.lab import Lab, binaries
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions

from .conftest import SPEED, desired_replicas, prepared_talk

pytestmark = pytest.mark.integration


def test_stopping_the_collector_makes_the_hpa_hold_the_fallback_replicas(
    lab: Lab, tmp_path: Path
) -> None:
    if binaries.otelcol() is None:
        unavailable("OpenTelemetry Collector not built", "otelcol")
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    cfg = prepared_talk(namespace, replicas=4, scaling={"fallback": {"replicas": 3}})
    lines: list[str] = []
    options = SessionOptions(
        speed=SPEED, workdir=tmp_path / "run", out_dir=tmp_path, audience=False
    )
    with LabSession(cfg, options, report=lines.append, lab=lab) as session:
        assert session.collector is not None, "\n".join(lines)
        api = config.new_client_from_config(config_file=str(session.kubeconfig))
        hpas = client.AutoscalingV2Api(api)

        def desired() -> int:
            return desired_replicas(hpas, namespace)

        # an idle room with the collector running: the minimum (the heartbeat arrives)
        wait_until("KEDA's HPA to want the minimum", lambda: desired() == 1, timeout=60)
        session.collector.stop()  # every collector gone: the scaler's series go stale
        wait_until(
            "the HPA to hold scaling.fallback.replicas after the collector stopped",
            lambda: desired() == 3,
            timeout=120,
        )
