"""Do: wait for the audience page's public address and record it where everyone reads it.

The address comes from the load balancer the exposure asked for: the ALB on the gateway's
Ingress, or the NLB on its LoadBalancer Service (both appear in `status.loadBalancer.ingress`).
The URL is made from those objects by tubedemo.audience.audience_url.discovered, which the
command passes in (cluster/ sits below audience/ in the import layers). It is recorded in the
gateway's mode ConfigMap (`data.audience_url`, under its own field
manager, like `data.mode`): the gateway serves it to the presenter screen, and `qr`, `show`
and `load` read the same status through tubedemo.audience.audience_url.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import Ref
from tubedemo.core.errors import ClusterError

AUDIENCE_URL_KEY = "audience_url"
FIELD_MANAGER = "tubedemo-audience-url"
GATEWAY = "gateway"
AUDIENCE_URL_ANNOTATION = "tubedemo.io/audience-url"
"""On the Ingress: the https URL in front of its load balancer (CloudFront), which every reader
of the Ingress then advertises instead of the ALB's own plain-http name."""


class AddressTimeout(ClusterError):
    """The load balancer got no address in time; the message says what to check."""


Discover = Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], str | None]
"""(Ingress, Service) -> the URL they advertise, or None (audience_url.discovered)."""


def current_address(api: Api, namespace: str, discover: Discover) -> str | None:
    """The audience URL the gateway's Ingress or LoadBalancer Service advertises now."""
    ingress = api.get(Ref("networking.k8s.io/v1", "Ingress", namespace, GATEWAY))
    service = api.get(Ref("v1", "Service", namespace, GATEWAY))
    return discover(ingress, service)


def wait_for_address(
    api: Api,
    namespace: str,
    *,
    exposure: str,
    discover: Discover,
    timeout: float,
    progress: Callable[[str], None] | None = None,
    poll: float = 2.0,
) -> str:
    """Poll until the load balancer has an address; on timeout name the controller to check."""
    start = time.monotonic()
    while True:
        url = current_address(api, namespace, discover)
        if url is not None:
            return url
        waited = time.monotonic() - start
        if waited >= timeout:
            what = (
                f"Ingress {namespace}/{GATEWAY}"
                if exposure == "ingress"
                else f"Service {namespace}/{GATEWAY}"
            )
            raise AddressTimeout(
                f"{what} has no load balancer address after {timeout:.0f}s; check the AWS Load "
                "Balancer Controller's logs and the subnet tags (kubernetes.io/role/elb=1), "
                "`tubedemo preflight` names what is missing"
            )
        if progress is not None:
            progress(f"waiting for the load balancer address, {waited:.0f}s of {timeout:.0f}s")
        time.sleep(poll)


def record_audience_url(api: Api, mode_configmap: Ref, url: str) -> None:
    """Write data.audience_url of the mode ConfigMap under its own field manager."""
    api.apply_configmap_key(mode_configmap, AUDIENCE_URL_KEY, url, field_manager=FIELD_MANAGER)


def recorded_audience_url(api: Api, mode_configmap: Ref) -> str | None:
    """The URL `up` recorded, if any."""
    live = api.get(mode_configmap)
    value = ((live or {}).get("data") or {}).get(AUDIENCE_URL_KEY)
    return str(value) if value else None


def annotate_audience_url(api: Api, namespace: str, url: str) -> None:
    """Put the https URL in front of the load balancer on the gateway's Ingress, under its own
    field manager, so `up` re-applying the Ingress keeps it."""
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": GATEWAY,
            "namespace": namespace,
            "annotations": {AUDIENCE_URL_ANNOTATION: url},
        },
    }
    api.apply(body, force=True, field_manager=FIELD_MANAGER)
