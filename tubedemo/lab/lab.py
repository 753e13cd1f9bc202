"""The whole lab: the control plane, KEDA and Karpenter (KWOK provider) as processes of this
one Python process, and a state file that `tubedemo lab status` and `lab down` read.

Process model: whoever calls :meth:`Lab.start` owns every component; each component dies with
it (kernel parent-death signal), so `kill -9` of the owner leaves no process and, with them, no
port behind. :meth:`Lab.stop` stops them in reverse order. The state file
(``<workdir>/state.json``) names the owner's pid, every component's pid, ports and log, and the
kubeconfig; `lab down` from another shell signals the owner and, should the owner be gone,
kills any component still recorded there (checking the pid still runs that binary).

Python API (``rehearse --lab`` and tests)::

    lab = Lab(LabOptions(workdir=Path("/tmp/lab"), speed=10, startup=cfg.resolved_startup,
                         prices=cfg.prices, hpa=cfg.twin.hpa))
    with lab.running():            # start() ... stop(), even on error
        api = tubedemo.cluster.api.connect(lab.kubeconfig)
        for obj in tubedemo.manifests.lab.render_lab(cfg, speed=lab.options.speed): ...
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tubedemo.cluster.api import Api, connect
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import HpaModel, PriceTable, StartupModel
from tubedemo.core.errors import ExternalToolError, TubedemoError
from tubedemo.lab import binaries, objects
from tubedemo.lab.controlplane import ControlPlane, ControlPlaneError, kwok_module_dir
from tubedemo.lab.controlplane import kwok_stage_files as upstream_stage_files
from tubedemo.lab.processes import Component, free_port

STATE_FILE = "state.json"


class LabError(ExternalToolError):
    """The lab could not start, or is in a state the command cannot act on."""


def default_home() -> Path:
    """`tubedemo lab`'s run folder: $TUBEDEMO_LAB_HOME or ~/.cache/tubedemo/lab-run (following
    XDG_CACHE_HOME)."""
    override = os.environ.get("TUBEDEMO_LAB_HOME")
    if override:
        return Path(override)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tubedemo" / "lab-run"


@dataclass(frozen=True)
class LabOptions:
    workdir: Path
    """Run folder: certificates, kubeconfigs, etcd data, logs, state.json (wiped at start)."""
    speed: float = 1.0
    """Every controller interval and start-up delay is divided by this."""
    startup: StartupModel = field(default_factory=StartupModel)
    """Node launch, image pull and model load delays (twin.startup), before speed."""
    prices: PriceTable = field(default_factory=PriceTable)
    """$/h per instance type for Karpenter's offerings (demo.yaml prices)."""
    hpa: HpaModel = field(default_factory=HpaModel)
    """HPA controller sync period and tolerance (twin.hpa), before speed."""
    timeout: float = 180.0
    """Longest start-up (s) before giving up with the components' logs."""


@dataclass
class Lab:
    options: LabOptions
    plane: ControlPlane | None = None
    components: dict[str, Component] = field(default_factory=dict)
    """KEDA and Karpenter (the control plane's are in ``plane.components``)."""
    started_in: float | None = None

    @property
    def workdir(self) -> Path:
        return self.options.workdir

    @property
    def kubeconfig(self) -> Path:
        assert self.plane is not None, "the lab is not started"
        return self.plane.kubeconfig

    def all_components(self) -> dict[str, Component]:
        cp = self.plane.components if self.plane is not None else {}
        return {**cp, **self.components}

    # -- start / stop --------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[Lab]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def start(self, progress: Callable[[str], None] = lambda _: None) -> None:
        """Start everything and wait until KEDA's APIService is Available and Karpenter is
        ready; LabError with the components' log tails if anything fails."""
        began = time.monotonic()
        cp_dir, lab_dir = binaries.require()
        _claim(self.workdir)
        self._write_state(ready=False)
        deadline = began + self.options.timeout
        o = self.options
        try:
            stamp = binaries.stamp(lab_dir)
            keda_module = Path(stamp["keda_module_dir"])
            karpenter_module = Path(stamp["karpenter_module_dir"])
            cp_stamp = binaries.stamp(cp_dir)
            stages = objects.kwok_stages(
                objects.load_all(upstream_stage_files(kwok_module_dir(cp_stamp))),
                o.startup,
                o.speed,
            )
            stage_file = self.workdir / "kwok-stages.yaml"
            stage_file.write_text(yaml.safe_dump_all(stages, sort_keys=False))
            self.plane = ControlPlane(
                workdir=self.workdir,
                bindir=cp_dir,
                speed=o.speed,
                hpa_sync_period=o.hpa.sync_period,
                hpa_tolerance=o.hpa.tolerance,
                kwok_stages=[stage_file],
            )
            progress("control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
            self.plane.start(timeout=max(10.0, deadline - time.monotonic()))
            self._write_state(ready=False)
            api = connect(self.kubeconfig)
            progress("CRDs of KEDA and Karpenter")
            crds = objects.keda_crds(keda_module) + objects.karpenter_crds(karpenter_module)
            for crd in crds:
                api.apply(crd, force=True)
            self._wait(
                "CRDs established",
                lambda: all(_established(api.get(Ref.of(c))) for c in crds),
                deadline,
            )
            progress("KEDA (operator, metrics API server, admission webhooks)")
            self._start_keda(lab_dir, api, deadline)
            progress("Karpenter (KWOK provider, g5 instance types)")
            self._start_karpenter(lab_dir, deadline)
        except BaseException as exc:
            report = self.logs_report()
            self.stop()
            if isinstance(exc, ControlPlaneError):
                raise LabError(exc.message) from None
            if isinstance(exc, KeyboardInterrupt):
                raise
            detail = exc.message if isinstance(exc, TubedemoError) else repr(exc)
            raise LabError(f"the lab failed to start: {detail}\n{report}") from None
        self.started_in = time.monotonic() - began
        self._write_state(ready=True)

    def _component_kubeconfig(self, name: str) -> Path:
        assert self.plane is not None
        return self.plane.issue_kubeconfig(
            self.workdir / f"{name}.kubeconfig", name, organizations=("system:masters",)
        )

    def _start_keda(self, lab_dir: Path, api: Api, deadline: float) -> None:
        assert self.plane is not None and self.plane.ca is not None
        stamp = binaries.stamp(lab_dir)
        keda_module = Path(stamp["keda_module_dir"])
        certs = self.workdir / "pki" / "keda"
        certs.mkdir(parents=True, exist_ok=True)
        ca = self.plane.ca
        cert, key = ca.issue("keda", server=True, dns_names=objects.keda_server_names())
        (certs / "ca.crt").write_bytes(ca.cert_pem)
        (certs / "tls.crt").write_bytes(cert)
        (certs / "tls.key").write_bytes(key)
        logs = self.workdir / "logs"
        env = {
            "WATCH_NAMESPACE": "",
            "POD_NAMESPACE": objects.KEDA_NAMESPACE,
            "KEDA_CLUSTER_OBJECT_NAMESPACE": objects.KEDA_NAMESPACE,
        }
        grpc, op_metrics, op_probe = free_port(), free_port(), free_port()
        kc = self._component_kubeconfig("keda-operator")
        self.components["keda-operator"] = Component(
            "keda-operator",
            [
                str(lab_dir / "keda-operator"),
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
            logs / "keda-operator.log",
            env={**env, "KUBECONFIG": str(kc)},
            ports={"grpc": grpc, "metrics": op_metrics, "probe": op_probe},
        )
        adapter, adapter_metrics = free_port(), free_port()
        kc = self._component_kubeconfig("keda-adapter")
        self.components["keda-adapter"] = Component(
            "keda-adapter",
            [
                str(lab_dir / "keda-adapter"),
                f"--secure-port={adapter}",
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
            logs / "keda-adapter.log",
            env={**env, "KUBECONFIG": str(kc)},
            ports={"https": adapter, "metrics": adapter_metrics},
        )
        webhook, wh_metrics, wh_probe = free_port(), free_port(), free_port()
        kc = self._component_kubeconfig("keda-webhooks")
        self.components["keda-webhooks"] = Component(
            "keda-webhooks",
            [
                str(lab_dir / "keda-webhooks"),
                f"--kubeconfig={kc}",
                f"--port={webhook}",
                f"--cert-dir={certs}",
                f"--metrics-bind-address=127.0.0.1:{wh_metrics}",
                f"--health-probe-bind-address=127.0.0.1:{wh_probe}",
                "--zap-log-level=info",
                "--zap-encoder=console",
            ],
            logs / "keda-webhooks.log",
            env={**env, "KUBECONFIG": str(kc)},
            ports={"https": webhook, "metrics": wh_metrics, "probe": wh_probe},
        )
        for obj in objects.keda_wiring(keda_module, ca.cert_pem, adapter, webhook):
            api.apply(obj, force=True)
        for name in ("keda-operator", "keda-adapter", "keda-webhooks"):
            self.components[name].start()
        self._write_state(ready=False)
        self._wait("KEDA operator ready", lambda: _http_ok(op_probe, "/readyz"), deadline)
        self._wait("KEDA webhooks ready", lambda: _http_ok(wh_probe, "/readyz"), deadline)
        self._wait(
            f"APIService {objects.EXTERNAL_METRICS_APISERVICE} Available",
            lambda: _available(
                api.get(
                    Ref(
                        "apiregistration.k8s.io/v1",
                        "APIService",
                        "",
                        objects.EXTERNAL_METRICS_APISERVICE,
                    )
                )
            ),
            deadline,
        )

    def _start_karpenter(self, lab_dir: Path, deadline: float) -> None:
        o = self.options
        types = self.workdir / "instance-types.json"
        types.write_text(json.dumps(objects.instance_types(o.prices), indent=2))
        metrics, probe = free_port(), free_port()
        kc = self._component_kubeconfig("karpenter")
        batch_max = 10.0 / o.speed  # Karpenter's default BATCH_MAX_DURATION, compressed
        batch_idle = o.startup.provisioning_batch / o.speed
        self.components["karpenter"] = Component(
            "karpenter",
            # configured by environment only (its own flag set knows no --kubeconfig)
            [str(lab_dir / "karpenter-kwok")],
            self.workdir / "logs" / "karpenter.log",
            env={
                "KUBECONFIG": str(kc),
                "INSTANCE_TYPES_FILE_PATH": str(types),
                "DISABLE_LEADER_ELECTION": "true",
                "METRICS_PORT": str(metrics),
                "HEALTH_PROBE_PORT": str(probe),
                "BATCH_MAX_DURATION": f"{max(1, round(batch_max * 1000))}ms",
                "BATCH_IDLE_DURATION": f"{max(1, round(batch_idle * 1000))}ms",
                "LOG_LEVEL": "info",
            },
            ports={"metrics": metrics, "probe": probe},
        )
        self.components["karpenter"].start()
        self._write_state(ready=False)
        self._wait("Karpenter ready", lambda: _http_ok(probe, "/readyz"), deadline)

    def _wait(self, what: str, ready: Callable[[], bool], deadline: float) -> None:
        while True:
            for name, comp in self.all_components().items():
                if comp.process is not None and not comp.alive():
                    raise LabError(f"{name} exited while waiting for {what}: see {comp.log}")
            try:
                if ready():
                    return
            except TubedemoError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"{what}: not within {self.options.timeout:.0f}s")
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop every component, controllers first, etcd last; idempotent."""
        for comp in reversed(list(self.components.values())):
            comp.stop()
        if self.plane is not None:
            self.plane.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / STATE_FILE).unlink()

    def logs_report(self, lines: int = 20) -> str:
        return "\n".join(
            f"--- {name} ({comp.log}) ---\n{comp.tail(lines)}"
            for name, comp in self.all_components().items()
            if comp.process is not None
        )

    # -- state ---------------------------------------------------------------------------

    def state(self, *, ready: bool) -> dict[str, Any]:
        return {
            "owner": os.getpid(),
            "ready": ready,
            "speed": self.options.speed,
            "kubeconfig": str(self.plane.kubeconfig) if self.plane is not None else None,
            "server": self.plane.server if self.plane is not None else None,
            "started_in": self.started_in,
            "components": {
                name: {
                    "pid": comp.pid,
                    "binary": comp.argv[0],
                    "ports": comp.ports,
                    "log": str(comp.log),
                }
                for name, comp in self.all_components().items()
                if comp.pid is not None
            },
        }

    def _write_state(self, *, ready: bool) -> None:
        path = self.workdir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(ready=ready), indent=2))
        tmp.replace(path)


# -- other processes' labs (status, down) -----------------------------------------------------


def read_state(workdir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((workdir / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def runs_binary(pid: int, binary: str) -> bool:
    """True when ``pid`` is alive and executes ``binary`` (not a recycled pid)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return pid_alive(pid) and Path(exe.removesuffix(" (deleted)")) == Path(binary)


def port_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _claim(workdir: Path) -> None:
    """Make ``workdir`` this lab's run folder: refuse if a lab runs there, else empty it."""
    state = read_state(workdir)
    if state is not None and pid_alive(int(state["owner"])):
        raise LabError(
            f"a lab is already running from {workdir} (pid {state['owner']}); "
            "`tubedemo lab down` stops it"
        )
    if state is not None:
        down(workdir)  # leftovers of a lab whose owner was killed
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("etcd", "logs", "pki"):
        target = workdir / sub
        if target.exists():
            shutil.rmtree(target)


@dataclass
class DownReport:
    owner_stopped: bool = False
    killed: list[str] = field(default_factory=list)
    ports_busy: list[int] = field(default_factory=list)


def down(workdir: Path, timeout: float = 60.0) -> DownReport | None:
    """Stop the lab run from ``workdir``: TERM its owner (which stops the components in
    order), wait; then KILL any recorded component still running; report ports still open.
    None when no lab state is there."""
    state = read_state(workdir)
    if state is None:
        return None
    report = DownReport()
    owner = int(state["owner"])
    if owner != os.getpid() and pid_alive(owner):
        os.kill(owner, signal.SIGTERM)
        end = time.monotonic() + timeout
        while pid_alive(owner) and time.monotonic() < end:
            time.sleep(0.2)
        if pid_alive(owner):
            os.kill(owner, signal.SIGKILL)
        report.owner_stopped = True
    for name, comp in state.get("components", {}).items():
        pid = comp.get("pid")
        if pid and runs_binary(int(pid), comp["binary"]):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
            report.killed.append(name)
    end = time.monotonic() + 10
    ports = [p for c in state.get("components", {}).values() for p in c.get("ports", {}).values()]
    while True:
        busy = [p for p in ports if port_listening(p)]
        if not busy or time.monotonic() > end:
            break
        time.sleep(0.2)
    report.ports_busy = busy
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_FILE).unlink()
    return report


def status(workdir: Path) -> dict[str, Any] | None:
    """The recorded state with each component's liveness; None when no lab state is there."""
    state = read_state(workdir)
    if state is None:
        return None
    state["owner_alive"] = pid_alive(int(state["owner"]))
    for comp in state.get("components", {}).values():
        comp["alive"] = bool(comp.get("pid")) and runs_binary(int(comp["pid"]), comp["binary"])
        comp["rss_mib"] = rss_mib(int(comp["pid"])) if comp["alive"] else None
    return state


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` (MiB) from /proc, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _available(api_service: dict[str, Any] | None) -> bool:
    conditions = ((api_service or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
