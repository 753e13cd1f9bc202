"""up, diff, mode, status and teardown against the real control plane, through the real CLI.

Each test runs `python -m tubedemo ...` as a subprocess, so exit codes and the absence of
tracebacks are observed exactly as a presenter sees them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.conftest import wait_until
from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node
from tests.kube.fixtures import Kube
from tests.kube.in_pod import in_pod, service_account_dir
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

REPO = Path(__file__).resolve().parents[2]
MANAGED = "app.kubernetes.io/managed-by=tubedemo"


@dataclass
class Demo:
    """One test's tubedemo deployment target: its namespace, NodePool and demo.yaml."""

    kube: Kube
    namespace: str
    pool: str
    config_path: Path
    raw: dict[str, Any]

    def write(self, **overrides: Any) -> None:
        raw = yaml.safe_load(yaml.safe_dump(self.raw))
        for dotted, value in overrides.items():
            node = raw
            *parents, leaf = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        self.config_path.write_text(yaml.safe_dump(raw))

    def manifests(self) -> list[dict[str, Any]]:
        return render(config_from_dict(yaml.safe_load(self.config_path.read_text())))

    def run(
        self, *args: str, kubeconfig: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(
            *args,
            "--config",
            str(self.config_path),
            "--kubeconfig",
            str(kubeconfig or self.kube.kubeconfig),
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        argv = [*args, "--config", str(self.config_path), "--kubeconfig", str(self.kube.kubeconfig)]
        return subprocess.Popen(
            [sys.executable, "-m", "tubedemo", *argv],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"  # one message, one line, even on a narrow CI terminal
    env.pop("KUBECONFIG", None)
    return env


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def demo(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[Demo]:
    """A namespace prepared as a presenter would: HF token Secret, the scaler's Service, and
    schedulable KWOK nodes: one general node and one GPU node of the pool (`<pool>-0`), as
    Karpenter would have launched for the first vLLM replica."""
    kube.require_kwok()
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "hf-token"}, "stringData": {"token": "hf_test"}}
    )
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "admin-test"}}
    )
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "keda-otel-scaler"},
            "spec": {"ports": [{"name": "scaler", "port": 4318}]},
        },
    )
    general = f"general-{namespace}"
    node = fake_node(general)
    node["spec"] = {}  # untainted: collector and gateway pods may land here
    kube.apply(node)
    pool = f"gpu-{namespace}"
    raw = {
        "profile": "eks",
        "cluster": {"namespace": namespace, "account_id": "123456789012"},
        # phones reach no one here: no load balancer controller runs in this control plane
        "web": {"exposure": "none"},
        # the add-ons' stand-ins live in the test's namespace; the AWS side has its own tests
        # (tests/cluster/test_aws_preflight.py, against moto's server)
        "prerequisites": {
            "keda_namespace": namespace,
            "karpenter_namespace": namespace,
            "load_balancer_controller_namespace": namespace,
            "ebs_csi_namespace": namespace,
            "aws_checks": False,
        },
        # the cold path, chosen explicitly: `auto` would need the AWS account (`tubedemo
        # prepare`; tests/cluster/test_prepare.py covers it against moto), and these tests
        # check the hub token Secret the cold path reads
        "gpu_pool": {"name": pool, "image_snapshot_id": ""},
        "model": {"weights_uri": ""},
        # as after `tubedemo images push --write` (no image is pulled here: KWOK nodes)
        "gateway": {"image": "registry.invalid/tubedemo/gateway:test"},
        "scaling": {
            "scaler_address": f"keda-otel-scaler.{namespace}.svc:4318",
            "otlp_endpoint": f"keda-otel-scaler.{namespace}.svc:4317",
        },
    }
    d = Demo(kube, namespace, pool, tmp_path / "demo.yaml", raw)
    d.write()
    storage = client.StorageV1Api(kube.api_client())
    # a new EKS cluster has no gp3 class: the render's, made by `up` (one class, cluster-scoped:
    # an earlier test's `up` may have left it)
    _ignore_404(lambda: storage.delete_storage_class("gp3"))
    install_addons(kube, namespace)
    kube.apply(gpu_node(d, f"{pool}-0"))
    # The gateway's volume (store or S3 spool) needs storage; this control plane has no
    # provisioner, so a static PersistentVolume reserved for the claim stands in for the EBS
    # volume that EKS's CSI driver would create. The PV controller binds it for real.
    volume = f"gateway-data-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",  # the class the EKS render's claim names
                "hostPath": {"path": f"/tmp/{volume}"},
                "claimRef": {"namespace": namespace, "name": "gateway-data"},
                "persistentVolumeReclaimPolicy": "Delete",
            },
        }
    )
    try:
        yield d
    finally:
        _ignore_404(lambda: core.delete_persistent_volume(volume))
        _ignore_404(lambda: storage.delete_storage_class("gp3"))
        _cleanup_cluster_scoped(kube, pool, [general])


ADDONS = {
    # Deployment name -> the image a Helm install of the validated release runs
    "keda-operator": "ghcr.io/kedify/keda-operator:v2.20.2",
    "karpenter": "public.ecr.aws/karpenter/controller:1.14.3",
    "aws-load-balancer-controller": "public.ecr.aws/eks/aws-load-balancer-controller:v2.15.0",
    "ebs-csi-controller": "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.50.0",
}


def addon_deployment(name: str, image: str) -> dict[str, Any]:
    """A stand-in for an add-on's controller: its Deployment name and image as Helm installs
    it, running on the KWOK node (preflight reads the name, the version and readiness)."""
    labels = {"app.kubernetes.io/name": f"standin-{name}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "controller", "image": image}],
                    "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                },
            },
        },
    }


def install_addons(kube: Kube, namespace: str, only: tuple[str, ...] | None = None) -> None:
    """What `tubedemo preflight` looks for before `up`: the add-ons' controllers (ready) and
    the EBS CSI driver's registration (the gp3 StorageClass is rendered: `up` makes it)."""
    apps = client.AppsV1Api(kube.api_client())
    names = [n for n in ADDONS if only is None or n in only]
    for name in names:
        apps.create_namespaced_deployment(namespace, addon_deployment(name, ADDONS[name]))
    kube.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": {"name": "ebs.csi.aws.com"},
            "spec": {"attachRequired": True, "podInfoOnMount": False},
        }
    )
    for name in names:
        wait_until(
            f"add-on stand-in {name} ready",
            lambda n=name: (
                (apps.read_namespaced_deployment(n, namespace).status.ready_replicas) or 0
            ),
        )


def _cleanup_cluster_scoped(kube: Kube, pool: str, nodes: list[str]) -> None:
    core = client.CoreV1Api(kube.api_client())
    custom = client.CustomObjectsApi(kube.api_client())
    for name in nodes:
        _ignore_404(lambda n=name: core.delete_node(n))
    for node in core.list_node(label_selector=f"karpenter.sh/nodepool={pool}").items:
        _ignore_404(lambda n=node.metadata.name: core.delete_node(n))
    _ignore_404(
        lambda: custom.delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", pool)
    )
    _ignore_404(
        lambda: custom.delete_cluster_custom_object(
            "karpenter.k8s.aws", "v1", "ec2nodeclasses", pool
        )
    )


def _ignore_404(call: Any) -> None:
    try:
        call()
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def gpu_node(demo: Demo, name: str) -> dict[str, Any]:
    node = fake_node(
        name,
        {
            "karpenter.sh/nodepool": demo.pool,
            "node.kubernetes.io/instance-type": "g5.2xlarge",
            "karpenter.sh/capacity-type": "spot",
        },
    )
    # Only the GPU taint Karpenter's NodePool sets: vLLM tolerates it, nothing else does.
    node["spec"]["taints"] = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    return node


def live_object(kube: Kube, manifest: dict[str, Any]) -> Any:
    dyn = kube.dynamic()
    resource = dyn.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    meta = manifest["metadata"]
    try:
        return resource.get(name=meta["name"], namespace=meta.get("namespace"))
    except Exception as exc:  # the dynamic client raises NotFoundError for 404
        if getattr(exc, "status", None) == 404:
            return None
        raise


def tubedemo_objects(kube: Kube, demo: Demo) -> list[str]:
    """Every object labelled as tubedemo's in the namespace, plus its cluster-scoped ones."""
    dyn = kube.dynamic()
    found = []
    for api_version, kind in (
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "Deployment"),
        ("policy/v1", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("keda.sh/v1alpha1", "ScaledObject"),
    ):
        res = dyn.resources.get(api_version=api_version, kind=kind)
        for item in res.get(namespace=demo.namespace, label_selector=MANAGED).items:
            found.append(f"{kind}/{item.metadata.name}")
    for api_version, kind in (
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ):
        res = dyn.resources.get(api_version=api_version, kind=kind)
        for item in res.get(label_selector=MANAGED).items:
            if item.metadata.name == demo.pool:
                found.append(f"{kind}/{item.metadata.name}")
    return sorted(found)


# --- up / diff --------------------------------------------------------------------------------


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
    versions = {
        (m["kind"], m["metadata"]["name"]): live_object(demo.kube, m).metadata.resourceVersion
        for m in demo.manifests()
    }
    second = demo.run("up", "--timeout", "90")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
    after = {
        (m["kind"], m["metadata"]["name"]): live_object(demo.kube, m).metadata.resourceVersion
        for m in demo.manifests()
    }
    # Deployments' status moves on its own; their resourceVersion may bump without our doing.
    ours = {k: v for k, v in versions.items() if k[0] != "Deployment"}
    assert {k: after[k] for k in ours} == ours


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


# --- mode ---------------------------------------------------------------------------------------


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


# --- status ---------------------------------------------------------------------------------


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


# --- teardown -------------------------------------------------------------------------------


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


def test_diff_resolves_auto_to_what_prepare_made_before_the_api_server_sees_the_render(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auto` through the CLI against moto (a stand-in for EC2, S3, IAM and SSM; see
    tests/prepare/test_prepare.py for its gaps) and this API server's server-side dry run."""
    from tests.aws import moto_server, point_boto3_at
    from tests.prepare.test_prepare import _publish_bottlerocket_ami
    from tubedemo.aws.session import Aws
    from tubedemo.prepare import snapshot, weights

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
        snap = snapshot.make_snapshot(aws, cfg, lambda _: None, sleep=lambda _: None)
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


# --- errors, each produced for real ----------------------------------------------------------


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


def test_preflight_alone_passes_when_everything_is_there_and_applies_nothing(demo: Demo) -> None:
    result = demo.run("preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"secret {demo.namespace}/tubedemo-admin exists (key token)" in out
    assert f"secret {demo.namespace}/hf-token exists (key token)" in out
    assert "StorageClass gp3 will be created by up" in out
    assert "Kubernetes v1.34" in out and "is within 1.33-1.35" in out
    assert "KEDA (Kedify build) v2.20.2" in out
    assert "Karpenter 1.14.3" in out
    assert "EBS CSI driver v1.50.0 (ebs.csi.aws.com)" in out
    assert "skip AWS account checks" in out
    assert "checks passed" in out
    assert tubedemo_objects(demo.kube, demo) == []


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


def test_preflight_refuses_a_namespace_owned_by_another_tool(demo: Demo) -> None:
    core = client.CoreV1Api(demo.kube.api_client())
    core.patch_namespace(
        demo.namespace, {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    )
    result = demo.run("up")
    assert_one_line_error(result, f"namespace {demo.namespace} is managed by Helm")
    assert tubedemo_objects(demo.kube, demo) == []


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
