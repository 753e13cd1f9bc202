"""winners / session through the real kube-apiserver's service proxy to the real gateway.

The brief was a selector-less Service whose manual Endpoints point at 127.0.0.1:PORT. The
API server refuses that, twice over (Kubernetes v1.34 source):

- Endpoints validation rejects loopback addresses (`ValidateEndpointIP`: "may not be in the
  loopback range"), and
- the service proxy only proxies to an endpoint address that has a `targetRef` to a Pod whose
  `status.podIPs` contains it (`isValidAddress` in the service REST storage); anything else
  is skipped as "no endpoints available".

The closest real alternative, used here: the gateway runs on a test host of our own — a
network namespace this test creates, joined to the machine by a veth pair (tests/netns.py) —
a Pod object carries the host's address in its status (as a kubelet would report it), and the
selector-less Service's manual Endpoints point at it with a targetRef to that Pod. Every
request then really goes CLI -> kube-apiserver (TLS, client certificate, RBAC) -> service
proxy -> gateway.
"""

from __future__ import annotations

import base64
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from tests import netns, prepared
from tests.gateway_proc import ADMIN_TOKEN, GatewayProcess, running_gateway
from tests.kube.fixtures import Kube, gateway_service_at


@dataclass
class InCluster:
    namespace: str
    gateway: GatewayProcess
    workdir: Path
    kube: Kube

    def tubedemo(
        self, *args: str, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
        env["COLUMNS"] = "160"
        env["KUBECONFIG"] = str(kubeconfig or self.kube.kubeconfig)
        return subprocess.run(
            [sys.executable, "-m", "tubedemo", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def proxy(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        service: str = "gateway:http",
    ) -> object:
        """A phone's request, through the same API server proxy (the test never calls the
        gateway's address itself): the public Service's port, unless ``service`` names
        another."""
        api = self.kube.api_client()
        resp = api.call_api(
            f"/api/v1/namespaces/{self.namespace}/services/{service}/proxy{path}",
            method,
            header_params={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **(headers or {}),
            },
            body=body,
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
        return resp


def _wait_ready(env: InCluster) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            env.proxy("GET", "/readyz", service="gateway-internal:internal")
            return
        except client.ApiException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def in_cluster(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[InCluster]:
    if kube.control_plane is None:
        pytest.skip("needs the local control plane: an external cluster cannot reach this host")
    reason = netns.unavailable_reason()
    if reason is not None:
        prepared.unavailable(f"cannot make the gateway's test host: {reason}", "iproute2")
    core = client.CoreV1Api(kube.api_client())
    with (
        netns.test_host() as host,
        running_gateway(
            tmp_path / "store", host=host.address, probe=False, wrap=host.wrap, internal=True
        ) as gw,
    ):
        address = host.address
        # A Pod object standing for the gateway pod: nothing schedules or runs it (unknown
        # scheduler), its status carries the address as a kubelet would report it.
        core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": "gateway-0", "labels": {"app.kubernetes.io/name": "gateway"}},
                "spec": {
                    "schedulerName": "tubedemo-test-nobody-schedules-this",
                    "containers": [{"name": "gateway", "image": "registry.invalid/gateway:0"}],
                },
            },
        )
        core.patch_namespaced_pod_status(
            "gateway-0",
            namespace,
            {"status": {"podIP": address, "podIPs": [{"ip": address}], "phase": "Running"}},
        )
        gateway_service_at(core, namespace, "gateway-0", address, gw.port, gw.internal_port)
        core.create_namespaced_secret(
            namespace,
            {
                "metadata": {"name": "tubedemo-admin"},
                "data": {"token": base64.b64encode(ADMIN_TOKEN.encode()).decode()},
            },
        )
        workdir = tmp_path / "cwd"
        workdir.mkdir()
        (workdir / "demo.yaml").write_text(f"cluster:\n  namespace: {namespace}\n")
        env = InCluster(namespace, gw, workdir, kube)
        _wait_ready(env)
        yield env


def _seed(env: InCluster, n: int, prefix: str) -> list[str]:
    ids = []
    for i in range(n):
        identity = env.proxy("POST", "/api/identity")  # as the page obtains one
        assert isinstance(identity, dict)
        body = {"rating": 4, "company": f"Co {i}", "name": f"N {i}"}
        phone = {"X-Tubedemo-Identity": str(identity["token"])}
        answer = env.proxy("POST", "/api/survey/submit", body, phone)
        assert isinstance(answer, dict)
        ids.append(str(answer["id"]))
    return ids


def _winners(env: InCluster) -> list[str]:
    answer = env.proxy("GET", "/api/survey/winners")
    assert isinstance(answer, dict)
    return [w["id"] for w in answer["winners"]]


def test_the_api_server_refuses_a_loopback_endpoint(kube: Kube, namespace: str) -> None:
    """Why the fixture does not use 127.0.0.1: the API server says no."""
    core = client.CoreV1Api(kube.api_client())
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_endpoints(
            namespace,
            {
                "metadata": {"name": "loop"},
                "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 8080}]}],
            },
        )
    assert refused.value.status == 422 and "loopback" in str(refused.value.body)


def test_winners_through_the_service_proxy_with_the_token_from_the_secret(
    in_cluster: InCluster,
) -> None:
    people = _seed(in_cluster, 9, "phone")
    run = in_cluster.tubedemo("winners", "--count", "3", "--seed", "77")
    assert run.returncode == 0, run.stderr
    expected = random.Random(77).sample(sorted(people), 3)
    assert _winners(in_cluster) == expected
    assert all(wid in run.stdout for wid in expected)
    again = in_cluster.tubedemo("winners", "--redraw", "--count", "3")
    assert again.returncode == 0, again.stderr
    assert not set(_winners(in_cluster)) & set(expected)


def test_sessions_and_export_through_the_service_proxy(in_cluster: InCluster) -> None:
    early = _seed(in_cluster, 4, "early")
    export = in_cluster.tubedemo("session", "export")
    assert export.returncode == 0, export.stderr
    assert sorted(re.findall(r"^([0-9a-f]{32}),", export.stdout, re.M)) == sorted(early)
    new = in_cluster.tubedemo("session", "new", "second talk")
    assert new.returncode == 0, new.stderr
    assert "4 submissions" in new.stdout
    late = _seed(in_cluster, 2, "late")
    assert in_cluster.tubedemo("winners", "--count", "5").returncode == 0
    assert sorted(_winners(in_cluster)) == sorted(late)
    listed = in_cluster.tubedemo("session", "list")
    assert listed.returncode == 0 and "second talk" in listed.stdout
    assert "archived" in listed.stdout


def test_a_wrong_token_in_the_secret_is_one_line(in_cluster: InCluster) -> None:
    core = client.CoreV1Api(in_cluster.kube.api_client())
    core.patch_namespaced_secret(
        "tubedemo-admin",
        in_cluster.namespace,
        {"data": {"token": base64.b64encode(b"stale-token").decode()}},
    )
    run = in_cluster.tubedemo("session", "list")
    assert run.returncode == 7
    assert len(run.stderr.strip().splitlines()) == 1
    assert "refused the admin token" in run.stderr
    assert "Secret " in run.stderr and "rollout restart" in run.stderr


def test_a_missing_secret_says_how_to_create_it(in_cluster: InCluster) -> None:
    client.CoreV1Api(in_cluster.kube.api_client()).delete_namespaced_secret(
        "tubedemo-admin", in_cluster.namespace
    )
    run = in_cluster.tubedemo("winners")
    assert run.returncode != 0
    assert len(run.stderr.strip().splitlines()) == 1
    assert "create secret generic tubedemo-admin" in run.stderr


def test_a_user_without_rights_gets_one_line(in_cluster: InCluster) -> None:
    run = in_cluster.tubedemo("winners", kubeconfig=in_cluster.kube.nobody_kubeconfig)
    assert run.returncode != 0
    assert len(run.stderr.strip().splitlines()) == 1
    assert "403" in run.stderr


def test_a_stopped_gateway_is_one_line(in_cluster: InCluster) -> None:
    in_cluster.gateway.stop()
    run = in_cluster.tubedemo("session", "list")
    assert run.returncode == 7, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "not answering" in run.stderr


def test_no_gateway_service_says_run_up(kube: Kube, namespace: str, tmp_path: Path) -> None:
    client.CoreV1Api(kube.api_client()).create_namespaced_secret(
        namespace, {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "t"}}
    )
    (tmp_path / "demo.yaml").write_text(f"cluster:\n  namespace: {namespace}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env["KUBECONFIG"] = str(kube.kubeconfig)
    run = subprocess.run(
        [sys.executable, "-m", "tubedemo", "session", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 7, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "tubedemo up" in run.stderr


def test_proxying_needs_rights_on_services_proxy(in_cluster: InCluster, tmp_path: Path) -> None:
    """A user who may read the Secret but not proxy gets the API server's 403 as one line."""
    plane = in_cluster.kube.control_plane
    assert plane is not None
    reader = plane.issue_kubeconfig(tmp_path / "reader.kubeconfig", "secret-reader")
    rbac = client.RbacAuthorizationV1Api(in_cluster.kube.api_client())
    ns = in_cluster.namespace
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": "read-secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "read-secrets"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-secrets",
            },
            "subjects": [
                {"kind": "User", "name": "secret-reader", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    deadline = time.monotonic() + 10
    while True:  # RBAC is eventually consistent in the authorizer's cache
        run = in_cluster.tubedemo("session", "list", kubeconfig=reader)
        if "services/proxy" in run.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run.returncode != 0
    assert len(run.stderr.strip().splitlines()) == 1
    assert "services/proxy" in run.stderr and "403" in run.stderr


def _qr(kube: Kube, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env["KUBECONFIG"] = str(kube.kubeconfig)
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", "qr"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_qr_finds_the_audience_url_on_the_ingress_after_up(
    kube: Kube, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "demo.yaml").write_text(f"cluster:\n  namespace: {namespace}\n")
    net = client.NetworkingV1Api(kube.api_client())
    net.create_namespaced_ingress(
        namespace,
        {
            "metadata": {"name": "gateway"},
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "gateway", "port": {"name": "http"}}
                                    },
                                }
                            ]
                        }
                    }
                ]
            },
        },
    )
    pending = _qr(kube, tmp_path)
    assert pending.returncode != 0
    assert len(pending.stderr.strip().splitlines()) == 1
    assert "no public address yet" in pending.stderr
    # What the load balancer controller writes once the ALB exists.
    net.patch_namespaced_ingress_status(
        "gateway",
        namespace,
        {"status": {"loadBalancer": {"ingress": [{"hostname": "k8s-tube-123.elb.test"}]}}},
    )
    ready = _qr(kube, tmp_path)
    assert ready.returncode == 0, ready.stderr
    assert "http://k8s-tube-123.elb.test/  (from the cluster)" in ready.stdout


def test_the_proxy_only_reaches_endpoints_backed_by_a_pod(in_cluster: InCluster) -> None:
    """Why the fixture needs the Pod object: without a targetRef the API server will not proxy."""
    core = client.CoreV1Api(in_cluster.kube.api_client())
    # the Service the CLI proxies to: the internal one
    eps = core.read_namespaced_endpoints("gateway-internal", in_cluster.namespace)
    eps.subsets[0].addresses[0].target_ref = None
    core.replace_namespaced_endpoints("gateway-internal", in_cluster.namespace, eps)
    run = in_cluster.tubedemo("session", "list")
    assert run.returncode == 7
    assert "no endpoints available" in run.stderr
