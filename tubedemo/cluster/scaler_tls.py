"""The Kedify OTEL scaler's OTLP certificate: a CA of its own and a server certificate. Pure.

The collector ships the queue metric to the scaler's OTLP receiver; over plaintext any pod (and
with the VPC CNI any host in the VPC) could read it or feed the scaler a queue of its choosing.
The scaler's chart (otel-add-on v0.1.4) serves OTLP over TLS from files it mounts from a Secret
(``settings.tls.certFile``/``keyFile``/``secrets``) but makes no certificate ("not in scope of
this helm chart"); its own example makes them with cert-manager. A cert-manager install (and
trust-manager to copy the CA) for one certificate is a second controller to run and upgrade, so
`cluster create` issues them once with ``cryptography``, as kubeadm does for its own CA: a
self-signed CA whose certificate the collector trusts (``tls.ca_file``), signing a certificate
for the scaler's Service names. The same ECDSA P-256 / SHA-256 that cert-manager's example asks
for. Never rotated by tubedemo: a running scaler reads its files every
``settings.tls.reloadInterval``, so a replaced Secret is picked up without a restart.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tubedemo.core.certs import leaf, new_key, pem_cert, pem_key, self_signed_ca

VALID_DAYS = 825
"""Both certificates' lifetime: longer than a demo cluster lives (days to months), so no
renewal job is needed; 825 days is the longest server certificate Apple's platforms accept, the
strictest common client rule (the collector itself sets no limit)."""
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"
"""The keys of a kubernetes.io/tls Secret (plus ca.crt, as cert-manager writes it)."""


@dataclass(frozen=True)
class ScalerTls:
    """PEM text of the CA certificate, the server certificate and its private key."""

    ca_pem: str
    cert_pem: str
    key_pem: str

    def secret_data(self) -> dict[str, str]:
        """The Secret's stringData (the keys the chart's settings.tls paths name)."""
        return {CERT_FILE: self.cert_pem, KEY_FILE: self.key_pem, CA_FILE: self.ca_pem}


def secret_name(scaler_address: str) -> str:
    """The Secret (in the scaler's namespace) holding its OTLP certificate: named after the
    scaler's Service (the host's first label of scaling.scaler_address)."""
    return f"{scaler_address.partition('.')[0]}-otlp-tls"


def service_names(address: str) -> list[str]:
    """The DNS names a client may use for the Service at ``address`` (host[:port], e.g.
    keda-otel-scaler.keda.svc:4317): name, name.ns, name.ns.svc, name.ns.svc.cluster.local."""
    host = address.rpartition(":")[0] if ":" in address else address
    parts = host.split(".")
    if len(parts) < 2:
        return [host]
    name, ns = parts[0], parts[1]
    stem = f"{name}.{ns}"
    return list(dict.fromkeys([name, stem, f"{stem}.svc", f"{stem}.svc.cluster.local", host]))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Authority:
    """A CA: its key and self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, now: dt.datetime | None = None) -> Authority:
        return cls(*self_signed_ca("tubedemo otel scaler CA", *_validity(now)))

    def server(
        self,
        dns_names: Sequence[str],
        *,
        ip_addresses: Sequence[str] = (),
        now: dt.datetime | None = None,
    ) -> ScalerTls:
        """A server certificate this CA signs for ``dns_names`` (the first is its common name)
        and ``ip_addresses``, with its key and the CA's certificate."""
        if not dns_names:
            raise ValueError("a server certificate needs at least one DNS name")
        start, end = _validity(now)
        key = new_key()
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        cert = (
            leaf(
                self.cert,
                _name(dns_names[0]),
                key,
                start,
                end,
                [ExtendedKeyUsageOID.SERVER_AUTH],
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        return ScalerTls(
            ca_pem=pem_cert(self.cert).decode(),
            cert_pem=pem_cert(cert).decode(),
            key_pem=pem_key(key).decode(),
        )


def _validity(now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=1)  # clock skew
    return start, start + dt.timedelta(days=VALID_DAYS)


def issue(
    dns_names: Sequence[str],
    *,
    ip_addresses: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> ScalerTls:
    """A new CA and a server certificate it signs for ``dns_names`` and ``ip_addresses``; the
    CA's key is not kept (nothing else is ever signed with it)."""
    return Authority.create(now).server(dns_names, ip_addresses=ip_addresses, now=now)
