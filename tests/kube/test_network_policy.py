"""The rendered NetworkPolicy, enforced by a real implementation between real processes (issue
#23, "A hostile room"): only the gateway and the collector reach vLLM's port.

The lab's pods are KWOK pods (no processes, no network), so this builds the smallest real
node there can be: a network namespace forwarding between one namespace per pod
(tests/netns.py ``test_node``), Pod objects in the suite's API server bound to that node and
reporting those namespaces' addresses (as a kubelet would), and kube-router's network policy
controller (built by scripts/build-netpol, which says why not SIG Network's
kube-network-policies: this kernel has no nftables `queue`) running in the node's namespace as
its DaemonSet pod would: in-cluster config, its own manifests' RBAC, iptables and ipset. vLLM
is the stand-in (`python -m tubedemo.rehearsal.standin`) on the rendered port and model name;
the clients are HTTP requests from each pod's namespace, and the gateway program itself
(`python -m gateway`, the rendered model) run once in the gateway's pod and once in the
stranger's, asked a question the way the page asks it. Not covered: the ipBlock rule (the
VPC's range; the test's addresses are outside it, as a stranger's would be).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests import netns, prepared
from tests.conftest import wait_until
from tests.gateway_proc import GatewayProcess, running_gateway
from tubedemo.core.config import config_from_dict
from tubedemo.core.gobuild import NETPOL
from tubedemo.manifests.render import render

from .fixtures import Kube, ready_pod_at
from .in_pod import in_cluster, service_account_dir

ACCOUNT = "kube-router"

# A GET from inside a pod's namespace: the status, or the error's type and text. kube-router
# REJECTs what no policy admits (refused at once); two seconds bound the wait should an
# implementation drop instead.
CLIENT = """
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
        print(answer.status)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


# A phone's question through the gateway, from inside the gateway's pod namespace, as the page
# asks it (an identity, then a streamed completion): the answer's text and how it ended.
PHONE = """
import json, sys, urllib.error, urllib.request
base = sys.argv[1]
post = lambda path, body, headers: urllib.request.Request(
    base + path, data=json.dumps(body).encode(), method="POST",
    headers={"Content-Type": "application/json", **headers})
with urllib.request.urlopen(post("/api/identity", {}, {}), timeout=10) as answer:
    token = json.load(answer)["token"]
ask = {"messages": [{"role": "user", "content": "Which is the deepest station?"}],
       "stream": True, "max_tokens": 5}
text, errors, done, status = [], [], False, None
try:
    with urllib.request.urlopen(post("/v1/chat/completions", ask, {"X-Tubedemo-Identity": token}),
                                timeout=30) as answer:
        status = answer.status
        for raw in answer:
            line = raw.decode().strip()
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                if "error" in event:
                    errors.append(event["error"].get("code"))
                for choice in event.get("choices", []):
                    text.append(choice.get("delta", {}).get("content") or "")
except urllib.error.HTTPError as exc:
    status = exc.code
    errors.append(json.loads(exc.read()).get("error", {}).get("code"))
print(json.dumps({"status": status, "text": "".join(text), "done": done, "errors": errors}))
"""


def _rendered() -> dict[str, dict[str, Any]]:
    """The EKS render (the local profile renders no NetworkPolicy), by kind/name."""
    objects = render(config_from_dict({"profile": "eks"}))
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def _labels(objects: dict[str, dict[str, Any]], deployment: str) -> dict[str, str]:
    labels: dict[str, str] = objects[f"Deployment/{deployment}"]["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def _vllm_container(objects: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """vLLM's container as the API server needs it for the policy's named port (name, image,
    ports; its mounts name volumes this bare Pod has not), and the port number `http` names."""
    spec = objects["Deployment/vllm"]["spec"]["template"]["spec"]["containers"][0]
    port = next(p["containerPort"] for p in spec["ports"] if p["name"] == "http")
    return {"name": spec["name"], "image": spec["image"], "ports": spec["ports"]}, int(port)


def _vllm_arg(objects: dict[str, dict[str, Any]], prefix: str) -> str:
    args = objects["Deployment/vllm"]["spec"]["template"]["spec"]["containers"][0]["args"]
    return next(str(a)[len(prefix) :] for a in args if str(a).startswith(prefix))


def _gateway_env(objects: dict[str, dict[str, Any]], name: str) -> str:
    env = objects["Deployment/gateway"]["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(str(e["value"]) for e in env if e["name"] == name)


def _ask(pod: netns.TestHost, url: str) -> str:
    done = subprocess.run(
        pod.wrap([sys.executable, "-c", CLIENT, url]),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip()


def _grant(kube: Kube, namespace: str) -> None:
    """kube-router's own RBAC (the ClusterRole and binding of its DaemonSet manifest), bound to a
    ServiceAccount in the test's namespace; the names carry the namespace (cluster-scoped)."""
    stamp = json.loads((NETPOL.cache_dir() / "stamp.json").read_text())
    manifest = Path(stamp["module_dir"]) / "daemonset" / "generic-kuberouter-all-features.yaml"
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    name = f"{ACCOUNT}-{namespace}"
    role["metadata"] = {"name": name}
    binding["metadata"] = {"name": name}
    binding["roleRef"]["name"] = name
    binding["subjects"] = [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}]
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    kube.apply(role)
    kube.apply(binding)


def _revoke(kube: Kube, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(kube.api_client())
    for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
        try:
            delete(f"{ACCOUNT}-{namespace}")
        except client.ApiException as exc:
            if exc.status != 404:  # never made: the test failed before granting it
                raise


@contextmanager
def _process(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _phone_via_gateway(pod: netns.TestHost, gateway: GatewayProcess) -> dict[str, Any]:
    done = subprocess.run(
        pod.wrap([sys.executable, "-c", PHONE, gateway.url]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _guarding(node: str, namespace: str) -> bool:
    """Whether kube-router's rules in the node hold vLLM's pod chain (its REJECT for traffic no
    policy admits, commented with the pod's name and namespace)."""
    done = subprocess.run(
        ["ip", "netns", "exec", node, "iptables-save", "-t", "filter"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return f"REJECT traffic destined for POD name:vllm namespace: {namespace}" in done.stdout


@pytest.fixture
def enforcer() -> Path:
    reason = netns.unavailable_reason()
    if reason is not None:
        prepared.unavailable(f"cannot make network namespaces: {reason}", "iproute2")
    for tool in ("iptables", "ipset"):
        if shutil.which(tool) is None:
            prepared.unavailable(f"kube-router needs `{tool}`", "network-policy")
    if not NETPOL.is_built():
        prepared.unavailable("kube-router not built", "netpol")
    return NETPOL.cache_dir() / "kube-router"


@contextmanager
def _enforcing(
    kube: Kube, namespace: str, node: str, binary: Path, tmp_path: Path
) -> Iterator[None]:
    """kube-router's network policy controller alone, in the node's namespace as its DaemonSet
    pod runs it (in-cluster config, the ServiceAccount's token; the API server reached through
    a relay of its loopback port), until its rules guard vLLM."""
    assert kube.control_plane is not None
    run = service_account_dir(kube, namespace, ACCOUNT, tmp_path / "run")
    api_port = int(kube.control_plane.server.rsplit(":", 1)[1])
    flags = [
        # the firewall only, as upstream's kube-router-firewall-daemonset.yaml runs it
        "--run-router=false",
        "--run-firewall=true",
        "--run-service-proxy=false",
        f"--hostname-override={node}",
        "--service-cluster-ip-range=10.0.0.0/24",  # the test control plane's
        "--health-port=0",  # nobody probes it here
        "--v=2",
    ]
    log = tmp_path / "kube-router.log"
    with netns.loopback_port_into(node, api_port) as inside:
        argv, env = in_cluster(f"https://127.0.0.1:{inside}", run, [str(binary), *flags])
        with _process(["ip", "netns", "exec", node, *argv], log, env):
            wait_until(
                f"kube-router's rules for vLLM's pod (log {log})",
                lambda: _guarding(node, namespace),
                timeout=60,
            )
            yield


def _node(core: client.CoreV1Api, name: str, address: str) -> None:
    """The Node kube-router looks itself up by (its name and InternalIP, as a kubelet reports)."""
    core.create_node({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    addresses = [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}]
    core.patch_node_status(name, {"status": {"addresses": addresses}})


def test_only_the_gateway_and_the_collector_reach_vllm_under_the_rendered_policy(
    kube: Kube, namespace: str, enforcer: Path, tmp_path: Path
) -> None:
    if kube.control_plane is None:
        pytest.skip("needs the local control plane: the enforcer's node is a namespace here")
    objects = _rendered()
    container, port = _vllm_container(objects)
    policy = objects["NetworkPolicy/vllm"]
    policy["metadata"]["namespace"] = namespace
    core = client.CoreV1Api(kube.api_client())
    with netns.test_node(4) as (node_name, (vllm, gateway, collector, stranger)):
        # the node's own address: its end of vLLM's link
        node = (node_name, vllm.peer)
        _node(core, *node)
        try:
            pods = [
                ("vllm", _labels(objects, "vllm"), vllm, container),
                ("gateway", _labels(objects, "gateway"), gateway, None),
                ("otel-collector", _labels(objects, "otel-collector"), collector, None),
                ("stranger", {"tubedemo-test": "no-app-label"}, stranger, None),
            ]
            for name, labels, host, spec in pods:
                ready_pod_at(core, namespace, name, labels, host.address, spec, node=node)
            kube.apply(policy, namespace=namespace)
            _grant(kube, namespace)
            url = f"http://{vllm.address}:{port}/v1/models"
            answers: dict[str, dict[str, Any]] = {}
            # the model names as rendered: vLLM's --served-model-name, the gateway's
            # TUBEDEMO_MODEL
            served = _vllm_arg(objects, "--served-model-name=")
            model = _gateway_env(objects, "TUBEDEMO_MODEL")
            standin = [sys.executable, "-m", "tubedemo.rehearsal.standin", f"--port={port}",
                       f"--served-model-name={served}"]  # fmt: skip
            with _process(vllm.wrap(standin), tmp_path / "vllm.log"):
                # Before anything enforces the policy the stranger gets through: the links
                # route, so what stops it later is the policy.
                wait_until(
                    "the stand-in answering the stranger before enforcement",
                    lambda: _ask(stranger, url) == "200",
                    timeout=30,
                )
                with _enforcing(kube, namespace, node_name, enforcer, tmp_path):
                    assert _ask(gateway, url) == "200"
                    assert _ask(collector, url) == "200"
                    refused = _ask(stranger, url)
                    assert "Connection refused" in refused or "timed out" in refused, refused
                    # the gateway program itself, in the gateway's pod and in the stranger's
                    upstream = f"http://{vllm.address}:{port}"
                    for pod, store in ((gateway, "gateway-store"), (stranger, "stranger-store")):
                        with running_gateway(
                            tmp_path / store, host=pod.address, wrap=pod.wrap,
                            upstream=upstream, probe=False,
                            extra_env={"TUBEDEMO_MODEL": model},
                        ) as program:  # fmt: skip
                            answers[pod.name] = _phone_via_gateway(pod, program)
                    assert answers[gateway.name]["done"] and answers[gateway.name]["text"], answers
                    assert answers[stranger.name]["text"] == "", answers
                    assert any("upstream" in str(e) for e in answers[stranger.name]["errors"])
        finally:
            core.delete_node(node_name)
            _revoke(kube, namespace)
