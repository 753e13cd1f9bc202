"""Decide: pure functions that turn manifests and observed cluster state into plans.

No side effects and no Kubernetes client here: everything takes plain dicts and returns plain
values, so each decision is a unit test. The executors (apply.py, teardown.py) carry them out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
OURS = "tubedemo"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
INVENTORY_NAME = "tubedemo-inventory"
INVENTORY_KEY = "objects"

# Dependency order: what others refer to comes first; the ScaledObject last, so its trigger
# (the scaler, the collector feeding it) exists before KEDA starts reading the metric. The
# CronJob (the GPU deadline) comes before anything that can launch a GPU node (NodePool,
# vLLM's Deployment): an `up` cut off half-way never leaves GPUs without their deadline.
_KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PriorityClass",
    "PersistentVolumeClaim",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "Service",
    "CronJob",
    "EC2NodeClass",
    "KWOKNodeClass",
    "NodePool",
    "DaemonSet",
    "StatefulSet",
    "Deployment",
    "PodDisruptionBudget",
    "Ingress",
    "TriggerAuthentication",
    "HorizontalPodAutoscaler",
    "ScaledObject",
)
_LATE_KINDS = frozenset({"TriggerAuthentication", "HorizontalPodAutoscaler", "ScaledObject"})
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclass(frozen=True, order=True)
class Ref:
    """Identity of one object: enough to find it again and to name it in a message."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> Ref:
        meta = manifest.get("metadata", {})
        return cls(
            str(manifest["apiVersion"]),
            str(manifest["kind"]),
            str(meta.get("namespace") or ""),
            str(meta["name"]),
        )

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


def kind_rank(kind: str) -> int:
    """Position of a kind in the apply order; unknown kinds go just before the late ones."""
    try:
        return _KIND_ORDER.index(kind)
    except ValueError:
        return _KIND_ORDER.index("Ingress")


def apply_order(manifests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Manifests sorted into dependency order; stable within a kind (render order kept)."""
    indexed = list(enumerate(manifests))
    indexed.sort(key=lambda item: (kind_rank(str(item[1]["kind"])), item[0]))
    return [dict(m) for _, m in indexed]


def split_phases(
    ordered: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(first, late): the late phase is the ScaledObject and its kin (see `up_plan`)."""
    first = [m for m in ordered if m["kind"] not in _LATE_KINDS]
    late = [m for m in ordered if m["kind"] in _LATE_KINDS]
    return first, late


COMPONENT = "app.kubernetes.io/component"
METRIC_PATH_COMPONENTS = frozenset({"otel-collector"})
"""Components the scaling objects read their metric through (the collector feeding the
scaler): rolled out before KEDA gets its ScaledObject, so the scaler has data from its first
poll instead of counting failures towards the ScaledObject's fallback replicas."""


@dataclass(frozen=True)
class UpPlan:
    """What `up` applies and waits for, in this order. A failed wait never stops a later apply:
    the scaling objects (Karpenter's in `first`, KEDA's in `scaling`) are applied whatever the
    gateway does, and every workload that did not come up is reported at the end."""

    namespaces: list[dict[str, Any]]
    first: list[dict[str, Any]]
    """Everything but the namespaces and the scaling objects, NodePool and EC2NodeClass too."""
    metric_path: tuple[Ref, ...]
    """Workloads waited for before `scaling` is applied (METRIC_PATH_COMPONENTS)."""
    scaling: list[dict[str, Any]]
    """KEDA's ScaledObject and its kin (_LATE_KINDS)."""
    workloads: tuple[Ref, ...]
    """Every other workload (the gateway, vLLM), waited for after `scaling` is applied."""


def up_plan(ordered: list[dict[str, Any]]) -> UpPlan:
    """Split manifests in apply order (see `apply_order`) into the steps of `up`."""
    first, scaling = split_phases(ordered)
    workloads = [m for m in first if m["kind"] in WORKLOAD_KINDS]

    def feeds_scaling(m: Mapping[str, Any]) -> bool:
        labels = m.get("metadata", {}).get("labels") or {}
        return labels.get(COMPONENT) in METRIC_PATH_COMPONENTS

    return UpPlan(
        namespaces=[m for m in first if m["kind"] == "Namespace"],
        first=[m for m in first if m["kind"] != "Namespace"],
        metric_path=tuple(Ref.of(m) for m in workloads if feeds_scaling(m)),
        scaling=scaling,
        workloads=tuple(Ref.of(m) for m in workloads if not feeds_scaling(m)),
    )


SENT_POINTS = "otelcol_exporter_sent_metric_points"
"""The collector's own counter of metric points an exporter had accepted (otelcol 0.161, its
Prometheus reader: no ``_total`` suffix); absent until that exporter's first successful send."""


@dataclass(frozen=True)
class FirstExport:
    """What `up` waits for before it applies the scaling objects: every collector pod's own
    telemetry counting points sent to the scaler. Until the first export the scaler has no
    heartbeat series, the formula holds fallback.replicas, and Karpenter starts a GPU node."""

    selector: str
    """Label selector of the collector's pods (its Deployment's matchLabels)."""
    port: int
    """The collector's own telemetry port (service.telemetry's Prometheus pull reader)."""
    exporters: tuple[str, ...]
    """The metrics pipeline's exporters (the one to the scaler), as the telemetry labels them."""
    timeout: float
    """Seconds to wait for every collector's first export before giving up."""


def first_export(ordered: Iterable[Mapping[str, Any]], timeout: float) -> FirstExport | None:
    """The first-export wait for these manifests, or None when there is nothing to read: no
    collector Deployment on the metric path, no telemetry pull reader (the lab's collector has
    its telemetry off) or ``timeout`` 0. Pure."""
    if timeout <= 0:
        return None
    items = list(ordered)
    configs = {str(m["metadata"]["name"]): m for m in items if m["kind"] == "ConfigMap"}
    for m in items:
        labels = m.get("metadata", {}).get("labels") or {}
        if m["kind"] != "Deployment" or labels.get(COMPONENT) not in METRIC_PATH_COMPONENTS:
            continue
        spec = m.get("spec", {})
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        for volume in spec.get("template", {}).get("spec", {}).get("volumes") or []:
            name = (volume.get("configMap") or {}).get("name")
            if name not in configs:
                continue
            for text in (configs[name].get("data") or {}).values():
                found = _telemetry_export(str(text))
                if found is not None and match:
                    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
                    return FirstExport(selector, found[0], found[1], timeout)
    return None


def _telemetry_export(config_text: str) -> tuple[int, tuple[str, ...]] | None:
    """(telemetry pull port, metrics exporters) of a collector config.yaml, or None."""
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    service = config.get("service") or {}
    metrics = (service.get("telemetry") or {}).get("metrics") or {}
    ports = [
        reader["pull"]["exporter"]["prometheus"].get("port")
        for reader in metrics.get("readers") or []
        if isinstance(reader, dict)
        and isinstance(((reader.get("pull") or {}).get("exporter") or {}).get("prometheus"), dict)
    ]
    exporters = tuple(
        str(e)
        for name, pipeline in (service.get("pipelines") or {}).items()
        if str(name).split("/")[0] == "metrics"
        for e in (pipeline or {}).get("exporters") or []
    )
    if (
        metrics.get("level") == "none"
        or not ports
        or not isinstance(ports[0], int)
        or not exporters
    ):
        return None
    return ports[0], exporters


def exported(telemetry: str, exporters: Iterable[str]) -> bool:
    """Has every one of ``exporters`` sent at least one metric point, by a collector's own
    telemetry text? Unparseable text counts as not yet. Pure."""
    # imported here: every cluster command imports this module, few read a collector
    from prometheus_client.parser import text_string_to_metric_families

    sent: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(telemetry):
            for sample in family.samples:
                # the parser names a counter's samples <name>_total, whatever the text says
                if sample.name in {SENT_POINTS, f"{SENT_POINTS}_total"}:
                    name = sample.labels.get("exporter", "")
                    sent[name] = sent.get(name, 0.0) + float(sample.value)
    except (ValueError, TypeError, IndexError):
        return False
    return all(sent.get(e, 0.0) > 0 for e in exporters)


def scale_targets(manifests: Iterable[Mapping[str, Any]]) -> set[Ref]:
    """Workloads that a ScaledObject drives: their replica count belongs to the HPA."""
    targets: set[Ref] = set()
    for m in manifests:
        if m["kind"] != "ScaledObject":
            continue
        target = m.get("spec", {}).get("scaleTargetRef", {})
        targets.add(
            Ref(
                str(target.get("apiVersion", "apps/v1")),
                str(target.get("kind", "Deployment")),
                str(m["metadata"].get("namespace") or ""),
                str(target["name"]),
            )
        )
    return targets


# --- inventory and pruning ------------------------------------------------------------------


def inventory_manifest(namespace: str, refs: Iterable[Ref]) -> dict[str, Any]:
    """The ConfigMap remembering what tubedemo applied, so a later `up` can prune it."""
    objects = sorted({r for r in refs if r != inventory_ref(namespace)})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": INVENTORY_NAME,
            "namespace": namespace,
            "labels": {PART_OF: OURS, MANAGED_BY: OURS},
        },
        "data": {INVENTORY_KEY: json.dumps([r.to_json() for r in objects], indent=1)},
    }


def inventory_ref(namespace: str) -> Ref:
    return Ref("v1", "ConfigMap", namespace, INVENTORY_NAME)


def parse_inventory(configmap: Mapping[str, Any] | None) -> list[Ref]:
    """Refs recorded in an inventory ConfigMap; a missing or garbled one records nothing."""
    if not configmap:
        return []
    raw = (configmap.get("data") or {}).get(INVENTORY_KEY, "[]")
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    refs = []
    for item in items if isinstance(items, list) else []:
        try:
            refs.append(
                Ref(item["apiVersion"], item["kind"], item.get("namespace", ""), item["name"])
            )
        except (KeyError, TypeError):
            continue
    return refs


def is_ours(live: Mapping[str, Any] | None) -> bool:
    """True when an object carries tubedemo's labels (what pruning and teardown trust)."""
    if not live:
        return False
    labels = live.get("metadata", {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY) == OURS and labels.get(PART_OF) == OURS)


def prune_set(
    inventory: Iterable[Ref],
    rendered: Iterable[Ref],
    live: Mapping[Ref, Mapping[str, Any] | None],
) -> list[Ref]:
    """What to delete: recorded in the inventory, no longer rendered, still present and still
    labelled as ours. Anything else (foreign, relabelled, already gone) is left alone."""
    keep = set(rendered)
    return sorted(
        (r for r in set(inventory) - keep if is_ours(live.get(r))),
        key=lambda r: (-kind_rank(r.kind), r),
    )


# --- apply outcome ----------------------------------------------------------------------------

Outcome = Literal["created", "configured", "unchanged"]


def apply_outcome(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Outcome:
    """Compare resourceVersions: the API server only writes (and bumps it) on a real change."""
    if before is None:
        return "created"
    rv_before = before.get("metadata", {}).get("resourceVersion")
    rv_after = after.get("metadata", {}).get("resourceVersion")
    return "unchanged" if rv_before == rv_after else "configured"


_VOLATILE_META = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid")


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between a live object and its dry-run result,
    ignoring bookkeeping fields the server rewrites on every write."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        paths: list[str] = []
        for key in sorted(set(before) | set(after)):
            if prefix == "metadata" and key in _VOLATILE_META:
                continue
            if prefix == "" and key == "status":
                continue
            sub = f"{prefix}.{key}" if prefix else str(key)
            paths += changed_paths(before.get(key), after.get(key), sub)
        return paths
    return [] if before == after else [prefix or "."]


@dataclass(frozen=True)
class DiffEntry:
    ref: Ref
    action: Literal["create", "update", "unchanged", "prune"]
    paths: tuple[str, ...] = ()


def diff_entry(ref: Ref, live: Mapping[str, Any] | None, dry_run: Mapping[str, Any]) -> DiffEntry:
    if live is None:
        return DiffEntry(ref, "create")
    paths = tuple(changed_paths(live, dry_run))
    return DiffEntry(ref, "update" if paths else "unchanged", paths)


# --- rollout health ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    ready: bool
    summary: str


def workload_health(obj: Mapping[str, Any]) -> Health:
    """Whether a Deployment/StatefulSet/DaemonSet finished rolling out, with counts."""
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation", 0)
    observed = status.get("observedGeneration", 0)
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled", 0))
        ready_n = int(status.get("numberReady", 0))
        updated = int(status.get("updatedNumberScheduled", 0))
        ok = observed >= generation and ready_n == want and updated == want
        return Health(ok, f"{ready_n}/{want} ready")
    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas", 0))
    ready_n = int(status.get("readyReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
    ok = (
        observed >= generation
        and updated == want
        and available == want
        and ready_n == want
        and total == want
    )
    return Health(ok, f"{ready_n}/{want} ready")


NODE_CLASS_KINDS = frozenset({"EC2NodeClass"})
"""Objects whose readiness decides whether a GPU node can start at all: `up` stops waiting for
vLLM when one of them says it cannot become Ready."""


def nodeclass_problem(obj: Mapping[str, Any] | None) -> str | None:
    """Why Karpenter says an EC2NodeClass cannot become Ready (its Ready condition False, with
    the first failing condition: no subnet, no security group, no AMI, no instance profile),
    or None while it is Ready or not yet reconciled."""
    if obj is None:
        return None
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "False":
        return None
    failing = next(
        (c for c in conditions if c.get("type") != "Ready" and c.get("status") == "False"), ready
    )
    name = obj.get("metadata", {}).get("name", "?")
    why = str(failing.get("message") or failing.get("reason") or "not ready").splitlines()[0]
    return (
        f"{obj.get('kind', 'EC2NodeClass')} {name} is not Ready ({failing.get('type')}: "
        f"{why[:200]}): Karpenter cannot start a GPU node"
    )


def pod_problem(pod: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = ()) -> str | None:
    """Why one pod is not Ready, in a few words (pending reason, image pull, probe failure)."""
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "not scheduled"
        return f"pod {name} pending: {why}"
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            msg = waiting.get("message") or ""
            detail = f" ({msg.splitlines()[0][:160]})" if msg else ""
            return f"pod {name} container {cs.get('name')}: {waiting.get('reason')}{detail}"
        terminated = (cs.get("lastState") or {}).get("terminated")
        if terminated and not cs.get("ready") and cs.get("restartCount", 0) > 0:
            return (
                f"pod {name} container {cs.get('name')} restarted {cs['restartCount']}x "
                f"(last exit {terminated.get('exitCode')}: {terminated.get('reason')})"
            )
    warnings = [e for e in events if e.get("type") == "Warning"]
    if warnings:
        last = max(warnings, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        message = str(last.get("message") or "").splitlines()[0][:160]
        return f"pod {name}: {last.get('reason')}: {message}"
    ready = conditions.get("Ready")
    if status.get("phase") == "Pending":
        return f"pod {name} pending"
    if ready and ready.get("status") != "True":
        return f"pod {name} not ready"
    return None


# --- nodes ------------------------------------------------------------------------------------


def format_age(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


# --- teardown ---------------------------------------------------------------------------------

StepKind = Literal["delete", "scale-to-zero", "wait-nodes-gone"]


@dataclass(frozen=True)
class Step:
    action: StepKind
    refs: tuple[Ref, ...] = ()
    nodepools: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class TeardownPlan:
    steps: tuple[Step, ...]
    kept: tuple[Ref, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not any(s.refs or s.nodepools for s in self.steps)


_DATA_KINDS = frozenset({"PersistentVolumeClaim"})


def teardown_plan(
    present: Iterable[Ref],
    scaled_targets: Iterable[Ref],
    *,
    nodes_of_pools: Mapping[str, int],
    purge_data: bool,
    namespace: str,
) -> TeardownPlan:
    """Safe order: ScaledObjects first (so the HPA stops fighting), the scaled workloads to zero
    and deleted, NodePools deleted, wait for their nodes to go, then everything else.

    `present` are tubedemo's objects that exist now; `nodes_of_pools` counts live nodes per
    NodePool name (tubedemo's pools only). Survey data (PVCs) is kept unless purge_data.
    """
    refs = set(present)
    inventory = inventory_ref(namespace)
    targets = {t for t in scaled_targets if t in refs}
    scaled = sorted(r for r in refs if r.kind == "ScaledObject")
    hpas = sorted(r for r in refs if r.kind == "HorizontalPodAutoscaler")
    pools = sorted(r for r in refs if r.kind == "NodePool")
    pool_names = sorted({r.name for r in pools} | {n for n, c in nodes_of_pools.items() if c > 0})
    data = sorted(r for r in refs if r.kind in _DATA_KINDS)
    namespaces = sorted(r for r in refs if r.kind == "Namespace")
    # The namespace also holds what the presenter created (the HF token Secret): kept too.
    kept = () if purge_data else tuple(data + namespaces)
    early = set(scaled) | set(hpas) | targets | set(pools) | {inventory}
    rest = [
        r
        for r in refs
        if r not in early and r.kind != "Namespace" and (purge_data or r.kind not in _DATA_KINDS)
    ]
    rest.sort(key=lambda r: (-kind_rank(r.kind), r))
    steps: list[Step] = []
    if scaled or hpas:
        steps.append(Step("delete", tuple(scaled + hpas), why="so the HPA stops scaling vLLM"))
    if targets:
        ordered = tuple(sorted(targets))
        steps.append(Step("scale-to-zero", ordered, why="GPU pods stop before their nodes go"))
        steps.append(Step("delete", ordered))
    if pools:
        steps.append(Step("delete", tuple(pools), why="Karpenter drains and removes GPU nodes"))
    if pool_names:
        steps.append(Step("wait-nodes-gone", nodepools=tuple(pool_names)))
    if rest:
        steps.append(Step("delete", tuple(rest)))
    if inventory in refs:
        steps.append(Step("delete", (inventory,), why="nothing left to prune"))
    if purge_data and namespaces:
        steps.append(Step("delete", tuple(namespaces)))
    return TeardownPlan(tuple(steps), kept)
