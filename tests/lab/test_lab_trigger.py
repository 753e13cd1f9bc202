"""The lab render's one trigger difference: KEDA's metrics-api scaler on the fleet's summed
queue series, everything else of the ScaledObject as the EKS render has it."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tubedemo.core import metric_query
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.lab.variant import render_lab
from tubedemo.manifests.crds import load_crds
from tubedemo.manifests.render import render
from tubedemo.manifests.validate import validate_manifests
from tubedemo.rehearsal.fleet import Fleet
from tubedemo.rehearsal.scaler_standin import SeriesStore, exposition

URL = "http://127.0.0.1:41234/metrics"


def _scaled_object(manifests: list[dict[str, Any]], name: str = "vllm") -> dict[str, Any]:
    (found,) = [
        m for m in manifests if m["kind"] == "ScaledObject" and m["metadata"]["name"] == name
    ]
    return found


def test_at_speed_one_only_the_trigger_differs_from_the_eks_render() -> None:
    cfg = DemoConfig()
    eks = _scaled_object(render(cfg))
    lab = _scaled_object(render_lab(cfg, speed=1, queue_url=URL))
    assert {k: v for k, v in lab["spec"].items() if k != "triggers"} == {
        k: v for k, v in eks["spec"].items() if k != "triggers"
    }
    assert lab["metadata"] == eks["metadata"]
    assert {t["type"] for t in eks["spec"]["triggers"]} == {"kedify-otel"}
    assert lab["spec"]["triggers"] == [
        {
            "name": name,
            "type": "metrics-api",
            "metricType": "AverageValue",
            "metadata": {
                "url": URL,
                "format": "prometheus",
                "valueLocation": metric,
                "targetValue": str(cfg.scaling.target),
            },
        }
        for name, metric in (
            ("queue", "vllm_num_requests_waiting"),
            ("running", "vllm_num_requests_running"),
            ("collectors", 'up{tubedemo_heartbeat="collector"}'),
        )
    ]
    # the formula reads the same trigger names on both
    assert [t["name"] for t in lab["spec"]["triggers"]] == [
        t["name"] for t in eks["spec"]["triggers"]
    ]
    assert validate_manifests([lab], load_crds()) == []  # KEDA v2.20.2's own CRD schema


def test_the_selectors_carry_the_queries_label_matchers_and_match_the_fleets_series() -> None:
    cfg = config_from_dict({"scaling": {"metric_labels": {"model_name": "llama-3.1-8b"}}})
    triggers = _scaled_object(render_lab(cfg, queue_url=URL))["spec"]["triggers"]
    selectors = [t["metadata"]["valueLocation"] for t in triggers]
    assert selectors == [
        'vllm_num_requests_waiting{model_name="llama-3.1-8b"}',
        'vllm_num_requests_running{model_name="llama-3.1-8b"}',
        'up{tubedemo_heartbeat="collector"}',
    ]
    # the fleet exposes exactly one series per metric, with those labels, and its heartbeat
    fleet = Fleet(cfg, lambda: 0.0, pods_from_cluster=True)
    families = list(text_string_to_metric_families(fleet.queue_metrics_text().decode()))
    assert sorted(f.name for f in families) == [
        "up",
        "vllm_num_requests_running",
        "vllm_num_requests_waiting",
    ]
    for family in families:
        (sample,) = family.samples
        if family.name == "up":
            assert sample.labels == {"tubedemo_heartbeat": "collector"} and sample.value == 1
        else:
            assert sample.labels == {"model_name": "llama-3.1-8b"} and sample.value == 0


def test_the_fleet_and_the_scaler_standin_write_one_series_per_metric_alike() -> None:
    # KEDA's metrics-api trigger reads either the fleet's own /metrics (no collector built) or
    # the stand-in's (after the real collector): for the same sums and labels, the same text,
    # a label value with a quote escaped so that it reads back as written.
    cfg = config_from_dict(
        {
            "scaling": {
                "metric_labels": {"app": 'llama "8b"', "model_name": "llama-3.1-8b"},
                "heartbeat_trigger": None,
            }
        }
    )
    fleet = Fleet(cfg, lambda: 0.0, pods_from_cluster=True).queue_metrics_text().decode()
    labels = {"model_name": cfg.model.served_name, **cfg.scaling.metric_labels}
    queries = [metric_query.parse(q) for q in sorted(cfg.scaling.trigger_queries.values())]
    assert exposition(SeriesStore(retention=10.0), queries) == fleet
    for family in text_string_to_metric_families(fleet):
        (sample,) = family.samples
        assert sample.labels == labels and sample.value == 0


def test_without_a_queue_url_the_eks_trigger_stays() -> None:
    cfg = DemoConfig()
    assert _scaled_object(render_lab(cfg)) == _scaled_object(render(cfg))


def test_the_forecast_trigger_stays_beside_the_queues_read_where_the_lab_serves_it() -> None:
    cfg = config_from_dict({"scaling": {"proactive": "timeline"}})
    eks = _scaled_object(render(cfg))
    forecast = "http://127.0.0.1:41235/forecast"
    lab = _scaled_object(render_lab(cfg, speed=1, queue_url=URL, forecast_url=forecast))
    (eks_forecast,) = [t for t in eks["spec"]["triggers"] if t["name"] == "forecast"]
    (lab_forecast,) = [t for t in lab["spec"]["triggers"] if t["name"] == "forecast"]
    assert lab_forecast == {
        **eks_forecast,
        "metadata": {**eks_forecast["metadata"], "url": forecast},
    }
    assert [t["name"] for t in lab["spec"]["triggers"]] == [
        t["name"] for t in eks["spec"]["triggers"]
    ]
    assert lab["spec"]["advanced"] == eks["spec"]["advanced"]
    assert validate_manifests([lab], load_crds()) == []


def test_the_warm_capacity_reads_where_the_lab_serves_the_forecast_and_is_else_the_eks_one() -> (
    None
):
    cfg = config_from_dict({"scaling": {"warm_capacity": {"replicas": 2}}})
    forecast = "http://127.0.0.1:41235/forecast"
    lab_objects = render_lab(cfg, speed=1, queue_url=URL, forecast_url=forecast)
    eks = _scaled_object(render(cfg), "warm-capacity")
    lab = _scaled_object(lab_objects, "warm-capacity")
    (eks_trigger,) = eks["spec"]["triggers"]
    assert lab["spec"]["triggers"] == [
        {**eks_trigger, "metadata": {**eks_trigger["metadata"], "url": forecast}}
    ]
    assert {k: v for k, v in lab["spec"].items() if k != "triggers"} == {
        k: v for k, v in eks["spec"].items() if k != "triggers"
    }
    # vLLM's ScaledObject still gets the lab's queue triggers, not the placeholders'
    vllm = _scaled_object(lab_objects)
    assert {t["metadata"]["url"] for t in vllm["spec"]["triggers"]} == {URL}
    # the placeholders, their PriorityClass and NetworkPolicy are the EKS objects
    kinds = ("PriorityClass", "Deployment", "NetworkPolicy")

    def pick(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [o for o in objs if o["kind"] in kinds and "warm-capacity" in o["metadata"]["name"]]

    assert pick(lab_objects) == pick(render(cfg)) and len(pick(lab_objects)) == 3
    assert validate_manifests([lab], load_crds()) == []
