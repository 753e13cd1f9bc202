"""Which URL the QR code points to: chosen from the option, demo.yaml or the cluster. Pure.

After `up`, the public address is on the gateway's Ingress (ALB host name) or, without an
Ingress, on a LoadBalancer Service; the presenter should never have to copy it by hand.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

CERTIFICATE_ANNOTATION = "alb.ingress.kubernetes.io/certificate-arn"
AUDIENCE_URL_ANNOTATION = "tubedemo.io/audience-url"
"""Set by `up` on the Ingress: the https name in front of its load balancer (CloudFront)."""


def _lb_address(obj: Mapping[str, Any] | None) -> str | None:
    entries = ((obj or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    for entry in entries:
        address = entry.get("hostname") or entry.get("ip")
        if address:
            return str(address)
    return None


def from_ingress(ingress: Mapping[str, Any] | None) -> str | None:
    """The Ingress's public URL once its load balancer has an address, else None."""
    if not ingress:
        return None
    address = _lb_address(ingress)
    if address is None:
        return None
    spec = ingress.get("spec") or {}
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if annotations.get(AUDIENCE_URL_ANNOTATION):
        return str(annotations[AUDIENCE_URL_ANNOTATION])
    secure = bool(spec.get("tls")) or bool(annotations.get(CERTIFICATE_ANNOTATION))
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    # A configured host is the name the certificate and DNS are for; the ALB name is the fallback.
    host = str(hosts[0]) if hosts else address
    return f"{'https' if secure else 'http'}://{host}/"


def from_service(service: Mapping[str, Any] | None) -> str | None:
    """A LoadBalancer Service's public URL once it has an address, else None."""
    if not service or (service.get("spec") or {}).get("type") != "LoadBalancer":
        return None
    address = _lb_address(service)
    if address is None:
        return None
    ports = (service.get("spec") or {}).get("ports") or []
    port = int(ports[0].get("port", 80)) if ports else 80
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # IPv6 literal
    if port == 443:
        return f"https://{address}/"
    return f"http://{address}/" if port == 80 else f"http://{address}:{port}/"


def discovered(ingress: Mapping[str, Any] | None, service: Mapping[str, Any] | None) -> str | None:
    """The audience URL the cluster advertises: the Ingress first, then the Service."""
    return from_ingress(ingress) or from_service(service)


def phones_cannot_reach(url: str) -> bool:
    """True for a URL on this machine only (localhost, 127.0.0.0/8, ::1): no phone reaches it."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    if host.lower() in ("localhost", "") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
