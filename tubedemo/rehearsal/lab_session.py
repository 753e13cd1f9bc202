"""The talk's autoscaling loop on the lab, up and warm: the real KEDA, HPA controller,
Karpenter (KWOK provider) and scheduler decide, the fleet simulator serves one engine per Ready
pod. ``LabSession`` is the shared part of ``tubedemo rehearse --lab``, ``tubedemo lab compare``
and the lab's tests:

1. the lab (``tubedemo.lab.Lab``) starts at ``speed`` N: the control plane, KEDA,
   Karpenter, KWOK stages with ``twin.startup``'s delays, all divided by N;
2. the fleet simulator starts as a child (``python -m tubedemo.rehearsal.server --kubeconfig``)
   at the same speed, watching the vLLM pods and serving each Ready pod's vLLM metrics;
3. the metric path, as on EKS: the real OpenTelemetry Collector (scripts/build-otelcol) runs
   the lab's wiring of the rendered collector config (``tubedemo.lab.variant``): it
   discovers the vLLM pods through the API server, scrapes each at the fleet, renames vllm:*
   to vllm_* and ships OTLP to the scaler stand-in (``tubedemo.rehearsal.scaler_standin``, in
   place of the Kedify scaler), whose ``/metrics`` KEDA's ``metrics-api`` trigger reads. When
   the collector is not built, KEDA reads the fleet's own summed ``/metrics`` instead (said
   at start-up);
4. ``support_objects`` (``tubedemo.lab.objects``: a node for the non-GPU pods, a volume for the
   gateway's claim) and the ``lab`` render (``tubedemo.lab.variant.render_lab``: the EKS
   render, KWOKNodeClass and the metrics-api trigger, intervals divided by N) are applied with
   ``tubedemo up``'s own code, which waits for the rollouts, the first vLLM replica on a
   Karpenter node included; then the rendered deletion-cost loop (``gateway.deletion_cost``,
   scaling.deletion_cost: node_price) runs here as a process with its ServiceAccount's token,
   as its Deployment does on EKS;
5. ``start_talk()`` makes "now" talk second 0 for the fleet's simulated load.

The dashboard's feed of a session is ``tubedemo.rehearsal.lab_feed``; the twin against it,
``tubedemo.rehearsal.twin_vs_lab``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tubedemo.cluster import scaler_tls
from tubedemo.core.config import DemoConfig
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import ExternalToolError
from tubedemo.core.processes import Child, free_port, wait_ready
from tubedemo.rehearsal.children import READY_TIMEOUT, fleet_argv, start_fleet
from tubedemo.twin.startup import resolved_startup

DELETION_COST = "tubedemo-deletion-cost"
"""The rendered Deployment (templates/deletion-cost.yaml.j2) whose program the lab runs here."""


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
        """``lab``: a running ``tubedemo.lab.Lab`` to use (its speed must be
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
        self.deletion_cost: Child | None = None
        """gateway.deletion_cost as a process (scaling.deletion_cost: node_price)."""
        self.standin_url = ""
        """The scaler stand-in's base URL; empty when KEDA reads the fleet directly."""
        self._wiring: Any = None
        self.kubeconfig: Path | None = None
        self.talk_started: float | None = None
        """time.monotonic() at talk second 0."""

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> LabSession:
        from tubedemo.lab import Lab, LabError, LabOptions

        cfg, opt = self.cfg, self.opt
        opt.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.lab is None:
                self.lab = Lab(
                    LabOptions(
                        workdir=opt.workdir,
                        speed=opt.speed,
                        startup=resolved_startup(cfg),
                        prices=cfg.prices,
                        hpa=cfg.twin.hpa,
                    )
                )
                self.report(f"lab: starting at speed {opt.speed:g}x in {opt.workdir}")
                self.lab.start(progress=lambda what: self.report(f"lab: {what}"))
                self.report(f"lab: up in {self.lab.started_in:.0f}s")
            elif self.lab.options.speed != opt.speed:
                raise LabError(f"the lab runs at {self.lab.options.speed:g}x, not {opt.speed:g}x")
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
        argv = fleet_argv(
            speed=opt.speed,
            # the effective config (file + --set, or one built in code), so the fleet's
            # engines, load and metric names are the ones this session renders
            config=self._write_config(),
            audience=opt.audience,
            k6_model=opt.k6_model,
            kubeconfig=self.kubeconfig,
            namespace=self.cfg.cluster.namespace,
        )
        self.fleet, self.fleet_url = start_fleet(argv, opt.out_dir / "fleet.log")
        self.report(
            f"fleet: {self.fleet_url} (each Ready pod's vLLM metrics at /pods/<pod>/metrics)"
        )

    def _start_metric_path(self) -> None:
        """Scaler stand-in, then the collector on the lab wiring of the rendered config."""
        from tubedemo.lab import binaries
        from tubedemo.lab.variant import CollectorWiring

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
            # the rendered metricQuery of every trigger (the heartbeat's count included)
            *[f"--query={q}" for q in dict.fromkeys(scaling.trigger_queries.values())],
            # a series not refreshed for 3 scrapes is gone (the staleness marker usually
            # says so first)
            f"--retention={3 * wall_scrape:g}",
            # OTLP over TLS, as the Kedify scaler serves it on EKS, so the collector's TLS
            # settings are exercised here too
            *_standin_tls(opt.out_dir / "scaler-tls"),
        ]
        standin = Child(
            "scaler stand-in", argv, opt.out_dir / "scaler-standin.log", announce=True
        ).start()
        self.standin = standin
        otlp_port, http_port = standin.read_line("PORTS ", READY_TIMEOUT).split()[1:3]
        self.standin_url = f"http://127.0.0.1:{http_port}"
        assert self.kubeconfig is not None
        self._wiring = CollectorWiring(
            fleet=self.fleet_url.removeprefix("http://"),
            otlp_endpoint=f"127.0.0.1:{otlp_port}",
            kubeconfig=str(self.kubeconfig),
            health_endpoint=f"127.0.0.1:{free_port()}",
            otlp_ca_file=str(opt.out_dir / "scaler-tls" / scaler_tls.CA_FILE),
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
        wait_ready(health, what="otel collector", children=[collector], timeout=READY_TIMEOUT)
        if scaling.heartbeat_trigger is not None:
            # Until the collector's first export, the heartbeat trigger counts 0 collectors and
            # the formula holds fallback.replicas: a ScaledObject applied then scales vLLM up
            # and Karpenter launches a GPU node nobody asked for (seen in CI under load).
            wait_ready(
                self._heartbeat_arrived,
                what="the collector's heartbeat at the scaler stand-in",
                children=[collector, standin],
                timeout=READY_TIMEOUT,
            )
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
        from tubedemo.lab.variant import render_lab

        return render_lab(
            self.cfg,
            speed=self.opt.speed,
            queue_url=self.queue_url,
            collector=self._wiring,
            # the forecast trigger (scaling.proactive: timeline) reads the fleet, which keeps
            # the talk's clock as `tubedemo show` keeps the gateway's on EKS
            forecast_url=f"{self.fleet_url}/forecast",
        )

    def _up(self) -> None:
        from tubedemo.cluster.api import connect
        from tubedemo.cluster.up import up

        assert self.kubeconfig is not None
        api = connect(self.kubeconfig, None)
        from tubedemo.lab import support_objects

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
        self._start_deletion_cost(api)
        self._wait_serving(self.cfg.scaling.min_replicas)

    def _start_deletion_cost(self, api: Any) -> None:
        """The rendered deletion-cost loop (cheap survivors), run here as the program its
        Deployment runs on EKS, with its ServiceAccount's token: a pod on a KWOK node runs no
        process. A pass every second: a pod is annotated long before a scale-down picks it."""
        deployment = next(
            (
                o
                for o in self.manifests()
                if o["kind"] == "Deployment" and o["metadata"]["name"] == DELETION_COST
            ),
            None,
        )
        if deployment is None:  # scaling.deletion_cost: off
            return
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        ns = self.cfg.cluster.namespace
        answer = api.request(
            "POST",
            f"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token",
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 24 * 3600},
            },
        )
        token = self.opt.out_dir / "deletion-cost.token"
        token.touch(mode=0o600)
        token.write_text(answer["status"]["token"])
        config = api.client.configuration
        argv = [
            sys.executable,
            "-m",
            "gateway.deletion_cost",
            *container["args"],
            f"--api={config.host}",
            f"--token-file={token}",
            f"--ca-file={config.ssl_ca_cert}",
            "--interval=1",
        ]
        self.deletion_cost = Child(
            "deletion cost", argv, self.opt.out_dir / "deletion-cost.log"
        ).start()
        self.report(f"deletion cost: {DELETION_COST} runs here as {account}")

    def _wait_serving(self, count: int) -> None:
        assert self.fleet is not None
        wait_ready(
            lambda: len(self.fleet_state().get("targets") or []) >= count,
            what=f"the fleet serving {count} engine(s) for the lab's Ready pods",
            children=[self.fleet],
            timeout=READY_TIMEOUT,
        )

    def _heartbeat_arrived(self) -> bool:
        """The stand-in counts at least one live collector (the heartbeat trigger's answer)."""
        from prometheus_client.parser import text_string_to_metric_families

        from tubedemo.core.config.scaling import HEARTBEAT_LABEL, HEARTBEAT_METRIC

        key, value = HEARTBEAT_LABEL
        text = httpx.get(self.queue_url, timeout=5).text
        return any(
            s.name == HEARTBEAT_METRIC and s.labels.get(key) == value and s.value >= 1
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        )

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
        for child in (self.deletion_cost, self.collector, self.standin):
            if child is not None:
                codes[child.name] = child.stop()
        self.deletion_cost = self.collector = self.standin = None
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


def _standin_tls(folder: Path) -> list[str]:
    """A CA and a certificate for the stand-in on loopback, written to ``folder``; the stand-in's
    TLS flags."""
    made = scaler_tls.issue(["localhost"], ip_addresses=["127.0.0.1"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in made.secret_data().items():
        path = folder / name
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    cert, key = paths[scaler_tls.CERT_FILE], paths[scaler_tls.KEY_FILE]
    return [f"--tls-cert={cert}", f"--tls-key={key}"]
