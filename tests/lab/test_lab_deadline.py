"""The GPU deadline on the lab: past it, the CronJob's program (run as the rendered CronJob
starts it, with its ServiceAccount's token) pauses the real KEDA at 0 and deletes the NodePool,
and the real Karpenter (KWOK provider) removes the GPU nodes: nothing but the cluster acts."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.conftest import wait_until
from tests.kube.in_pod import in_cluster, token_dir
from tubedemo.lab import Lab
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions

from .conftest import SPEED, prepared_talk

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_past_the_deadline_the_lab_scales_vllm_to_zero_and_karpenter_removes_the_gpu_nodes(
    lab: Lab, tmp_path: Path
) -> None:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    pool = f"gpu-{namespace}"
    cfg = prepared_talk(
        namespace,
        replicas=4,
        # the talk ended long ago and nobody ran teardown
        talk={"ends_at": "2020-01-01T00:00:00Z"},
    )
    options = SessionOptions(
        speed=SPEED, workdir=tmp_path / "run", out_dir=tmp_path, audience=False, collector=False
    )
    lines: list[str] = []
    with LabSession(cfg, options, report=lines.append, lab=lab) as session:
        api = config.new_client_from_config(config_file=str(session.kubeconfig))
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

        def gpu_nodes() -> int:
            return len(core.list_node(label_selector=f"karpenter.sh/nodepool={pool}").items)

        assert gpu_nodes() >= 1, "\n".join(lines)  # `up` waited for the first replica's node
        (cron,) = [m for m in session.manifests() if m["kind"] == "CronJob"]
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        root = token_dir(
            core, namespace, pod["serviceAccountName"], lab.workdir / "pki" / "ca.crt",
            tmp_path / "sa",
        )  # fmt: skip
        argv, env = in_cluster(
            api.configuration.host,
            root,
            [sys.executable, *container["command"][1:], *container["args"]],
        )
        done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"NodePool {pool}: deleted" in done.stdout
        wait_until(
            "vLLM at 0 replicas and Karpenter to remove every GPU node of the pool",
            lambda: (
                apps.read_namespaced_deployment("vllm", namespace).spec.replicas == 0
                and gpu_nodes() == 0
            ),
            timeout=180,
        )
