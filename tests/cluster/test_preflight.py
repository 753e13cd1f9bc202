"""`preflight` against the real control plane, through the real CLI: each thing `up` needs
in the cluster, named with how to get it when it is missing (the AWS account's side:
tests/aws)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.cluster.demo import (
    Demo,
    assert_one_line_error,
    install_addons,
    tubedemo_objects,
)
from tests.conftest import wait_until


def test_preflight_names_a_missing_hf_token_secret_and_how_to_create_it(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.delete_namespaced_secret("hf-token", demo.namespace)
    result = demo.run("up")
    assert_one_line_error(
        result, f"secret {demo.namespace}/hf-token", "kubectl", "create secret generic hf-token"
    )
    assert "ok  context tubedemo-test" in result.stdout  # the checks before it passed, shown
    assert tubedemo_objects(demo.kube, demo) == []


def test_preflight_names_a_missing_otel_scaler_service(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.delete_namespaced_service("keda-otel-scaler", demo.namespace)
    result = demo.run("up")
    assert_one_line_error(result, "Kedify OTEL scaler", "is missing", "README")


def test_preflight_names_a_missing_scaler_ca_and_who_makes_it(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.delete_namespaced_config_map("otel-scaler-ca", demo.namespace)
    result = demo.run("up")
    assert_one_line_error(
        result, f"configmap {demo.namespace}/otel-scaler-ca", "is missing", "cluster create"
    )


def test_preflight_alone_passes_when_everything_is_there_and_applies_nothing(demo: Demo) -> None:
    result = demo.run("preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"secret {demo.namespace}/tubedemo-admin exists (key token, vllm-api-key)" in out
    assert f"secret {demo.namespace}/hf-token exists (key token)" in out
    assert "StorageClass gp3 will be created by up" in out
    assert "Kubernetes v1.34" in out and "is within 1.33-1.35" in out
    assert "KEDA (Kedify build) v2.20.2" in out
    assert "Karpenter 1.14.3" in out
    assert "EBS CSI driver v1.50.0 (ebs.csi.aws.com)" in out
    assert "skip AWS account checks" in out
    assert "checks passed" in out
    assert tubedemo_objects(demo.kube, demo) == []


def _aws_node(namespace: str, enforcing: str) -> dict[str, Any]:
    """The VPC CNI's DaemonSet as the EKS add-on has it (the agent's arguments of VPC CNI
    v1.21's chart), its network policy agent told ``--enable-network-policy=<enforcing>``;
    a node selector that matches no node keeps its pods off the test's nodes."""
    labels = {"k8s-app": "aws-node"}
    agent_args = [
        "--enable-ipv6=false",
        f"--enable-network-policy={enforcing}",
        "--enable-cloudwatch-logs=false",
        "--metrics-bind-addr=:8162",
        "--health-probe-bind-addr=:8163",
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"tubedemo-test/no-such-node": "true"},
                    "containers": [
                        {"name": "aws-node", "image": "registry.invalid/amazon-k8s-cni:v1.21.1"},
                        {
                            "name": "aws-network-policy-agent",
                            "image": "registry.invalid/aws-network-policy-agent:v1.3.2",
                            "args": agent_args,
                        },
                    ],
                },
            },
        },
    }


def test_preflight_refuses_a_vpc_cni_that_would_not_enforce_the_network_policy(
    demo: Demo,
) -> None:
    # a cluster made before `cluster create` turned enableNetworkPolicy on: the add-on's default
    demo.kube.apply(_aws_node(demo.namespace, "false"), demo.namespace)
    result = demo.run("preflight")
    assert_one_line_error(
        result,
        "does not enforce NetworkPolicy",
        "aws-network-policy-agent runs without --enable-network-policy=true",
        "eksctl update addon -f tubedemo-eks/eksctl.yaml",
        "aws eks update-addon --cluster-name tubedemo --region us-west-2 --addon-name vpc-cni "
        """--configuration-values '{"enableNetworkPolicy":"true"}'""",
    )
    demo.kube.apply(_aws_node(demo.namespace, "true"), demo.namespace)
    result = demo.run("preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the VPC CNI ({demo.namespace}/aws-node) enforces NetworkPolicy" in result.stdout


def test_preflight_warns_when_the_cluster_has_no_vpc_cni_to_enforce_the_network_policy(
    demo: Demo,
) -> None:
    result = demo.run("preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"warn no aws-node DaemonSet in {demo.namespace}" in " ".join(result.stdout.split())


def test_preflight_names_the_missing_admin_token_secret_derived_from_the_gateway_pod(
    demo: Demo,
) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.delete_namespaced_secret("tubedemo-admin", demo.namespace)
    result = demo.run("preflight")
    assert_one_line_error(
        result,
        f"secret {demo.namespace}/tubedemo-admin (the gateway's admin token) is missing",
        "create secret generic tubedemo-admin --from-literal=token=",
    )


def test_preflight_names_a_secret_without_the_key_the_pod_reads(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.replace_namespaced_secret(
        "tubedemo-admin",
        demo.namespace,
        {"metadata": {"name": "tubedemo-admin"}, "stringData": {"password": "x"}},
    )
    assert_one_line_error(demo.run("preflight"), "tubedemo-admin", "has no key token")


def test_preflight_fails_when_the_admin_secret_lacks_the_vllm_key_the_pods_read(
    demo: Demo,
) -> None:
    # a Secret from before #23: vLLM and the gateway read the key optionally and would run
    # without one, so vLLM's /v1 would answer any pod in the VPC
    core = client.CoreV1Api(demo.kube.api_client())
    core.replace_namespaced_secret(
        "tubedemo-admin",
        demo.namespace,
        {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "admin-test"}},
    )
    assert_one_line_error(
        demo.run("preflight"), "tubedemo-admin", "has no key vllm-api-key", "cluster create"
    )


def test_preflight_names_a_missing_storage_class_and_how_to_get_one(demo: Demo) -> None:
    demo.write(storage__storage_class=f"gp3-{demo.namespace}")
    assert_one_line_error(
        demo.run("preflight"),
        f"StorageClass gp3-{demo.namespace} (the gateway volume's) does not exist",
        "storage.create_storage_class: true",
    )


def test_up_makes_the_gp3_class_a_new_eks_cluster_lacks_and_preflight_knows_it_then(
    demo: Demo,
) -> None:
    result = demo.run("up", "--timeout", "90")
    assert result.returncode == 0, result.stdout + result.stderr
    storage = client.StorageV1Api(demo.kube.api_client())
    made = storage.read_storage_class("gp3")
    assert made.provisioner == "ebs.csi.aws.com"
    assert made.parameters == {"type": "gp3", "encrypted": "true"}
    assert made.volume_binding_mode == "WaitForFirstConsumer"
    again = demo.run("preflight")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "StorageClass gp3 exists as tubedemo renders it" in again.stdout


def test_preflight_refuses_a_gp3_class_up_could_not_change_and_says_how_to_use_it(
    demo: Demo,
) -> None:
    storage = client.StorageV1Api(demo.kube.api_client())
    storage.create_storage_class(
        {
            "metadata": {"name": "gp3"},
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"type": "gp3"},
            "volumeBindingMode": "Immediate",
        }
    )
    assert_one_line_error(
        demo.run("preflight"),
        "StorageClass gp3 exists with parameters {'type': 'gp3'}",
        "volumeBindingMode 'Immediate' (tubedemo renders 'WaitForFirstConsumer')",
        "storage.create_storage_class: false",
    )
    demo.write(storage__create_storage_class=False)
    result = demo.run("preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "StorageClass gp3 exists" in result.stdout


@pytest.mark.parametrize(
    ("deployment", "title"),
    [("keda-operator", "KEDA (Kedify build)"), ("karpenter", "Karpenter")],
)
def test_preflight_names_a_missing_addon_and_how_to_install_it(
    demo: Demo, deployment: str, title: str
) -> None:
    apps = client.AppsV1Api(demo.kube.api_client())
    apps.delete_namespaced_deployment(deployment, demo.namespace)
    assert_one_line_error(
        demo.run("preflight"), f"{title} is not installed (no Deployment {deployment})", "README"
    )


def test_preflight_refuses_an_addon_older_than_the_validated_release(demo: Demo) -> None:
    apps = client.AppsV1Api(demo.kube.api_client())
    apps.patch_namespaced_deployment(
        "keda-operator",
        demo.namespace,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "controller", "image": "ghcr.io/kedify/keda-operator:v2.15.1"}
                        ]
                    }
                }
            }
        },
    )
    wait_until(
        "the old KEDA rolled out",
        lambda: (
            (
                apps.read_namespaced_deployment(
                    "keda-operator", demo.namespace
                ).status.updated_replicas
                or 0
            )
            == 1
            and (
                apps.read_namespaced_deployment(
                    "keda-operator", demo.namespace
                ).status.ready_replicas
                or 0
            )
            == 1
        ),
    )
    assert_one_line_error(demo.run("preflight"), "runs v2.15.1", ">= 2.20.0", "upgrade it")


def test_preflight_needs_the_load_balancer_controller_and_its_ingress_class_for_an_ingress(
    demo: Demo,
) -> None:
    demo.write(web__exposure="ingress")
    apps = client.AppsV1Api(demo.kube.api_client())
    apps.delete_namespaced_deployment("aws-load-balancer-controller", demo.namespace)
    assert_one_line_error(
        demo.run("preflight"), "AWS Load Balancer Controller is not installed", "web.exposure"
    )
    install_addons(demo.kube, demo.namespace, only=("aws-load-balancer-controller",))
    net = client.NetworkingV1Api(demo.kube.api_client())
    name = f"alb-{demo.namespace}"
    demo.write(web__exposure="ingress", web__ingress={"class_name": name})
    assert_one_line_error(
        demo.run("preflight"), f"IngressClass {name} does not exist", "createIngressClassResource"
    )
    net.create_ingress_class(
        {"metadata": {"name": name}, "spec": {"controller": "ingress.k8s.aws/alb"}}
    )
    try:
        result = demo.run("preflight")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "AWS Load Balancer Controller v2.15.0" in result.stdout
        assert f"IngressClass {name} exists" in result.stdout
    finally:
        net.delete_ingress_class(name)


def test_preflight_names_a_missing_ebs_csi_driver(demo: Demo) -> None:
    storage = client.StorageV1Api(demo.kube.api_client())
    storage.delete_csi_driver("ebs.csi.aws.com")
    try:
        assert_one_line_error(
            demo.run("preflight"),
            "CSIDriver ebs.csi.aws.com is not registered",
            "aws-ebs-csi-driver",
        )
    finally:
        install_addons(demo.kube, demo.namespace, only=())


def test_preflight_refuses_a_namespace_owned_by_another_tool(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.patch_namespace(
        demo.namespace, {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    )
    result = demo.run("up")
    assert_one_line_error(result, f"namespace {demo.namespace} is managed by Helm")
    assert tubedemo_objects(demo.kube, demo) == []
