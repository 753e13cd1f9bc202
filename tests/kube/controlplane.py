"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK, built from pinned Go modules by scripts/build-controlplane.

Everything listens on loopback at ephemeral ports, certificates are generated per session,
and the upstream CRDs come from tubedemo.manifests.crds (pinned upstream modules,
`tubedemo crds fetch`).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import importlib.machinery
import importlib.util
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
NOT_BUILT = "control plane not built"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
ADMIN_CN = "tubedemo-test-admin"
NOBODY_CN = "tubedemo-test-nobody"


class ControlPlaneError(RuntimeError):
    """The control plane could not start; the message carries the component logs."""


def _build_script() -> ModuleType:
    path = REPO / "scripts" / "build-controlplane"
    loader = importlib.machinery.SourceFileLoader("build_controlplane", str(path))
    spec = importlib.util.spec_from_loader("build_controlplane", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def binary_dir() -> Path | None:
    """The folder holding the built binaries, or None when the build has not run."""
    script = _build_script()
    out: Path = script.cache_dir()
    if not all((out / b).is_file() for b in BINARIES) or not (out / "stamp.json").is_file():
        return None
    return out


def free_port() -> int:
    # Bind port 0 and release it: a tiny race, but parallel sessions never pick the same port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _go_module_dir(module: str, version: str) -> Path:
    gomodcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True
    ).stdout.strip()
    # The module cache escapes upper-case letters as !lower.
    escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
    return Path(gomodcache) / f"{escaped}@{version}"


# ---------------------------------------------------------------------------------------------
# Certificates


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class CertificateAuthority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls) -> CertificateAuthority:
        key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tubedemo-test-ca")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Iterable[str] = (),
        server: bool = False,
        expired: bool = False,
    ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) for a client (or the API server when server=True)."""
        key = _key()
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        now = dt.datetime.now(dt.UTC)
        # An expired certificate is how "expired credentials" look for real to the API server.
        start, end = (
            (now - dt.timedelta(days=3), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(hours=1), now + dt.timedelta(days=1))
        )
        usages = [x509.ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.insert(0, x509.ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return _pem_cert(cert), _pem_key(key)


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
    """A self-contained kubeconfig (files inlined as paths next to it)."""
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
            {
                "name": "tubedemo-test",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": context, "context": {"cluster": "tubedemo-test", "user": user}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------------------------------
# Processes


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            # Own process group, so teardown reaches any children too.
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])


def _die_with_parent() -> None:
    # A pytest killed by `timeout` or SIGKILL never runs fixture teardown; without this the
    # control plane would outlive it (own session, re-parented to init) and pile up.
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kwok_stage_files(stamp: dict[str, Any]) -> list[Path]:
    """The upstream 'fast' stage set (node initialize + heartbeat, pod ready/complete/delete),
    resolved from the KWOK module's kustomization files at run time."""
    root = Path(stamp["kwok_module_dir"]) / "kustomize" / "stage"
    if not root.is_dir():
        root = _go_module_dir("sigs.k8s.io/kwok", stamp["kwok"]) / "kustomize" / "stage"

    def resolve(directory: Path) -> list[Path]:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        files: list[Path] = []
        for resource in kustomization.get("resources", []):
            target = (directory / resource).resolve()
            files.extend(resolve(target) if target.is_dir() else [target])
        return files

    return resolve(root / "fast")


@dataclass
class ControlPlane:
    """A running control plane. `kubeconfig` is cluster-admin; `nobody_kubeconfig` is a user
    that authenticates but has no RBAC rights at all."""

    workdir: Path
    bindir: Path | None = None
    kubeconfig: Path = field(init=False)
    nobody_kubeconfig: Path = field(init=False)
    server: str = ""
    ca: CertificateAuthority | None = None
    components: dict[str, Component] = field(default_factory=dict)
    external: bool = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        assert self.bindir is not None
        stamp = json.loads((self.bindir / "stamp.json").read_text())
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self.ca = ca = CertificateAuthority.create()
        (pki / "ca.crt").write_bytes(_pem_cert(ca.cert))
        (pki / "ca.key").write_bytes(_pem_key(ca.key))
        cert, key = ca.issue("kube-apiserver", server=True)
        (pki / "apiserver.crt").write_bytes(cert)
        (pki / "apiserver.key").write_bytes(key)
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (pki / "sa.key").write_bytes(_pem_key(sa_key))
        (pki / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        ca_pem = _pem_cert(ca.cert)
        admin_cert, admin_key = ca.issue(ADMIN_CN, organizations=["system:masters"])
        self.kubeconfig = write_kubeconfig(
            self.workdir / "admin.kubeconfig",
            server=self.server,
            ca_pem=ca_pem,
            user=ADMIN_CN,
            cert_pem=admin_cert,
            key_pem=admin_key,
        )
        nobody_cert, nobody_key = ca.issue(NOBODY_CN)
        self.nobody_kubeconfig = write_kubeconfig(
            self.workdir / "nobody.kubeconfig",
            server=self.server,
            ca_pem=ca_pem,
            user=NOBODY_CN,
            cert_pem=nobody_cert,
            key_pem=nobody_key,
        )
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        b = self.bindir
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self.components["etcd"] = Component(
            "etcd",
            [
                str(b / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            logs / "etcd.log",
        )
        self.components["kube-apiserver"] = Component(
            "kube-apiserver",
            [
                str(b / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                # Pods created straight after their namespace would race the default
                # ServiceAccount; tests do not need mounted tokens.
                "--disable-admission-plugins=ServiceAccount",
                f"--service-account-issuer={self.server}/",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--cert-dir={pki}",
                "--v=1",
            ],
            logs / "kube-apiserver.log",
        )
        admin = str(self.kubeconfig)
        self.components["kube-controller-manager"] = Component(
            "kube-controller-manager",
            [
                str(b / "kube-controller-manager"),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--controllers=*,-nodeipam",
                "--v=1",
            ],
            logs / "kube-controller-manager.log",
        )
        self.components["kube-scheduler"] = Component(
            "kube-scheduler",
            [
                str(b / "kube-scheduler"),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--v=1",
            ],
            logs / "kube-scheduler.log",
        )
        stage_args = [f"--config={p}" for p in _kwok_stage_files(stamp)]
        self.components["kwok"] = Component(
            "kwok",
            [
                str(b / "kwok"),
                f"--kubeconfig={admin}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                "--cidr=10.0.0.0/24",
                "--node-ip=10.0.0.1",
                "--server-address=",
                "--node-lease-duration-seconds=40",
                *stage_args,
            ],
            logs / "kwok.log",
        )
        try:
            self._start_in_order(etcd_url, timeout)
        except BaseException:
            report = self.logs_report()
            self.stop()
            raise ControlPlaneError(f"control plane failed to start\n{report}") from None

    def _start_in_order(self, etcd_url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.components["etcd"].start()
        self._wait("etcd", lambda: _http_ok(f"{etcd_url}/health"), deadline)
        self.components["kube-apiserver"].start()
        self._wait("kube-apiserver", lambda: self.get("/readyz") is not None, deadline)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            self.components[name].start()
        time.sleep(0.5)
        for name, comp in self.components.items():
            if not comp.alive():
                raise ControlPlaneError(f"{name} exited right after start")

    def _wait(self, name: str, ready: Any, deadline: float) -> None:
        comp = self.components[name]
        while time.monotonic() < deadline:
            if not comp.alive():
                raise ControlPlaneError(f"{name} exited")
            if ready():
                return
            time.sleep(0.2)
        raise ControlPlaneError(f"{name} not ready in time")

    def stop(self) -> None:
        for comp in reversed(list(self.components.values())):
            comp.stop()

    def stop_component(self, name: str) -> None:
        self.components[name].stop()

    def start_component(self, name: str, timeout: float = 60.0) -> None:
        self.components[name].start()
        if name == "kube-apiserver":
            self._wait(name, lambda: self.get("/readyz") is not None, time.monotonic() + timeout)

    def logs_report(self, lines: int = 30) -> str:
        parts = [
            f"--- {name} ({comp.log}) ---\n{comp.tail(lines)}"
            for name, comp in self.components.items()
            if comp.process is not None
        ]
        return "\n".join(parts)

    # -- talking to it -------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.workdir / "pki" / "ca.crt"))
        ctx.load_cert_chain(str(self.workdir / "admin.crt"), str(self.workdir / "admin.key"))
        return ctx

    def get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(
                f"{self.server}{path}", context=self._ssl(), timeout=2
            ) as resp:
                return bytes(resp.read())
        except (urllib.error.URLError, OSError):
            return None

    def issue_kubeconfig(self, path: Path, common_name: str, *, expired: bool = False) -> Path:
        """A kubeconfig for another client-certificate user (e.g. one whose cert expired)."""
        assert self.ca is not None
        cert, key = self.ca.issue(common_name, expired=expired)
        return write_kubeconfig(
            path,
            server=self.server,
            ca_pem=_pem_cert(self.ca.cert),
            user=common_name,
            cert_pem=cert,
            key_pem=key,
        )


def fake_node(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    """A KWOK-managed node: the annotation selects it, the taint keeps real workloads off."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {FAKE_NODE_ANNOTATION: "fake"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", **(labels or {})},
        },
        "spec": {
            "taints": [{"key": FAKE_NODE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}]
        },
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
        },
    }


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
