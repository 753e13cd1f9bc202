"""Fixtures for the lab's integration tests: one lab (control plane, KEDA, Karpenter with its
KWOK provider) per session at speed 10, from the binaries scripts/build-controlplane and
scripts/build-lab made.

The lab's build is an optional step of scripts/prepare-tests (too slow for cold CI on two
cores): the tests run whenever its binaries are cached, and skip otherwise, also under
`make test`; `nox -s lab` builds them and sets TUBEDEMO_REQUIRE_LAB=1, so there a missing
build fails."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.prepared import unavailable
from tubedemo.cluster.api import Api, connect
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import TubedemoError
from tubedemo.lab import Lab, LabOptions, binaries
from tubedemo.twin.startup import resolved_startup

SPEED = 10.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        # integration: everything that runs a lab (the session fixture, or `tubedemo lab`)
        if "lab" in getattr(item, "fixturenames", ()) or item.fspath.basename == "test_lab_cli.py":
            item.add_marker(pytest.mark.integration)


def require_built() -> None:
    if binaries.control_plane_dir() is None:
        unavailable("control plane not built", "control-plane")
    if binaries.lab_dir() is None:
        message = "KEDA and Karpenter for the lab not built: run nox -s lab (or scripts/build-lab)"
        if os.environ.get("TUBEDEMO_REQUIRE_LAB") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_built()
    # The EKS path as the README prepares it (image on a snapshot, weights streamed from S3):
    # the twin's start-up follows the render, so the lab's KWOK delays follow it too.
    cfg = DemoConfig.model_validate(
        {
            "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
            "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
        }
    )
    running = Lab(
        LabOptions(
            workdir=tmp_path_factory.mktemp("lab"),
            speed=SPEED,
            startup=resolved_startup(cfg),
            prices=cfg.prices,
            hpa=cfg.twin.hpa,
        )
    )
    try:
        running.start()
    except TubedemoError as exc:
        pytest.fail(exc.message, pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(lab: Lab) -> Api:
    return connect(lab.kubeconfig)


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def read_hpa(hpas: client.AutoscalingV2Api, namespace: str) -> Any | None:
    """KEDA's HPA for vLLM in ``namespace``; None until KEDA has created it."""
    try:
        return hpas.read_namespaced_horizontal_pod_autoscaler("vllm", namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def desired_replicas(hpas: client.AutoscalingV2Api, namespace: str) -> int:
    """KEDA's HPA's desiredReplicas in ``namespace``; 0 until KEDA has created the HPA."""
    hpa = read_hpa(hpas, namespace)
    return int(hpa.status.desired_replicas or 0) if hpa is not None else 0


def tubedemo(
    *args: str, timeout: float = 240, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env["COLUMNS"] = "160"
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def prepared_talk(
    namespace: str, *, replicas: int, gpus: int | None = None, **sections: Any
) -> DemoConfig:
    """A talk on the lab's prepared EKS path (weights in S3, a snapshot, one g5.2xlarge type —
    what the lab fixture's KWOK delays model) in ``namespace``: at most ``replicas`` vLLM pods
    on a GPU pool of its own capped at ``gpus`` GPUs (default one per replica). ``sections``
    are demo.yaml sections; ``model`` and ``scaling`` are merged into the defaults above."""
    model = {"weights_uri": "s3://weights/llama-3.1-8b-instruct/", **sections.pop("model", {})}
    scaling = {"max_replicas": replicas, **sections.pop("scaling", {})}
    return config_from_dict(
        {
            "cluster": {"namespace": namespace},
            "model": model,
            "scaling": scaling,
            "gpu_pool": {
                "name": f"gpu-{namespace}",
                "gpu_limit": replicas if gpus is None else gpus,
                "instance_types": ["g5.2xlarge"],
                "image_snapshot_id": "snap-0123456789abcdef0",
            },
            **sections,
        }
    )
