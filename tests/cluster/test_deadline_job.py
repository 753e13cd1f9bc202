"""The GPU deadline in the cluster: the CronJob's program (`python -m gateway.deadline`) run
in a pod's place with the rendered ServiceAccount, and `show` moving the deadline later
(the pure part: tests/cluster/test_deadline.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.cluster.demo import (
    REPO,
    Demo,
)
from tests.conftest import wait_until
from tests.kube.in_pod import in_pod, service_account_dir


def _gone(read: Any) -> bool:
    try:
        read()
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def _deadline_job(demo: Demo, tmp_path: Path, *override: str) -> subprocess.CompletedProcess[str]:
    """The CronJob's program, started with the rendered command and args (``python`` is this
    interpreter; the image's WORKDIR holds the gateway package, here the repository does) in a
    pod's place: in-cluster config with the rendered ServiceAccount's token."""
    (cron,) = [o for o in demo.manifests() if o["kind"] == "CronJob"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][:1] == ["python"]
    root = tmp_path / f"run-{time.monotonic_ns()}"
    run_root = service_account_dir(demo.kube, demo.namespace, pod["serviceAccountName"], root)
    args = [*container["args"], *override]
    argv, env = in_pod(demo.kube, run_root, [sys.executable, *container["command"][1:], *args])
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_past_the_deadline_the_clusters_own_job_scales_vllm_to_zero_and_removes_the_gpu_pool(
    demo: Demo, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    apps = client.AppsV1Api(demo.kube.api_client())
    custom = client.CustomObjectsApi(demo.kube.api_client())
    ns = demo.namespace
    # a talk ending in an hour: the job looks, says when, and touches nothing
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    demo.write(talk__ends_at=later, talk__gpu_grace="30m")
    up = demo.run("up", "--timeout", "90")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "GPU deadline:" in up.stdout and "(in 1h29m)" in up.stdout
    early = _deadline_job(demo, tmp_path)
    assert early.returncode == 0, early.stderr
    assert "in 1h29m" in early.stdout
    assert apps.read_namespaced_deployment("vllm", ns).spec.replicas == 1
    custom.get_cluster_custom_object("karpenter.sh", "v1", "nodepools", demo.pool)  # still there
    status = demo.run("status")
    assert "GPU deadline:" in status.stdout and "scales vLLM to 0 and removes" in status.stdout

    # the laptop died: the talk ended long ago, nobody ran teardown
    demo.write(talk__ends_at="2020-01-01T00:00:00Z", talk__gpu_grace="30m")
    up = demo.run("up", "--timeout", "90")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "GPU deadline: 2020-01-01 00:30 UTC has passed" in up.stdout
    # its ServiceAccount may remove this NodePool only
    foreign = _deadline_job(demo, tmp_path, "--nodepool=someone-elses-gpus")
    assert foreign.returncode == 1
    assert "delete NodePool someone-elses-gpus: the API server answered 403" in foreign.stderr
    reaped = _deadline_job(demo, tmp_path)
    assert reaped.returncode == 0, reaped.stderr
    assert "NodePool" in reaped.stdout and "deleted" in reaped.stdout
    so = custom.get_namespaced_custom_object("keda.sh", "v1alpha1", ns, "scaledobjects", "vllm")
    assert so["metadata"]["annotations"]["autoscaling.keda.sh/paused-replicas"] == "0"
    assert apps.read_namespaced_deployment("vllm", ns).spec.replicas == 0
    wait_until(
        "the GPU NodePool to be gone",
        lambda: _gone(lambda: custom.get_cluster_custom_object(
            "karpenter.sh", "v1", "nodepools", demo.pool
        )),
    )  # fmt: skip
    status = demo.run("status")
    assert f"GPU deadline: passed; the cluster removed NodePool {demo.pool} at" in status.stdout
    again = _deadline_job(demo, tmp_path)  # the next run of the CronJob: already done
    assert again.returncode == 0, again.stderr
    assert f"NodePool {demo.pool}: gone" in again.stdout


def test_show_moves_the_deadline_later_never_earlier(demo: Demo) -> None:
    from datetime import UTC, datetime, timedelta

    from tubedemo.cluster import deadline
    from tubedemo.cluster.api import connect

    up = demo.run("up", "--timeout", "90")
    assert up.returncode == 0, up.stdout + up.stderr
    api = connect(demo.kube.kubeconfig)
    first = deadline.read(api, demo.namespace)
    assert first is not None and first.deadline is not None
    # `up` ran now without talk.ends_at: talk.duration (30m) + talk.gpu_grace (1h) from now
    assert abs((first.deadline - datetime.now(UTC)).total_seconds() - 5400) < 120
    later = first.deadline + timedelta(minutes=20)
    assert deadline.extend(api, demo.namespace, later) == later
    assert deadline.extend(api, demo.namespace, first.deadline) == later  # never earlier
    # `up` again keeps the deadline that is still ahead: nothing changes, nothing cut back;
    # `diff` says so first
    moved = demo.run("diff")
    assert "no changes" in moved.stdout, moved.stdout + moved.stderr
    again = demo.run("up", "--timeout", "90")
    assert again.returncode == 0, again.stdout + again.stderr
    live = deadline.read(api, demo.namespace)
    assert live is not None and live.deadline == later
