"""The talk's autoscaling loop on the lab: the real KEDA, HPA controller, Karpenter (KWOK
provider) and scheduler decide, the fleet simulator serves one engine per Ready pod.

``LabSession`` is the shared part of ``tubedemo rehearse --lab``, ``tubedemo lab compare`` and
the lab's tests:

1. the lab (``tubedemo.lab.lab.Lab``) starts at ``speed`` N: the control plane, KEDA,
   Karpenter, KWOK stages with ``twin.startup``'s delays, all divided by N;
2. the fleet simulator starts as a child (``python -m tubedemo.rehearsal.server --kubeconfig``)
   at the same speed, watching the vLLM pods and serving each Ready pod's vLLM metrics;
3. the metric path, as on EKS: the real OpenTelemetry Collector (scripts/build-otelcol) runs
   the lab's wiring of the rendered collector config (``tubedemo.manifests.lab``): it
   discovers the vLLM pods through the API server, scrapes each at the fleet, renames vllm:*
   to vllm_* and ships OTLP to the scaler stand-in (``tubedemo.rehearsal.scaler_standin``, in
   place of the Kedify scaler), whose ``/metrics`` KEDA's ``metrics-api`` trigger reads. When
   the collector is not built, KEDA reads the fleet's own summed ``/metrics`` instead (said
   at start-up);
4. ``support_objects`` (a node for the non-GPU pods, a volume for the gateway's claim) and the
   ``lab`` render (``tubedemo.manifests.lab.render_lab``: the EKS render, KWOKNodeClass and
   the metrics-api trigger, intervals divided by N) are applied with ``tubedemo up``'s own
   code, which waits for the rollouts, the first vLLM replica on a Karpenter node included;
5. ``start_talk()`` makes "now" talk second 0 for the fleet's simulated load.

``LabKubeFeed`` is the dashboard's Kubernetes feed for the lab (the real watches), with the
replicas' /metrics read from the fleet and every age in talk seconds.
``compare`` runs one timeline through the twin and the lab and measures their agreement.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from tubedemo.core.children import Child
from tubedemo.core.config import DemoConfig, HpaRules
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import ExternalToolError, TubedemoError
from tubedemo.rehearsal.agreement import (
    Agreement,
    ScaleSample,
    agree,
    hpa_phase,
    twin_samples,
)
from tubedemo.telemetry.assembler import KubeReading, MetricsTarget
from tubedemo.telemetry.snapshot import GpuNode, NodeClaimState, NodeState, PodState

READY_TIMEOUT = 60.0
"""Seconds the fleet simulator may take to answer (cold imports)."""

SYSTEM_NODE = "lab-system"
"""The lab's node for the pods that need no GPU (gateway, collector): on EKS they run on the
cluster's managed node group, which Karpenter does not own either."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def support_objects(cfg: DemoConfig) -> list[dict[str, Any]]:
    """What an EKS cluster has before `tubedemo up` that the lab must provide. Pure.

    - a KWOK node outside the GPU NodePool (untainted, no ``karpenter.sh/nodepool`` label) for
      the gateway and the collector, like EKS's managed node group;
    - a PersistentVolume pre-bound to the gateway's claim, as the EBS CSI driver would provision
      (the lab has no storage provisioner);
    - the namespace with the Hugging Face token and admin token Secrets (stand-in values).
    """
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": SYSTEM_NODE,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": SYSTEM_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
        },
    }
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{cfg.cluster.namespace}-gateway-data"},
        "spec": {
            "capacity": {"storage": cfg.storage.volume_size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "",
            "hostPath": {"path": f"/var/lib/tubedemo-lab/{cfg.cluster.namespace}/gateway-data"},
            "claimRef": {"namespace": cfg.cluster.namespace, "name": "gateway-data"},
        },
    }
    ns = cfg.cluster.namespace
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    # The Secrets a presenter creates before `up` (README, cluster prerequisites); KEDA resolves
    # the scale target's env from them before it creates the HPA, so they must exist.
    secrets = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "stringData": {"token": "lab-stand-in"},
        }
        for name in (cfg.model.hf_token_secret, cfg.gateway.admin_token_secret)
    ]
    return [node, volume, namespace, *secrets]


@dataclass
class SessionOptions:
    speed: float = 10.0
    """Every interval of the lab and of the fleet's clock is divided by this."""
    workdir: Path = Path("out/lab/run")
    """The lab's run folder (kubeconfig, logs, etcd)."""
    out_dir: Path = Path("out/lab")
    audience: bool = True
    """The room's phones simulated inside the fleet (as `rehearse`)."""
    k6_model: bool = False
    """The timeline's k6 load simulated inside the fleet (as `simulate`): no k6 process."""
    up_timeout: float = 300.0
    """Wall seconds `up` may wait for each rollout (the first replica needs a node)."""
    collector: bool = True
    """Put the real collector and the scaler stand-in in KEDA's metric path (when the
    collector is built); False: KEDA reads the fleet's summed /metrics."""


class LabSession:
    """Lab + fleet + our manifests, up and warm; ``close()`` stops everything it started."""

    def __init__(
        self,
        cfg: DemoConfig,
        options: SessionOptions,
        report: Callable[[str], None] = print,
        lab: Any = None,
    ) -> None:
        """``lab``: a running ``tubedemo.lab.lab.Lab`` to use (its speed must be
        ``options.speed``); it is left running on ``close()``. None: start (and stop) one."""
        check_speed(options.speed)
        self.cfg = cfg
        self.opt = options
        self.report = report
        self._own_lab = lab is None
        self.lab: Any = lab
        self.fleet: Child | None = None
        self.fleet_url = ""
        self.standin: Child | None = None
        self.collector: Child | None = None
        self.standin_url = ""
        """The scaler stand-in's base URL; empty when KEDA reads the fleet directly."""
        self._wiring: Any = None
        self.kubeconfig: Path | None = None
        self.talk_started: float | None = None
        """time.monotonic() at talk second 0."""

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> LabSession:
        from tubedemo.lab.lab import Lab, LabOptions

        cfg, opt = self.cfg, self.opt
        opt.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.lab is None:
                self.lab = Lab(
                    LabOptions(
                        workdir=opt.workdir,
                        speed=opt.speed,
                        startup=cfg.resolved_startup,
                        prices=cfg.prices,
                        hpa=cfg.twin.hpa,
                    )
                )
                self.report(f"lab: starting at speed {opt.speed:g}x in {opt.workdir}")
                self.lab.start(progress=lambda what: self.report(f"lab: {what}"))
                self.report(f"lab: up in {self.lab.started_in:.0f}s")
            elif self.lab.options.speed != opt.speed:
                raise TubedemoError(
                    f"the lab runs at {self.lab.options.speed:g}x, not {opt.speed:g}x"
                )
            self.kubeconfig = Path(self.lab.kubeconfig)
            self.report(f"lab: kubeconfig {self.kubeconfig}")
            self._start_fleet()
            if opt.collector:
                self._start_metric_path()
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def _start_fleet(self) -> None:
        opt = self.opt
        assert self.kubeconfig is not None
        argv = [
            sys.executable,
            "-m",
            "tubedemo.rehearsal.server",
            "--port",
            "0",
            "--speed",
            f"{opt.speed:g}",
            "--kubeconfig",
            str(self.kubeconfig),
            "--namespace",
            self.cfg.cluster.namespace,
            # the effective config (file + --set, or one built in code), so the fleet's
            # engines, load and metric names are the ones this session renders
            "--config",
            str(self._write_config()),
            *(["--audience"] if opt.audience else []),
            *(["--k6-model"] if opt.k6_model else []),
        ]
        fleet = Child("fleet simulator", argv, opt.out_dir / "fleet.log").start()
        self.fleet = fleet
        port = int(fleet.read_line("PORT ", READY_TIMEOUT).split()[1])
        self.fleet_url = f"http://127.0.0.1:{port}"
        _wait_healthy(fleet, f"{self.fleet_url}/health")
        self.report(
            f"fleet: {self.fleet_url} (each Ready pod's vLLM metrics at /pods/<pod>/metrics)"
        )

    def _start_metric_path(self) -> None:
        """Scaler stand-in, then the collector on the lab wiring of the rendered config."""
        from tubedemo.lab import binaries
        from tubedemo.manifests.lab import CollectorWiring

        otelcol = binaries.otelcol()
        missing = (
            "not built (scripts/build-otelcol)"
            if otelcol is None
            else "without grpcio and opentelemetry-proto (pip install -e '.[lab]')"
            if importlib.util.find_spec("grpc") is None
            else ""
        )
        if otelcol is None or missing:
            self.report(
                f"collector: {missing}: KEDA reads the fleet's summed /metrics at "
                f"{self.fleet_url}/metrics"
            )
            return
        opt, scaling = self.opt, self.cfg.scaling
        wall_scrape = max(1.0, round(scaling.scrape_interval / opt.speed))
        argv = [
            sys.executable,
            "-m",
            "tubedemo.rehearsal.scaler_standin",
            *[f"--metric={m}" for m in dict.fromkeys(scaling.triggers.values())],
            *[f"--label={k}={v}" for k, v in sorted(scaling.metric_labels.items())],
            # a series not refreshed for 3 scrapes is gone (the staleness marker usually
            # says so first)
            f"--retention={3 * wall_scrape:g}",
        ]
        standin = Child("scaler stand-in", argv, opt.out_dir / "scaler-standin.log").start()
        self.standin = standin
        otlp_port, http_port = standin.read_line("PORTS ", READY_TIMEOUT).split()[1:3]
        self.standin_url = f"http://127.0.0.1:{http_port}"
        assert self.kubeconfig is not None
        self._wiring = CollectorWiring(
            fleet=self.fleet_url.removeprefix("http://"),
            otlp_endpoint=f"127.0.0.1:{otlp_port}",
            kubeconfig=str(self.kubeconfig),
            health_endpoint=f"127.0.0.1:{_free_port()}",
        )
        config = next(
            o["data"]["config.yaml"]
            for o in self.manifests()
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "otel-collector"
        )
        path = opt.out_dir / "otel-collector.yaml"
        path.write_text(config)
        collector = Child(
            "otel collector", [str(otelcol), f"--config={path}"], opt.out_dir / "otelcol.log"
        ).start()
        self.collector = collector
        health = f"http://{self._wiring.health_endpoint}/"
        _wait_healthy(collector, health)
        self.report(
            f"collector: {otelcol.name} scrapes the vLLM pods at the fleet, OTLP to the scaler "
            f"stand-in (queue for KEDA at {self.queue_url})"
        )

    def _write_config(self) -> Path:
        path = self.opt.out_dir / "lab-config.yaml"
        path.write_text(yaml.safe_dump(self.cfg.model_dump(mode="json"), sort_keys=False))
        return path

    @property
    def queue_url(self) -> str:
        """What KEDA's metrics-api triggers read: the scaler stand-in behind the collector, or
        (no collector) the fleet's own sum."""
        return f"{self.standin_url or self.fleet_url}/metrics"

    def manifests(self) -> list[dict[str, Any]]:
        """The lab render, its trigger pointed at this session's queue, the collector's config
        wired to this session's processes."""
        from tubedemo.manifests.lab import render_lab

        return render_lab(
            self.cfg, speed=self.opt.speed, queue_url=self.queue_url, collector=self._wiring
        )

    def _up(self) -> None:
        from tubedemo.cluster.api import connect
        from tubedemo.cluster.up import up

        assert self.kubeconfig is not None
        api = connect(self.kubeconfig, None)
        for obj in support_objects(self.cfg):
            api.apply(obj, force=True)
        began = time.monotonic()
        up(
            api,
            self.manifests(),
            self.cfg.cluster.namespace,
            report=lambda line: self.report(f"up: {line}"),
            timeout=self.opt.up_timeout,
        )
        self.report(
            f"up: done in {time.monotonic() - began:.0f}s wall "
            f"({(time.monotonic() - began) * self.opt.speed:.0f}s of talk time)"
        )
        self._wait_serving(self.cfg.scaling.min_replicas)

    def _wait_serving(self, count: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if len(self.fleet_state().get("targets") or []) >= count:
                return
            time.sleep(0.1)
        raise ExternalToolError(f"the fleet did not get {count} engine(s) for the lab's pods")

    def fleet_state(self) -> dict[str, Any]:
        body = httpx.get(f"{self.fleet_url}/twin/state", timeout=5).json()
        return body if isinstance(body, dict) else {}

    def start_talk(self) -> None:
        """Talk second 0 is now (the fleet's simulated load starts from the beginning)."""
        response = httpx.post(f"{self.fleet_url}/twin/start", timeout=10)
        if response.status_code != 200:
            raise ExternalToolError(f"fleet refused to start the talk: {response.text}")
        self.talk_started = time.monotonic()

    def talk_time(self) -> float:
        """Talk seconds since ``start_talk`` (wall seconds x speed)."""
        if self.talk_started is None:
            return 0.0
        return (time.monotonic() - self.talk_started) * self.opt.speed

    # -- stop ----------------------------------------------------------------------------------

    def close(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for child in (self.collector, self.standin):
            if child is not None:
                codes[child.name] = child.stop()
        self.collector = self.standin = None
        if self.fleet is not None:
            codes[self.fleet.name] = self.fleet.stop()
            self.fleet = None
        if self.lab is not None and self._own_lab:
            self.lab.stop()
            self.lab = None
        return codes

    def __enter__(self) -> LabSession:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


# --- the dashboard's feed ---------------------------------------------------------------------


def _in_talk_seconds(reading: KubeReading, speed: float) -> KubeReading:
    """Ages and start-up times from the API server's wall clock, as talk seconds. Pure."""

    def pod(p: PodState) -> PodState:
        return p.model_copy(
            update={
                "created_s_ago": p.created_s_ago * speed,
                "scheduled_to_ready_s": None
                if p.scheduled_to_ready_s is None
                else p.scheduled_to_ready_s * speed,
                "created_to_ready_s": None
                if p.created_to_ready_s is None
                else p.created_to_ready_s * speed,
            }
        )

    def node(n: GpuNode) -> GpuNode:
        return n.model_copy(
            update={
                "age_s": n.age_s * speed,
                "launch_s": None if n.launch_s is None else n.launch_s * speed,
            }
        )

    def claim(c: NodeClaimState) -> NodeClaimState:
        return c.model_copy(update={"age_s": c.age_s * speed})

    replicas = reading.replicas.model_copy(
        update={"pods": tuple(pod(p) for p in reading.replicas.pods)}
    )
    nodes: NodeState = reading.nodes.model_copy(
        update={
            "nodes": tuple(node(n) for n in reading.nodes.nodes),
            "launching": tuple(claim(c) for c in reading.nodes.launching),
        }
    )
    return replace(reading, replicas=replicas, nodes=nodes)


class LabKubeFeed:
    """The real watches (``tubedemo.cluster.watch.KubeWatchFeed``) of the lab, with each Ready
    pod's /metrics read from the fleet (pods on KWOK nodes have no process) and durations in
    talk seconds."""

    def __init__(self, session: LabSession, stale_after: float = 5.0) -> None:
        from tubedemo.cluster.watch import KubeWatchFeed, api_client

        assert session.kubeconfig is not None
        self.session = session
        self.speed = session.opt.speed
        self.watches = KubeWatchFeed(
            api_client(session.kubeconfig, None),
            namespace=session.cfg.cluster.namespace,
            nodepool=session.cfg.gpu_pool.name,
            max_replicas=session.cfg.scaling.max_replicas,
            stale_after=stale_after,
            backoff_max=2.0,
        ).start()

    def wait_synced(self, timeout: float = 30.0) -> None:
        for w in self.watches.watches:
            if not w.wait_synced(timeout):
                raise ExternalToolError(f"lab watch {w.path} did not sync: {w.view().error}")

    def read(self, now: datetime) -> KubeReading:
        # the watches compare with the API server's clock: ask at wall time, report talk time
        reading = self.watches.read(datetime.now(UTC))
        base = self.session.fleet_url
        targets = tuple(
            MetricsTarget(name=t.name, url=f"{base}/pods/{t.name}/metrics") for t in reading.targets
        )
        return _in_talk_seconds(replace(reading, targets=targets), self.speed)

    def sample(self) -> ScaleSample:
        """The lab now, as the agreement counts it."""
        reading = self.watches.read(datetime.now(UTC))
        return ScaleSample(
            time=self.session.talk_time(),
            desired=reading.replicas.desired,  # spec.replicas: what the HPA set, as world.desired
            ready=reading.replicas.ready,
            nodes=tuple(sorted(n.instance_type or "?" for n in reading.nodes.nodes if n.ready)),
            launching=len(reading.nodes.launching),
        )

    def close(self) -> None:
        self.watches.close()


# --- twin vs lab ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    speed: float
    twin: list[ScaleSample]
    lab: list[ScaleSample]
    agreement: Agreement
    setup_s: float
    """Wall seconds from the lab's start to talk second 0 (lab, fleet, up, first replica)."""
    run_s: float
    """Wall seconds the talk and its tail took on the lab."""
    hpa_phase: float | None = None
    """The lab HPA's sync phase on the talk's clock (s), measured; the twin ran at it."""


KARPENTER_FIXED_TIMERS = ("disruption_poll", "consolidation_validation", "pod_event_dedupe")
"""``twin.startup`` fields that are Go constants in Karpenter (the disruption loop's 10 s poll,
the 15 s validation wait, the 10 s pod-event dedupe): the lab cannot divide them by its speed."""


def twin_at_lab_speed(cfg: DemoConfig, speed: float) -> DemoConfig:
    """The config the twin runs in ``compare``: the intervals the lab really runs at ``speed``,
    in talk seconds. Pure.

    - what the lab render divides by ``speed`` is rounded to whole seconds on the way
      (``tubedemo.manifests.lab.compress``: KEDA polling, the HPA behaviour's windows and
      periods, consolidateAfter), so it comes back as ``rounded x speed``, not the original;
    - Karpenter's disruption timers (``KARPENTER_FIXED_TIMERS``) stay at their wall-clock
      value, i.e. ``speed`` times longer in talk time.
    At speed 1 it is ``cfg``.
    """
    from tubedemo.manifests.lab import compress

    if speed == 1:
        return cfg
    lab = compress(cfg, speed)

    def back(rules: HpaRules) -> HpaRules:
        return rules.model_copy(
            update={
                "stabilization": rules.stabilization * speed,
                "policies": [
                    p.model_copy(update={"period": p.period * speed}) for p in rules.policies
                ],
            }
        )

    s = lab.scaling
    scaling = s.model_copy(
        update={
            "polling_interval": s.polling_interval * speed,
            "scrape_interval": s.scrape_interval * speed,
            "cooldown": s.cooldown * speed,
            "scale_up": back(s.scale_up),
            "scale_down": back(s.scale_down),
        }
    )
    pool = lab.gpu_pool.model_copy(
        update={"consolidate_after": lab.gpu_pool.consolidate_after * speed}
    )
    startup = cfg.twin.startup.model_copy(
        update={k: getattr(cfg.twin.startup, k) * speed for k in KARPENTER_FIXED_TIMERS}
    )
    twin = cfg.twin.model_copy(update={"startup": startup})
    return cfg.model_copy(update={"scaling": scaling, "gpu_pool": pool, "twin": twin})


def twin_ensemble(
    cfg: DemoConfig, speed: float, seeds: Sequence[int], phases: int
) -> list[list[ScaleSample]]:
    """The twin at the lab's intervals (``twin_at_lab_speed``) over ``seeds`` x ``phases`` HPA
    phases spread evenly over one sync period: what it predicts for a run whose random draws
    and HPA phase nobody chose, as in the lab and on stage. Pure (about 0.3 s a run)."""
    from tubedemo.twin.simulate import simulate

    base = twin_at_lab_speed(cfg, speed)
    sync = base.twin.hpa.sync_period
    runs: list[list[ScaleSample]] = []
    for k in range(1, phases + 1):
        at_phase = at_hpa_phase(base, sync * k / phases)
        runs.extend(twin_samples(simulate(at_phase, seed=seed)) for seed in seeds)
    return runs


def at_hpa_phase(cfg: DemoConfig, first_sync: float | None) -> DemoConfig:
    """``cfg`` with the HPA's first sync at ``first_sync`` talk seconds (None: unchanged)."""
    if first_sync is None:
        return cfg
    hpa = cfg.twin.hpa.model_copy(update={"first_sync": first_sync})
    return cfg.model_copy(update={"twin": cfg.twin.model_copy(update={"hpa": hpa})})


def lab_samples(
    feed: LabKubeFeed, horizon: float, every: float, stop: Callable[[], bool] = lambda: False
) -> list[ScaleSample]:
    """Sample the lab every ``every`` talk seconds until talk second ``horizon``."""
    session = feed.session
    samples = [feed.sample()]
    k = 1
    while k * every <= horizon and not stop():
        due = session.talk_started + k * every / feed.speed if session.talk_started else 0.0
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        samples.append(feed.sample())
        k += 1
    return samples


def compare(
    cfg: DemoConfig,
    options: SessionOptions,
    report: Callable[[str], None] = print,
    every: float = 1.0,
) -> Comparison:
    """The timeline (talk + ``twin.tail``) through the twin (``simulate``) and the lab, with
    the same load model in both (the fleet runs the twin's k6 VUs and audience), sampled every
    ``every`` talk seconds."""
    from tubedemo.twin.simulate import simulate

    options = replace(options, k6_model=True, audience=True)
    horizon = cfg.talk.duration + cfg.twin.tail
    began = time.monotonic()
    with LabSession(cfg, options, report) as session:
        feed = LabKubeFeed(session)
        try:
            feed.wait_synced()
            session.start_talk()
            setup = time.monotonic() - began
            report(
                f"talk started on the lab after {setup:.0f}s; running {horizon:.0f}s of talk "
                f"time in {horizon / options.speed:.0f}s"
            )
            lab = lab_samples(feed, horizon, every)
            run = time.monotonic() - began - setup
        finally:
            feed.close()
    # The twin with the intervals the lab ran at (Karpenter's fixed timers included) and the
    # HPA's phase the lab's controller happened to have (it syncs every period from the
    # HPA's creation: one sync earlier or later moves a node across a phase end), so a
    # difference is the models', not an artefact of --speed or of the clock.
    phase = hpa_phase(lab, cfg.twin.hpa.sync_period)
    twin_cfg = at_hpa_phase(twin_at_lab_speed(cfg, options.speed), phase)
    twin = twin_samples(simulate(twin_cfg))
    return Comparison(options.speed, twin, lab, agree(cfg, twin, lab), setup, run, phase)


def _wait_healthy(child: Child, url: str) -> None:
    """Return once ``url`` answers 200; fail in one line when the child exits first or
    READY_TIMEOUT passes (its log's last error line says why)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if not child.alive():
            raise ExternalToolError(f"{child.name} exited: {child.last_error()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ExternalToolError(f"{child.name} did not answer {url} within {READY_TIMEOUT:g} s")
        time.sleep(0.1)
