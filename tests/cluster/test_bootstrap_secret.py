"""`cluster create`'s admin Secret carries vLLM's API key beside the admin token (issue #23),
and an existing Secret without it gets one; an existing key's value never changes. The Kedify
scaler's OTLP certificate Secret is made once and never replaced, and the collector's CA
ConfigMap follows whatever it holds."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from kubernetes import client

from tests.kube.fixtures import Kube
from tubedemo.cluster import bootstrap, scaler_tls
from tubedemo.cluster.api import connect
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig, config_from_dict


class InMemoryApi:
    """A fake of the two Api calls ensure_admin_token makes (named as such: no server)."""

    def __init__(self) -> None:
        self.objects: dict[Ref, dict[str, Any]] = {}

    def get(self, ref: Ref) -> dict[str, Any] | None:
        return self.objects.get(ref)

    def apply(self, obj: dict[str, Any], *, field_manager: str) -> None:
        data = {k: v.encode().hex() for k, v in obj.get("stringData", {}).items()}
        self.objects[Ref.of(obj)] = {**obj, "data": data}


def test_a_new_admin_secret_holds_a_vllm_api_key_of_its_own() -> None:
    api = InMemoryApi()
    outcome = bootstrap.ensure_admin_token(api, DemoConfig())  # type: ignore[arg-type]
    assert outcome[0] == "made" and "vllm-api-key" in outcome[1]
    secret = api.objects[Ref("v1", "Secret", "tubedemo", "tubedemo-admin")]
    token, key = secret["stringData"]["token"], secret["stringData"]["vllm-api-key"]
    assert len(key) == 48 and key != token


def test_an_existing_secret_without_the_vllm_key_gets_one_and_keeps_its_token(
    kube: Kube, namespace: str
) -> None:
    # a cluster created before #23: the Secret holds the admin token only
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "kept"}}
    )
    api = connect(kube.kubeconfig)
    cfg = config_from_dict({"cluster": {"namespace": namespace}})
    verb, what = bootstrap.ensure_admin_token(api, cfg)
    assert verb == "made" and "vllm-api-key" in what, what
    data = core.read_namespaced_secret("tubedemo-admin", namespace).data
    assert set(data) == {"token", "vllm-api-key"}
    assert base64.b64decode(data["token"]) == b"kept"
    key = base64.b64decode(data["vllm-api-key"])
    assert len(key) == 48

    # run again: found, and neither key changes
    verb, what = bootstrap.ensure_admin_token(api, cfg)
    assert verb == "found", what
    assert core.read_namespaced_secret("tubedemo-admin", namespace).data == data


def test_the_scalers_otlp_certificate_is_made_once_and_the_collectors_ca_follows_the_secret(
    kube: Kube, namespace: str
) -> None:
    core = client.CoreV1Api(kube.api_client())
    keda = f"{namespace}-keda"
    cfg = config_from_dict(
        {"cluster": {"namespace": namespace}, "prerequisites": {"keda_namespace": keda}}
    )
    api = connect(kube.kubeconfig)
    try:
        outcomes = bootstrap.ensure_scaler_tls(api, cfg)
        assert [verb for verb, _ in outcomes] == ["made", "made"], outcomes
        secret = core.read_namespaced_secret("keda-otel-scaler-otlp-tls", keda)
        assert secret.type == "kubernetes.io/tls"
        pem = {k: base64.b64decode(v) for k, v in secret.data.items()}
        assert set(pem) == {"tls.crt", "tls.key", "ca.crt"}
        ca = x509.load_pem_x509_certificate(pem["ca.crt"])
        cert = x509.load_pem_x509_certificate(pem["tls.crt"])
        cert.verify_directly_issued_by(ca)  # raises unless the CA signed it
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        # the host the collector dials (scaling.otlp_endpoint) is among the names
        assert "keda-otel-scaler.keda.svc" in names.get_values_for_type(x509.DNSName)
        ca_map = core.read_namespaced_config_map("otel-scaler-ca", namespace)
        assert ca_map.data == {"ca.crt": pem["ca.crt"].decode()}

        # again: both found, the Secret not rewritten
        version = secret.metadata.resource_version
        outcomes = bootstrap.ensure_scaler_tls(api, cfg)
        assert [verb for verb, _ in outcomes] == ["found", "found"], outcomes
        again = core.read_namespaced_secret(secret.metadata.name, keda)
        assert again.metadata.resource_version == version

        # a presenter's own certificate in the Secret: kept, and the collector's CA follows it
        own = scaler_tls.issue(["keda-otel-scaler.keda.svc"])
        core.replace_namespaced_secret(
            secret.metadata.name,
            keda,
            {
                "metadata": {"name": secret.metadata.name},
                "type": "kubernetes.io/tls",
                "stringData": own.secret_data(),
            },
        )
        outcomes = bootstrap.ensure_scaler_tls(api, cfg)
        assert [verb for verb, _ in outcomes] == ["found", "made"], outcomes
        kept = core.read_namespaced_secret(secret.metadata.name, keda).data
        assert base64.b64decode(kept["tls.crt"]).decode() == own.cert_pem
        ca_map = core.read_namespaced_config_map("otel-scaler-ca", namespace)
        assert ca_map.data == {"ca.crt": own.ca_pem}
    finally:
        core.delete_namespace(keda)


def test_no_scaler_certificate_is_made_when_the_ca_setting_is_emptied() -> None:
    api = InMemoryApi()
    cfg = config_from_dict({"scaling": {"otlp_ca_configmap": ""}})
    assert bootstrap.ensure_scaler_tls(api, cfg) == []  # type: ignore[arg-type]
    assert api.objects == {}
