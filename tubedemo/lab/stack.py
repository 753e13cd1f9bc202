"""The whole lab: the control plane, KEDA and Karpenter (KWOK provider) as processes of this
one Python process, started in order and stopped in reverse.

Process model: whoever calls :meth:`Lab.start` owns every component; each component dies with
it (kernel parent-death signal, through the process seam), so `kill -9` of the owner leaves no
process and, with them, no port behind. The owner keeps the state file (``tubedemo.lab.state_file``)
that `lab status` and `lab down` read from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tubedemo.cluster.api import Api, connect
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import HpaControllerConfig, PriceTable, StartupModel
from tubedemo.core.errors import ExternalToolError, TubedemoError
from tubedemo.core.processes import Child, wait_ready
from tubedemo.lab import binaries, controllers, objects, state_file
from tubedemo.lab.controlplane import ControlPlane, ControlPlaneError, kwok_module_dir
from tubedemo.lab.controlplane import kwok_stage_files as upstream_stage_files


class LabError(ExternalToolError):
    """The lab could not start, or is in a state the command cannot act on (exit 6, as any
    helper program that failed to start)."""


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
    """Run folder: certificates, kubeconfigs, etcd data, logs, state.json (wiped at start).
    Made absolute here, where a lab's folder is decided, so every path derived from it is:
    a kubeconfig names its certificates by path, and a relative one is read against the
    kubeconfig's own folder (``out/x/lab-run/out/x/lab-run/admin.crt``)."""
    speed: float = 1.0
    """Every controller interval and start-up delay is divided by this."""
    startup: StartupModel = field(default_factory=StartupModel)
    """Node launch, image pull and model load delays (twin.startup), before speed."""
    prices: PriceTable = field(default_factory=PriceTable)
    """$/h per instance type for Karpenter's offerings (demo.yaml prices)."""
    hpa: HpaControllerConfig = field(default_factory=HpaControllerConfig)
    """HPA controller sync period and tolerance (twin.hpa), before speed."""
    timeout: float = 180.0
    """Longest start-up (s) before giving up (one line naming the log to read)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "workdir", self.workdir.absolute())


@dataclass
class Lab:
    options: LabOptions
    plane: ControlPlane | None = None
    components: dict[str, Child] = field(default_factory=dict)
    """KEDA and Karpenter (the control plane's are in ``plane.components``)."""
    started_in: float | None = None

    @property
    def workdir(self) -> Path:
        return self.options.workdir

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def kubeconfig(self) -> Path:
        assert self.plane is not None, "the lab is not started"
        return self.plane.kubeconfig

    def all_components(self) -> dict[str, Child]:
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
        ready; LabError (one line: what failed, where its log is) if anything fails."""
        began = time.monotonic()
        cp_dir, lab_dir = binaries.require()
        claim(self.workdir)
        self._write_state(ready=False)
        deadline = began + self.options.timeout
        try:
            progress("control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
            self._start_control_plane(cp_dir, deadline)
            api = connect(self.kubeconfig)
            progress("CRDs of KEDA and Karpenter")
            self._install_crds(api, lab_dir, deadline)
            progress("KEDA (operator, metrics API server, admission webhooks)")
            self._start_keda(lab_dir, api, deadline)
            progress("Karpenter (KWOK provider, g5 instance types)")
            self._start_karpenter(lab_dir, deadline)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, KeyboardInterrupt):
                raise
            # One line: what failed and where its log is (the logs stay in the run folder).
            if isinstance(exc, ControlPlaneError):
                raise LabError(exc.message) from exc
            detail = (
                exc.message if isinstance(exc, TubedemoError) else f"{exc!r}; logs in {self.logs}"
            )
            raise LabError(f"the lab failed to start: {detail}") from exc
        self.started_in = time.monotonic() - began
        self._write_state(ready=True)

    def _start_control_plane(self, cp_dir: Path, deadline: float) -> None:
        """etcd, kube-apiserver, kube-controller-manager (HPA controller at the lab's sync
        period), kube-scheduler and KWOK with stages giving pods twin.startup's delays."""
        o = self.options
        stages = objects.kwok_stages(
            objects.load_all(upstream_stage_files(kwok_module_dir(binaries.stamp(cp_dir)))),
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
        self.plane.start(timeout=max(10.0, deadline - time.monotonic()))
        self._write_state(ready=False)

    def _install_crds(self, api: Api, lab_dir: Path, deadline: float) -> None:
        stamp = binaries.stamp(lab_dir)
        crds = objects.keda_crds(Path(stamp["keda_module_dir"])) + objects.karpenter_crds(
            Path(stamp["karpenter_module_dir"])
        )
        for crd in crds:
            api.apply(crd, force=True)
        self._wait(
            "CRDs established",
            lambda: all(_established(api.get(Ref.of(c))) for c in crds),
            deadline,
        )

    def _component_kubeconfig(self, name: str) -> Path:
        assert self.plane is not None
        return self.plane.issue_kubeconfig(
            self.workdir / f"{name}.kubeconfig", name, organizations=("system:masters",)
        )

    def _start_keda(self, lab_dir: Path, api: Api, deadline: float) -> None:
        """KEDA's processes, wired into the API server (APIService, webhook configuration),
        until the operator and the webhooks are ready and the APIService is Available."""
        assert self.plane is not None and self.plane.ca is not None
        certs = controllers.keda_certificates(self.plane.ca, self.workdir / "pki" / "keda")
        keda = controllers.keda(lab_dir, certs, self._component_kubeconfig, self.logs)
        keda_module = Path(binaries.stamp(lab_dir)["keda_module_dir"])
        wiring = objects.keda_wiring(
            keda_module,
            self.plane.ca.cert_pem,
            keda.adapter.ports["https"],
            keda.webhooks.ports["https"],
        )
        for obj in wiring:
            api.apply(obj, force=True)
        for part in keda.children:
            self.components[part.name] = part.start()
        self._write_state(ready=False)
        self._wait("KEDA operator ready", keda.ready_url(keda.operator), deadline)
        self._wait("KEDA webhooks ready", keda.ready_url(keda.webhooks), deadline)
        service = Ref(
            "apiregistration.k8s.io/v1", "APIService", "", objects.EXTERNAL_METRICS_APISERVICE
        )
        self._wait(
            f"APIService {objects.EXTERNAL_METRICS_APISERVICE} Available",
            lambda: _available(api.get(service)),
            deadline,
        )

    def _start_karpenter(self, lab_dir: Path, deadline: float) -> None:
        o = self.options
        types = self.workdir / "instance-types.json"
        types.write_text(json.dumps(objects.instance_types(o.prices), indent=2))
        karpenter = controllers.karpenter(
            lab_dir, self._component_kubeconfig("karpenter"), types, o.startup, o.speed, self.logs
        )
        self.components[karpenter.name] = karpenter.start()
        self._write_state(ready=False)
        self._wait(
            "Karpenter ready", f"http://127.0.0.1:{karpenter.ports['probe']}/readyz", deadline
        )

    def _wait(self, what: str, ready: str | Callable[[], bool], deadline: float) -> None:
        """Until ``ready``; any component of the lab dying ends the wait in one line."""
        wait_ready(
            ready,
            what=what,
            children=self.all_components().values(),
            deadline=deadline,
            logs=self.logs,
        )

    def stop(self) -> None:
        """Stop every component, controllers first, etcd last; idempotent."""
        for comp in reversed(list(self.components.values())):
            comp.stop(10.0)
        if self.plane is not None:
            self.plane.stop()
        state_file.forget_state(self.workdir)

    def first_exited(self) -> tuple[str, Child] | None:
        """A component that is no longer running (name, child), or None while all run."""
        for name, comp in self.all_components().items():
            if not comp.alive():
                return name, comp
        return None

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
        state_file.write_state(self.workdir, self.state(ready=ready))


def claim(workdir: Path) -> None:
    """Make ``workdir`` this lab's run folder: refuse if a lab runs there, else empty it."""
    recorded = state_file.read_state(workdir)
    if recorded is not None and state_file.pid_alive(int(recorded["owner"])):
        raise LabError(
            f"a lab is already running from {workdir} (pid {recorded['owner']}); "
            "`tubedemo lab down` stops it"
        )
    if recorded is not None:
        state_file.down(workdir)  # leftovers of a lab whose owner was killed
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("etcd", "logs", "pki"):
        target = workdir / sub
        if target.exists():
            shutil.rmtree(target)


def _established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _available(api_service: dict[str, Any] | None) -> bool:
    conditions = ((api_service or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
