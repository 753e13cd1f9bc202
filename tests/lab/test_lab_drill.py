"""The spot drill on the lab, end to end with the real controllers: the node of a serving
replica is interrupted as Karpenter does on EC2's notice (its NodeClaim deleted), the replica
drains, Karpenter launches a node for the replacement and the replacement serves (which node
the drill picks, pure: test_lab_drill_pick.py)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tubedemo.cluster.api import connect
from tubedemo.lab import Lab
from tubedemo.lab.drill import NODECLAIM_API, VLLM_SELECTOR, interrupt
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions
from tubedemo.twin.startup import new_node_seconds

from .conftest import SPEED, prepared_talk

pytestmark = pytest.mark.integration


def _ready_nodes(api: Any, namespace: str) -> dict[str, str]:
    """Ready vLLM pod -> its node."""
    out = {}
    for pod in api.list("v1", "Pod", namespace, VLLM_SELECTOR):
        conditions = pod.get("status", {}).get("conditions") or []
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        if ready and not pod["metadata"].get("deletionTimestamp"):
            out[pod["metadata"]["name"]] = pod["spec"].get("nodeName", "")
    return out


def test_the_drill_interrupts_a_replicas_node_and_a_replacement_serves(
    lab: Lab, tmp_path: Path
) -> None:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    cfg = prepared_talk(namespace, replicas=2)
    lines: list[str] = []
    options = SessionOptions(
        speed=SPEED, workdir=tmp_path / "run", out_dir=tmp_path, audience=False
    )
    with LabSession(cfg, options, report=lines.append, lab=lab) as session:
        api = connect(session.kubeconfig)
        before = wait_until("one replica serving", lambda: _ready_nodes(api, namespace), 60)
        drill = interrupt(api, namespace)
        assert drill is not None, "\n".join(lines)
        began = time.monotonic()
        assert set(drill.pods) == set(before) and drill.node in before.values()

        def elsewhere() -> dict[str, str]:
            return {p: n for p, n in _ready_nodes(api, namespace).items() if n != drill.node}

        replacement = wait_until("a replacement serving on another node", elsewhere, 180)
        took = (time.monotonic() - began) * SPEED  # talk seconds
        assert not set(replacement) & set(drill.pods)

        def claim_gone() -> bool:
            names = {c["metadata"]["name"] for c in api.list(NODECLAIM_API, "NodeClaim")}
            return drill.nodeclaim not in names

        wait_until("the interrupted NodeClaim gone", claim_gone, timeout=60)
        # a new node, then a pod's start-up: the twin's figures (the KWOK stages' delays)
        assert took >= new_node_seconds(cfg) - 30, took
