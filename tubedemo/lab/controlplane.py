"""A real Kubernetes control plane on loopback: etcd, kube-apiserver (aggregation layer on),
kube-controller-manager (HPA controller included), kube-scheduler and KWOK, built from pinned
Go modules by scripts/build-controlplane. Used by `tubedemo lab` and by the tests.

Everything listens on 127.0.0.1 at free ports; certificates are made per start. The API
server gets the front-proxy (requestheader) flags, so an APIService such as KEDA's
``external.metrics.k8s.io`` is served through it to the HPA controller. ``speed`` divides the
HPA controller's sync period (the twin's ``twin.hpa.sync_period``), the rest of its timers
and the node lifecycle timers, so a lab at speed N decides N times as fast.
"""

from __future__ import annotations

import json
import signal
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tubedemo.core.certs import pem_key
from tubedemo.core.errors import ExternalToolError
from tubedemo.core.processes import Child, free_port, output_of, wait_ready
from tubedemo.lab.pki import (
    CertificateAuthority,
    service_account_keys,
    write_kubeconfig,
)

FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
ADMIN_CN = "tubedemo-test-admin"
NOBODY_CN = "tubedemo-test-nobody"
FRONT_PROXY_CN = "front-proxy-client"


class ControlPlaneError(ExternalToolError):
    """The control plane could not start: one line saying which part and where its log is."""


def component(
    name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None, **ports: int
) -> Child:
    """One of the lab's Go components: SIGKILL when its owner dies (Go controllers may take
    their time draining on TERM, and an orphaned lab must be gone before anyone looks at its
    ports again); its log appended to (a component restarted in place keeps its history)."""
    return Child(
        name,
        argv,
        logs / f"{name}.log",
        env=env,
        death_signal=signal.SIGKILL,
        append=True,
        ports=dict(ports),
    )


def go_duration(seconds: float) -> str:
    """A Go duration flag value, in whole milliseconds (at least 1 ms)."""
    return f"{max(1, round(seconds * 1000))}ms"


def kwok_stage_files(module_dir: Path, stage_set: str = "fast") -> list[Path]:
    """An upstream KWOK stage set (node initialize + heartbeat, pod ready/complete/delete),
    resolved from the KWOK module's kustomization files."""
    root = module_dir / "kustomize" / "stage"

    def resolve(directory: Path) -> list[Path]:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        files: list[Path] = []
        for resource in kustomization.get("resources", []):
            target = (directory / resource).resolve()
            files.extend(resolve(target) if target.is_dir() else [target])
        return files

    return resolve(root / stage_set)


def kwok_module_dir(stamp: dict[str, Any]) -> Path:
    root = Path(stamp["kwok_module_dir"])
    if (root / "kustomize" / "stage").is_dir():
        return root
    gomodcache = output_of(["go", "env", "GOMODCACHE"], what="finding KWOK's module")
    return Path(gomodcache) / f"sigs.k8s.io/kwok@{stamp['kwok']}"


@dataclass
class ControlPlane:
    """A running control plane. `kubeconfig` is cluster-admin; `nobody_kubeconfig` is a user
    that authenticates but has no RBAC rights at all."""

    workdir: Path
    """Run folder (certificates, kubeconfigs, etcd data, logs); made absolute here, because
    a kubeconfig names its certificates by path and a relative one would be read against the
    kubeconfig's own folder."""
    bindir: Path | None = None
    speed: float = 1.0
    """Divides every controller interval (HPA sync period, node monitor periods)."""
    hpa_sync_period: float = 15.0
    """HPA controller resync (s) at speed 1: kube-controller-manager's default."""
    hpa_tolerance: float = 0.1
    """HPA tolerance (fraction): kube-controller-manager's default."""
    kwok_stages: list[Path] | None = None
    """KWOK stage files; None: the upstream `fast` set."""
    kubeconfig: Path = field(init=False)
    nobody_kubeconfig: Path = field(init=False)
    server: str = ""
    ca: CertificateAuthority | None = None
    components: dict[str, Child] = field(default_factory=dict)
    external: bool = False

    def __post_init__(self) -> None:
        self.workdir = self.workdir.absolute()

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        """Start every component in order; ControlPlaneError (one line: which part, its log)
        when one fails, with everything started so far stopped again."""
        self.prepare()
        try:
            self._start_in_order(timeout)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, ExternalToolError):
                raise ControlPlaneError(f"control plane failed to start: {exc.message}") from exc
            raise

    def prepare(self) -> None:
        """Certificates, kubeconfigs and component command lines; starts nothing."""
        assert self.bindir is not None
        stamp = json.loads((self.bindir / "stamp.json").read_text())
        self.ca = self._certificates()
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        self._kubeconfigs()
        self.logs.mkdir(exist_ok=True)
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        stages = self.kwok_stages
        if stages is None:
            stages = kwok_stage_files(kwok_module_dir(stamp))
        for comp in (
            self._etcd(etcd_port, peer_port),
            self._apiserver(api_port),
            self._controller_manager(),
            self._scheduler(),
            self._kwok(stages),
        ):
            self.components[comp.name] = comp

    def _certificates(self) -> CertificateAuthority:
        """The cluster CA, the API server's serving pair, the service-account keys and the
        aggregation layer's front-proxy CA and client pair, written under pki/."""
        pki = self.pki
        pki.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.create()
        (pki / "ca.crt").write_bytes(ca.cert_pem)
        (pki / "ca.key").write_bytes(pem_key(ca.key))
        cert, key = ca.issue("kube-apiserver", server=True)
        (pki / "apiserver.crt").write_bytes(cert)
        (pki / "apiserver.key").write_bytes(key)
        sa_private, sa_public = service_account_keys()
        (pki / "sa.key").write_bytes(sa_private)
        (pki / "sa.pub").write_bytes(sa_public)
        # The aggregation layer: the API server proxies to extension API servers (KEDA's
        # metrics server) with a client certificate from its own CA, asserting the user in
        # X-Remote-* headers that the extension server trusts because of that CA.
        front = CertificateAuthority.create("tubedemo-front-proxy-ca")
        (pki / "front-proxy-ca.crt").write_bytes(front.cert_pem)
        proxy_cert, proxy_key = front.issue(FRONT_PROXY_CN)
        (pki / "front-proxy-client.crt").write_bytes(proxy_cert)
        (pki / "front-proxy-client.key").write_bytes(proxy_key)
        return ca

    def _kubeconfigs(self) -> None:
        """cluster-admin (for the components and tubedemo) and a user without any rights."""
        self.kubeconfig = self.issue_kubeconfig(
            self.workdir / "admin.kubeconfig", ADMIN_CN, organizations=("system:masters",)
        )
        self.nobody_kubeconfig = self.issue_kubeconfig(
            self.workdir / "nobody.kubeconfig", NOBODY_CN
        )

    def _etcd(self, port: int, peer_port: int) -> Child:
        peer_url = f"http://127.0.0.1:{peer_port}"
        argv = [
            str(self._bin("etcd")),
            "--name=default",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--listen-metrics-urls=",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        return component("etcd", argv, self.logs, client=port, peer=peer_port)

    def _apiserver(self, port: int) -> Child:
        pki = self.pki
        argv = [
            str(self._bin("kube-apiserver")),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # Pods created straight after their namespace would race the default
            # ServiceAccount; nothing here mounts tokens.
            "--disable-admission-plugins=ServiceAccount",
            f"--service-account-issuer={self.server}/",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--cert-dir={pki}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            f"--requestheader-allowed-names={FRONT_PROXY_CN}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--v=1",
        ]
        return component("kube-apiserver", argv, self.logs, https=port)

    def _admin_flags(self) -> list[str]:
        admin = str(self.kubeconfig)
        return [
            f"--kubeconfig={admin}",
            f"--authentication-kubeconfig={admin}",
            f"--authorization-kubeconfig={admin}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
        ]

    def _controller_manager(self) -> Child:
        s = self.speed
        argv = [
            str(self._bin("kube-controller-manager")),
            *self._admin_flags(),
            f"--service-account-private-key-file={self.pki / 'sa.key'}",
            f"--root-ca-file={self.pki / 'ca.crt'}",
            "--controllers=*,-nodeipam",
            f"--horizontal-pod-autoscaler-sync-period={go_duration(self.hpa_sync_period / s)}",
            f"--horizontal-pod-autoscaler-tolerance={self.hpa_tolerance}",
            # Only used by an HPA without behavior (ours always has one); kept consistent.
            f"--horizontal-pod-autoscaler-downscale-stabilization={go_duration(300 / s)}",
            f"--horizontal-pod-autoscaler-initial-readiness-delay={go_duration(30 / s)}",
            f"--horizontal-pod-autoscaler-cpu-initialization-period={go_duration(300 / s)}",
            f"--node-monitor-period={go_duration(5 / s)}",
            "--v=1",
        ]
        return component("kube-controller-manager", argv, self.logs)

    def _scheduler(self) -> Child:
        argv = [str(self._bin("kube-scheduler")), *self._admin_flags(), "--v=1"]
        return component("kube-scheduler", argv, self.logs)

    def _kwok(self, stages: list[Path]) -> Child:
        argv = [
            str(self._bin("kwok")),
            f"--kubeconfig={self.kubeconfig}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
            "--cidr=10.0.0.0/24",
            "--node-ip=10.0.0.1",
            "--server-address=",
            "--node-lease-duration-seconds=40",
            *[f"--config={p}" for p in stages],
        ]
        return component("kwok", argv, self.logs)

    def _bin(self, name: str) -> Path:
        assert self.bindir is not None
        return self.bindir / name

    def _start_in_order(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        etcd = self.components["etcd"].start()
        wait_ready(f"{self.etcd_url}/health", what="etcd ready", children=[etcd], deadline=deadline)
        self.start_component("kube-apiserver", deadline=deadline)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            self.components[name].start()
        time.sleep(0.5)
        for comp in self.components.values():
            if not comp.alive():
                raise comp.exited("right after start")

    def stop(self) -> None:
        for comp in reversed(list(self.components.values())):
            comp.stop(10.0)

    def stop_component(self, name: str) -> None:
        self.components[name].stop(10.0)

    def start_component(
        self, name: str, timeout: float = 60.0, *, deadline: float | None = None
    ) -> None:
        comp = self.components[name].start()
        if name == "kube-apiserver":
            wait_ready(
                lambda: self.get("/readyz") is not None,
                what="kube-apiserver ready",
                children=[comp],
                deadline=deadline if deadline is not None else time.monotonic() + timeout,
            )

    # -- talking to it -------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.workdir / "admin.crt"), str(self.workdir / "admin.key"))
        return ctx

    def get(self, path: str) -> bytes | None:
        """GET as cluster-admin; None on any failure (for readiness polling)."""
        try:
            with urllib.request.urlopen(
                f"{self.server}{path}", context=self._ssl(), timeout=2
            ) as resp:
                return bytes(resp.read())
        except (urllib.error.URLError, OSError):
            return None

    def issue_kubeconfig(
        self,
        path: Path,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        expired: bool = False,
    ) -> Path:
        """A kubeconfig for another client-certificate user (e.g. one whose cert expired)."""
        assert self.ca is not None
        cert, key = self.ca.issue(common_name, organizations=organizations, expired=expired)
        return write_kubeconfig(
            path,
            server=self.server,
            ca_pem=self.ca.cert_pem,
            user=common_name,
            cert_pem=cert,
            key_pem=key,
        )
