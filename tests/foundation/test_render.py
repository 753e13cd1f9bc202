"""render: deterministic, labelled, ordered, and equal to the reviewed golden snapshots."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.manifests.render import object_ref, render, to_yaml, write_files

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
REPO = Path(__file__).resolve().parents[2]


def _kinds(cfg: DemoConfig) -> list[str]:
    return [obj["kind"] for obj in render(cfg)]


@pytest.mark.parametrize("profile", ["eks", "local"])
def test_default_render_matches_the_golden_snapshot(profile: str, update_golden: bool) -> None:
    text = to_yaml(render(config_from_dict({"profile": profile})))
    golden = GOLDEN / f"render-{profile}.yaml"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), "no golden file yet: run `nox -s golden` and review it"
    assert text == golden.read_text(encoding="utf-8"), (
        "render changed; if intended, run `nox -s golden` and review the diff"
    )


def test_render_is_deterministic() -> None:
    assert to_yaml(render(DemoConfig())) == to_yaml(render(DemoConfig()))


def test_every_object_is_labelled_as_tubedemos() -> None:
    for obj in render(DemoConfig()):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "tubedemo", object_ref(obj)
        assert labels["app.kubernetes.io/managed-by"] == "tubedemo", object_ref(obj)


def test_namespace_first_and_scaled_object_last() -> None:
    kinds = _kinds(DemoConfig())
    assert kinds[0] == "Namespace"
    assert kinds[-1] == "ScaledObject"
    assert kinds.index("Deployment") < kinds.index("ScaledObject")
    assert kinds.index("EC2NodeClass") < kinds.index("NodePool")


def test_local_profile_has_no_karpenter_and_no_gpu() -> None:
    cfg = config_from_dict({"profile": "local"})
    objs = render(cfg)
    assert not {"NodePool", "EC2NodeClass"} & {o["kind"] for o in objs}
    vllm = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm")
    pod = vllm["spec"]["template"]["spec"]
    assert "tolerations" not in pod
    assert "nvidia.com/gpu" not in str(pod["containers"][0]["resources"])
    assert pod["containers"][0]["image"] == "tubedemo.invalid/vllm-standin:not-pushed"


def test_unset_own_images_render_as_never_resolving_placeholders_and_set_ones_as_given() -> None:
    def images(cfg: DemoConfig) -> dict[str, str]:
        return {
            o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in render(cfg)
            if o["kind"] == "Deployment" and o["metadata"]["name"] in ("gateway", "vllm")
        }

    assert images(config_from_dict({"profile": "local"})) == {
        "gateway": "tubedemo.invalid/gateway:not-pushed",
        "vllm": "tubedemo.invalid/vllm-standin:not-pushed",
    }
    pushed = "registry.example/tubedemo/gateway:0.1.0@sha256:" + "a" * 64
    assert images(config_from_dict({"gateway": {"image": pushed}}))["gateway"] == pushed


def test_vllm_deployment_leaves_replicas_to_the_hpa() -> None:
    vllm = next(
        o
        for o in render(DemoConfig())
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )
    assert "replicas" not in vllm["spec"]


def test_grace_period_covers_prestop_and_shutdown_timeout() -> None:
    cfg = config_from_dict({"model": {"prestop_sleep": "20s", "shutdown_timeout": "60s"}})
    vllm = next(
        o for o in render(cfg) if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )
    pod = vllm["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["terminationGracePeriodSeconds"] >= 20 + 60
    assert "--shutdown-timeout=60" in container["args"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "20"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/models"


def test_scaled_object_formula_and_trigger_come_from_config() -> None:
    cfg = config_from_dict(
        {
            "scaling": {
                "multiplier": 10,
                "target": 25,
                "scaler": "external",
                "metric_labels": {"model_name": "llama"},
            }
        }
    )
    so = next(o for o in render(cfg) if o["kind"] == "ScaledObject")
    # Default formula: every trigger summed, i.e. the requests in flight (waiting + running).
    assert so["spec"]["advanced"]["scalingModifiers"]["formula"] == "queue + running"
    assert so["spec"]["advanced"]["scalingModifiers"]["target"] == "25"
    queue, running = so["spec"]["triggers"]
    for trigger in (queue, running):
        assert trigger["type"] == "external"
        assert trigger["metadata"]["scalerAddress"] == cfg.scaling.scaler_address
    assert queue["name"] == "queue" and running["name"] == "running"
    assert queue["metadata"]["metricQuery"] == "sum(vllm_num_requests_waiting{model_name=llama})"
    assert running["metadata"]["metricQuery"] == "sum(vllm_num_requests_running{model_name=llama})"


def test_a_formula_over_the_queue_alone_renders_one_trigger() -> None:
    cfg = config_from_dict(
        {"scaling": {"extra_triggers": {}, "formula": "max(queue * 10, 1)", "target": 10}}
    )
    so = next(o for o in render(cfg) if o["kind"] == "ScaledObject")
    assert so["spec"]["advanced"]["scalingModifiers"]["formula"] == "max(queue * 10, 1)"
    assert [t["name"] for t in so["spec"]["triggers"]] == ["queue"]


def test_talk_window_becomes_a_zero_budget_schedule() -> None:
    cfg = config_from_dict({"talk": {"window_start": "2026-12-03T14:30:00Z", "window": "90m"}})
    pool = next(o for o in render(cfg) if o["kind"] == "NodePool")
    budgets = pool["spec"]["disruption"]["budgets"]
    assert budgets[0] == {"nodes": "0", "schedule": "30 14 3 12 *", "duration": "1h30m"}


def test_collector_config_change_rolls_its_deployment() -> None:
    def annotation(cfg: DemoConfig) -> str:
        dep = next(
            o
            for o in render(cfg)
            if o["kind"] == "Deployment" and o["metadata"]["name"] == "otel-collector"
        )
        return str(dep["spec"]["template"]["metadata"]["annotations"]["tubedemo.dev/config-hash"])

    assert annotation(DemoConfig()) != annotation(
        config_from_dict({"scaling": {"scrape_interval": "2s"}})
    )


def test_eks_exposes_the_page_through_an_alb_ingress_by_default_and_local_not_at_all() -> None:
    assert "Ingress" in _kinds(DemoConfig())
    assert "Ingress" not in _kinds(config_from_dict({"profile": "local"}))
    cfg = config_from_dict({"web": {"ingress": {"host": "tube.example.com"}}})
    ingress = next(o for o in render(cfg) if o["kind"] == "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "tube.example.com"
    assert ingress["spec"]["ingressClassName"] == "alb"


def test_loadbalancer_exposure_renders_an_nlb_service_and_no_ingress() -> None:
    objs = render(config_from_dict({"web": {"exposure": "loadbalancer"}}))
    assert "Ingress" not in [o["kind"] for o in objs]
    service = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "gateway")
    assert service["spec"]["type"] == "LoadBalancer"
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    # An NLB sends no X-Forwarded-For: the gateway sees each phone's own address only when the
    # target group preserves it (off by default for IP targets over TCP).
    attributes = annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"]
    assert "preserve_client_ip.enabled=true" in attributes.split(",")


@pytest.mark.parametrize("store", ["local", "s3"])
def test_one_gateway_whose_store_or_spool_outlives_the_pod(store: str) -> None:
    objs = render(config_from_dict({"storage": {"kind": store}}))
    gateway = next(
        o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"
    )
    # Its state lives in memory: a second replica would not see the first one's answers.
    assert gateway["spec"]["replicas"] == 1
    assert gateway["spec"]["strategy"] == {"type": "Recreate"}
    pod = gateway["spec"]["template"]["spec"]
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": "gateway-data"}}
    assert claim in pod["volumes"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    where = env["TUBEDEMO_STORE"] if store == "local" else env["TUBEDEMO_SPOOL_DIR"]
    assert where.startswith("/data")
    assert any(o["kind"] == "PersistentVolumeClaim" for o in objs)


def _gateway_env(cfg: DemoConfig) -> dict[str, str]:
    gateway = next(
        o for o in render(cfg) if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"
    )
    return {
        e["name"]: e["value"]
        for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]
        if "value" in e
    }


@pytest.mark.parametrize(
    ("raw", "trusted"),
    [
        # Behind the ALB every request comes from an address inside the VPC.
        ({}, "192.168.0.0/16,127.0.0.1/32,::1/128"),
        ({"cluster": {"vpc_cidr": "10.42.0.0/16"}}, "10.42.0.0/16,127.0.0.1/32,::1/128"),
        ({"profile": "local"}, "127.0.0.1/32,::1/128"),
        ({"gateway": {"trusted_proxies": ["10.1.2.0/24"]}}, "10.1.2.0/24"),
    ],
)
def test_gateway_believes_forwarded_for_from_the_load_balancers_range(
    raw: dict[str, Any], trusted: str
) -> None:
    env = _gateway_env(config_from_dict(raw))
    assert env["TUBEDEMO_TRUSTED_PROXIES"] == trusted
    # The gateway's own settings loader (its real consumer) accepts the rendered value.
    settings = load_settings(env={**env, "TUBEDEMO_ADMIN_TOKEN": "t" * 20, "TUBEDEMO_STORE": "/x"})
    assert ",".join(settings.trusted_proxies) == trusted


def test_write_files_one_object_per_file_in_apply_order(tmp_path: Path) -> None:
    (tmp_path / "99-stale-thing.yaml").write_text("kind: Stale\n")
    files = write_files(render(DemoConfig()), tmp_path)
    assert [f.name for f in sorted(tmp_path.glob("*.yaml"))] == [f.name for f in files]
    docs = [list(yaml.safe_load_all(f.read_text())) for f in files]
    assert all(len(d) == 1 for d in docs)
    assert docs[0][0]["kind"] == "Namespace"


def test_a_wheel_built_from_the_repo_renders(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("tubedemo-*.whl"))
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    assert (unpacked / "tubedemo/_bundled/templates/vllm.yaml.j2").is_file()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tubedemo.manifests.render as r, tubedemo.core.config as c;"
            "print(r.resource_dir('templates')); print(len(r.render(c.DemoConfig())))",
        ],
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    where, count = out.stdout.split()
    assert where.startswith(str(unpacked))
    assert int(count) == len(render(DemoConfig()))


def _pod(objs: list[dict], name: str) -> dict:
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    return dep["spec"]["template"]["spec"]


def test_eks_gateway_volume_is_writable_for_the_image_user_on_a_gp3_class() -> None:
    objs = render(DemoConfig())
    pod = _pod(objs, "gateway")
    # gateway/Dockerfile: USER 10001. A fresh EBS volume is root-owned 755: fsGroup chowns it.
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["securityContext"]["runAsUser"] == 10001
    pvc = next(o for o in objs if o["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "gp3"
    assert "StorageClass" not in _kinds(DemoConfig())  # only when asked


def test_the_gp3_storage_class_is_rendered_when_asked_and_applied_before_the_claim() -> None:
    objs = render(config_from_dict({"storage": {"create_storage_class": True}}))
    kinds = [o["kind"] for o in objs]
    sc = objs[kinds.index("StorageClass")]
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"]["type"] == "gp3"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert kinds.index("StorageClass") < kinds.index("PersistentVolumeClaim")


def test_eks_gateway_service_account_assumes_its_role_through_irsa_with_the_account_bucket() -> (
    None
):
    cfg = config_from_dict({"cluster": {"account_id": "123456789012", "region": "eu-west-1"}})
    objs = render(cfg)
    sa = next(
        o for o in objs if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "gateway"
    )
    assert (
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == "arn:aws:iam::123456789012:role/tubedemo-gateway"
    )
    env = {e["name"]: e.get("value") for e in _pod(objs, "gateway")["containers"][0]["env"]}
    assert env["TUBEDEMO_S3_BUCKET"] == "tubedemo-123456789012-eu-west-1"


def test_eks_render_points_nowhere_at_this_machine() -> None:
    text = to_yaml(render(config_from_dict({"cluster": {"account_id": "123456789012"}})))
    assert "localhost" not in text
    # Loopback may appear only as a trusted proxy CIDR (the gateway's own health checks), never
    # as an address anything is sent to.
    others = [line for line in text.splitlines() if "127.0.0.1" in line and "/32" not in line]
    assert others == []
    assert "TUBEDEMO_AUDIENCE_URL" not in text  # discovered from the load balancer by `up`


def test_an_explicit_audience_url_is_rendered_for_the_gateway() -> None:
    cfg = config_from_dict({"talk": {"audience_url": "https://tube.example.com/"}})
    env = {e["name"]: e.get("value") for e in _pod(render(cfg), "gateway")["containers"][0]["env"]}
    assert env["TUBEDEMO_AUDIENCE_URL"] == "https://tube.example.com/"


@pytest.mark.parametrize("scaler", ["kedify-otel", "external"])
def test_both_trigger_types_name_the_otel_scaler(scaler: str) -> None:
    cfg = config_from_dict({"scaling": {"scaler": scaler}})
    so = next(o for o in render(cfg) if o["kind"] == "ScaledObject")
    assert (
        so["spec"]["triggers"][0]["metadata"]["scalerAddress"] == "keda-otel-scaler.keda.svc:4318"
    )


def test_gpu_nodes_start_from_the_image_snapshot_when_one_is_configured() -> None:
    def data_volume(raw: dict) -> dict:
        nc = next(o for o in render(config_from_dict(raw)) if o["kind"] == "EC2NodeClass")
        return next(b for b in nc["spec"]["blockDeviceMappings"] if b["deviceName"] == "/dev/xvdb")

    assert "snapshotID" not in data_volume({"gpu_pool": {"image_snapshot_id": ""}})["ebs"]
    snap = {"gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"}}
    assert data_volume(snap)["ebs"]["snapshotID"] == "snap-0123456789abcdef0"
    # auto, unresolved (an offline render): a visible placeholder; `up` renders the real id
    assert data_volume({})["ebs"]["snapshotID"] == "${PREPARED_IMAGE_SNAPSHOT}"


def test_auto_weights_render_the_prepared_copy_in_the_per_account_bucket() -> None:
    cfg = config_from_dict({"cluster": {"account_id": "123456789012"}})
    args = _pod(render(cfg), "vllm")["containers"][0]["args"]
    assert args[:2] == [
        "s3://tubedemo-123456789012-us-west-2/models/meta-llama/Llama-3.1-8B-Instruct/main/",
        "--load-format=runai_streamer",
    ]
    cold = config_from_dict({"model": {"weights_uri": ""}})
    assert _pod(render(cold), "vllm")["containers"][0]["args"][0] == (
        "meta-llama/Llama-3.1-8B-Instruct"
    )
    pinned = config_from_dict({"model": {"weights_uri": "", "revision": "0a1b2c"}})
    assert _pod(render(pinned), "vllm")["containers"][0]["args"][1] == "--revision=0a1b2c"
    copied = config_from_dict({"model": {"revision": "0a1b2c"}})
    assert copied.prepared_weights_key == "models/meta-llama/Llama-3.1-8B-Instruct/0a1b2c/"


def test_weights_in_s3_are_streamed_by_vllm_with_its_own_irsa_role_and_no_hub_token() -> None:
    cfg = config_from_dict(
        {
            "cluster": {"account_id": "123456789012"},
            "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
        }
    )
    objs = render(cfg)
    pod = _pod(objs, "vllm")
    args = pod["containers"][0]["args"]
    assert args[:2] == ["s3://weights/llama-3.1-8b-instruct/", "--load-format=runai_streamer"]
    assert pod["serviceAccountName"] == "vllm"
    assert "HF_TOKEN" not in [e["name"] for e in pod["containers"][0]["env"]]
    sa = next(o for o in objs if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "vllm")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/tubedemo-vllm"
    )


def test_init_for_eks_leaves_the_audience_url_to_discovery(tmp_path: Path) -> None:
    for profile, expected in (("eks", "audience_url: null"), ("local", "http://localhost:8080")):
        path = tmp_path / f"{profile}.yaml"
        result = subprocess.run(
            [sys.executable, "-m", "tubedemo", "init", str(path), "--profile", profile],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        talk = path.read_text().split("\ntalk:\n", 1)[1].split("\n\n", 1)[0]
        assert expected in talk
        if profile == "eks":
            assert "localhost" not in path.read_text()
