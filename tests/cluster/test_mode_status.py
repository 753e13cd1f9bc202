"""`mode` and `status` against the real control plane, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from tests.cluster.conftest import ignore_404
from tests.cluster.demo import (
    Demo,
    assert_one_line_error,
    gpu_node,
)
from tests.conftest import wait_until


def test_mode_round_trips_and_survives_a_later_up(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    assert demo.run("mode").stdout.strip() == "quiz"
    flipped = demo.run("mode", "survey")
    assert flipped.returncode == 0, flipped.stderr
    assert "quiz → survey" in flipped.stdout
    core = client.CoreV1Api(demo.kube.api_client())
    assert core.read_namespaced_config_map("tubedemo-mode", demo.namespace).data == {
        "mode": "survey"
    }
    assert demo.run("up", "--timeout", "90").returncode == 0
    assert demo.run("mode").stdout.strip() == "survey"
    assert "survey → quiz" in demo.run("mode", "quiz").stdout
    assert demo.run("mode").stdout.strip() == "quiz"


def test_mode_rejects_an_unknown_mode_in_one_line(demo: Demo) -> None:
    assert_one_line_error(demo.run("mode", "karaoke"), "choose quiz or survey")


def test_status_shows_objects_gpu_nodes_mode_and_cost(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    result = demo.run("status")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tubedemo-test" in out  # the kubeconfig context
    assert f"ScaledObject {demo.namespace}/vllm" in out
    assert "1/1 ready" in out
    assert f"{demo.pool}-0" in out and "g5.2xlarge" in out and "spot" in out
    assert "mode: quiz" in out
    assert "$0.55/h" in out
    if demo.kube.control_plane is not None:
        assert "Kubernetes v1.34.4" in out  # the version the build stamped into the binaries


def test_status_counts_survey_answers_from_the_gateway(demo: Demo, tmp_path: Path) -> None:
    from tests.gateway_proc import ADMIN_TOKEN, running_gateway

    assert demo.run("up", "--timeout", "90").returncode == 0
    with running_gateway(tmp_path / "store") as gateway:
        gateway.submit("11111111-1111-4111-8111-111111111111", 5, "Acme", "Ada")
        gateway.submit("22222222-2222-4222-8222-222222222222", 4, "Initech", None)
        result = demo.run("status", "--gateway-url", gateway.url, "--admin-token", ADMIN_TOKEN)
    assert result.returncode == 0, result.stderr
    assert "survey: 2 answers" in result.stdout


def test_status_without_a_reachable_gateway_still_shows_the_rest(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    # In the cluster the admin token Secret was never created: the survey line says why.
    result = demo.run("status")
    assert result.returncode == 0, result.stderr
    assert "survey: unavailable (" in result.stdout
    assert f"{demo.pool}-0" in result.stdout


def test_status_prices_the_placeholders_holding_gpus(demo: Demo) -> None:
    demo.write(scaling__warm_capacity={"replicas": 1})
    scheduling = client.SchedulingV1Api(demo.kube.api_client())
    try:
        assert demo.run("up", "--timeout", "90").returncode == 0
        # a second GPU node of the pool, as Karpenter launches for the placeholder
        demo.kube.apply(gpu_node(demo, f"{demo.pool}-1"))
        # KEDA's step in the window (no KEDA runs in this control plane: set by hand here)
        apps = client.AppsV1Api(demo.kube.api_client())
        apps.patch_namespaced_deployment_scale(
            "warm-capacity", demo.namespace, {"spec": {"replicas": 1}}
        )
        core = client.CoreV1Api(demo.kube.api_client())
        selector = "app.kubernetes.io/name=warm-capacity"
        wait_until(
            "the placeholder bound to the new node",
            lambda: [
                p
                for p in core.list_namespaced_pod(demo.namespace, label_selector=selector).items
                if p.spec.node_name == f"{demo.pool}-1"
            ],
            60,
        )
        result = demo.run("status")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "vLLM replicas: 1/1 ready" in out  # vLLM's, not the placeholders' Deployment
        assert "cost now: $1.10/h" in out  # two g5.2xlarge spot nodes
        assert "of it warm capacity: $0.55/h (1 placeholder(s) holding a GPU)" in out
    finally:
        ignore_404(
            lambda: scheduling.delete_priority_class(f"tubedemo-warm-capacity-{demo.namespace}")
        )
