"""The Kubernetes side of `cluster create` and `cluster delete` (tubedemo.eks drives them).

create: the namespace and the gateway's admin-token Secret, "found" when there; an existing
Secret without vLLM's API key gets one (its other keys are never changed); the scaler's OTLP
certificate Secret (made once, never replaced) and its CA's ConfigMap for the collector.
delete: delete what bills through a controller (the Ingress's load balancer, the PVCs' volumes,
the NodePool's NodeClaims and their instances) and wait until Kubernetes has let go of each
object: an Ingress keeps its finalizer until the load balancer controller has deleted the ALB,
a NodeClaim until Karpenter has terminated its instance.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable

from tubedemo.cluster import scaler_tls
from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError

FIELD_MANAGER = "tubedemo-cluster-create"
"""Not `up`'s manager: the token Secret is not part of `up`'s render, so `up` never prunes it."""
NODEPOOL_LABEL = "karpenter.sh/nodepool"
VLLM_KEY = "vllm-api-key"
"""The admin Secret's key holding vLLM's API key (templates/vllm.yaml.j2, gateway.yaml.j2)."""

Outcome = tuple[str, str]


class StillThere(ClusterError):
    """An object was still there when the wait for its deletion ran out."""


def ensure_admin_token(api: Api, cfg: DemoConfig) -> Outcome:
    """The namespace and the gateway's admin-token Secret (key `token`, 24 random bytes, hex;
    key `vllm-api-key`, vLLM's API key that the gateway sends, the same size). An existing
    Secret keeps every key it has (a running gateway and the presenter's tools use the token);
    one made before vLLM's key existed gets it added, so vLLM and the gateway, which read it
    optionally, stop running without one. Pods already running read it only when restarted."""
    ns = cfg.cluster.namespace
    name = cfg.gateway.admin_token_secret
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    if api.get(Ref.of(namespace)) is None:
        api.apply(namespace, field_manager=FIELD_MANAGER)
    ref = Ref("v1", "Secret", ns, name)
    live = api.get(ref)
    if live is not None:
        if VLLM_KEY in (live.get("data") or {}):
            return "found", f"{ref} (keys kept as they are)"
        # a merge patch that adds one key; the resourceVersion makes it fail rather than
        # overwrite a key someone added meanwhile
        key = base64.b64encode(secrets.token_hex(24).encode()).decode()
        version = live["metadata"]["resourceVersion"]
        api.patch_merge(ref, {"metadata": {"resourceVersion": version}, "data": {VLLM_KEY: key}})
        return "made", (
            f"{ref} key {VLLM_KEY} (added beside the kept keys; pods already running read it "
            f"when restarted: kubectl -n {ns} rollout restart deployment/gateway deployment/vllm)"
        )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": {"token": secrets.token_hex(24), VLLM_KEY: secrets.token_hex(24)},
    }
    api.apply(secret, field_manager=FIELD_MANAGER)
    return "made", f"{ref} (keys token, {VLLM_KEY})"


def ensure_scaler_tls(api: Api, cfg: DemoConfig) -> list[Outcome]:
    """The scaler's OTLP certificate Secret (keda namespace; tubedemo.cluster.scaler_tls) and
    its CA's ConfigMap in the demo namespace (scaling.otlp_ca_configmap), which the collector
    verifies the scaler with. Nothing when that setting is "" (plaintext). An existing Secret is
    never replaced (the scaler serves it; a presenter may have put their own there): the
    ConfigMap is written from whatever ca.crt it holds, so the two always agree."""
    ca_map = cfg.scaling.otlp_ca_configmap
    if not ca_map:
        return []
    keda_ns = cfg.prerequisites.keda_namespace
    outcomes: list[Outcome] = []
    for ns in (keda_ns, cfg.cluster.namespace):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        if api.get(Ref.of(namespace)) is None:
            api.apply(namespace, field_manager=FIELD_MANAGER)
    ref = Ref("v1", "Secret", keda_ns, scaler_tls.secret_name(cfg.scaling.scaler_address))
    live = api.get(ref)
    if live is None:
        made = scaler_tls.issue(scaler_tls.service_names(cfg.scaling.otlp_endpoint))
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": ref.name, "namespace": keda_ns},
            "type": "kubernetes.io/tls",
            "stringData": made.secret_data(),
        }
        api.apply(secret, field_manager=FIELD_MANAGER)
        ca_pem = made.ca_pem
        outcomes.append(("made", f"{ref} (the scaler's OTLP certificate and its CA)"))
    else:
        encoded = (live.get("data") or {}).get(scaler_tls.CA_FILE)
        if not encoded:
            raise ClusterError(
                f"{ref} has no {scaler_tls.CA_FILE}: the collector cannot verify the scaler "
                f"without its CA; add it, or delete the Secret and run `tubedemo cluster create` "
                f"again to have one made"
            )
        ca_pem = base64.b64decode(encoded).decode()
        outcomes.append(("found", f"{ref} (kept as it is)"))
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ca_map, "namespace": cfg.cluster.namespace},
        "data": {scaler_tls.CA_FILE: ca_pem},
    }
    cm_ref = Ref.of(config_map)
    current = api.get(cm_ref)
    if current is not None and (current.get("data") or {}).get(scaler_tls.CA_FILE) == ca_pem:
        outcomes.append(("found", f"{cm_ref} (the scaler's CA)"))
    else:
        api.apply(config_map, field_manager=FIELD_MANAGER)
        outcomes.append(("made", f"{cm_ref} (the scaler's CA, from {ref})"))
    return outcomes


def wait_deleted(
    api: Api,
    refs: list[Ref],
    *,
    what: str,
    timeout: float,
    poll: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Delete each object and wait until none is left (finalizers included)."""
    deleted = [ref for ref in refs if api.delete(ref)]
    deadline = time.monotonic() + timeout
    while True:
        left = [ref for ref in refs if api.get(ref) is not None]
        if not left:
            return ("deleted" if deleted else "gone"), what
        if time.monotonic() >= deadline:
            finalizers = {
                str(ref): (api.get(ref) or {}).get("metadata", {}).get("finalizers", [])
                for ref in left
            }
            held = "; ".join(
                f"{ref} (finalizers {', '.join(f) or 'none'})" for ref, f in finalizers.items()
            )
            raise StillThere(
                f"{what}: still there after {timeout:.0f} s: {held}; the controller that owns "
                "the finalizer is not finishing (check its logs)"
            )
        sleep(poll)


def _names(
    api: Api, api_version: str, kind: str, namespace: str = "", selector: str = ""
) -> list[Ref]:
    try:
        items = api.list(api_version, kind, namespace, selector)
    except ClusterError:
        return []  # no such kind (its CRD was never installed): nothing of it to delete
    return [Ref(api_version, kind, namespace, str(item["metadata"]["name"])) for item in items]


def ingresses(api: Api, cfg: DemoConfig) -> list[Ref]:
    return _names(api, "networking.k8s.io/v1", "Ingress", cfg.cluster.namespace)


def claims(api: Api, cfg: DemoConfig) -> list[Ref]:
    return _names(api, "v1", "PersistentVolumeClaim", cfg.cluster.namespace)


def gpu_pool(api: Api, cfg: DemoConfig) -> list[Ref]:
    """The NodePool and its NodeClaims (deleted explicitly: no garbage collector is needed)."""
    pool = cfg.gpu_pool.name
    pools = [r for r in _names(api, "karpenter.sh/v1", "NodePool") if r.name == pool]
    return pools + _names(api, "karpenter.sh/v1", "NodeClaim", selector=f"{NODEPOOL_LABEL}={pool}")
