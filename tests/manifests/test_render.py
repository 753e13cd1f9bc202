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
from tubedemo.aws import s3_layout
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import ConfigError
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


def _named(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_warm_capacity_renders_placeholders_vllm_preempts_on_the_same_kind_of_node() -> None:
    cfg = config_from_dict({"scaling": {"warm_capacity": {"replicas": 2}}})
    objs = render(cfg)
    (priority,) = [o for o in objs if o["kind"] == "PriorityClass"]
    # below vLLM's pods (no class: priority 0), and never evicting anything itself
    assert priority["value"] < 0 and priority["preemptionPolicy"] == "Never"
    assert not priority["globalDefault"]
    warm = _named(objs, "Deployment", "warm-capacity")
    vllm = _named(objs, "Deployment", "vllm")
    assert warm["spec"]["replicas"] == 0  # `up` launches no GPU before the window
    pod, vllm_pod = warm["spec"]["template"]["spec"], vllm["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == priority["metadata"]["name"]
    assert "priorityClassName" not in vllm_pod
    assert pod["terminationGracePeriodSeconds"] == 0
    # the node Karpenter launches for a placeholder is the one a vLLM pod would get
    assert pod["nodeSelector"] == vllm_pod["nodeSelector"]
    assert pod["tolerations"] == vllm_pod["tolerations"]
    (pause,), (engine,) = pod["containers"], vllm_pod["containers"]
    assert pause["resources"]["requests"] == engine["resources"]["requests"]
    assert pause["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert pause["image"] == cfg.scaling.warm_capacity.image
    # the vLLM Service, PDB and collector select vLLM's name: placeholders are none of them
    assert pod is not vllm_pod and warm["spec"]["selector"] != vllm["spec"]["selector"]
    scaled = _named(objs, "ScaledObject", "warm-capacity")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == "warm-capacity"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 2)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "metrics-api"
    assert trigger["metadata"]["url"] == "http://gateway.tubedemo.svc/forecast"
    assert trigger["metadata"]["valueLocation"] == "tubedemo_warm_capacity_replicas"
    assert trigger["metadata"]["targetValue"] == "1"
    # the PriorityClass exists before the pods that name it
    kinds = [o["kind"] for o in objs]
    assert kinds.index("PriorityClass") < kinds.index("Deployment")


def test_without_warm_capacity_nothing_of_it_is_rendered() -> None:
    names = {o["metadata"]["name"] for o in render(DemoConfig())}
    assert not {n for n in names if "warm-capacity" in n}


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
    assert "/v1/models" in str(container["readinessProbe"])  # exec with the API key on GPUs


def test_scaled_object_formula_and_trigger_come_from_config() -> None:
    cfg = config_from_dict(
        {
            "scaling": {
                "multiplier": 10,
                "target": 25,
                "scaler": "external",
                "metric_labels": {"model_name": "llama"},
                "proactive": "off",
            }
        }
    )
    so = next(o for o in render(cfg) if o["kind"] == "ScaledObject")
    # Default formula: every trigger summed, i.e. the requests in flight (waiting + running),
    # while a collector's heartbeat arrives; else fallback.replicas (2) x target
    assert so["spec"]["advanced"]["scalingModifiers"]["formula"] == (
        "collectors > 0 ? queue + running : 50"
    )
    assert so["spec"]["advanced"]["scalingModifiers"]["target"] == "25"
    queue, running, collectors = so["spec"]["triggers"]
    assert collectors["metadata"]["metricQuery"] == "count(up{tubedemo_heartbeat=collector})"
    for trigger in (queue, running):
        assert trigger["type"] == "external"
        assert trigger["metadata"]["scalerAddress"] == cfg.scaling.scaler_address
    assert queue["name"] == "queue" and running["name"] == "running"
    assert queue["metadata"]["metricQuery"] == "sum(vllm_num_requests_waiting{model_name=llama})"
    assert running["metadata"]["metricQuery"] == "sum(vllm_num_requests_running{model_name=llama})"


def test_a_formula_over_the_queue_alone_renders_one_trigger() -> None:
    cfg = config_from_dict(
        {
            "scaling": {
                "extra_triggers": {},
                "formula": "max(queue * 10, 1)",
                "target": 10,
                "proactive": "off",
            }
        }
    )
    so = next(o for o in render(cfg) if o["kind"] == "ScaledObject")
    modifiers = so["spec"]["advanced"]["scalingModifiers"]
    assert modifiers["formula"] == "collectors > 0 ? max(queue * 10, 1) : 20"
    assert [t["name"] for t in so["spec"]["triggers"]] == ["queue", "collectors"]
    unguarded = config_from_dict(
        {
            "scaling": {
                "extra_triggers": {},
                "formula": "max(queue * 10, 1)",
                "heartbeat_trigger": None,
                "proactive": "off",
            }
        }
    )
    so = next(o for o in render(unguarded) if o["kind"] == "ScaledObject")
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


def test_the_gp3_storage_class_is_rendered_by_default_on_eks_and_applied_before_the_claim() -> None:
    # `tubedemo init && tubedemo preflight && tubedemo up` on a new EKS cluster (no default
    # class since 1.30) stopped at "StorageClass gp3 does not exist"
    objs = render(DemoConfig())
    kinds = [o["kind"] for o in objs]
    sc = objs[kinds.index("StorageClass")]
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"]["type"] == "gp3"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert kinds.index("StorageClass") < kinds.index("PersistentVolumeClaim")
    # a class of the presenter's is used as it is; false never renders one; local never does
    mine = config_from_dict({"storage": {"storage_class": "fast"}})
    assert "StorageClass" not in _kinds(mine)
    never = config_from_dict({"storage": {"create_storage_class": False}})
    assert "StorageClass" not in _kinds(never)
    assert "StorageClass" not in _kinds(config_from_dict({"profile": "local"}))
    asked = config_from_dict({"storage": {"storage_class": "fast", "create_storage_class": True}})
    asked_objs = render(asked)
    assert [o["metadata"]["name"] for o in asked_objs if o["kind"] == "StorageClass"] == ["fast"]


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
    # Loopback may appear only as a trusted proxy CIDR (the gateway's own health checks) and in
    # vLLM's probes, which run inside its pod; never as an address anything is sent to.
    others = [
        line
        for line in text.splitlines()
        if "127.0.0.1" in line and "/32" not in line and "urlopen" not in line
    ]
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


def test_the_snapshot_volume_is_initialized_at_a_provisioned_rate_and_only_with_a_snapshot() -> (
    None
):
    def data_volume(raw: dict) -> dict:
        nc = next(o for o in render(config_from_dict(raw)) if o["kind"] == "EC2NodeClass")
        ebs: dict = next(
            b for b in nc["spec"]["blockDeviceMappings"] if b["deviceName"] == "/dev/xvdb"
        )["ebs"]
        return ebs

    # the image's blocks come from S3 at 300 MiB/s from launch, not lazily on first read
    assert data_volume({})["volumeInitializationRate"] == 300
    slower = {"gpu_pool": {"volume_initialization_rate": 100}}
    assert data_volume(slower)["volumeInitializationRate"] == 100
    lazy = {"gpu_pool": {"volume_initialization_rate": None}}
    assert "volumeInitializationRate" not in data_volume(lazy)
    # the CRD's rule: only with a snapshotID; a volume pulled into needs no initialization
    assert "volumeInitializationRate" not in data_volume({"gpu_pool": {"image_snapshot_id": ""}})
    with pytest.raises(ConfigError, match="volume_initialization_rate"):
        config_from_dict({"gpu_pool": {"volume_initialization_rate": 500}})


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
    assert s3_layout.weights_key(copied) == "models/meta-llama/Llama-3.1-8B-Instruct/0a1b2c/"


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


def test_one_answer_timeout_reaches_the_alb_the_gateway_k6_and_the_twins_phones() -> None:
    from tubedemo.talk.k6 import load_environment
    from tubedemo.twin.load import Load
    from tubedemo.twin.world import World

    # before: ALB idle 60 s (its default) and gateway read 60 s against 120 s for k6 and phones
    cfg = config_from_dict({"gateway": {"answer_timeout": "3m"}})
    objs = render(cfg)
    (ingress,) = [o for o in objs if o["kind"] == "Ingress"]
    annotations = ingress["metadata"]["annotations"]
    attributes = annotations["alb.ingress.kubernetes.io/load-balancer-attributes"]
    assert attributes == "idle_timeout.timeout_seconds=180"
    env = {e["name"]: e.get("value", "x") for e in _pod(objs, "gateway")["containers"][0]["env"]}
    assert load_settings(env).upstream_read_timeout_s == 180  # what the gateway reads
    k6 = load_environment(
        cfg.k6, answer_timeout=cfg.gateway.answer_timeout, base_url="http://x", model="m",
        scenarios={},
    )  # fmt: skip
    assert k6["TUBEDEMO_REQUEST_TIMEOUT"] == "180"
    # the twin's phones give up after the same figure: no replica can ever serve here
    stuck = config_from_dict(
        {
            "gateway": {"answer_timeout": "3m"},
            "scaling": {"max_replicas": 1},
            "model": {"max_num_seqs": 1},
        }
    )
    world = World(stuck)
    Load(world)
    world.run_until(900.0)
    gave_up = [r for r in world.finished if r.reason == "client timeout"]
    assert gave_up
    assert {round(r.finished_at - r.sent_at) for r in gave_up if r.finished_at} == {180}


def test_an_old_timeout_field_names_the_one_that_replaced_it() -> None:
    from tubedemo.core.errors import ConfigError

    for raw in ({"k6": {"request_timeout": "2m"}}, {"twin": {"audience": {"give_up_after": "2m"}}}):
        with pytest.raises(ConfigError, match=r"now gateway\.answer_timeout"):
            config_from_dict(raw)


def test_vllm_probes_have_explicit_timeouts_that_a_saturated_replica_survives() -> None:
    container = _pod(render(DemoConfig()), "vllm")["containers"][0]
    probes = {k: container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    # the default timeoutSeconds is 1 s: a replica streaming max_num_seqs answers misses it
    assert {probes[k]["timeoutSeconds"] for k in ("readinessProbe", "livenessProbe")} == {5}
    # starting, nothing is busy yet: a short period (Ready seen ~1 s after the model answers)
    # whose timeout never exceeds it, still allowing model.startup_timeout in all
    start = probes["startupProbe"]
    assert start["periodSeconds"] == 2 and start["timeoutSeconds"] == 2
    assert start["periodSeconds"] * start["failureThreshold"] >= DemoConfig().model.startup_timeout
    ready = probes["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] >= 30  # 30 s of misses to leave
    alive = probes["livenessProbe"]
    assert alive["periodSeconds"] * alive["failureThreshold"] >= 60  # a minute before restart
    slower = config_from_dict({"model": {"probe_timeout": "8s"}})
    assert _pod(render(slower), "vllm")["containers"][0]["livenessProbe"]["timeoutSeconds"] == 8


def test_the_collector_scrapes_running_vllm_pods_not_only_ready_ones() -> None:
    (cm,) = [o for o in render(DemoConfig()) if o["metadata"]["name"] == "otel-collector"
             and o["kind"] == "ConfigMap"]  # fmt: skip
    job = yaml.safe_load(cm["data"]["config.yaml"])["receivers"]["prometheus"]["config"]
    rules = job["scrape_configs"][0]["relabel_configs"]
    keeps = {tuple(r["source_labels"]): r["regex"] for r in rules if r.get("action") == "keep"}
    # a busy replica that misses its probes goes NotReady; its queue must still count
    assert ("__meta_kubernetes_pod_ready",) not in keeps
    assert keeps[("__meta_kubernetes_pod_phase",)] == "Running"


def test_the_gpu_deadline_is_a_cronjob_of_the_gateway_image_with_a_tightly_scoped_account() -> None:
    cfg = config_from_dict(
        {
            "talk": {"ends_at": "2026-12-08T18:30:00Z", "gpu_grace": "45m"},
            "gateway": {"image": "registry.example/tubedemo/gateway:1@sha256:" + "a" * 64},
        }
    )
    objs = render(cfg)
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    cm = by_kind[("ConfigMap", "tubedemo-deadline")]
    assert cm["data"]["deadline"] == "2026-12-08T19:15:00Z"  # the talk's end + the grace
    cron = by_kind[("CronJob", "tubedemo-deadline")]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == cfg.gateway.image  # an image `up` deploys already
    assert container["command"] == ["python", "-m", "gateway.deadline"]
    assert container["args"] == [
        "--configmap=tubedemo/tubedemo-deadline",
        "--deployment=vllm",
        "--scaledobject=vllm",
        "--nodepool=tubedemo-gpu",
    ]
    assert pod["serviceAccountName"] == "tubedemo-deadline"
    # exactly these objects, by name: no wildcard anywhere
    role = by_kind[("Role", "tubedemo-deadline")]
    cluster_role = by_kind[("ClusterRole", "tubedemo-deadline-tubedemo")]
    rules = role["rules"] + cluster_role["rules"]
    assert all(r["resourceNames"] and "*" not in r["verbs"] for r in rules)
    assert {(r["resources"][0], tuple(r["resourceNames"])) for r in rules} == {
        ("configmaps", ("tubedemo-deadline",)),
        ("deployments/scale", ("vllm",)),
        ("scaledobjects", ("vllm",)),
        ("nodepools", ("tubedemo-gpu",)),
    }
    # the program's own parser takes the rendered args
    from gateway.deadline import main

    with pytest.raises(SystemExit) as usage:
        main([*container["args"], "--no-such-flag"])
    assert usage.value.code == 2
    # the local profile has no GPUs to remove; an offline render without an end says so
    assert not [o for o in render(config_from_dict({"profile": "local"})) if o["kind"] == "CronJob"]
    offline = {(o["kind"], o["metadata"]["name"]): o for o in render(DemoConfig())}
    assert offline[("ConfigMap", "tubedemo-deadline")]["data"]["deadline"] == "${GPU_DEADLINE}"


def test_the_gateway_gets_the_configured_stream_keepalive() -> None:
    # CloudFront drops an origin silent for 60 s: the gateway must see the keep-alive figure.
    env = _gateway_env(config_from_dict({"gateway": {"stream_keepalive": "20s"}}))
    settings = load_settings(env={**env, "TUBEDEMO_ADMIN_TOKEN": "t" * 20, "TUBEDEMO_STORE": "/x"})
    assert settings.stream_keepalive_s == 20
