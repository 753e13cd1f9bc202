"""What the Kubernetes API refuses, each produced for real and each one line: unreachable,
wrong context, expired credentials, no rights, a missing CRD, a field-manager conflict."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.demo import (
    Demo,
    assert_one_line_error,
    run_cli,
)
from tests.kube.fixtures import Kube


def test_unreachable_api_server_is_one_line(kube: Kube, tmp_path: Path) -> None:
    """A second, short-lived control plane whose API server is stopped for real."""
    from tests.kube.controlplane import ControlPlane, binary_dir

    if kube.control_plane is None:
        pytest.skip("needs the local control plane binaries")
    plane = ControlPlane(workdir=tmp_path / "cp", bindir=binary_dir())
    plane.start()
    try:
        plane.stop_component("kube-apiserver")
        config = tmp_path / "demo.yaml"
        config.write_text("profile: eks\n")
        result = run_cli("status", "--config", str(config), "--kubeconfig", str(plane.kubeconfig))
    finally:
        plane.stop()
    assert_one_line_error(result, "cannot reach the Kubernetes API", "connection refused")
    assert result.returncode == 5


def test_wrong_context_is_one_line(demo: Demo) -> None:
    result = demo.run("status", "--context", "prod-cluster")
    assert_one_line_error(result, "context 'prod-cluster' is not in", "tubedemo-test")


def test_expired_credentials_are_one_line(demo: Demo, tmp_path: Path) -> None:
    plane = demo.kube.control_plane
    if plane is None:
        pytest.skip("needs the local control plane's CA to mint an expired certificate")
    expired = plane.issue_kubeconfig(tmp_path / "expired.kubeconfig", "presenter", expired=True)
    result = demo.run("up", kubeconfig=expired)
    assert_one_line_error(result, "rejected the credentials of user presenter", "expired")


def test_user_without_rights_gets_one_line_forbidden(demo: Demo) -> None:
    result = demo.run("up", kubeconfig=demo.kube.nobody_kubeconfig)
    line = assert_one_line_error(result, "forbidden", "ask a cluster admin")
    assert "cannot get resource" in line


def test_missing_crd_is_one_line_naming_what_to_install(demo: Demo) -> None:
    ext = client.ApiextensionsV1Api(demo.kube.api_client())
    crd = ext.read_custom_resource_definition("scaledobjects.keda.sh")
    ext.delete_custom_resource_definition("scaledobjects.keda.sh")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ext.read_custom_resource_definition("scaledobjects.keda.sh")
            except client.ApiException:
                break
            time.sleep(0.2)
        result = demo.run("up")
    finally:
        body = demo.kube.api_client().sanitize_for_serialization(crd)
        body["metadata"] = {"name": "scaledobjects.keda.sh"}
        body.pop("status", None)
        _restore_crd(demo.kube, body)
    assert_one_line_error(result, "does not serve ScaledObject (keda.sh/v1alpha1)", "install KEDA")


def _restore_crd(kube: Kube, body: dict[str, Any]) -> None:
    ext = client.ApiextensionsV1Api(kube.api_client())
    deadline = time.monotonic() + 60
    while True:
        try:
            ext.create_custom_resource_definition(body)
            break
        except client.ApiException as exc:
            # 409 while the old one is still terminating
            if exc.status != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    while time.monotonic() < deadline:
        conds = ext.read_custom_resource_definition(body["metadata"]["name"]).status.conditions
        if any(c.type == "Established" and c.status == "True" for c in conds or []):
            return
        time.sleep(0.2)


def test_apply_conflict_with_another_field_manager_is_one_line(demo: Demo) -> None:
    assert demo.run("up", "--timeout", "90").returncode == 0
    dyn = demo.kube.dynamic()
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    dyn.server_side_apply(
        cms,
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "otel-collector", "namespace": demo.namespace},
            "data": {"config.yaml": "hand-edited: true\n"},
        },
        namespace=demo.namespace,
        field_manager="kubectl-edit",
        force_conflicts=True,
    )
    result = demo.run("up", "--timeout", "90")
    assert_one_line_error(result, "ConfigMap", "kubectl-edit", "--force-conflicts")
    forced = demo.run("up", "--timeout", "90", "--force-conflicts")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    live = client.CoreV1Api(demo.kube.api_client()).read_namespaced_config_map(
        "otel-collector", demo.namespace
    )
    assert "hand-edited" not in live.data["config.yaml"]
