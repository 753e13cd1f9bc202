"""The rendered manifests are locked down (issue #23, "A hostile room"): every container
without privilege escalation or capabilities under the runtime's seccomp profile, non-root where
the image allows, Pod Security on the namespace, no API token where nothing uses it, and the
ALB answering 404 for what is not the audience's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import object_ref, render

PROFILES = ["eks", "local"]
VLLM = "Deployment/tubedemo/vllm"
OPTIONAL = {"eks": {"scaling": {"warm_capacity": {"replicas": 1}}}, "local": {}}
"""Options that add pods on a profile (warm capacity's placeholders: eks only)."""


def _pod_specs(profile: str) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for obj in render(config_from_dict({"profile": profile, **OPTIONAL[profile]})):
        spec = obj.get("spec", {})
        if obj["kind"] == "CronJob":
            specs.append((object_ref(obj), spec["jobTemplate"]["spec"]["template"]["spec"]))
        elif "template" in spec and "containers" in spec["template"].get("spec", {}):
            specs.append((object_ref(obj), spec["template"]["spec"]))
    assert specs
    return specs


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_drops_every_capability_and_cannot_escalate(profile: str) -> None:
    for ref, pod in _pod_specs(profile):
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, ref
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, ref
            assert sc.get("privileged", False) is False, ref
            assert sc["capabilities"] == {"drop": ["ALL"]}, ref


@pytest.mark.parametrize("profile", PROFILES)
def test_only_the_gpu_image_runs_as_root(profile: str) -> None:
    for ref, pod in _pod_specs(profile):
        if ref == VLLM and profile == "eks":
            assert "runAsNonRoot" not in pod["securityContext"], ref
            continue
        for c in pod["containers"]:
            non_root = c["securityContext"].get(
                "runAsNonRoot", pod["securityContext"].get("runAsNonRoot")
            )
            assert non_root is True, ref
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, ref


@pytest.mark.parametrize("profile", PROFILES)
def test_vllm_gets_no_service_account_token(profile: str) -> None:
    pods = dict(_pod_specs(profile))
    vllm = next(pod for ref, pod in pods.items() if ref == VLLM)
    assert vllm["automountServiceAccountToken"] is False


@pytest.mark.parametrize("profile", PROFILES)
def test_the_namespace_enforces_pod_security_baseline(profile: str) -> None:
    ns = render(config_from_dict({"profile": profile}))[0]
    assert ns["kind"] == "Namespace"
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_the_alb_answers_404_for_admin_metrics_readiness_and_the_schema() -> None:
    (ingress,) = [o for o in render(config_from_dict({"profile": "eks"})) if o["kind"] == "Ingress"]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    blocked = {
        (p["path"], p["pathType"])
        for p in paths
        if p["backend"]["service"] == {"name": "not-public", "port": {"name": "use-annotation"}}
    }
    assert blocked == {
        ("/api/admin", "Prefix"),
        ("/metrics", "Exact"),
        ("/readyz", "Exact"),
        ("/openapi.json", "Exact"),
    }
    assert paths[-1]["path"] == "/", "the ALB orders rules as listed: the catch-all goes last"
    annotations = ingress["metadata"]["annotations"]
    action = json.loads(annotations["alb.ingress.kubernetes.io/actions.not-public"])
    assert action["type"] == "fixed-response"
    assert action["fixedResponseConfig"]["statusCode"] == "404"


def _container(profile: str, ref: str) -> dict[str, Any]:
    return dict(_pod_specs(profile))[ref]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("valueFrom", e.get("value")) for e in container["env"]}


def test_vllm_wants_an_api_key_from_the_secret_that_the_gateway_sends() -> None:
    key = {"secretKeyRef": {"name": "tubedemo-admin", "key": "vllm-api-key", "optional": True}}
    assert _env(_container("eks", VLLM))["VLLM_API_KEY"] == key
    for profile in PROFILES:
        gateway = _container(profile, "Deployment/tubedemo/gateway")
        assert _env(gateway)["TUBEDEMO_UPSTREAM_API_KEY"] == key
    # with the key, /v1/models wants it too: the GPU probes send it (httpGet cannot read it)
    vllm = _container("eks", VLLM)
    for probe in ("startupProbe", "readinessProbe"):
        command = vllm[probe]["exec"]["command"]
        assert command[:2] == ["python3", "-c"] and "VLLM_API_KEY" in command[2], probe
        assert "/v1/models" in command[2]
    assert vllm["livenessProbe"]["httpGet"]["path"] == "/health"  # vLLM leaves it open


def test_on_eks_only_the_gateway_the_collector_and_the_vpc_reach_vllm() -> None:
    (policy,) = [
        o for o in render(config_from_dict({"profile": "eks"})) if o["kind"] == "NetworkPolicy"
    ]
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "vllm"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}}},
        {"ipBlock": {"cidr": "192.168.0.0/16"}},  # the API server's pod proxy, kubelet probes
    ]


def test_the_compile_cache_helpers_beside_vllm_run_as_the_gateway_user_read_only() -> None:
    cfg = config_from_dict({"profile": "eks", "model": {"compile_cache": True}})
    (pod,) = [
        o["spec"]["template"]["spec"]
        for o in render(cfg)
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    ]
    helpers = [*pod["initContainers"], *(c for c in pod["containers"] if c["name"] != "vllm")]
    assert [c["name"] for c in helpers] == ["compile-cache-pull", "compile-cache-push"]
    for c in helpers:
        sc = c["securityContext"]
        assert (sc["runAsNonRoot"], sc["runAsUser"], sc["readOnlyRootFilesystem"]) == (
            True,
            10001,
            True,
        )
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
