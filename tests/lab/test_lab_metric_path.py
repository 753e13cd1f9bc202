"""The lab's metric path: the real collector on the lab wiring of the rendered config, OTLP to
the scaler stand-in (tubedemo.rehearsal.scaler_standin, in place of the Kedify scaler), whose
/metrics KEDA's metrics-api trigger reads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tests.manifests.otel.collector import otelcol
from tests.scaler_standin_proc import running_standin
from tubedemo.core import metric_query
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.lab.variant import CollectorWiring, render_lab
from tubedemo.manifests.render import render
from tubedemo.rehearsal.scaler_standin import SeriesStore, exposition, ingest

WIRING = CollectorWiring(
    fleet="127.0.0.1:9001",
    otlp_endpoint="127.0.0.1:9002",
    kubeconfig="/tmp/lab/admin.kubeconfig",
    health_endpoint="127.0.0.1:9003",
)


def config_text(objs: list[dict[str, Any]]) -> str:
    (cm,) = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "otel-collector"
    ]
    return str(cm["data"]["config.yaml"])


def collector_config(objs: list[dict[str, Any]]) -> Any:
    return yaml.safe_load(config_text(objs))


def lab_render(cfg: DemoConfig, speed: float) -> list[dict[str, Any]]:
    return render_lab(cfg, speed=speed, queue_url="http://x/metrics", collector=WIRING)


def test_the_lab_collector_keeps_the_eks_pipeline_and_changes_only_where_things_are() -> None:
    cfg = config_from_dict({})
    eks = collector_config(render(cfg.model_copy(update={"profile": "eks"})))
    lab = collector_config(lab_render(cfg, 1.0))
    # the same pipeline, processors (the rename statement) and exporter type
    assert lab["service"]["pipelines"] == eks["service"]["pipelines"]
    assert lab["processors"]["transform/rename-vllm"] == eks["processors"]["transform/rename-vllm"]
    assert lab["exporters"].keys() == eks["exporters"].keys()
    job, eks_job = (c["receivers"]["prometheus"]["config"]["scrape_configs"][0] for c in (lab, eks))
    # the EKS keep rules first, unchanged; then the lab's address and path
    assert job["relabel_configs"][: len(eks_job["relabel_configs"])] == eks_job["relabel_configs"]
    assert job["relabel_configs"][-1] == {
        "target_label": "__address__",
        "replacement": "127.0.0.1:9001",
    }
    assert job["kubernetes_sd_configs"][0]["kubeconfig_file"] == WIRING.kubeconfig
    assert job["scrape_interval"] == eks_job["scrape_interval"]
    assert lab["exporters"]["otlp_grpc/kedify"]["endpoint"] == "127.0.0.1:9002"


def test_at_speed_ten_the_scrape_and_batch_intervals_are_divided_too() -> None:
    cfg = config_from_dict({"scaling": {"scrape_interval": "20s"}})
    lab = collector_config(lab_render(cfg, 10.0))
    job = lab["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    assert job["scrape_interval"] == "2s"
    assert lab["processors"]["batch"]["timeout"] == "100ms"


def test_the_lab_collector_config_passes_the_built_collectors_validate(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(lab_render(config_from_dict({}), 10.0)))
    result = subprocess.run(
        [str(otelcol()), "validate", f"--config=file:{path}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def gauge_request(points: list[tuple[str, str, float, int]]) -> object:
    """An ExportMetricsServiceRequest as the collector sends it: one resource per pod."""
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    for name, pod, value, flags in points:
        rm = request.resource_metrics.add()
        rm.resource.attributes.append(
            common_pb2.KeyValue(
                key="service.instance.id", value=common_pb2.AnyValue(string_value=pod)
            )
        )
        metric = rm.scope_metrics.add().metrics.add()
        metric.name = name
        dp = metric.gauge.data_points.add()
        dp.as_double = value
        dp.flags = flags
        dp.attributes.append(
            common_pb2.KeyValue(key="model_name", value=common_pb2.AnyValue(string_value="m"))
        )
    return request


def test_the_standin_sums_the_newest_value_of_each_pod_and_forgets_stale_ones() -> None:
    now = [0.0]
    store = SeriesStore(retention=10.0, clock=lambda: now[0])
    waiting = "vllm_num_requests_waiting"
    total = metric_query.parse(f"sum({waiting})")
    ingest(store, gauge_request([(waiting, "a", 3, 0), (waiting, "b", 4, 0)]))
    ingest(store, gauge_request([(waiting, "a", 5, 0)]))  # a's newer value replaces its old one
    assert store.answer(total) == 9
    assert store.answer(metric_query.parse(f"sum({waiting}{{model_name=m}})")) == 9
    assert store.answer(metric_query.parse(f"sum({waiting}{{model_name=other}})")) == 0
    assert store.answer(metric_query.parse(f"count({waiting})")) == 2  # two live pods
    # the Prometheus receiver's staleness marker: pod b is no longer a target
    ingest(
        store,
        gauge_request([(waiting, "b", 0, metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)]),
    )
    assert store.answer(total) == 5
    now[0] = 11.0  # a was not refreshed within the retention: 0, not an error, as Kedify answers
    assert store.answer(total) == 0
    text = exposition(store, [metric_query.parse(f"sum({waiting}{{model_name=m}})")])
    assert f'{waiting}{{model_name="m"}} 0.0' in text


def test_the_standin_process_takes_otlp_grpc_and_serves_the_sum_for_metrics_api() -> None:
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

    with running_standin(
        "--query=sum(vllm_num_requests_waiting)", "--query=sum(vllm_num_requests_running)"
    ) as standin:
        with grpc.insecure_channel(f"127.0.0.1:{standin.otlp_port}") as channel:
            stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
            stub.Export(
                gauge_request(
                    [
                        ("vllm_num_requests_waiting", "a", 2, 0),
                        ("vllm_num_requests_waiting", "b", 7, 0),
                    ]
                ),
                timeout=10,
            )
        body = httpx.get(f"http://127.0.0.1:{standin.http_port}/metrics", timeout=5).text
        assert "vllm_num_requests_waiting{} 9.0" in body
        assert "vllm_num_requests_running{} 0.0" in body
    assert standin.proc.returncode == 0
