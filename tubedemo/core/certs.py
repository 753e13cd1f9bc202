"""A self-signed certificate authority and the certificates it signs, the one way tubedemo
makes them. Pure.

Two places sign certificates with a CA of their own: the Kedify scaler's OTLP certificate that
`cluster create` issues (tubedemo.cluster.scaler_tls, lives as long as the cluster) and the
lab's control plane (tubedemo.lab.pki, lives as long as a lab). They differ in names,
lifetimes and extensions, not in what a CA or a leaf certificate is, so both are built here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier


def new_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 key: what cert-manager's examples and kubeadm's ECDSA mode use."""
    return ec.generate_private_key(ec.SECP256R1())


def self_signed_ca(
    common_name: str, start: dt.datetime, end: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """(key, certificate) of a CA named ``common_name``, valid from ``start`` to ``end``, that
    signs leaf certificates only (path length 0: nothing here issues intermediates)."""
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def leaf(
    issuer: x509.Certificate,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    end: dt.datetime,
    usages: Sequence[ObjectIdentifier],
) -> x509.CertificateBuilder:
    """A certificate for ``key`` named ``subject`` that ``issuer`` signs, valid from ``start`` to
    ``end`` for the extended key ``usages``, not a CA: the caller adds its names (and any other
    extension) and signs it with the issuer's key."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    )


def pem_key(key: Any) -> bytes:
    """PKCS#8 PEM of a private key, unencrypted."""
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def pem_cert(cert: x509.Certificate) -> bytes:
    """PEM of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)
