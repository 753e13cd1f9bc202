"""Dashboard: frame render time, the CPU cost of watching a big cluster, event-to-screen latency.

*Render* renders a full frame (``render`` + Rich turning it into terminal text, what Rich Live
does each tick) of a snapshot with 100 GPU nodes and 500 pods and five minutes of history,
against a baseline frame of an empty cluster rendered in the same run.
*Watch* runs the real Kubernetes feed (list + watch of the Deployment, pods, nodes, NodeClaims,
HPA, spot-interruption events) plus scrapes of ten vLLM-style /metrics endpoints against the
local control plane (etcd + kube-apiserver + controller-manager + scheduler +
KWOK, from tests/kube) holding 100 fake GPU nodes and a 500-replica Deployment, assembling and
drawing one frame per second while the Deployment churns; CPU is this process's CPU time over
wall time (one core = 100 %). *Latency* scales the Deployment through the API and times until a
frame drawn by the 1 s tick loop shows the new desired count.
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import Row
from tubedemo.core.config import PriceTable, TimelineConfig
from tubedemo.screen.dashboard import DashboardOptions, StartupMemo, render
from tubedemo.telemetry.assembler import Assembler
from tubedemo.telemetry.cost import priced
from tubedemo.telemetry.snapshot import (
    GpuNode,
    NodeState,
    PerfState,
    PodState,
    QueueState,
    ReplicaState,
    Snapshot,
)

TITLE = "Dashboard: render, watch cost, event-to-screen latency"

NOTES = """
Targets (issue 7): a frame with 100 nodes and 500 pods renders in ≤ 50 ms; watching a cluster
of that size costs ≤ 10 % of one core; a replica change reaches the screen within 1.5 s of the
API event. The render baseline is an empty cluster's frame at the same size in the same run.
The watch and latency rows need the control plane binaries (`nox -s controlplane`); without them
they are reported as not measured.
"""

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def big_snapshot(t: float, nodes: int = 100, pods: int = 500) -> Snapshot:
    gpu = priced(
        PriceTable(),
        [
            GpuNode(
                name=f"ip-10-0-{i // 250}-{i % 250}.ec2.internal",
                instance_type=("g5.2xlarge", "g5.12xlarge")[i % 2],
                capacity_type=("spot", "on-demand")[i % 3 == 0],
                ready=i % 10 != 0,
                age_s=600 + i,
                launch_s=40 + i % 20,
            )
            for i in range(nodes)
        ],
    )
    states = tuple(
        PodState(
            name=f"vllm-7d9f8c6b5-{i:05d}",
            phase="Running" if i % 7 else "Pending",
            ready=i % 7 != 0,
            node=None if i % 7 == 0 else gpu[i % nodes].name,
            created_s_ago=300 + i,
            scheduled_to_ready_s=None if i % 7 == 0 else 90 + i % 60,
            pending_reason="Unschedulable" if i % 7 == 0 else None,
        )
        for i in range(pods)
    )
    return Snapshot(
        time=START + timedelta(seconds=t),
        queue=QueueState(waiting=int(40 + 30 * (t % 60) / 60), running=400, multiplier=50),
        replicas=ReplicaState(desired=pods, ready=pods - pods // 7, pending=pods // 7, pods=states),
        nodes=NodeState(nodes=gpu),
        perf=PerfState(
            requests_per_s=40 + t % 10,
            tokens_per_s=6000,
            ttft_p50_s=0.4,
            ttft_p95_s=2.1,
            e2e_p50_s=5.0,
            e2e_p95_s=9.0,
            kv_cache_usage=0.7,
        ),
    )


def _frame_ms(
    history: list[Snapshot], width: int, height: int, repeats: int, memo: StartupMemo
) -> list[float]:
    """``memo``: the caller's, as the live board keeps one across its frames."""
    options = DashboardOptions()
    out: list[float] = []
    for _ in range(repeats):
        console = Console(
            file=io.StringIO(),
            width=width,
            height=height,
            force_terminal=True,
            color_system="truecolor",
            legacy_windows=False,
        )
        began = time.perf_counter()
        console.print(render(history, width, height, options, memo))
        out.append((time.perf_counter() - began) * 1000)
    return out


def render_rows(quick: bool) -> list[Row]:
    repeats = 15 if quick else 40
    big = [big_snapshot(t) for t in range(0, 300, 1)]
    empty = [Snapshot(time=START)]
    rows = []
    for width, height in ((80, 24), (160, 48)):
        memo = StartupMemo()
        _frame_ms(big, width, height, 3, memo)  # warm-up: imports, the memo
        base = statistics.median(_frame_ms(empty, width, height, repeats, StartupMemo()))
        frames = _frame_ms(big, width, height, repeats, memo)
        median, worst = statistics.median(frames), max(frames)
        rows.append(
            Row(
                metric=f"frame {width}x{height}, 100 nodes + 500 pods + 300 s history (median)",
                value=f"{median:.1f} ms",
                target="≤ 50 ms",
                ok=median <= 50,
                note=f"max {worst:.1f} ms; empty-cluster baseline {base:.1f} ms "
                f"(×{median / base:.1f}); {repeats} frames",
            )
        )
    return rows


# --- against the control plane ------------------------------------------------------------------


def _control_plane() -> Any:
    try:
        from tests.kube.controlplane import ControlPlane, binary_dir
    except ImportError:
        return None
    bindir = binary_dir()
    if bindir is None:
        return None
    plane = ControlPlane(workdir=Path(tempfile.mkdtemp(prefix="bench-dashboard-")), bindir=bindir)
    plane.start()
    return plane


def _populate(api: Any, namespace: str, nodes: int, pods: int, deadline: float) -> None:
    from kubernetes import client

    from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node

    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": namespace}})
    for i in range(nodes):
        node = fake_node(
            f"gpu-{i:03d}",
            {
                "karpenter.sh/nodepool": "tubedemo-gpu",
                "node.kubernetes.io/instance-type": "g5.2xlarge",
                "karpenter.sh/capacity-type": "spot" if i % 3 else "on-demand",
            },
        )
        node["status"]["capacity"]["pods"] = "20"  # type: ignore[index]
        node["status"]["allocatable"]["pods"] = "20"  # type: ignore[index]
        core.create_node(node)
    labels = {"app.kubernetes.io/name": "vllm"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "vllm", "labels": labels},
            "spec": {
                "replicas": pods,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{"name": "vllm", "image": "registry.invalid/vllm:1"}],
                        "nodeSelector": {"karpenter.sh/nodepool": "tubedemo-gpu"},
                        "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                    },
                },
            },
        },
    )
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("vllm", namespace).status
        if (status.ready_replicas or 0) >= pods:
            return
        time.sleep(1.0)
    raise TimeoutError(f"{pods} pods not ready in time")


EXPORTERS = """
import sys, time
from tests.vllm_exporter import FakeEngine
engines = [FakeEngine() for _ in range(10)]
for engine in engines:
    for i in range(200):
        engine.finish(ttft=0.05 * (i % 40), e2e=4.0 + i % 7, tokens=150)
print(" ".join(e.url for e in engines), flush=True)
while True:
    time.sleep(0.1)
    for engine in engines:
        engine.finish(ttft=0.3, e2e=5.0, tokens=150)
"""


def _synced_feed(api: Any, namespace: str) -> Any:
    """The real Kubernetes feed of the namespace, started and listed once."""
    from tubedemo.cluster.watch import KubeWatchFeed

    changed = threading.Event()
    feed = KubeWatchFeed(api, namespace=namespace, on_change=changed.set).start()
    for w in feed.watches:
        w.wait_synced(60)
    return feed


def _start_exporters() -> tuple[subprocess.Popen[str], list[str]]:
    """Ten vLLM replicas' /metrics (real prometheus_client servers with vLLM's metric names and
    histograms), served by another process so only the dashboard's CPU is measured; their URLs."""
    exporters = subprocess.Popen(
        [sys.executable, "-c", EXPORTERS],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert exporters.stdout is not None
    return exporters, exporters.stdout.readline().split()


def _assembler(feed: Any, metrics: Any, urls: list[str]) -> Assembler:
    """The live board's assembler over the cluster feed and the exporters' /metrics."""
    from tubedemo.telemetry.assembler import MetricsTarget

    return Assembler(
        multiplier=50,
        prices=PriceTable(),
        timeline=TimelineConfig(),
        talk_duration=1800,
        talk_start=datetime.now(UTC),
        kube=feed,
        metrics=metrics,
        static_targets=tuple(
            MetricsTarget(name=f"vllm-{i}", url=url) for i, url in enumerate(urls)
        ),
    )


class _FrameLoop:
    """The same shape as tubedemo.screen.watching.watch_live: one frame per 1 s tick, drawn into
    a 160x48 console; ``shown`` records when each frame was drawn and the desired count it
    showed."""

    def __init__(self, assembler: Assembler) -> None:
        self.assembler = assembler
        self.history: list[Snapshot] = []
        self.shown: list[tuple[float, int]] = []  # (monotonic time a frame was drawn, desired)
        self.console = Console(file=io.StringIO(), width=160, height=48, force_terminal=True)
        self.memo = StartupMemo()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            snap = self.assembler.tick(datetime.now(UTC))
            self.history.append(snap)
            del self.history[:-300]
            self.console.file = io.StringIO()
            self.console.print(render(self.history, 160, 48, DashboardOptions(), self.memo))
            self.shown.append((time.monotonic(), snap.replicas.desired))
            next_tick += 1.0
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _cpu_while_churning(
    frames: _FrameLoop, apps: Any, namespace: str, pods: int, seconds: int
) -> float:
    """Starts the frame loop and returns this process's CPU (% of one core) over a bounded window
    while the Deployment churns ±5 replicas every 5 s."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    frames.start()
    for i in range(seconds // 5):
        apps.patch_namespaced_deployment_scale(
            "vllm", namespace, {"spec": {"replicas": pods - 5 * (i % 2 == 0)}}
        )
        time.sleep(5)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100


def _replica_change_latencies(
    frames: _FrameLoop, apps: Any, namespace: str, pods: int, changes: int
) -> list[float]:
    """Seconds from each API write of a new desired count to the first frame showing it (inf when
    none did within 10 s)."""
    latencies = []
    desired = pods
    for _ in range(changes):
        desired = desired + 1
        time.sleep(0.37)  # land at varied points of the tick
        apps.patch_namespaced_deployment_scale("vllm", namespace, {"spec": {"replicas": desired}})
        written = time.monotonic()
        deadline = written + 10
        seen = None
        while time.monotonic() < deadline and seen is None:
            seen = next((t for t, d in list(frames.shown) if t >= written and d == desired), None)
            time.sleep(0.02)
        latencies.append((seen - written) if seen is not None else float("inf"))
    return latencies


def cluster_rows(quick: bool) -> list[Row]:
    nodes, pods = (20, 100) if quick else (100, 500)
    plane = _control_plane()
    if plane is None:
        return [
            Row(
                "watch CPU / event-to-screen latency",
                "not measured",
                "",
                None,
                "control plane binaries not built (nox -s controlplane)",
            )
        ]
    from kubernetes import client, config

    from tubedemo.telemetry.http_sources import HttpMetricsFeed

    rows: list[Row] = []
    exporters: subprocess.Popen[str] | None = None
    try:
        api = config.new_client_from_config(config_file=str(plane.kubeconfig))
        namespace = "bench"
        setup_started = time.monotonic()
        _populate(api, namespace, nodes, pods, time.monotonic() + 600)
        setup = time.monotonic() - setup_started
        apps = client.AppsV1Api(api)
        feed = _synced_feed(api, namespace)
        exporters, urls = _start_exporters()
        metrics = HttpMetricsFeed(timeout=2.0)
        frames = _FrameLoop(_assembler(feed, metrics, urls))

        seconds = 10 if quick else 30
        cpu = _cpu_while_churning(frames, apps, namespace, pods, seconds)
        ready = feed.read(datetime.now(UTC)).replicas
        rows.append(
            Row(
                metric=f"watch + scrape 10 vLLM + assemble + draw, {nodes} nodes + {pods} pods",
                value=f"{cpu:.1f} % of one core",
                target="≤ 10 %",
                ok=cpu <= 10,
                note=f"{seconds} s with the Deployment churning ±5 replicas every 5 s; "
                f"feed saw {ready.ready} ready pods; cluster setup {setup:.0f} s",
            )
        )

        latencies = _replica_change_latencies(frames, apps, namespace, pods, 3 if quick else 6)
        frames.stop()
        feed.close()
        metrics.close()
        worst = max(latencies)
        rows.append(
            Row(
                metric="replica change: API write → frame on screen (worst)",
                value=f"{worst:.2f} s",
                target="≤ 1.5 s",
                ok=worst <= 1.5,
                note=f"median {statistics.median(latencies):.2f} s over {len(latencies)} changes; "
                "1 s tick",
            )
        )
    finally:
        if exporters is not None:
            exporters.terminate()
            exporters.wait(10)
        plane.stop()
        shutil.rmtree(plane.workdir, ignore_errors=True)
    return rows


def run(quick: bool = False) -> list[Row]:
    return render_rows(quick) + cluster_rows(quick)
