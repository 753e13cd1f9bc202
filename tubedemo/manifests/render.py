"""Render demo.yaml into Kubernetes manifests. Pure: config in, ordered list of objects out.

Templates (``templates/*.yaml.j2``, one per component) hold the shape of each object; this
module computes the values they need, adds the labels every object carries, and orders the
objects so that applying them in sequence never references something not yet there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import jinja2
import yaml

from tubedemo.aws import s3_layout
from tubedemo.core import own_images
from tubedemo.core.config import (
    DEADLINE_PLACEHOLDER,
    FORECAST_METRIC,
    HEARTBEAT_LABEL,
    WARM_CAPACITY_METRIC,
    DemoConfig,
)
from tubedemo.core.errors import ValidationFailed
from tubedemo.core.resources import resource_dir

Manifest = dict[str, Any]

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
CONFIG_HASH = "tubedemo.dev/config-hash"

# Components in the order their objects are applied; profiles name the ones they render.
COMPONENTS: tuple[str, ...] = (
    "namespace",
    "storageclass",
    "otel-collector",
    "vllm",
    "gateway",
    "karpenter",
    "deadline",
    "deletion-cost",
    "warm-capacity",
    "ingress",
    "keda",
)
PROFILE_COMPONENTS: dict[str, frozenset[str]] = {
    "eks": frozenset(COMPONENTS),
    # local: one node, no Karpenter: which node keeps a replica costs nothing
    # (nor warm capacity: no GPU nodes to keep Ready; DemoConfig refuses it there)
    "local": frozenset(COMPONENTS)
    - {"karpenter", "storageclass", "deadline", "deletion-cost", "warm-capacity"},
}

# Within the plan, kinds that others depend on come first. The ScaledObject comes last: `up`
# applies it once the collector feeding the scaler is out (tubedemo/cluster/plan.py up_plan).
KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "NetworkPolicy",
    "StorageClass",
    "PriorityClass",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "CronJob",
    "PodDisruptionBudget",
    "EC2NodeClass",
    "NodePool",
    "Ingress",
    "ScaledObject",
)


@dataclass(frozen=True)
class TalkWindow:
    """The no-disruption budget window, in Karpenter's formats."""

    start: str
    cron: str
    duration: str


def render(cfg: DemoConfig) -> list[Manifest]:
    """All objects for ``cfg``'s profile, labelled and in apply order. No side effects."""
    env = _environment()
    context = _context(cfg)
    wanted = PROFILE_COMPONENTS[cfg.profile]
    objects: list[tuple[int, Manifest]] = []
    for index, component in enumerate(COMPONENTS):
        if component not in wanted:
            continue
        text = env.get_template(f"{component}.yaml.j2").render(cfg=cfg, **context)
        try:
            documents = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:  # a template bug or a value that broke the YAML
            raise ValidationFailed(
                f"template {component}.yaml.j2 rendered invalid YAML: {exc}; check the values "
                "in demo.yaml that it uses"
            ) from exc
        for doc in documents:
            _label(doc, component)
            objects.append((index, doc))
    manifests = [doc for _, doc in sorted(objects, key=lambda item: _order_key(*item))]
    _stamp_config_hashes(manifests)
    return manifests


def object_ref(obj: Manifest) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), for messages and files."""
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind', '?')}/{ns}/{name}" if ns else f"{obj.get('kind', '?')}/{name}"


def to_yaml(manifests: list[Manifest]) -> str:
    """One multi-document YAML stream, stable byte for byte for the same config."""
    return "".join(f"---\n{_dump(obj)}" for obj in manifests)


def write_files(manifests: list[Manifest], out_dir: Path) -> list[Path]:
    """One file per object, numbered in apply order (``kubectl apply -f DIR`` keeps it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("[0-9][0-9]-*.yaml"):
        stale.unlink()  # objects no longer rendered must not linger in the output folder
    written = []
    for number, obj in enumerate(manifests, start=1):
        kind = str(obj.get("kind", "object")).lower()
        name = str(obj.get("metadata", {}).get("name", "unnamed"))
        path = out_dir / f"{number:02d}-{kind}-{name}.yaml"
        path.write_text(_dump(obj), encoding="utf-8")
        written.append(path)
    return written


def talk_window(cfg: DemoConfig) -> TalkWindow | None:
    """The UTC window during which GPU nodes may not be voluntarily disrupted, if configured."""
    start = cfg.talk.window_start
    if start is None:
        return None
    utc = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
    minutes = max(1, round(cfg.talk.window / 60))
    hours, rest = divmod(minutes, 60)
    duration = f"{hours}h{rest}m" if hours and rest else (f"{hours}h" if hours else f"{rest}m")
    return TalkWindow(
        start=utc.strftime("%Y-%m-%d %H:%M"),
        cron=f"{utc.minute} {utc.hour} {utc.day} {utc.month} *",
        duration=duration,
    )


def _context(cfg: DemoConfig) -> dict[str, Any]:
    m = cfg.model
    return {
        "ns": cfg.cluster.namespace,
        # SIGTERM arrives after preStop; vLLM then drains for shutdown_timeout; slack on top.
        "grace_seconds": int(m.prestop_sleep + m.shutdown_timeout + 15),
        "startup_period": int(m.startup_probe_period),
        "startup_failures": max(1, -(-int(m.startup_timeout) // int(m.startup_probe_period))),
        "probe_timeout": max(1, int(m.probe_timeout)),
        "consolidate_after": f"{int(cfg.gpu_pool.consolidate_after)}s",
        "window": talk_window(cfg),
        "deadline": _deadline(cfg),
        "heartbeat_label": HEARTBEAT_LABEL,
        "deadline_schedule": DEADLINE_SCHEDULE,
        # our own images: the configured reference, else a placeholder (tubedemo.core.own_images)
        "gateway_image": own_images.reference(cfg, own_images.GATEWAY),
        "standin_image": own_images.reference(cfg, own_images.STANDIN),
        # vLLM's weights: model.weights_uri, the prepared S3 copy (auto), or None: the hub
        "weights_location": s3_layout.weights_location(cfg),
        # where KEDA reads the timeline's forecast (scaling.proactive: timeline)
        "forecast_url": forecast_url(cfg),
        "forecast_metric": FORECAST_METRIC,
        # the placeholders' series beside it (scaling.warm_capacity), on the same URL
        "warm_capacity_metric": WARM_CAPACITY_METRIC,
        # what gateway.deletion_cost prices nodes by (the capacity-type label's values)
        "deletion_cost_prices": deletion_cost_prices(cfg),
        # vLLM's torch.compile cache in S3 (model.compile_cache): where, or None when not kept
        "compile_cache": (
            {"bucket": cfg.s3_bucket, "prefix": s3_layout.compile_cache_key(cfg)}
            if s3_layout.compile_cache_rendered(cfg)
            else None
        ),
        # the Run:ai streamer's model_loader_extra_config (vLLM's loader checks the keys)
        "streamer_config": {
            "concurrency": cfg.streamer_concurrency,
            "memory_limit": m.streamer_memory_gib * 1024**3,
        },
    }


def deletion_cost_prices(cfg: DemoConfig) -> dict[str, dict[str, float]]:
    """The prices section keyed as Karpenter's karpenter.sh/capacity-type label names them."""
    return {"spot": dict(cfg.prices.spot), "on-demand": dict(cfg.prices.on_demand)}


def forecast_url(cfg: DemoConfig) -> str:
    """Where KEDA's forecast trigger reads: scaling.forecast.url, else the gateway's /forecast
    through its Service (port 80; `tubedemo show` posts the forecast there on the talk's clock)."""
    configured = cfg.scaling.forecast.url
    if configured:
        return configured
    return f"http://gateway.{cfg.cluster.namespace}.svc/forecast"


DEADLINE_SCHEDULE = "*/5 * * * *"
"""How often the cluster checks the GPU deadline: GPUs outlive it by 5 minutes at most."""


def _deadline(cfg: DemoConfig) -> str:
    """The GPU deadline as the CronJob's program reads it (ISO 8601, UTC), or a placeholder in
    an offline render that knows no end of the talk (`up` always sets one)."""
    deadline = cfg.gpu_deadline
    return DEADLINE_PLACEHOLDER if deadline is None else deadline.strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML; values are quoted with |tojson where free-form
    )


def _label(doc: Manifest, component: str) -> None:
    labels = doc.setdefault("metadata", {}).setdefault("labels", {})
    labels[PART_OF] = "tubedemo"
    labels[MANAGED_BY] = "tubedemo"
    labels[COMPONENT] = component


def _order_key(component_index: int, doc: Manifest) -> tuple[int, int, str, str]:
    kind = str(doc.get("kind", ""))
    kind_rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    name = str(doc.get("metadata", {}).get("name", ""))
    return (kind_rank, component_index, name, str(doc.get("apiVersion", "")))


def _stamp_config_hashes(manifests: list[Manifest]) -> None:
    """Roll a Deployment when a ConfigMap it mounts changes (a mounted file is not reloaded)."""
    config_maps = {
        (obj["metadata"].get("namespace"), obj["metadata"]["name"]): obj.get("data", {})
        for obj in manifests
        if obj.get("kind") == "ConfigMap"
    }
    for obj in manifests:
        if obj.get("kind") != "Deployment":
            continue
        ns = obj["metadata"].get("namespace")
        pod = obj["spec"]["template"]
        mounted = sorted(
            vol["configMap"]["name"]
            for vol in pod["spec"].get("volumes", [])
            if "configMap" in vol and (ns, vol["configMap"]["name"]) in config_maps
        )
        if not mounted:
            continue
        digest = hashlib.sha256(
            json.dumps([config_maps[(ns, name)] for name in mounted], sort_keys=True).encode()
        ).hexdigest()[:16]
        pod.setdefault("metadata", {}).setdefault("annotations", {})[CONFIG_HASH] = digest


def _dump(obj: Manifest) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=100)
