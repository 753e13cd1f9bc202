"""The dashboard's Kubernetes feed against a real API server, controller-manager, scheduler and
KWOK: Deployments scale, fake GPU nodes come and go, NodeClaims launch, the API server dies and
comes back, and the feed follows without being restarted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from tests.cli import tubedemo
from tests.kube.controlplane import FAKE_NODE_ANNOTATION, fake_node
from tests.kube.fixtures import Kube
from tubedemo.cluster.watch import KubeWatchFeed, ResourceWatch
from tubedemo.telemetry.assembler import KubeReading

POOL = "tubedemo-gpu"


def _until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _gpu_node(name: str, capacity: str = "spot", kind: str = "g5.2xlarge") -> dict[str, Any]:
    return fake_node(
        name,
        {
            "karpenter.sh/nodepool": POOL,
            "node.kubernetes.io/instance-type": kind,
            "karpenter.sh/capacity-type": capacity,
        },
    )


def _deployment(namespace: str, replicas: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "vllm"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "vllm", "image": "registry.invalid/vllm:1"}],
                    "nodeSelector": {"karpenter.sh/nodepool": POOL},
                    "tolerations": [{"key": FAKE_NODE_ANNOTATION, "operator": "Exists"}],
                },
            },
        },
    }


@pytest.fixture
def nodes(kube: Kube) -> Iterator[Callable[..., str]]:
    core = client.CoreV1Api(kube.api_client())
    made: list[str] = []

    def make(capacity: str = "spot", kind: str = "g5.2xlarge") -> str:
        name = f"gpu-{uuid.uuid4().hex[:8]}"
        kube.apply(_gpu_node(name, capacity, kind))
        made.append(name)
        return name

    yield make
    for name in made:
        try:
            core.delete_node(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def feed(kube: Kube, namespace: str) -> Iterator[KubeWatchFeed]:
    f = KubeWatchFeed(
        kube.api_client(), namespace=namespace, nodepool=POOL, max_replicas=10, backoff_max=1.0
    ).start()
    for w in f.watches:
        assert w.wait_synced(30), f"{w.path} never synced: {w.view().error}"
    yield f
    f.close()


def _read(feed: KubeWatchFeed) -> KubeReading:
    return feed.read(datetime.now(UTC))


def test_scaling_a_deployment_shows_desired_ready_and_per_pod_startup(
    kube: Kube, namespace: str, feed: KubeWatchFeed, nodes: Callable[..., str]
) -> None:
    node_names = {nodes(), nodes("on-demand")}
    kube.apply(_deployment(namespace, 1), namespace)
    r = _until("one ready replica", lambda: (x := _read(feed)).replicas.ready == 1 and x)
    assert r.replicas.desired == 1 and not r.replicas.stale
    pod = r.replicas.pods[0]
    assert pod.ready and pod.node in node_names
    assert pod.scheduled_to_ready_s is not None and pod.scheduled_to_ready_s >= 0
    assert [t.name for t in r.targets] == [pod.name]  # ready pods are scraped

    apps = client.AppsV1Api(kube.api_client())
    apps.patch_namespaced_deployment_scale("vllm", namespace, {"spec": {"replicas": 3}})
    r = _until("three ready", lambda: (x := _read(feed)).replicas.ready == 3 and x)
    assert r.replicas.desired == 3 and r.replicas.pending == 0 and len(r.targets) == 3

    apps.patch_namespaced_deployment_scale("vllm", namespace, {"spec": {"replicas": 1}})
    _until("back to one pod", lambda: len(_read(feed).replicas.pods) == 1)


def test_unschedulable_pods_are_pending_with_their_reason(
    kube: Kube, namespace: str, feed: KubeWatchFeed
) -> None:
    deployment = _deployment(namespace, 2)
    deployment["spec"]["template"]["spec"]["nodeSelector"] = {"no-such": "node"}
    kube.apply(deployment, namespace)
    r = _until(
        "two unschedulable pods",
        lambda: (
            (x := _read(feed)).replicas.pending == 2
            and all(p.pending_reason == "Unschedulable" for p in x.replicas.pods)
            and x
        ),
    )
    assert r.replicas.ready == 0 and r.targets == ()


def test_gpu_nodes_of_the_pool_appear_with_type_capacity_and_leave_when_deleted(
    kube: Kube, feed: KubeWatchFeed, nodes: Callable[..., str]
) -> None:
    spot = nodes("spot", "g5.2xlarge")
    od = nodes("on-demand", "g5.12xlarge")
    cpu = f"cpu-{uuid.uuid4().hex[:6]}"
    kube.apply(fake_node(cpu))  # not in the pool: ignored
    r = _until(
        "both GPU nodes ready",
        lambda: (
            (x := _read(feed)).nodes.ready_count >= 2
            and {spot, od} <= {n.name for n in x.nodes.nodes if n.ready}
            and x
        ),
    )
    by_name = {n.name: n for n in r.nodes.nodes}
    assert (by_name[spot].capacity_type, by_name[spot].instance_type) == ("spot", "g5.2xlarge")
    assert (by_name[od].capacity_type, by_name[od].instance_type) == ("on-demand", "g5.12xlarge")
    assert all(n.name.startswith("gpu-") for n in r.nodes.nodes)

    client.CoreV1Api(kube.api_client()).delete_node(spot)
    client.CoreV1Api(kube.api_client()).delete_node(cpu)
    _until("spot node gone", lambda: spot not in {n.name for n in _read(feed).nodes.nodes})


def test_nodeclaims_show_as_launching_until_their_node_is_ready(
    kube: Kube, feed: KubeWatchFeed, nodes: Callable[..., str]
) -> None:
    name = f"claim-{uuid.uuid4().hex[:6]}"
    claim = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": {
                "karpenter.sh/nodepool": POOL,
                "karpenter.sh/capacity-type": "spot",
                "node.kubernetes.io/instance-type": "g5.2xlarge",
            },
        },
        "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "x"},
            "requirements": [
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}
            ],
        },
    }
    kube.apply(claim)
    custom = client.CustomObjectsApi(kube.api_client())
    try:
        r = _until(
            "claim launching",
            lambda: any(c.name == name for c in _read(feed).nodes.launching) and _read(feed),
        )
        launching = next(c for c in r.nodes.launching if c.name == name)
        assert (launching.stage, launching.capacity_type) == ("pending", "spot")

        node = nodes("spot")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        custom.patch_cluster_custom_object_status(
            "karpenter.sh",
            "v1",
            "nodeclaims",
            name,
            {
                "status": {
                    "nodeName": node,
                    "conditions": [
                        {
                            "type": "Launched",
                            "status": "True",
                            "reason": "Launched",
                            "message": "",
                            "lastTransitionTime": now,
                        },
                    ],
                }
            },
        )
        r = _until(
            "claim bound to a ready node",
            lambda: (
                (x := _read(feed)).nodes.ready_count >= 1
                and all(c.name != name for c in x.nodes.launching)
                and x
            ),
        )
        launched = {n.name: n for n in r.nodes.nodes}[node]
        assert launched.launch_s is not None and launched.launch_s >= 0
    finally:
        custom.delete_cluster_custom_object("karpenter.sh", "v1", "nodeclaims", name)


def test_hpa_reports_bounds_target_and_why_it_cannot_scale(
    kube: Kube, namespace: str, feed: KubeWatchFeed
) -> None:
    kube.apply(_deployment(namespace, 1), namespace)
    kube.apply(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-vllm", "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "External",
                        "external": {
                            "metric": {"name": "s0-queue"},
                            "target": {"type": "AverageValue", "averageValue": "50"},
                        },
                    }
                ],
            },
        },
        namespace,
    )
    r = _until("the HPA", lambda: (x := _read(feed)).hpa.max == 10 and x)
    assert (r.hpa.min, r.hpa.target) == (1, 50.0) and not r.hpa.stale
    # no external metrics API here: the real HPA controller says it cannot read the metric,
    # which is exactly what the stage needs to see when the scaler is down
    r = _until("the controller's verdict", lambda: (x := _read(feed)).hpa.problem and x)
    assert r.hpa.problem == "FailedGetExternalMetric"


def test_feed_survives_the_api_server_dying_and_recovers_by_itself(
    kube: Kube, namespace: str, feed: KubeWatchFeed
) -> None:
    if kube.control_plane is None:
        pytest.skip("needs the local control plane to stop and start the API server")
    apps = client.AppsV1Api(kube.api_client())
    kube.apply(_deployment(namespace, 1), namespace)
    _until("deployment seen", lambda: _read(feed).replicas.desired == 1)

    kube.control_plane.stop_component("kube-apiserver")
    try:
        down = _until(
            "the feed to notice",
            lambda: (x := feed.read(datetime.now(UTC))).replicas.stale and x,
            timeout=30,
        )
        assert down.replicas.desired == 1  # last known values stay on screen
        assert down.replicas.error
    finally:
        kube.control_plane.start_component("kube-apiserver")

    apps.patch_namespaced_deployment_scale("vllm", namespace, {"spec": {"replicas": 2}})
    back = _until(
        "the change after the restart",
        lambda: (x := _read(feed)).replicas.desired == 2 and not x.replicas.stale and x,
        timeout=60,
    )
    assert back.replicas.error is None
    # How it got back is the restarted API server's timing, not the feed's choice (three runs:
    # resumed its watch once, listed again after a 410 twice), so no assertion says which.


@pytest.mark.old_control_plane
def test_a_too_old_resource_version_gets_410_and_a_relist(kube: Kube, namespace: str) -> None:
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    watch = ResourceWatch(kube.api_client(), f"/api/v1/namespaces/{namespace}/configmaps")
    watch._version = "1"  # resume from a version the server compacted long ago
    watch.start()
    try:
        _until(
            "a relist after 410 Gone", lambda: watch.view().relists >= 1 and watch.view().healthy
        )
        names = {o["metadata"]["name"] for o in watch.view().objects}
        assert "a" in names
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
        _until(
            "the next event", lambda: "b" in {o["metadata"]["name"] for o in watch.view().objects}
        )
    finally:
        watch.stop()


def test_missing_karpenter_api_is_an_empty_synced_collection(kube: Kube) -> None:
    watch = ResourceWatch(kube.api_client(), "/apis/karpenter.sh/v1/nosuchthings").start()
    try:
        _until("synced", lambda: watch.view().healthy)
        assert watch.view().objects == () and watch.view().error is None
    finally:
        watch.stop()


def _one_ready_replica_on_a_spot_node(
    kube: Kube, namespace: str, nodes: Callable[..., str]
) -> None:
    """A spot GPU node and a one-replica deployment, once its pod is Ready."""
    nodes("spot")
    kube.apply(_deployment(namespace, 1), namespace)
    core = client.CoreV1Api(kube.api_client())
    _until(
        "a ready pod",
        lambda: any(
            c.type == "Ready" and c.status == "True"
            for p in core.list_namespaced_pod(namespace).items
            for c in (p.status.conditions or [])
        ),
    )


def test_watch_command_records_the_cluster_and_draws_it(
    kube: Kube, namespace: str, nodes: Callable[..., str], tmp_path: Any
) -> None:
    from tubedemo.telemetry.recording import read_recording

    _one_ready_replica_on_a_spot_node(kube, namespace, nodes)
    record = tmp_path / "talk.jsonl"
    done = tubedemo(
        "watch", "--kubeconfig", str(kube.kubeconfig), "--namespace", namespace,
        "--gateway-url", "http://127.0.0.1:9", "--set", "dashboard.tick=0.5",
        "--frames", "6", "--record", str(record),
        env={"COLUMNS": "80", "LINES": "24", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = read_recording(record).snapshots[-1]
    assert (last.replicas.desired, last.replicas.ready) == (1, 1) and not last.replicas.stale
    assert last.nodes.ready_count >= 1 and last.cost.per_hour > 0
    # KWOK pods run no vLLM: the pod-proxy scrape reaches the API server and fails there,
    # which the dashboard shows as stale metrics instead of crashing
    assert last.queue.stale and last.queue.error
    assert "1 ready 1 desired" in done.stdout


def test_show_on_a_cluster_draws_replicas_and_nodes_as_watch_does(
    kube: Kube, namespace: str, nodes: Callable[..., str], tmp_path: Any
) -> None:
    import yaml

    from tests.terminal import ANSI, in_terminal
    from tubedemo.telemetry.recording import read_recording

    _one_ready_replica_on_a_spot_node(kube, namespace, nodes)
    config = tmp_path / "demo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cluster": {"namespace": namespace},
                "gpu_pool": {"name": POOL},
                "talk": {"duration": 4},
                "timeline": {"phases": [{"name": "warm-up", "at": 0, "duration": 4}]},
                "dashboard": {"tick": 0.5},
            }
        )
    )
    record = tmp_path / "talk.jsonl"
    raw, _, code = in_terminal(
        "show",
        "-c",
        str(config),
        "--kubeconfig",
        str(kube.kubeconfig),
        "--mode-via",
        "none",
        "--gateway-url",
        "http://127.0.0.1:9",
        "--record",
        str(record),
        "--kube",
        timeout=60,
    )
    assert code == 0, raw
    last = read_recording(record).snapshots[-1]
    assert (last.replicas.desired, last.replicas.ready) == (1, 1) and not last.replicas.stale
    assert last.nodes.ready_count >= 1 and not last.nodes.stale
    assert last.cost.per_hour > 0
    screen = ANSI.sub("", raw)
    assert "1 ready 1 desired" in screen
    assert "g5.2xlarge" in screen


def test_watch_with_an_unusable_kubeconfig_is_one_line(tmp_path: Any) -> None:
    done = tubedemo("watch", "--kubeconfig", str(tmp_path / "none"), "--frames", "1", timeout=60)
    assert done.returncode == 5 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "kubeconfig" in done.stderr


def test_a_spot_interruption_event_marks_the_node_and_reaches_the_ticker(
    kube: Kube, feed: KubeWatchFeed, nodes: Callable[..., str]
) -> None:
    from tubedemo.telemetry.events import derive_events
    from tubedemo.telemetry.snapshot import Snapshot

    node = nodes("spot")
    before = _until(
        "the node",
        lambda: (
            (x := _read(feed)).nodes.ready_count >= 1
            and any(n.name == node for n in x.nodes.nodes)
            and x
        ),
    )
    core = client.CoreV1Api(kube.api_client())
    # what Karpenter's AWS provider records (reason SpotInterrupted, on the Node, in default)
    event = core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": f"{node}.spot-{uuid.uuid4().hex[:6]}"},
            "involvedObject": {"kind": "Node", "name": node, "apiVersion": "v1"},
            "reason": "SpotInterrupted",
            "message": "Spot interruption warning was triggered",
            "type": "Warning",
            "firstTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": {"component": "karpenter"},
        },
    )
    try:
        after = _until(
            "the node marked interrupted",
            lambda: (
                (x := _read(feed))
                and any(n.name == node and n.disruption == "interrupted" for n in x.nodes.nodes)
                and x
            ),
        )
        t0 = datetime.now(UTC)
        events = derive_events(
            Snapshot(time=t0, nodes=before.nodes), Snapshot(time=t0, nodes=after.nodes)
        )
        assert [e.kind for e in events] == ["spot_interruption"]
        assert node in events[0].message
    finally:
        core.delete_namespaced_event(event.metadata.name, "default")


def test_pod_proxy_scrape_reaches_the_pod_address_through_the_api_server(
    kube: Kube, namespace: str
) -> None:
    """The API server routes our proxy request to the pod's IP and port. Here the pod's IP is
    loopback (the only network these tests may use) and the API server refuses to proxy to
    loopback by design, so the answer is its 'address not allowed': proof that path, pod and
    port were understood, and that the failure reaches the screen as one line."""
    from tubedemo.core.errors import ClusterError
    from tubedemo.telemetry.assembler import MetricsTarget

    core = client.CoreV1Api(kube.api_client())
    node = f"plain-{uuid.uuid4().hex[:6]}"
    core.create_node({"metadata": {"name": node}})  # no KWOK: nobody rewrites the pod status
    try:
        core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": "vllm-x"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
            },
        )
        core.patch_namespaced_pod_status(
            "vllm-x",
            namespace,
            {"status": {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}},
        )
        feed = KubeWatchFeed(kube.api_client(), namespace=namespace)
        with pytest.raises(
            ClusterError, match=r"pod proxy vllm-x:8000: HTTP 400 address not allowed"
        ):
            feed.fetch_metrics(MetricsTarget(name="vllm-x", namespace=namespace, port=8000), 3.0)
        with pytest.raises(ClusterError, match=r"HTTP 404"):
            feed.fetch_metrics(MetricsTarget(name="no-such-pod", namespace=namespace), 3.0)
    finally:
        core.delete_node(node)


def test_direct_scrape_reads_the_queue_of_every_ready_pod_the_watch_found(
    kube: Kube, namespace: str
) -> None:
    """metrics_via=direct: targets come from the pod watch (ready pods and their IPs), the scrape
    goes to each pod's address. The pod's IP is loopback, where a real exporter serves vLLM's
    metric names."""
    from tests.vllm_exporter import FakeEngine
    from tubedemo.core.config import PriceTable, TimelineConfig
    from tubedemo.telemetry.assembler import Assembler
    from tubedemo.telemetry.http_sources import HttpMetricsFeed

    engine = FakeEngine()
    engine.set(waiting=6)
    core = client.CoreV1Api(kube.api_client())
    node = f"plain-{uuid.uuid4().hex[:6]}"
    core.create_node({"metadata": {"name": node}})
    labels = {"app.kubernetes.io/name": "vllm"}
    feed = KubeWatchFeed(
        kube.api_client(),
        namespace=namespace,
        metrics_port=engine.server.server_port,
        metrics_direct=True,
    ).start()
    metrics = HttpMetricsFeed(timeout=2.0)
    try:
        core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": "vllm-0", "labels": labels},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
            },
        )
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        core.patch_namespaced_pod_status(
            "vllm-0",
            namespace,
            {
                "status": {
                    "phase": "Running",
                    "podIP": "127.0.0.1",
                    "podIPs": [{"ip": "127.0.0.1"}],
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                        {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    ],
                }
            },
        )
        assembler = Assembler(
            multiplier=50,
            prices=PriceTable(),
            timeline=TimelineConfig(),
            talk_duration=1800,
            talk_start=datetime.now(UTC),
            kube=feed,
            metrics=metrics,
        )
        snap = _until(
            "the pod's queue on the dashboard",
            lambda: (x := assembler.tick(datetime.now(UTC))).queue.waiting == 6 and x,
        )
        assert snap.virtual_commuters == 300 and not snap.queue.stale
        assert snap.replicas.ready == 1 and snap.perf.pods_scraped == 1
    finally:
        metrics.close()
        feed.close()
        engine.close()
        core.delete_node(node)
