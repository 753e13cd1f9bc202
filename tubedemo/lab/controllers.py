"""The lab's autoscalers as processes: KEDA (operator, metrics API server, admission webhooks)
and Karpenter with its KWOK provider — their certificates, command lines and environment, every
port chosen here on loopback. Nothing here starts a process; ``tubedemo.lab.stack`` does.

KEDA's metrics API server and webhooks serve with a certificate from the lab's CA for their
in-cluster names (the APIService and the webhook configuration point at them through a Service
of type ExternalName: localhost). Each controller authenticates with a client certificate of
its own in system:masters. Karpenter's intervals that are flags elsewhere are environment
variables here, divided by the lab's speed like every other interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tubedemo.core.config import StartupModel
from tubedemo.core.processes import Child, free_port
from tubedemo.lab import objects
from tubedemo.lab.controlplane import component, go_duration
from tubedemo.lab.pki import CertificateAuthority

KARPENTER_BATCH_MAX = 10.0
"""Karpenter's default BATCH_MAX_DURATION (s), before speed."""


@dataclass(frozen=True)
class Keda:
    """KEDA's three processes, not started."""

    operator: Child
    adapter: Child
    webhooks: Child

    @property
    def children(self) -> list[Child]:
        return [self.operator, self.adapter, self.webhooks]

    def ready_url(self, part: Child) -> str:
        return f"http://127.0.0.1:{part.ports['probe']}/readyz"


def keda_certificates(ca: CertificateAuthority, folder: Path) -> Path:
    """The serving pair of KEDA's metrics API server and webhooks (valid for their in-cluster
    names and loopback) and the CA that signed it, written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = ca.issue("keda", server=True, dns_names=objects.keda_server_names())
    (folder / "ca.crt").write_bytes(ca.cert_pem)
    (folder / "tls.crt").write_bytes(cert)
    (folder / "tls.key").write_bytes(key)
    return folder


def keda(lab_dir: Path, certs: Path, kubeconfig: Callable[[str], Path], logs: Path) -> Keda:
    """KEDA's operator, metrics API server ("adapter") and admission webhooks, each with a
    kubeconfig of its own (``kubeconfig(name)``) and the serving pair in ``certs``."""
    env = {
        "WATCH_NAMESPACE": "",
        "POD_NAMESPACE": objects.KEDA_NAMESPACE,
        "KEDA_CLUSTER_OBJECT_NAMESPACE": objects.KEDA_NAMESPACE,
    }

    def part(name: str, flags: Callable[[Path], list[str]], **ports: int) -> Child:
        kc = kubeconfig(name)
        argv = [str(lab_dir / name), *flags(kc)]
        return component(name, argv, logs, env={**env, "KUBECONFIG": str(kc)}, **ports)

    grpc = free_port()  # the operator's metrics service, which the adapter asks
    op_metrics, op_probe = free_port(), free_port()
    operator = part(
        "keda-operator",
        lambda kc: [
            f"--kubeconfig={kc}",
            f"--metrics-bind-address=127.0.0.1:{op_metrics}",
            f"--health-probe-bind-address=127.0.0.1:{op_probe}",
            f"--metrics-service-bind-address=127.0.0.1:{grpc}",
            f"--cert-dir={certs}",
            f"--ca-dir={certs}",
            "--enable-cert-rotation=false",
            "--zap-log-level=info",
            "--zap-encoder=console",
        ],
        grpc=grpc,
        metrics=op_metrics,
        probe=op_probe,
    )
    adapter_port, adapter_metrics = free_port(), free_port()
    adapter = part(
        "keda-adapter",
        lambda kc: [
            f"--secure-port={adapter_port}",
            "--bind-address=127.0.0.1",
            f"--port={adapter_metrics}",
            f"--lister-kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--client-ca-file={certs / 'ca.crt'}",
            f"--tls-cert-file={certs / 'tls.crt'}",
            f"--tls-private-key-file={certs / 'tls.key'}",
            f"--cert-dir={certs}",
            f"--metrics-service-address=127.0.0.1:{grpc}",
            "--metrics-service-grpc-authority=keda-operator.keda.svc",
            "--zap-log-level=info",
        ],
        https=adapter_port,
        metrics=adapter_metrics,
    )
    webhook, wh_metrics, wh_probe = free_port(), free_port(), free_port()
    webhooks = part(
        "keda-webhooks",
        lambda kc: [
            f"--kubeconfig={kc}",
            f"--port={webhook}",
            f"--cert-dir={certs}",
            f"--metrics-bind-address=127.0.0.1:{wh_metrics}",
            f"--health-probe-bind-address=127.0.0.1:{wh_probe}",
            "--zap-log-level=info",
            "--zap-encoder=console",
        ],
        https=webhook,
        metrics=wh_metrics,
        probe=wh_probe,
    )
    return Keda(operator, adapter, webhooks)


def karpenter(
    lab_dir: Path,
    kubeconfig: Path,
    instance_types: Path,
    startup: StartupModel,
    speed: float,
    logs: Path,
) -> Child:
    """Karpenter with its KWOK provider, launching from ``instance_types``, its batch windows
    divided by ``speed``."""
    metrics, probe = free_port(), free_port()
    return component(
        "karpenter",
        # configured by environment only (its own flag set knows no --kubeconfig)
        [str(lab_dir / "karpenter-kwok")],
        logs,
        env={
            "KUBECONFIG": str(kubeconfig),
            "INSTANCE_TYPES_FILE_PATH": str(instance_types),
            "DISABLE_LEADER_ELECTION": "true",
            "METRICS_PORT": str(metrics),
            "HEALTH_PROBE_PORT": str(probe),
            "BATCH_MAX_DURATION": go_duration(KARPENTER_BATCH_MAX / speed),
            "BATCH_IDLE_DURATION": go_duration(startup.provisioning_batch / speed),
            "LOG_LEVEL": "info",
        },
        metrics=metrics,
        probe=probe,
    )
