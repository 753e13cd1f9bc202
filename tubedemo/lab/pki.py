"""Certificates and kubeconfigs for a lab (or test) control plane. Pure apart from writing files.

One CA per lab signs the API server's serving certificate, every client certificate
(admin, each controller, the aggregation layer's front proxy) and the serving certificates of
KEDA's metrics API server and webhooks.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tubedemo.core.certs import leaf, new_key, pem_cert, pem_key, self_signed_ca


def service_account_keys() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of an RSA key for signing ServiceAccount tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem_key(key), public


@dataclass
class CertificateAuthority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "tubedemo-test-ca") -> CertificateAuthority:
        now = dt.datetime.now(dt.UTC)
        return cls(*self_signed_ca(name, now - dt.timedelta(hours=1), now + dt.timedelta(days=30)))

    @property
    def cert_pem(self) -> bytes:
        return pem_cert(self.cert)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Iterable[str] = (),
        server: bool = False,
        expired: bool = False,
        dns_names: Iterable[str] = (),
    ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) for a client, or a server too when server=True (valid for
        localhost, 127.0.0.1 and ``dns_names``)."""
        key = new_key()
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        now = dt.datetime.now(dt.UTC)
        # An expired certificate is how "expired credentials" look for real to the API server.
        start, end = (
            (now - dt.timedelta(days=3), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(hours=1), now + dt.timedelta(days=29))
        )
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        builder = leaf(self.cert, x509.Name(attrs), key, start, end, usages)
        if server:
            names: list[x509.GeneralName] = [x509.DNSName("localhost")]
            names += [x509.DNSName(n) for n in dns_names]
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return pem_cert(cert), pem_key(key)


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    token: str | None = None,
    context: str = "tubedemo-test",
) -> Path:
    """A kubeconfig whose CA and client key pair are files next to it."""
    base = path.with_suffix("")
    ca_file = base.with_name(base.name + "-ca.crt")
    ca_file.write_bytes(ca_pem)
    user_entry: dict[str, Any] = {}
    if cert_pem is not None and key_pem is not None:
        cert_file = base.with_name(base.name + ".crt")
        key_file = base.with_name(base.name + ".key")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        user_entry = {"client-certificate": str(cert_file), "client-key": str(key_file)}
    if token is not None:
        user_entry["token"] = token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
