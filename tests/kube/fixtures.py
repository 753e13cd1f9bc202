"""Fixtures for tests against a real Kubernetes API server, wherever their package's tests live:
tests/conftest.py loads this module for the whole suite (pytest_plugins) and keeps every test
file that uses it on one worker (SHARED_FIXTURES["control plane"]), so a run starts one.

`kube` (session) is either the local control plane built from pinned Go modules or, when
TUBEDEMO_TEST_KUBECONFIG is set, that cluster (e.g. kind). `namespace` gives each test its own.
Without built binaries the tests skip with one line; under `make test` (TUBEDEMO_REQUIRE_PREPARED=1,
which builds them first) or CI=true they fail instead.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic

from tests import netns, prepared
from tubedemo.core.errors import CrdCacheError
from tubedemo.manifests.crds import load_crds

from .controlplane import (
    NOT_BUILT,
    ControlPlane,
    ControlPlaneError,
    binary_dir,
    write_kubeconfig,
)

FIELD_MANAGER = "tubedemo-tests"


@dataclass
class Kube:
    """The cluster under test: kubeconfigs for an admin and for a user without any rights."""

    kubeconfig: Path
    nobody_kubeconfig: Path
    control_plane: ControlPlane | None  # None when running against TUBEDEMO_TEST_KUBECONFIG
    has_kwok: bool = True  # an external cluster says so with TUBEDEMO_TEST_KWOK=1

    def require_kwok(self) -> None:
        """Tests that need pods to become Ready on fake nodes skip on a cluster without KWOK."""
        if not self.has_kwok:
            pytest.skip("needs KWOK in the cluster: set TUBEDEMO_TEST_KWOK=1 when it runs there")

    def api_client(self, kubeconfig: Path | None = None) -> client.ApiClient:
        return config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def dynamic(self) -> dynamic.DynamicClient:
        return dynamic.DynamicClient(self.api_client())

    def apply(self, manifest: dict[str, Any], namespace: str | None = None) -> Any:
        dyn = self.dynamic()
        resource = dyn.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        return dyn.server_side_apply(
            resource,
            body=manifest,
            namespace=namespace,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )


def _unavailable(reason: str, step: str) -> None:
    prepared.unavailable(reason, step)


def _install_crds(kube: Kube, *, only_missing: bool = False) -> None:
    try:
        crds = load_crds()
    except CrdCacheError as exc:
        _unavailable(exc.message, "crds")
    if only_missing:
        # Someone else's cluster: never overwrite the CRDs its KEDA/Karpenter installed.
        ext = client.ApiextensionsV1Api(kube.api_client())
        existing = {c.metadata.name for c in ext.list_custom_resource_definition().items}
        crds = [c for c in crds if c["metadata"]["name"] not in existing]
    for crd in crds:
        kube.apply(crd)
    ext = client.ApiextensionsV1Api(kube.api_client())
    deadline = time.monotonic() + 60
    pending = {c["metadata"]["name"] for c in crds}
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(name)
        time.sleep(0.2)
    if pending:
        raise ControlPlaneError(f"CRDs not established: {sorted(pending)}")


def _nobody_via_service_account(kube_admin: Path, workdir: Path) -> Path:
    """On an external cluster: a ServiceAccount token with no RoleBindings is the no-rights user."""
    api = config.new_client_from_config(config_file=str(kube_admin))
    core = client.CoreV1Api(api)
    ns = "tubedemo-test-nobody"
    try:
        core.create_namespace({"metadata": {"name": ns}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    try:
        core.create_namespaced_service_account(ns, {"metadata": {"name": "nobody"}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    token = core.create_namespaced_service_account_token(
        "nobody", ns, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    ca_file = api.configuration.ssl_ca_cert
    ca_pem = Path(ca_file).read_bytes() if ca_file else b""
    return write_kubeconfig(
        workdir / "nobody.kubeconfig",
        server=api.configuration.host,
        ca_pem=ca_pem,
        user="nobody",
        token=token,
    )


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    workdir = tmp_path_factory.mktemp("kube")
    external = os.environ.get("TUBEDEMO_TEST_KUBECONFIG")
    if external:
        admin = Path(external)
        has_kwok = os.environ.get("TUBEDEMO_TEST_KWOK") == "1"
        target = Kube(admin, _nobody_via_service_account(admin, workdir), None, has_kwok)
        _install_crds(target, only_missing=True)
        yield target
        return
    bindir = binary_dir()
    if bindir is None:
        _unavailable(NOT_BUILT, "control-plane")
    plane = ControlPlane(workdir=workdir, bindir=bindir)
    try:
        plane.start()
        target = Kube(plane.kubeconfig, plane.nobody_kubeconfig, plane)
        _install_crds(target)
    except ControlPlaneError as exc:
        plane.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield target
    finally:
        plane.stop()


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(kube.api_client())
    core.create_namespace({"metadata": {"name": name, "labels": {"tubedemo-test": "true"}}})
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def test_host(kube: Kube) -> Iterator[netns.TestHost]:
    """A host of the test's own (tests/netns.py) that the API server can proxy to, as it would
    to a pod (it refuses loopback endpoints): for servers a Pod object points at."""
    if kube.control_plane is None:
        pytest.skip("needs the local control plane: an external cluster cannot reach this host")
    reason = netns.unavailable_reason()
    if reason is not None:
        prepared.unavailable(f"cannot make a test host: {reason}", "iproute2")
    with netns.test_host() as host:
        yield host


def ready_pod_at(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    labels: dict[str, str],
    address: str,
    container: dict[str, Any] | None = None,
    node: tuple[str, str] | None = None,
) -> None:
    """A Pod object nobody schedules, its status saying Running and Ready at ``address`` (as a
    kubelet would report it), so the API server's proxy and our watches reach a test host.
    With ``node`` (its name and address) it is bound to that node and reports it as its host,
    for programs that act on their own node's pods."""
    placement = {"nodeName": node[0]} if node else {}
    host = {"hostIP": node[1], "hostIPs": [{"ip": node[1]}]} if node else {}
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "schedulerName": "tubedemo-test-nobody-schedules-this",
                "containers": [container or {"name": "c", "image": "registry.invalid/c:0"}],
                **placement,
            },
        },
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "podIP": address,
                "podIPs": [{"ip": address}],
                **host,
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                ],
            }
        },
    )


def gateway_service_at(
    core: client.CoreV1Api,
    namespace: str,
    pod: str,
    address: str,
    port: int,
    internal_port: int | None = None,
) -> None:
    """The `gateway` Service (port 80, named http, as `up` renders it) and, with
    ``internal_port``, the `gateway-internal` one (port named internal), each with its
    Endpoints: `pod` at ``address``:``port`` / ``internal_port``, as the endpoints controller
    would write them, so the API server's service proxy reaches a gateway on a test host."""
    services = [("gateway", "http", 80, port)]
    if internal_port is not None:
        services.append(("gateway-internal", "internal", internal_port, internal_port))
    target = {"kind": "Pod", "name": pod, "namespace": namespace}
    for name, port_name, service_port, pod_port in services:
        core.create_namespaced_service(
            namespace,
            {
                "metadata": {"name": name},
                "spec": {
                    "ports": [{"name": port_name, "port": service_port, "targetPort": pod_port}]
                },
            },
        )
        core.create_namespaced_endpoints(
            namespace,
            {
                "metadata": {"name": name},
                "subsets": [
                    {
                        "addresses": [{"ip": address, "targetRef": target}],
                        "ports": [{"name": port_name, "port": pod_port}],
                    }
                ],
            },
        )
