"""Our manifests' `lab` variant: the EKS render, for the lab's real KEDA and Karpenter (KWOK
provider) on this machine. Pure: config in, manifests out. (What else the lab applies — the
controllers' own objects, what EKS has before `up` — is in ``tubedemo.lab.objects``.)

Every difference from what `tubedemo up` applies to EKS lives here, in one place:

- the EC2NodeClass becomes a ``KWOKNodeClass`` of the same name (its ``nodeRegistrationDelay``
  is ``twin.startup.node_launch``, from the NodeClaim's launch as in the twin), and the
  NodePool's ``nodeClassRef`` points at it; the NodePool is otherwise the EKS one (instance types,
  capacity types, GPU limits, taints, disruption budgets);
- at ``speed`` N every interval the objects carry is divided by N (KEDA pollingInterval and
  cooldownPeriod, the HPA behaviour's stabilization windows and policy periods, the NodePool's
  consolidateAfter), rounded to whole seconds as the APIs require (periods and polling at
  least 1 s); at speed 1 they are byte-identical to the EKS render;
- the ScaledObject's triggers: the Kedify OTEL scaler cannot be built here (its module is
  not on the Go module proxy), so the lab's KEDA reads the same metric with its built-in
  ``metrics-api`` scaler in the Prometheus format, from ``queue_url``, where each trigger's
  metric (the queue, the running requests) is one series summed over the pods (the scaler
  takes the FIRST matching series, it does not sum). Trigger names and metricType,
  the formula, target, pollingInterval, fallback and the HPA behaviour stay the EKS render's;
  the timeline's forecast trigger (scaling.proactive: timeline) is metrics-api on EKS too and
  stays, read at ``forecast_url`` (what stands in for the gateway's /forecast), and so does the
  warm capacity's ScaledObject (scaling.warm_capacity), whose one metrics-api trigger reads the
  placeholders' series there too: the placeholders, their PriorityClass and their preemption
  are the EKS objects, acted on by the lab's real scheduler, KEDA and Karpenter;
- with ``collector`` (the metric path of ``tubedemo rehearse --lab`` and ``lab compare``): the
  collector's config, run by the real collector (scripts/build-otelcol) as a process on this
  machine, keeps the EKS pipeline (the same scrape job, keep rules, rename transform, batch,
  OTLP exporter) and changes only where things are: pod discovery through the lab's
  kubeconfig, each discovered pod scraped at the fleet simulator's ``/pods/<pod>/metrics``
  (pods on KWOK nodes run no process), OTLP to the scaler stand-in
  (``tubedemo.rehearsal.scaler_standin``, which sums per metric like the Kedify scaler and
  serves ``queue_url``), the health check on loopback, no self-telemetry port; at speed N the
  scrape interval and the batch timeout are divided by N like every other interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from tubedemo.core import metric_query
from tubedemo.core.config import DemoConfig, HpaRules, ScalingConfig, StartupModel
from tubedemo.core.durations import check_speed
from tubedemo.manifests.render import Manifest, render

KWOK_NODE_CLASS_GROUP = "karpenter.kwok.sh"
WARM_CAPACITY = "warm-capacity"
"""The placeholders' ScaledObject (scaling.warm_capacity), beside vLLM's."""
KWOK_NODE_CLASS_KIND = "KWOKNodeClass"


def whole_seconds(seconds: float) -> str:
    """A duration in the whole-second form Karpenter's CRDs accept (``45s``)."""
    return f"{max(0, round(seconds))}s"


def node_registration_delay(startup: StartupModel, speed: float) -> float:
    """KWOKNodeClass nodeRegistrationDelay (s): twin.startup.node_launch, NodeClaim launched
    -> node Ready, as the twin counts it from the batch's close; the KWOK provider's Create
    (karpenter kwok/cloudprovider) sleeps this long after the launch, then makes the Node."""
    return startup.node_launch / speed


def kwok_node_class(name: str, startup: StartupModel, speed: float) -> Manifest:
    """The KWOKNodeClass standing in for the EC2NodeClass of the same name."""
    return {
        "apiVersion": f"{KWOK_NODE_CLASS_GROUP}/v1alpha1",
        "kind": KWOK_NODE_CLASS_KIND,
        "metadata": {"name": name},
        "spec": {"nodeRegistrationDelay": whole_seconds(node_registration_delay(startup, speed))},
    }


def compress(cfg: DemoConfig, speed: float) -> DemoConfig:
    """``cfg`` with every interval the rendered objects carry divided by ``speed``."""
    check_speed(speed)
    if speed == 1:
        return cfg

    def at_least(seconds: float, floor: float) -> float:
        return float(max(floor, round(seconds / speed)))

    def rules(r: HpaRules) -> HpaRules:
        return r.model_copy(
            update={
                "stabilization": at_least(r.stabilization, 0),
                "policies": [
                    p.model_copy(update={"period": at_least(p.period, 1)}) for p in r.policies
                ],
            }
        )

    s = cfg.scaling
    scaling = s.model_copy(
        update={
            "polling_interval": at_least(s.polling_interval, 1),
            "scrape_interval": at_least(s.scrape_interval, 1),
            "cooldown": at_least(s.cooldown, 0),
            "scale_up": rules(s.scale_up),
            "scale_down": rules(s.scale_down),
        }
    )
    pool = cfg.gpu_pool.model_copy(
        update={"consolidate_after": at_least(cfg.gpu_pool.consolidate_after, 0)}
    )
    return cfg.model_copy(update={"scaling": scaling, "gpu_pool": pool})


def series_selector(scaling: ScalingConfig, metric: str) -> str:
    """The PromQL series selector of the EKS ``metricQuery`` (``sum(metric{k=v})``) without the
    sum: what ``metrics-api``'s ``valueLocation`` takes in the Prometheus format."""
    return metric_query.parse(scaling.query_for(metric)).selector


def metrics_api_triggers(scaling: ScalingConfig, queue_url: str) -> list[dict[str, Any]]:
    """The lab's triggers: one KEDA built-in metrics-api scaler per EKS trigger (same name, so
    the formula reads them alike), each at its query's selector, where the scaler stand-in (or
    the fleet) serves the query's answer: the metrics summed, the heartbeat counted."""
    return [
        {
            "name": name,
            "type": "metrics-api",
            "metricType": "AverageValue",
            "metadata": {
                "url": queue_url,
                "format": "prometheus",
                "valueLocation": metric_query.parse(query).selector,
                "targetValue": str(scaling.target),
            },
        }
        for name, query in scaling.trigger_queries.items()
    ]


@dataclass(frozen=True)
class CollectorWiring:
    """Where the lab's collector process finds what a pod on EKS finds through the cluster."""

    fleet: str
    """host:port of the fleet simulator, whose ``/pods/<pod>/metrics`` are the pods' metrics."""
    otlp_endpoint: str
    """host:port of the scaler stand-in's OTLP gRPC receiver (EKS: the Kedify scaler)."""
    kubeconfig: str
    """The lab's kubeconfig, for the Prometheus receiver's pod discovery."""
    health_endpoint: str
    """host:port of the health check extension (EKS: 0.0.0.0:13133 in the pod)."""
    name: str = "lab-collector-0"
    """This collector's name in its heartbeat (EKS: the pod's name)."""
    otlp_ca_file: str = ""
    """The CA file the collector verifies the stand-in's OTLP certificate with (EKS: the
    scaler's CA from its ConfigMap); "": the stand-in serves plaintext."""


def lab_collector_config(config_text: str, wiring: CollectorWiring, speed: float) -> str:
    """The rendered collector config.yaml (of the compressed config), wired for the lab. Pure."""
    config = yaml.safe_load(config_text)
    job = config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    for sd in job["kubernetes_sd_configs"]:
        sd["kubeconfig_file"] = wiring.kubeconfig
    job["relabel_configs"] += [
        {
            "source_labels": ["__meta_kubernetes_pod_name"],
            "regex": "(.+)",
            "target_label": "__metrics_path__",
            # $$: the collector expands $ in its config; $$1 reaches Prometheus as $1
            "replacement": "/pods/$$1/metrics",
        },
        {"target_label": "__address__", "replacement": wiring.fleet},
    ]
    # the heartbeat job: this collector's `up` (a name of its own in place of the pod's); its
    # target is the health check on loopback, whatever it answers (the lab has no :8888)
    for beat in config["receivers"]["prometheus"]["config"]["scrape_configs"][1:]:
        for static in beat.get("static_configs", []):
            static["targets"] = [wiring.health_endpoint]
            static.setdefault("labels", {})["collector"] = wiring.name
    config["processors"]["batch"]["timeout"] = f"{max(1, round(1000 / speed))}ms"
    (exporter,) = config["exporters"].values()
    exporter["endpoint"] = wiring.otlp_endpoint
    # TLS as the stand-in serves it; the render's other TLS settings (reload_interval) kept
    tls = {k: v for k, v in (exporter.get("tls") or {}).items() if k not in ("insecure", "ca_file")}
    exporter["tls"] = (
        {**tls, "ca_file": wiring.otlp_ca_file} if wiring.otlp_ca_file else {"insecure": True}
    )
    config["extensions"]["health_check"]["endpoint"] = wiring.health_endpoint
    config["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return str(yaml.safe_dump(config, sort_keys=False))


def render_lab(
    cfg: DemoConfig,
    *,
    speed: float = 1.0,
    queue_url: str | None = None,
    collector: CollectorWiring | None = None,
    forecast_url: str | None = None,
) -> list[Manifest]:
    """The manifests `tubedemo up` would apply to EKS, changed only as the module says.

    ``queue_url``: where the lab's KEDA reads the queue (the scaler stand-in's ``/metrics``, or
    the fleet simulator's summed ``/metrics`` without a collector); None leaves the EKS trigger
    in place (to inspect the render; the lab's KEDA cannot serve it). ``collector``: the
    collector's ConfigMap carries the lab's wiring (what the collector process runs).
    ``forecast_url``: where the lab's KEDA reads the timeline's forecast (scaling.proactive:
    timeline) and the warm capacity's series, in place of the gateway's /forecast.
    """
    eks = compress(cfg, speed).model_copy(update={"profile": "eks"})
    out: list[Manifest] = []
    for obj in render(eks):
        if obj.get("kind") == "ScaledObject" and obj["metadata"]["name"] == WARM_CAPACITY:
            # its one trigger is metrics-api on EKS too: read where the lab serves /forecast
            for trigger in obj["spec"]["triggers"]:
                if forecast_url is not None:
                    trigger["metadata"]["url"] = forecast_url
        elif obj.get("kind") == "ScaledObject" and queue_url is not None:
            # the forecast trigger is a metrics-api one on EKS too: kept, read where the lab
            # serves the forecast (forecast_url), else where the EKS render points
            forecast = [
                t for t in obj["spec"]["triggers"] if t["name"] == eks.scaling.forecast.trigger_name
            ]
            for trigger in forecast:
                if forecast_url is not None:
                    trigger["metadata"]["url"] = forecast_url
            obj["spec"]["triggers"] = metrics_api_triggers(eks.scaling, queue_url) + forecast
        if (
            collector is not None
            and obj.get("kind") == "ConfigMap"
            and obj["metadata"]["name"] == "otel-collector"
        ):
            obj["data"]["config.yaml"] = lab_collector_config(
                obj["data"]["config.yaml"], collector, speed
            )
        if obj.get("kind") == "EC2NodeClass":
            node_class = kwok_node_class(obj["metadata"]["name"], cfg.twin.startup, speed)
            node_class["metadata"]["labels"] = dict(obj["metadata"].get("labels", {}))
            out.append(node_class)
            continue
        if obj.get("kind") == "NodePool":
            _point_at_kwok(obj)
        out.append(obj)
    return out


def _point_at_kwok(pool: dict[str, Any]) -> None:
    ref = pool["spec"]["template"]["spec"]["nodeClassRef"]
    ref["group"] = KWOK_NODE_CLASS_GROUP
    ref["kind"] = KWOK_NODE_CLASS_KIND
