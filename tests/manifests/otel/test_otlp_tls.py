"""The collector's OTLP export to the Kedify scaler is TLS on the EKS render, run for real.

The collector built by scripts/build-otelcol runs the rendered EKS config as in its pod (in-
cluster config, its ServiceAccount's token) and exports to the scaler stand-in's OTLP gRPC
receiver (tubedemo.rehearsal.scaler_standin, in place of the Kedify scaler) serving TLS on
loopback with a certificate tubedemo.cluster.scaler_tls issued for the rendered endpoint's
Service names, as `cluster create` makes it. The collector trusts only the CA it was given: a
certificate of another CA, or of the same CA for another name, is refused and nothing arrives.

Overridden with the collector's `--set`, as in test_otel_collector_run: the endpoint (the
scaler's Service -> the stand-in on 127.0.0.1), the name the certificate is checked against
(server_name_override = the rendered endpoint's host, which the cluster's DNS would resolve),
the health check's port and the collector's own telemetry; and in the config file, the CA
file's path (the ConfigMap's mount -> the same file under the pod's /run, where the test
harness mounts what the pod sees). The collector runs with the rendered securityContext.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.conftest import wait_until
from tests.kube.fixtures import Kube
from tests.manifests.otel.collector import apply_collector_rbac, otelcol, start_collector
from tubedemo.cluster import scaler_tls
from tubedemo.core import metric_query
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render
from tubedemo.rehearsal.scaler_standin import SeriesStore, serve

EXPORTER = "otlp_grpc/kedify"


def _rendered(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the collector's config, its Deployment's pod spec) as rendered."""
    objs = [o for o in render(config_from_dict(raw)) if o["metadata"]["name"] == "otel-collector"]
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap"]
    (deploy,) = [o for o in objs if o["kind"] == "Deployment"]
    return yaml.safe_load(cm["data"]["config.yaml"]), deploy["spec"]["template"]["spec"]


def test_the_eks_exporter_verifies_the_scaler_with_the_ca_configmap_its_pod_mounts() -> None:
    config, pod = _rendered({"profile": "eks"})
    tls = config["exporters"][EXPORTER]["tls"]
    assert "insecure" not in tls and "insecure_skip_verify" not in tls
    ca_file = PurePosixPath(tls["ca_file"])
    assert ca_file.name == scaler_tls.CA_FILE  # the ConfigMap's key that cluster create writes
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(ca_file.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == config_from_dict({}).scaling.otlp_ca_configmap


def test_the_local_profile_and_an_emptied_ca_setting_send_plaintext_and_mount_no_ca() -> None:
    for raw in ({"profile": "local"}, {"profile": "eks", "scaling": {"otlp_ca_configmap": ""}}):
        config, pod = _rendered(raw)
        assert config["exporters"][EXPORTER]["tls"] == {"insecure": True}
        assert [v["name"] for v in pod["volumes"]] == ["conf"]


def test_the_scalers_certificate_names_every_form_of_its_service_address() -> None:
    names = scaler_tls.service_names("keda-otel-scaler.keda.svc:4317")
    assert names == [
        "keda-otel-scaler",
        "keda-otel-scaler.keda",
        "keda-otel-scaler.keda.svc",
        "keda-otel-scaler.keda.svc.cluster.local",
    ]
    assert scaler_tls.secret_name("keda-otel-scaler.keda.svc:4318") == "keda-otel-scaler-otlp-tls"


CA_IN_POD = f"scaler-ca/{scaler_tls.CA_FILE}"
"""Where the test puts the CA under the pod's /run (tests/manifests/otel/collector.py)."""


@pytest.fixture
def eks_collector_config(tmp_path: Path, namespace: str) -> tuple[dict[str, Any], Path]:
    """(the raw config, the rendered EKS collector config's file): scrapes every second; the
    CA file the ConfigMap's mount holds moved under the pod's /run (only where the render names
    one: a plaintext render stays plaintext)."""
    raw = {
        "profile": "eks",
        "cluster": {"namespace": namespace},
        "scaling": {"scrape_interval": "1s"},
    }
    path = tmp_path / "config.yaml"
    config, _ = _rendered(raw)
    tls = config["exporters"][EXPORTER].get("tls") or {}
    if "ca_file" in tls:
        tls["ca_file"] = f"/run/{CA_IN_POD}"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return raw, path


@pytest.fixture
def authority() -> scaler_tls.Authority:
    return scaler_tls.Authority.create()


@pytest.fixture
def trusted(authority: scaler_tls.Authority) -> scaler_tls.ScalerTls:
    """What `cluster create` makes: a CA and a certificate for the rendered endpoint's names."""
    endpoint = config_from_dict({}).scaling.otlp_endpoint
    return authority.server(scaler_tls.service_names(endpoint))


SERVED = {
    "its own certificate": None,
    "another CA's certificate": "certificate signed by unknown authority",
    "a certificate of its CA for another name": "certificate is valid for",
}


@pytest.fixture(params=list(SERVED))
def served(
    request: pytest.FixtureRequest,
    authority: scaler_tls.Authority,
    trusted: scaler_tls.ScalerTls,
) -> Iterator[tuple[SeriesStore, int, str | None]]:
    """The stand-in's OTLP receiver serving TLS with one certificate of SERVED; (its store, its
    port, the refusal the collector must log or None)."""
    case = request.param
    if case == "its own certificate":
        cert, key = trusted.cert_pem, trusted.key_pem
    elif case == "another CA's certificate":
        other = scaler_tls.issue(scaler_tls.service_names("keda-otel-scaler.keda.svc:4317"))
        cert, key = other.cert_pem, other.key_pem
    else:
        impostor = authority.server(["impostor.keda.svc"])
        cert, key = impostor.cert_pem, impostor.key_pem
    store = SeriesStore(retention=60.0)
    grpc_server, http = serve(
        store, [metric_query.parse("count(up)")], (cert.encode(), key.encode())
    )
    yield store, grpc_server.otlp_port, SERVED[case]
    http.shutdown()
    grpc_server.stop(grace=None)


def test_the_collector_exports_over_tls_only_to_a_scaler_its_ca_signed_for_that_name(
    kube: Kube,
    namespace: str,
    eks_collector_config: tuple[dict[str, Any], Path],
    trusted: scaler_tls.ScalerTls,
    served: tuple[SeriesStore, int, str | None],
    tmp_path: Path,
) -> None:
    raw, config = eks_collector_config
    store, port, refusal = served
    apply_collector_rbac(kube, namespace, raw)
    host = config_from_dict({}).scaling.otlp_endpoint.rpartition(":")[0]
    collector = start_collector(
        kube,
        namespace,
        otelcol(),
        config,
        port,
        tmp_path,
        raw,
        extra=[f"--set=exporters::{EXPORTER}::tls::server_name_override={host}"],
        files={CA_IN_POD: trusted.ca_pem},
        # the downward API's values: the heartbeat job's target and label
        env={"POD_IP": "127.0.0.1", "POD_NAME": "otel-collector-0"},
    )
    log = tmp_path / "otelcol.log"

    def running() -> None:
        if collector.poll() is not None:
            raise AssertionError(f"the collector exited {collector.returncode}:\n{log.read_text()}")

    try:
        if refusal is None:

            def arrived() -> int:
                running()
                return store.series("up")

            wait_until("the heartbeat at the scaler stand-in, over TLS", arrived, 60, 0.5)
        else:

            def refused() -> bool:
                running()
                text = log.read_text()
                return "authentication handshake failed" in text and refusal in text

            try:
                wait_until(f"the collector to refuse the scaler ({refusal})", refused, 60, 0.5)
            except AssertionError:
                print(log.read_text()[-4000:])
                raise
            assert store.series("up") == 0
    finally:
        collector.terminate()
        try:
            collector.wait(10)
        except Exception:
            collector.kill()
            collector.wait(10)
