"""The pure decisions behind up, diff, status and teardown: plain data in, plain data out."""

from __future__ import annotations

from typing import Any

from tubedemo.cluster.plan import (
    FirstExport,
    Ref,
    apply_order,
    apply_outcome,
    changed_paths,
    diff_entry,
    exported,
    first_export,
    format_age,
    inventory_manifest,
    inventory_ref,
    nodeclass_problem,
    parse_inventory,
    pod_problem,
    prune_set,
    scale_targets,
    split_phases,
    teardown_plan,
    up_plan,
    workload_health,
)
from tubedemo.cluster.preflight import (
    Check,
    namespace_problem,
    required_checks,
    storage_class_conflict,
)
from tubedemo.cluster.status import gpu_nodes_of, object_health, summarise
from tubedemo.cluster.up import mode_configmap, prepare, with_namespace
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

OURS = {"app.kubernetes.io/part-of": "tubedemo", "app.kubernetes.io/managed-by": "tubedemo"}


def obj(kind: str, name: str, ns: str = "demo", api: str = "v1", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(OURS)}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def scaled_object(target: str = "vllm") -> dict[str, Any]:
    return obj(
        "ScaledObject",
        target,
        api="keda.sh/v1alpha1",
        spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}},
    )


# --- apply order ------------------------------------------------------------------------------


def test_apply_order_puts_namespace_first_and_scaled_object_last() -> None:
    manifests = [
        scaled_object(),
        obj("Deployment", "vllm", api="apps/v1"),
        obj("ConfigMap", "mode"),
        obj("Namespace", "demo", ns=""),
        obj("NodePool", "gpu", ns="", api="karpenter.sh/v1"),
        obj("EC2NodeClass", "gpu", ns="", api="karpenter.k8s.aws/v1"),
    ]
    kinds = [m["kind"] for m in apply_order(manifests)]
    assert kinds == [
        "Namespace",
        "ConfigMap",
        "EC2NodeClass",
        "NodePool",
        "Deployment",
        "ScaledObject",
    ]


def test_the_gpu_deadline_is_applied_before_anything_that_can_launch_a_gpu_node() -> None:
    """`up` cut off half-way (the laptop dies) must not leave a NodePool or vLLM without the
    CronJob that removes them at the deadline, nor the CronJob without its ConfigMap."""
    manifests = [
        obj("Deployment", "vllm", api="apps/v1"),
        obj("NodePool", "gpu", ns="", api="karpenter.sh/v1"),
        obj("CronJob", "tubedemo-deadline", api="batch/v1"),
        obj("ConfigMap", "tubedemo-deadline"),
        obj("RoleBinding", "tubedemo-deadline", api="rbac.authorization.k8s.io/v1"),
    ]
    kinds = [m["kind"] for m in apply_order(manifests)]
    assert kinds == ["ConfigMap", "RoleBinding", "CronJob", "NodePool", "Deployment"]


def test_apply_order_keeps_render_order_within_a_kind() -> None:
    manifests = [obj("Deployment", n, api="apps/v1") for n in ("collector", "vllm", "gateway")]
    assert [m["metadata"]["name"] for m in apply_order(manifests)] == [
        "collector",
        "vllm",
        "gateway",
    ]


def test_scaled_object_goes_in_the_late_phase_after_the_workloads_roll_out() -> None:
    first, late = split_phases(
        apply_order([scaled_object(), obj("Deployment", "x", api="apps/v1")])
    )
    assert [m["kind"] for m in first] == ["Deployment"]
    assert [m["kind"] for m in late] == ["ScaledObject"]


def test_up_waits_only_for_the_metric_path_before_keda_gets_its_scaled_object() -> None:
    collector = obj("Deployment", "otel-collector", api="apps/v1")
    collector["metadata"]["labels"]["app.kubernetes.io/component"] = "otel-collector"
    plan = up_plan(
        apply_order(
            [
                obj("Namespace", "demo", ns=""),
                collector,
                obj("Deployment", "vllm", api="apps/v1"),
                obj("Deployment", "gateway", api="apps/v1"),
                obj("NodePool", "gpu", ns="", api="karpenter.sh/v1"),
                scaled_object("vllm"),
            ]
        )
    )
    deployment = lambda name: Ref("apps/v1", "Deployment", "demo", name)  # noqa: E731
    assert [m["kind"] for m in plan.namespaces] == ["Namespace"]
    # Karpenter's objects go out with the first batch, before any wait.
    assert [m["kind"] for m in plan.first] == ["NodePool", "Deployment", "Deployment", "Deployment"]
    assert plan.metric_path == (deployment("otel-collector"),)
    assert [m["kind"] for m in plan.scaling] == ["ScaledObject"]
    # The gateway is waited for only after the ScaledObject is applied: it cannot block it.
    assert plan.workloads == (deployment("vllm"), deployment("gateway"))


def test_up_plan_of_the_default_render_waits_for_the_collector_alone_first() -> None:
    plan = up_plan(apply_order(render(config_from_dict({}))))
    assert [r.name for r in plan.metric_path] == ["otel-collector"]
    # the deletion-cost keeper (scale-down takes replicas off the dearest nodes first) rolls out too
    assert {r.name for r in plan.workloads} == {"gateway", "vllm", "tubedemo-deletion-cost"}
    assert {m["kind"] for m in plan.scaling} == {"ScaledObject"}
    assert {"NodePool", "EC2NodeClass"} <= {m["kind"] for m in plan.first}


def test_scale_targets_are_the_workloads_named_by_scaled_objects() -> None:
    assert scale_targets([scaled_object("vllm")]) == {Ref("apps/v1", "Deployment", "demo", "vllm")}


def test_prepare_leaves_the_replicas_of_a_scaled_deployment_to_the_hpa() -> None:
    dep = obj("Deployment", "vllm", api="apps/v1", spec={"replicas": 3})
    other = obj("Deployment", "gateway", api="apps/v1", spec={"replicas": 2})
    out = prepare([dep, other, scaled_object("vllm")])
    assert "replicas" not in out[0]["spec"]
    assert out[1]["spec"]["replicas"] == 2
    assert dep["spec"]["replicas"] == 3  # the input is not mutated


def test_prepare_keeps_a_scaled_deployment_rendered_at_zero_at_zero() -> None:
    # the warm capacity's placeholders: KEDA scales them from 0 in their window; without the
    # field the API server would create one (a GPU node) at `up`
    warm = obj("Deployment", "warm", api="apps/v1", spec={"replicas": 0})
    (out, _) = prepare([warm, scaled_object("warm")])
    assert out["spec"]["replicas"] == 0


def test_namespace_is_added_when_the_render_does_not_carry_it() -> None:
    out = with_namespace([obj("ConfigMap", "a")], "demo")
    assert out[0]["kind"] == "Namespace" and out[0]["metadata"]["labels"] == OURS
    assert with_namespace(out, "demo") == out


# --- inventory and pruning ------------------------------------------------------------------


def test_inventory_round_trips_through_its_configmap() -> None:
    refs = [Ref("v1", "ConfigMap", "demo", "a"), Ref("karpenter.sh/v1", "NodePool", "", "gpu")]
    cm = inventory_manifest("demo", refs)
    assert sorted(parse_inventory(cm)) == sorted(refs)
    assert inventory_ref("demo") not in parse_inventory(
        inventory_manifest("demo", [*refs, inventory_ref("demo")])
    )


def test_a_garbled_inventory_records_nothing() -> None:
    assert parse_inventory({"data": {"objects": "{not json"}}) == []
    assert parse_inventory(None) == []
    assert parse_inventory({"data": {"objects": '[{"kind": "x"}]'}}) == []


def test_prune_set_deletes_only_recorded_unrendered_objects_still_labelled_ours() -> None:
    gone = Ref("networking.k8s.io/v1", "Ingress", "demo", "gateway")
    relabelled = Ref("v1", "ConfigMap", "demo", "adopted-by-someone")
    vanished = Ref("v1", "ConfigMap", "demo", "already-deleted")
    kept = Ref("v1", "ConfigMap", "demo", "mode")
    live = {
        gone: obj("Ingress", "gateway"),
        relabelled: {"metadata": {"name": "adopted-by-someone", "labels": {"team": "x"}}},
        vanished: None,
    }
    assert prune_set([gone, relabelled, vanished, kept], [kept], live) == [gone]


def test_nothing_is_pruned_when_everything_is_still_rendered() -> None:
    refs = [Ref("v1", "ConfigMap", "demo", "a")]
    assert prune_set(refs, refs, {}) == []


# --- apply outcome and diff -------------------------------------------------------------------


def test_apply_outcome_compares_resource_versions() -> None:
    after = {"metadata": {"resourceVersion": "7"}}
    assert apply_outcome(None, after) == "created"
    assert apply_outcome({"metadata": {"resourceVersion": "7"}}, after) == "unchanged"
    assert apply_outcome({"metadata": {"resourceVersion": "6"}}, after) == "configured"


def test_changed_paths_ignore_server_bookkeeping_and_status() -> None:
    live = {
        "metadata": {"resourceVersion": "1", "managedFields": [1], "labels": {"a": "1"}},
        "spec": {"replicas": 2, "template": {"x": 1}},
        "status": {"ready": 1},
    }
    dry = {
        "metadata": {"resourceVersion": "2", "managedFields": [2], "labels": {"a": "1"}},
        "spec": {"replicas": 3, "template": {"x": 1}},
        "status": {"ready": 0},
    }
    assert changed_paths(live, dry) == ["spec.replicas"]


def test_diff_entry_says_create_update_or_unchanged() -> None:
    ref = Ref("v1", "ConfigMap", "demo", "a")
    assert diff_entry(ref, None, {}).action == "create"
    assert diff_entry(ref, {"data": {"k": "1"}}, {"data": {"k": "1"}}).action == "unchanged"
    entry = diff_entry(ref, {"data": {"k": "1"}}, {"data": {"k": "2"}})
    assert (entry.action, entry.paths) == ("update", ("data.k",))


# --- rollout health -----------------------------------------------------------------------------


def deployment(replicas: int, ready: int, generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def test_a_deployment_is_ready_when_every_replica_is_updated_and_available() -> None:
    assert workload_health(deployment(2, 2)).ready
    assert not workload_health(deployment(2, 1)).ready
    assert workload_health(deployment(2, 1)).summary == "1/2 ready"


def test_a_deployment_the_controller_has_not_seen_yet_is_not_ready() -> None:
    assert not workload_health(deployment(1, 1, generation=2, observed=1)).ready


def test_pod_problem_names_the_scheduling_reason() -> None:
    pod = {
        "metadata": {"name": "vllm-1"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                }
            ],
        },
    }
    assert pod_problem(pod) == (
        "pod vllm-1 pending: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )


def test_pod_problem_names_an_image_pull_failure() -> None:
    pod = {
        "metadata": {"name": "gw"},
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "gateway",
                    "ready": False,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}},
                }
            ],
        },
    }
    assert pod_problem(pod) == "pod gw container gateway: ImagePullBackOff (not found)"


def test_pod_problem_falls_back_to_the_latest_warning_event() -> None:
    pod = {
        "metadata": {"name": "vllm-1"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
    }
    events = [
        {
            "type": "Warning",
            "reason": "Unhealthy",
            "message": "Readiness probe failed: 503",
            "lastTimestamp": "2026-01-01T00:00:02Z",
        },
        {
            "type": "Normal",
            "reason": "Pulled",
            "message": "ok",
            "lastTimestamp": "2026-01-01T00:00:03Z",
        },
    ]
    assert pod_problem(pod, events) == "pod vllm-1: Unhealthy: Readiness probe failed: 503"


def test_format_age_reads_like_kubectl() -> None:
    assert [format_age(s) for s in (5, 600, 3 * 3600 + 60 * 5)] == ["5s", "10m", "3h05m"]


# --- teardown ---------------------------------------------------------------------------------

NS = "demo"
SO = Ref("keda.sh/v1alpha1", "ScaledObject", NS, "vllm")
VLLM = Ref("apps/v1", "Deployment", NS, "vllm")
GW = Ref("apps/v1", "Deployment", NS, "gateway")
POOL = Ref("karpenter.sh/v1", "NodePool", "", "gpu")
CLASS = Ref("karpenter.k8s.aws/v1", "EC2NodeClass", "", "gpu")
PVC = Ref("v1", "PersistentVolumeClaim", NS, "gateway-data")
NAMESPACE = Ref("v1", "Namespace", "", NS)
MODE = Ref("v1", "ConfigMap", NS, "tubedemo-mode")


def test_teardown_order_is_scaled_object_vllm_nodepool_wait_then_the_rest() -> None:
    plan = teardown_plan(
        [SO, VLLM, GW, POOL, CLASS, MODE, NAMESPACE, inventory_ref(NS)],
        [VLLM],
        nodes_of_pools={"gpu": 2},
        purge_data=False,
        namespace=NS,
    )
    steps = [(s.action, s.refs, s.nodepools) for s in plan.steps]
    assert steps[:5] == [
        ("delete", (SO,), ()),
        ("scale-to-zero", (VLLM,), ()),
        ("delete", (VLLM,), ()),
        ("delete", (POOL,), ()),
        ("wait-nodes-gone", (), ("gpu",)),
    ]
    rest = steps[5][1]
    assert set(rest) == {GW, CLASS, MODE}
    assert steps[-1] == ("delete", (inventory_ref(NS),), ())
    assert NAMESPACE in plan.kept


def test_teardown_keeps_survey_data_unless_purged() -> None:
    kept = teardown_plan([PVC, NAMESPACE], [], nodes_of_pools={}, purge_data=False, namespace=NS)
    assert PVC in kept.kept and not any(PVC in s.refs for s in kept.steps)
    purged = teardown_plan([PVC, NAMESPACE], [], nodes_of_pools={}, purge_data=True, namespace=NS)
    deleted = [r for s in purged.steps for r in s.refs]
    assert deleted == [PVC, NAMESPACE]
    assert purged.kept == ()


def test_teardown_still_waits_for_nodes_of_a_nodepool_already_deleted() -> None:
    plan = teardown_plan([], [], nodes_of_pools={"gpu": 1}, purge_data=False, namespace=NS)
    assert [(s.action, s.nodepools) for s in plan.steps] == [("wait-nodes-gone", ("gpu",))]
    assert not plan.empty


def test_teardown_of_nothing_is_an_empty_plan() -> None:
    assert teardown_plan([], [], nodes_of_pools={"gpu": 0}, purge_data=True, namespace=NS).empty


# --- preflight --------------------------------------------------------------------------------


def test_eks_preflight_checks_crds_secret_and_the_scaler_service() -> None:
    cfg = config_from_dict({"profile": "eks"})
    checks = required_checks(cfg, render(cfg))
    kinds = [c.kind for c in checks]
    assert kinds[0] == "reachable"
    assert (
        Check("api", "ScaledObject (keda.sh/v1alpha1)", ("keda.sh/v1alpha1", "ScaledObject"))
        in checks
    )
    assert Check("api", "NodePool (karpenter.sh/v1)", ("karpenter.sh/v1", "NodePool")) in checks
    # the default (auto) streams the weights from S3: no hub token; the cold path needs it
    assert not any(c.subject == "hf-token" for c in checks)
    cold = config_from_dict({"profile": "eks", "model": {"weights_uri": ""}})
    assert Check("secret", "hf-token", ("tubedemo", "token")) in required_checks(cold, render(cold))
    # vLLM's API key too, though vLLM and the gateway read it optionally (#23)
    assert Check("secret", "tubedemo-admin", ("tubedemo", "token", "vllm-api-key")) in checks
    assert Check("service", "keda-otel-scaler.keda", ("keda", "keda-otel-scaler")) in checks
    # spot first, on-demand as the fallback: both quotas
    assert [c.detail for c in checks if c.subject == "quota"] == [("spot",), ("on-demand",)]


def test_eks_preflight_checks_the_rendered_gp3_class_can_be_applied_not_that_it_exists() -> None:
    cfg = config_from_dict({"profile": "eks"})
    objs = render(cfg)
    checks = required_checks(cfg, objs)
    assert not any(c.kind == "storageclass" for c in checks)  # `up` makes it
    (check,) = [c for c in checks if c.kind == "storageclass-rendered"]
    assert check.subject == "gp3"
    (sc,) = [o for o in objs if o["kind"] == "StorageClass"]
    assert storage_class_conflict("gp3", sc, None) is None  # missing: created
    assert storage_class_conflict("gp3", sc, sc) is None  # the same: nothing to change
    other = {**sc, "parameters": {"type": "gp2"}}
    problem = storage_class_conflict("gp3", sc, other)
    assert problem is not None
    assert problem.startswith("StorageClass gp3 exists with parameters {'type': 'gp2'}")
    assert "storage.create_storage_class: false" in problem


def test_local_preflight_needs_neither_karpenter_nor_aws_nor_the_hf_token() -> None:
    cfg = config_from_dict({"profile": "local"})
    checks = required_checks(cfg, render(cfg))
    assert not any("karpenter" in c.subject for c in checks)
    assert not any(c.kind == "aws" for c in checks)
    # the stand-in vLLM takes no API key: the admin Secret needs the token only
    assert [c.detail for c in checks if c.kind == "secret"] == [("tubedemo", "token")]


def test_both_profiles_need_the_otel_scaler_service_the_scaled_object_uses() -> None:
    for profile in ("eks", "local"):
        cfg = config_from_dict({"profile": profile})
        services = [c for c in required_checks(cfg, render(cfg)) if c.kind == "service"]
        assert [c.subject for c in services] == ["keda-otel-scaler.keda"]


def test_a_namespace_managed_by_another_tool_is_refused() -> None:
    helm = {"metadata": {"name": "demo", "labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    assert "managed by Helm" in str(namespace_problem(helm))
    assert namespace_problem(None) is None
    assert namespace_problem({"metadata": {"name": "demo"}}) is None
    assert namespace_problem({"metadata": {"name": "demo", "labels": OURS}}) is None


# --- status -----------------------------------------------------------------------------------


def node(name: str, pool: str, itype: str, capacity: str, created: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {
                "karpenter.sh/nodepool": pool,
                "node.kubernetes.io/instance-type": itype,
                "karpenter.sh/capacity-type": capacity,
            },
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_gpu_nodes_carry_type_capacity_age_and_price_from_the_config() -> None:
    cfg = config_from_dict({"gpu_pool": {"name": "gpu"}})
    now = 1_800_000_000.0
    nodes = gpu_nodes_of(
        [
            node("b", "gpu", "g5.12xlarge", "on-demand", "2027-01-15T07:50:00Z"),
            node("a", "gpu", "g5.2xlarge", "spot", "2027-01-15T07:59:00Z"),
            node("other", "someone-elses", "g5.2xlarge", "spot", "2027-01-15T07:00:00Z"),
        ],
        "gpu",
        cfg,
        now=now,
    )
    assert [(n.name, n.capacity_type, n.price_per_hour) for n in nodes] == [
        ("a", "spot", 0.55),
        ("b", "on-demand", 5.672),
    ]
    assert [n.age_s for n in nodes] == [60.0, 600.0]


def test_status_summary_adds_up_cost_and_health() -> None:
    cfg = config_from_dict({})
    nodes = gpu_nodes_of(
        [node("a", "tubedemo-gpu", "g5.2xlarge", "spot", "2027-01-15T07:59:00Z")],
        "tubedemo-gpu",
        cfg,
        now=1_800_000_000.0,
    )
    gw = Ref("apps/v1", "Deployment", NS, "gateway")
    view = summarise(
        context="ctx",
        server="https://x",
        version="v1.34.4",
        namespace=NS,
        objects=[(gw, {**deployment(2, 1), "metadata": {"labels": OURS}}), (MODE, None)],
        scaled_workload=deployment(3, 2),
        max_replicas=10,
        nodes=nodes,
        mode="survey",
    )
    assert view.per_hour == 0.55
    assert view.replicas == "2/3 ready (max 10)"
    assert [(o.state, o.detail) for o in view.objects] == [
        ("progressing", "1/2 ready"),
        ("missing", "not found"),
    ]
    assert not view.healthy


def test_an_object_that_lost_tubedemos_labels_is_reported_foreign() -> None:
    health = object_health(MODE, {"metadata": {"labels": {}}})
    assert health.state == "foreign"


def test_the_mode_configmap_is_the_one_the_gateway_watches() -> None:
    cfg = config_from_dict({"cluster": {"namespace": "talk"}})
    assert mode_configmap(render(cfg)) == Ref("v1", "ConfigMap", "talk", "tubedemo-mode")


# --- preflight decisions ---------------------------------------------------------------------


def test_preflight_finds_every_secret_a_rendered_pod_reads_from_the_manifests() -> None:
    from tubedemo.cluster.preflight import pod_secrets
    from tubedemo.core.config import DemoConfig
    from tubedemo.manifests.render import render

    cold = DemoConfig().with_prepared(None, "")  # weights from the hub: the token Secret
    found = pod_secrets(render(cold))
    assert found == {("tubedemo", "hf-token"): {"token"}, ("tubedemo", "tubedemo-admin"): {"token"}}
    extra = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "n"},
        "spec": {
            "template": {
                "spec": {
                    "imagePullSecrets": [{"name": "pull"}],
                    "volumes": [{"name": "v", "secret": {"secretName": "mounted"}}],
                    "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "bulk"}}]}],
                }
            }
        },
    }
    assert set(pod_secrets([extra])) == {("n", "pull"), ("n", "mounted"), ("n", "bulk")}


def test_cluster_versions_outside_the_supported_range_are_named_with_the_fix() -> None:
    from tubedemo.cluster.preflight import kubernetes_version_problem

    assert kubernetes_version_problem("v1.34.4-eks-1234") is None
    assert kubernetes_version_problem("v1.35.0") is None
    old = kubernetes_version_problem("v1.31.2-eks-abc")
    assert old is not None and "1.31 is outside the supported 1.33-1.35" in old
    assert "update-cluster-version" in old
    assert kubernetes_version_problem("v1.36.0") is not None


def test_an_ec2nodeclass_karpenter_cannot_make_ready_is_named_with_its_failing_condition() -> None:
    def nodeclass(*conditions: tuple[str, str, str]) -> dict[str, Any]:
        return {
            "kind": "EC2NodeClass",
            "metadata": {"name": "gpu"},
            "status": {
                "conditions": [
                    {"type": t, "status": st, "reason": "R", "message": m}
                    for t, st, m in conditions
                ]
            },
        }

    assert nodeclass_problem(None) is None
    assert nodeclass_problem({"kind": "EC2NodeClass", "metadata": {"name": "gpu"}}) is None
    assert nodeclass_problem(nodeclass(("Ready", "Unknown", "reconciling"))) is None
    assert nodeclass_problem(nodeclass(("Ready", "True", ""))) is None
    failing = nodeclass(
        ("AMIsReady", "True", ""),
        ("SubnetsReady", "False", "SubnetSelector did not match any Subnets"),
        ("Ready", "False", "SubnetsReady=False"),
    )
    assert nodeclass_problem(failing) == (
        "EC2NodeClass gpu is not Ready (SubnetsReady: SubnetSelector did not match any "
        "Subnets): Karpenter cannot start a GPU node"
    )


def _eks(**raw: Any) -> list[dict[str, Any]]:
    return render(
        config_from_dict({"profile": "eks", "cluster": {"account_id": "123456789012"}, **raw})
    )


def test_up_waits_for_the_rendered_collectors_telemetry_and_exporter() -> None:
    assert first_export(_eks(), 120.0) == FirstExport(
        "app.kubernetes.io/name=otel-collector", 8888, ("otlp_grpc/kedify",), 120.0
    )


def test_no_first_export_wait_without_a_timeout_or_without_the_collectors_telemetry() -> None:
    from tubedemo.lab.variant import CollectorWiring, render_lab

    assert first_export(_eks(), 0.0) is None
    wiring = CollectorWiring(
        fleet="f:1", otlp_endpoint="s:2", kubeconfig="k", health_endpoint="h:3"
    )
    cfg = config_from_dict({"profile": "eks", "cluster": {"account_id": "123456789012"}})
    # the lab's collector has its telemetry off (the lab waits for the heartbeat itself)
    assert first_export(render_lab(cfg, queue_url="http://q/metrics", collector=wiring), 60) is None


# otelcol 0.161's own telemetry, as its Prometheus reader writes it (a counter without _total)
_SENT = (
    "# HELP otelcol_exporter_sent_metric_points Number of metric points successfully sent.\n"
    "# TYPE otelcol_exporter_sent_metric_points counter\n"
    'otelcol_exporter_sent_metric_points{exporter="otlp_grpc/kedify",server_address="127.0.0.1",'
    'server_port="4317"} 10\n'
)
_QUEUED = """# HELP otelcol_exporter_queue_size Current size of the retry queue (in batches).
# TYPE otelcol_exporter_queue_size gauge
otelcol_exporter_queue_size{data_type="metrics",exporter="otlp_grpc/kedify"} 3
"""


def test_a_collector_has_exported_once_its_sent_points_counter_is_above_zero() -> None:
    assert exported(_SENT, ["otlp_grpc/kedify"])
    assert not exported(_QUEUED, ["otlp_grpc/kedify"])  # absent until the first send
    assert not exported(_SENT.replace("} 10", "} 0"), ["otlp_grpc/kedify"])
    assert not exported(_SENT, ["otlp_grpc/kedify", "otlp_grpc/other"])
    assert not exported("<html>503</html>", ["otlp_grpc/kedify"])


def _cni(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_a_vpc_cni_enforces_network_policy_only_with_its_agent_told_so() -> None:
    from tubedemo.cluster.preflight import network_policy_problem

    cni = {"name": "aws-node"}
    before_v1_14 = network_policy_problem("talk", "eu-west-1", _cni(cni))
    assert before_v1_14 is not None and "no network policy agent" in before_v1_14
    assert "--cluster-name talk --region eu-west-1" in before_v1_14
    # the agent's name before VPC CNI v1.14's rename counts too
    old = {"name": "aws-eks-nodeagent", "args": ["--enable-network-policy=true"]}
    assert network_policy_problem("talk", "eu-west-1", _cni(cni, old)) is None
    off = {"name": "aws-network-policy-agent", "args": ["--enable-network-policy=false"]}
    assert "runs without" in str(network_policy_problem("talk", "eu-west-1", _cni(cni, off)))
