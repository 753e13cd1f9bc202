"""`teardown` against the real control plane, through the real CLI: the safe order, the
GPU nodes waited out, what `prepare` made kept, and a refusal without a terminal."""

from __future__ import annotations

import time

from kubernetes import client

from tests.cluster.demo import (
    Demo,
    assert_one_line_error,
    tubedemo_objects,
)
from tests.conftest import wait_until


def test_teardown_waits_for_nodepool_nodes_and_leaves_no_tubedemo_object(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    node = f"{demo.pool}-0"
    custom = client.CustomObjectsApi(demo.kube.api_client())
    proc = demo.popen("teardown", "--yes", "--timeout", "60")
    try:
        deadline = time.monotonic() + 30
        nodepool_gone = False
        while time.monotonic() < deadline and not nodepool_gone:
            try:
                custom.get_cluster_custom_object("karpenter.sh", "v1", "nodepools", demo.pool)
            except client.ApiException as exc:
                nodepool_gone = exc.status == 404
            time.sleep(0.2)
        assert nodepool_gone, "teardown never deleted the NodePool"
        time.sleep(2)
        assert proc.poll() is None, "teardown returned while a NodePool node remained"
        # Karpenter's part, played by the test: drain and remove the node.
        client.CoreV1Api(demo.kube.api_client()).delete_node(node)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "waiting for 1 node(s)" in out
    assert tubedemo_objects(demo.kube, demo) == []
    core = client.CoreV1Api(demo.kube.api_client())
    assert core.read_namespaced_secret("hf-token", demo.namespace)  # the presenter's, kept
    again = demo.run("teardown", "--yes")
    assert again.returncode == 0, again.stderr
    assert "nothing left" in again.stdout


def test_teardown_keeps_what_prepare_made_and_says_how_to_remove_it(demo: Demo) -> None:
    # nothing deployed and no GPU node left (the fixture's node is Karpenter's to remove)
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")
    prepared = ("--set", "gpu_pool.image_snapshot_id=auto", "--set", "model.weights_uri=auto")
    done = demo.run("teardown", "--yes", *prepared)
    assert done.returncode == 0, done.stderr
    assert "kept the prepared image snapshot and S3 weights" in done.stdout
    assert "`tubedemo prepare --delete` removes them" in done.stdout
    cold = demo.run("teardown", "--yes")  # the fixture's explicit cold path: nothing to keep
    assert "kept the prepared" not in cold.stdout


def test_teardown_deletes_the_scaled_object_before_vllm(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")
    result = demo.run("teardown", "--yes", "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    order = [i for i, line in enumerate(lines) if line.strip().startswith(("deleted", "scaled"))]
    texts = [lines[i].strip() for i in order]
    assert texts[0] == f"deleted   ScaledObject {demo.namespace}/vllm"
    assert texts[1] == f"scaled    Deployment {demo.namespace}/vllm to 0"
    assert texts[2] == f"deleted   Deployment {demo.namespace}/vllm"
    assert texts[3] == f"deleted   NodePool {demo.pool}"  # Karpenter drains the GPU nodes
    assert texts.index(f"deleted   EC2NodeClass {demo.pool}") > 3  # after its nodes are gone


def test_teardown_after_a_failed_up_still_removes_everything(demo: Demo) -> None:
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")
    failed = demo.run("up", "--timeout", "3")
    assert failed.returncode != 0  # vLLM has no GPU node: the rollout times out
    assert tubedemo_objects(demo.kube, demo) != []
    result = demo.run("teardown", "--yes", "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tubedemo_objects(demo.kube, demo) == []


def test_teardown_without_an_inventory_still_finds_what_the_config_renders(demo: Demo) -> None:
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")
    assert demo.run("up", "--no-wait").returncode == 0
    client.CoreV1Api(demo.kube.api_client()).delete_namespaced_config_map(
        "tubedemo-inventory", demo.namespace
    )
    result = demo.run("teardown", "--yes", "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tubedemo_objects(demo.kube, demo) == []


def test_teardown_timeout_names_remaining_nodes_with_cost(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    result = demo.run("teardown", "--yes", "--timeout", "2")
    line = assert_one_line_error(result, f"{demo.pool}-0", "$0.55/h", "g5.2xlarge spot")
    assert "still running" in line
    # It stopped before deleting the rest, and says what is left.
    assert "still there: " in line and f"Deployment {demo.namespace}/gateway" in line


def test_teardown_without_yes_and_without_a_terminal_refuses(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    assert_one_line_error(demo.run("teardown"), "--yes")
    assert tubedemo_objects(demo.kube, demo) != []


def test_teardown_returns_only_once_the_ingress_load_balancer_is_deleted(demo: Demo) -> None:
    """The AWS Load Balancer Controller holds the Ingress (finalizer) until it has deleted the
    ALB, its target groups and security groups; a teardown that returned before, followed by
    deleting the cluster, stranded them. The controller is played by the test."""
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")  # no GPU node
    demo.write(web__exposure="ingress")
    (rendered,) = [m for m in demo.manifests() if m["kind"] == "Ingress"]
    net = client.NetworkingV1Api(demo.kube.api_client())
    held = {
        **rendered,
        "metadata": {**rendered["metadata"], "finalizers": ["ingress.k8s.aws/resources"]},
    }
    demo.kube.apply(held)
    name = rendered["metadata"]["name"]
    proc = demo.popen("teardown", "--yes")
    try:
        deleting = wait_until(
            "teardown deletes the Ingress",
            lambda: net.read_namespaced_ingress(name, demo.namespace).metadata.deletion_timestamp,
            timeout=30,
        )
        assert deleting
        time.sleep(2)
        assert proc.poll() is None, "teardown returned while the load balancer was being deleted"
        net.patch_namespaced_ingress(name, demo.namespace, {"metadata": {"finalizers": None}})
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    ref = f"Ingress {demo.namespace}/{name}"
    assert f"waiting for the load balancer of {ref}" in out, out
    assert f"gone      the load balancer of {ref}" in out, out
