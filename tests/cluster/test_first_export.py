"""`up` on EKS applies the ScaledObject only after every collector's first export to the scaler.

Until a collector's first export the scaler has no heartbeat series, the formula counts 0
collectors and holds fallback.replicas, and Karpenter starts a GPU node nobody asked for. `up`
reads each collector pod's own telemetry (otelcol_exporter_sent_metric_points) through the API
server's pod proxy. Here the collector is the real OpenTelemetry Collector (scripts/build-otelcol)
running the rendered config.yaml on a test host (tests/netns.py: the API server will not proxy
to loopback), a Pod object carries that host's address as a kubelet would report it, and the
scaler is the lab's stand-in for the Kedify scaler (tubedemo.rehearsal.scaler_standin, a named
stand-in) on the same host, serving OTLP over TLS as the EKS scaler does (a certificate from
tubedemo.cluster.scaler_tls; the collector's rendered ca_file moved to the test's copy of the
CA). The collector's pod discovery finds no API server from there (it logs so and carries on):
its heartbeat job, what the scaler needs first, scrapes the collector itself.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests import netns
from tests.conftest import wait_until
from tests.kube.fixtures import Kube, ready_pod_at
from tests.manifests.otel.collector import otelcol
from tests.scaler_standin_proc import running_standin
from tubedemo.cluster import scaler_tls
from tubedemo.cluster.api import connect
from tubedemo.cluster.plan import FirstExport, Ref, first_export
from tubedemo.cluster.up import RolloutTimeout, up
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

POD = "otel-collector-0"


def _render(namespace: str, otlp_endpoint: str) -> list[dict[str, Any]]:
    return render(
        config_from_dict(
            {
                "profile": "eks",
                "cluster": {"namespace": namespace, "account_id": "123456789012"},
                "scaling": {"otlp_endpoint": otlp_endpoint},
            }
        )
    )


@pytest.fixture
def tls(tmp_path: Path) -> scaler_tls.ScalerTls:
    """The scaler's certificate for the address the collector dials on the test host, its CA
    beside it (what `cluster create` puts in the Secret and the CA ConfigMap)."""
    made = scaler_tls.issue(["localhost"], ip_addresses=["127.0.0.1"])
    for name, pem in made.secret_data().items():
        (tmp_path / name).write_text(pem)
    return made


@contextmanager
def _scaler(host: netns.TestHost, tmp_path: Path) -> Iterator[str]:
    """The scaler stand-in on the test host serving OTLP over TLS with the ``tls`` fixture's
    files; yields its OTLP endpoint there."""
    with running_standin(
        '--query=count(up{tubedemo_heartbeat="collector"})',
        f"--tls-cert={tmp_path / scaler_tls.CERT_FILE}",
        f"--tls-key={tmp_path / scaler_tls.KEY_FILE}",
        wrap=host.wrap,
    ) as standin:
        yield f"127.0.0.1:{standin.otlp_port}"


@contextmanager
def _collector(
    host: netns.TestHost, manifests: list[dict[str, Any]], tmp_path: Path
) -> Iterator[None]:
    """The real collector on the test host with the rendered config, as the pod POD there."""
    config = next(
        m["data"]["config.yaml"]
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "otel-collector"
    )
    parsed = yaml.safe_load(config)
    # the CA the pod mounts from the otel-scaler-ca ConfigMap: the test's copy (fixture tls)
    parsed["exporters"]["otlp_grpc/kedify"]["tls"]["ca_file"] = str(tmp_path / scaler_tls.CA_FILE)
    path = tmp_path / "otel-collector.yaml"
    path.write_text(yaml.safe_dump(parsed, sort_keys=False))
    with (tmp_path / "otelcol.log").open("w") as log:
        proc = subprocess.Popen(
            host.wrap([str(otelcol()), f"--config={path}"]),
            env={**os.environ, "POD_IP": host.address, "POD_NAME": POD},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _collector_pod(kube: Kube, namespace: str, host: netns.TestHost, manifests: list[Any]) -> None:
    """A Ready Pod object of the collector's Deployment (its template's labels) at the host."""
    deployment = next(
        m
        for m in manifests
        if m["kind"] == "Deployment" and m["metadata"]["name"] == "otel-collector"
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    ready_pod_at(client.CoreV1Api(kube.api_client()), namespace, POD, labels, host.address)


def _scaling(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `up` applies here: the ScaledObject alone (the Deployments would get KWOK pods
    that run no collector; the Pod object above stands for the collector's)."""
    return [m for m in manifests if m["kind"] == "ScaledObject"]


def _check(manifests: list[dict[str, Any]], timeout: float) -> FirstExport:
    check = first_export(manifests, timeout)
    assert check is not None
    return check


def test_up_applies_the_scaled_object_only_after_the_collectors_first_export(
    kube: Kube,
    namespace: str,
    test_host: netns.TestHost,
    tmp_path: Path,
    tls: scaler_tls.ScalerTls,
) -> None:
    with _scaler(test_host, tmp_path) as endpoint:
        manifests = _render(namespace, endpoint)
        scaled = _scaling(manifests)
        ref = Ref.of(scaled[0])
        _collector_pod(kube, namespace, test_host, manifests)
        lines: list[str] = []
        progress: list[str] = []
        failed: list[BaseException] = []

        def run() -> None:
            try:
                up(connect(kube.kubeconfig, None), scaled, namespace, report=lines.append,
                   progress=progress.append, first_export=_check(manifests, 60.0))  # fmt: skip
            except BaseException as exc:  # handed to the test's thread below
                failed.append(exc)

        thread = threading.Thread(target=run, name="up", daemon=True)
        thread.start()
        try:
            wait_until("up waiting, or done", lambda: progress or not thread.is_alive())
            # no collector has exported yet (none runs): no ScaledObject
            assert connect(kube.kubeconfig, None).get(ref) is None, lines
            assert "first export to the scaler" in progress[-1] and POD in progress[-1]
            with _collector(test_host, manifests, tmp_path):
                thread.join(timeout=60)
                assert not thread.is_alive(), progress[-1:]
        finally:
            thread.join(timeout=90)
    assert not failed, failed
    assert connect(kube.kubeconfig, None).get(ref) is not None
    exported = next(i for i, line in enumerate(lines) if line.startswith("exported"))
    created = next(i for i, line in enumerate(lines) if "ScaledObject" in line)
    assert exported < created, lines
    assert POD in lines[exported]


def test_a_collector_that_cannot_reach_the_scaler_holds_the_scaled_object_with_one_line(
    kube: Kube,
    namespace: str,
    test_host: netns.TestHost,
    tmp_path: Path,
    tls: scaler_tls.ScalerTls,
) -> None:
    # nothing listens at port 9 on the test host: every export fails
    manifests = _render(namespace, "127.0.0.1:9")
    scaled = _scaling(manifests)
    _collector_pod(kube, namespace, test_host, manifests)
    api = connect(kube.kubeconfig, None)
    with _collector(test_host, manifests, tmp_path), pytest.raises(RolloutTimeout) as failure:
        up(api, scaled, namespace, report=lambda _: None, first_export=_check(manifests, 10.0))
    message = failure.value.message
    assert "\n" not in message
    # the collector answered (its telemetry was read) but had sent nothing
    assert f"{POD}: no otelcol_exporter_sent_metric_points{{exporter=otlp_grpc/kedify}}" in message
    assert "not applied" in message and "tubedemo up" in message
    assert "otel.first_export_timeout: 0s" in message  # the way out, named
    assert "applied all the same" not in message
    assert api.get(Ref.of(scaled[0])) is None
