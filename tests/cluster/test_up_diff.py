"""`up` and `diff` against the real control plane, through the real CLI: create, change
nothing the second time, prune, name what does not get ready, dry run, diff, the audience
URL from the ingress, and the fake GPU nodes the tests stand on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.demo import (
    Demo,
    assert_one_line_error,
    gpu_node,
    live_object,
    tubedemo_objects,
)
from tests.conftest import wait_until
from tests.kube.controlplane import FAKE_NODE_ANNOTATION
from tubedemo.core.config import config_from_dict


def test_up_on_an_empty_cluster_creates_every_object_and_reports_ready(demo: Demo) -> None:
    result = demo.run("up", "--timeout", "90")
    assert result.returncode == 0, result.stdout + result.stderr
    for manifest in demo.manifests():
        live = live_object(demo.kube, manifest)
        assert live is not None, f"{manifest['kind']} {manifest['metadata']['name']} missing"
        managers = {m["manager"] for m in live.metadata.managedFields}
        assert "tubedemo" in managers
    apps = client.AppsV1Api(demo.kube.api_client())
    for name in ("otel-collector", "gateway", "vllm"):
        dep = apps.read_namespaced_deployment(name, demo.namespace)
        assert dep.status.ready_replicas == dep.spec.replicas, name
    assert "ready" in result.stdout
    assert "created" in result.stdout


def test_second_up_changes_nothing(demo: Demo) -> None:
    first = demo.run("up", "--timeout", "90")
    assert first.returncode == 0, first.stdout + first.stderr
    versions = {(m["kind"], m["metadata"]["name"]): _version(demo, m) for m in demo.manifests()}
    second = demo.run("up", "--timeout", "90")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
    after = {(m["kind"], m["metadata"]["name"]): _version(demo, m) for m in demo.manifests()}
    assert after == versions


STATUS_WRITTEN_BY_A_CONTROLLER = {"Deployment", "CronJob"}
"""Kinds whose controller writes status on its own (rollouts; the deadline CronJob's
lastScheduleTime every 5 minutes): their resourceVersion moves without our doing, their
metadata.generation only when a spec changes."""


def _version(demo: Demo, manifest: dict[str, Any]) -> str:
    live = live_object(demo.kube, manifest).metadata
    if manifest["kind"] in STATUS_WRITTEN_BY_A_CONTROLLER:
        return f"generation {live.generation}"
    return f"resourceVersion {live.resource_version}"


def test_object_no_longer_rendered_is_pruned_and_foreign_objects_are_left_alone(
    demo: Demo,
) -> None:
    net = client.NetworkingV1Api(demo.kube.api_client())
    ingress_class = f"alb-{demo.namespace}"
    net.create_ingress_class(
        {"metadata": {"name": ingress_class}, "spec": {"controller": "ingress.k8s.aws/alb"}}
    )
    demo.write(web__exposure="ingress", web__ingress={"class_name": ingress_class})
    first = demo.run("up", "--timeout", "90", "--no-wait-address")
    net.delete_ingress_class(ingress_class)
    assert first.returncode == 0, first.stdout + first.stderr
    core = client.CoreV1Api(demo.kube.api_client())
    assert net.read_namespaced_ingress("gateway", demo.namespace) is not None
    core.create_namespaced_config_map(
        demo.namespace, {"metadata": {"name": "someone-elses", "labels": {"team": "x"}}}
    )
    demo.write()  # exposure none again: the Ingress is no longer rendered
    result = demo.run("up", "--timeout", "90")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pruned" in result.stdout and "Ingress" in result.stdout
    with pytest.raises(client.ApiException) as gone:
        net.read_namespaced_ingress("gateway", demo.namespace)
    assert gone.value.status == 404
    assert core.read_namespaced_config_map("someone-elses", demo.namespace)
    assert core.read_namespaced_secret("hf-token", demo.namespace)
    assert core.read_namespaced_service("keda-otel-scaler", demo.namespace)


def test_rollout_timeout_names_the_stuck_workload_and_why(demo: Demo) -> None:
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")  # no GPU node
    result = demo.run("up", "--timeout", "5")
    line = assert_one_line_error(
        result, f"Deployment {demo.namespace}/vllm not ready after 5s", "0/1 ready", "pending"
    )
    assert "didn't match Pod's node affinity/selector" in line


def test_a_gateway_that_cannot_start_is_named_and_keda_still_gets_its_scaled_object(
    demo: Demo,
) -> None:
    # As on an EKS cluster whose gp3 class has no running provisioner (a missing class is
    # refused by preflight first): the gateway's volume is never provisioned, so its pod stays
    # pending.
    core = client.CoreV1Api(demo.kube.api_client())
    core.delete_persistent_volume(f"gateway-data-{demo.namespace}")
    result = demo.run("up", "--timeout", "10")
    ns = demo.namespace
    assert_one_line_error(
        result,
        f"Deployment {ns}/gateway not ready after 10s (0/1 ready): pod gateway-",
        "pending",
        f"scaling is set up all the same (ScaledObject {ns}/vllm applied)",
    )
    scaled = next(m for m in demo.manifests() if m["kind"] == "ScaledObject")
    live = live_object(demo.kube, scaled)
    assert live is not None, "KEDA never got its ScaledObject"
    assert live.spec.scaleTargetRef.name == "vllm"
    assert live.spec.triggers[0].type == scaled["spec"]["triggers"][0]["type"]
    # Neither the collector feeding the scaler nor vLLM waited on the gateway.
    assert f"ready      Deployment {ns}/otel-collector" in result.stdout
    assert f"ready      Deployment {ns}/vllm" in result.stdout
    nodepool = next(m for m in demo.manifests() if m["kind"] == "NodePool")
    assert live_object(demo.kube, nodepool) is not None


def test_dry_run_changes_nothing(demo: Demo) -> None:
    result = demo.run("up", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "create" in result.stdout and "ScaledObject" in result.stdout
    assert tubedemo_objects(demo.kube, demo) == []
    assert demo.run("up", "--timeout", "90").returncode == 0
    before = tubedemo_objects(demo.kube, demo)
    demo.write(gateway__max_tokens=77)
    dry = demo.run("up", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "update" in dry.stdout and "Deployment tubedemo" not in dry.stdout
    assert f"Deployment {demo.namespace}/gateway (spec.template.spec" in dry.stdout, dry.stdout
    apps = client.AppsV1Api(demo.kube.api_client())
    env = apps.read_namespaced_deployment("gateway", demo.namespace).spec.template.spec
    max_tokens = next(e.value for e in env.containers[0].env if e.name == "TUBEDEMO_MAX_TOKENS")
    assert max_tokens == "200"
    assert tubedemo_objects(demo.kube, demo) == before


def test_diff_lists_only_what_up_would_change(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    same = demo.run("diff")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no changes" in same.stdout
    demo.write(scaling__max_replicas=6)
    changed = demo.run("diff")
    assert f"update   ScaledObject {demo.namespace}/vllm (spec.maxReplicaCount)" in changed.stdout
    # the gateway's fair share caps streams at max replicas x slots (README, "A hostile room")
    gateway = f"update   Deployment {demo.namespace}/gateway (spec.template.spec.containers)"
    assert gateway in changed.stdout
    assert "2 to change" in changed.stdout


def test_diff_resolves_auto_to_what_prepare_made_before_the_api_server_sees_the_render(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auto` through the CLI against moto (a stand-in for EC2, S3, IAM and SSM; see
    tests/prepare/test_prepare.py for its gaps) and this API server's server-side dry run."""
    from tests.aws import moto_server, point_boto3_at
    from tests.prepare.test_prepare import _publish_bottlerocket_ami
    from tubedemo.aws.session import Aws
    from tubedemo.prepare import image_snapshot, weights

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with moto_server() as url:
        point_boto3_at(monkeypatch, url)
        auto = (
            "--set", "prerequisites.aws_checks=true",
            "--set", "gpu_pool.image_snapshot_id=auto",
            "--set", "model.weights_uri=auto",
        )  # fmt: skip
        refused = demo.run("diff", *auto)
        assert refused.returncode == 17, refused.stdout + refused.stderr
        assert "Run `tubedemo prepare`" in refused.stderr
        # what `tubedemo prepare` leaves behind, made by its own code
        cfg = config_from_dict(
            {**demo.raw, "gpu_pool": {"name": demo.pool}, "model": {"weights_uri": "auto"}}
        )
        _publish_bottlerocket_ami(cfg)
        aws = Aws("us-west-2")
        snap = image_snapshot.make_snapshot(aws, cfg, lambda _: None, sleep=lambda _: None)
        folder = tmp_path / "weights"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)
        weights.upload_weights(aws, cfg, folder, "0" * 40, lambda _: None)

        done = demo.run("diff", *auto)
        assert done.returncode == 0, done.stdout + done.stderr
        uri = "s3://tubedemo-123456789012-us-west-2/models/meta-llama/Llama-3.1-8B-Instruct/main/"
        assert f"prepared (auto): image snapshot {snap}, weights {uri}" in done.stdout
        assert f"EC2NodeClass {demo.pool}" in done.stdout  # the dry run took the render


def test_up_waits_for_the_ingress_address_and_records_it_as_the_audience_url(demo: Demo) -> None:
    net = client.NetworkingV1Api(demo.kube.api_client())
    ingress_class = f"alb-{demo.namespace}"
    net.create_ingress_class(
        {"metadata": {"name": ingress_class}, "spec": {"controller": "ingress.k8s.aws/alb"}}
    )
    try:
        demo.write(web__exposure="ingress", web__ingress={"class_name": ingress_class})
        up = demo.popen("up", "--timeout", "90", "--address-timeout", "120")
        wait_until(
            "up to create the Ingress",
            lambda: any(
                i.metadata.name == "gateway"
                for i in net.list_namespaced_ingress(demo.namespace).items
            ),
            timeout=120,
        )
        # what the AWS Load Balancer Controller does once the ALB exists
        alb = "k8s-tubedemo-gateway-0123456789.us-west-2.elb.amazonaws.com"
        net.patch_namespaced_ingress_status(
            "gateway",
            demo.namespace,
            {"status": {"loadBalancer": {"ingress": [{"hostname": alb}]}}},
        )
        out, err = up.communicate(timeout=180)
    finally:
        net.delete_ingress_class(ingress_class)
    assert up.returncode == 0, out + err
    assert f"audience URL: http://{alb}/" in out
    core = client.CoreV1Api(demo.kube.api_client())
    mode = core.read_namespaced_config_map("tubedemo-mode", demo.namespace)
    assert mode.data["audience_url"] == f"http://{alb}/"
    qr = demo.run("qr")
    assert qr.returncode == 0, qr.stderr
    assert f"http://{alb}/  (from the cluster)" in qr.stdout


def test_fake_gpu_nodes_are_kwok_managed(demo: Demo) -> None:
    """Guard for the teardown tests: the GPU nodes they create really are live KWOK nodes."""
    name = f"{demo.pool}-probe"
    demo.kube.apply(gpu_node(demo, name))
    core = client.CoreV1Api(demo.kube.api_client())
    deadline = time.monotonic() + 30
    ready = False
    while time.monotonic() < deadline and not ready:
        conds = core.read_node(name).status.conditions or []
        ready = any(c.type == "Ready" and c.status == "True" for c in conds)
        time.sleep(0.2)
    assert ready
    assert core.read_node(name).metadata.annotations[FAKE_NODE_ANNOTATION] == "fake"


def test_up_stops_waiting_when_the_ec2nodeclass_says_no_gpu_node_can_start(demo: Demo) -> None:
    """No GPU node, and Karpenter marks the EC2NodeClass not Ready (no subnet matches its
    discovery tag): `up` says so within the grace instead of waiting out --timeout on a
    Pending vLLM pod (it waited 15 minutes)."""
    client.CoreV1Api(demo.kube.api_client()).delete_node(f"{demo.pool}-0")
    custom = client.CustomObjectsApi(demo.kube.api_client())
    started = time.monotonic()
    up = demo.popen("up", "--timeout", "600")

    def mark_not_ready() -> bool:
        try:
            custom.patch_cluster_custom_object_status(
                "karpenter.k8s.aws",
                "v1",
                "ec2nodeclasses",
                demo.pool,
                {
                    "status": {
                        "conditions": [
                            {
                                "type": t,
                                "status": "False",
                                "reason": r,
                                "message": m,
                                "lastTransitionTime": "2026-12-07T12:00:00Z",
                            }
                            for t, r, m in (
                                ("SubnetsReady", "SubnetsNotFound", "SubnetSelector did not match"),
                                ("Ready", "UnhealthyDependents", "SubnetsReady=False"),
                            )
                        ]
                    }
                },
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return False  # not applied yet
            raise
        return True

    try:
        wait_until("the EC2NodeClass applied and marked", mark_not_ready, timeout=60, interval=0.5)
        out, err = up.communicate(timeout=180)
    finally:
        if up.poll() is None:
            up.kill()
    took = time.monotonic() - started
    assert up.returncode != 0, out + err
    assert f"EC2NodeClass {demo.pool} is not Ready (SubnetsReady: SubnetSelector did not" in err
    assert "Karpenter cannot start a GPU node" in err
    assert took < 150, f"up took {took:.0f} s (its --timeout was 600 s)"


def test_up_creates_the_warm_capacity_at_zero_placeholders_and_a_second_up_keeps_it(
    demo: Demo,
) -> None:
    # scaling.warm_capacity on eks: the real API server takes the PriorityClass, the
    # placeholders' Deployment (naming it) and their ScaledObject; `up` launches no placeholder
    # (no GPU) before the show opens the window
    demo.write(scaling__warm_capacity={"replicas": 2})
    scheduling = client.SchedulingV1Api(demo.kube.api_client())
    try:
        _up_twice_with_warm_capacity(demo)
    finally:  # cluster-scoped: the namespace's deletion does not take it
        scheduling.delete_priority_class(f"tubedemo-warm-capacity-{demo.namespace}")


def _up_twice_with_warm_capacity(demo: Demo) -> None:
    first = demo.run("up", "--timeout", "90")
    assert first.returncode == 0, first.stdout + first.stderr
    names = [m["metadata"]["name"] for m in demo.manifests()]
    assert f"tubedemo-warm-capacity-{demo.namespace}" in names
    for manifest in demo.manifests():
        assert live_object(demo.kube, manifest) is not None, manifest["metadata"]["name"]
    apps = client.AppsV1Api(demo.kube.api_client())
    placeholders = apps.read_namespaced_deployment("warm-capacity", demo.namespace)
    assert placeholders.spec.replicas == 0
    template = placeholders.spec.template.spec
    assert template.priority_class_name == f"tubedemo-warm-capacity-{demo.namespace}"
    second = demo.run("up", "--timeout", "90")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
