"""Watches of the objects the dashboard shows, and vLLM /metrics through the pod proxy.

Each ``ResourceWatch`` lists a collection, remembers its resourceVersion and watches from there
(with bookmarks), in its own thread. A watch that ends is resumed from the last version; 410 Gone
(the version is too old, e.g. after an API server restart) means list again; any other failure
backs off exponentially (capped) and retries forever. The dashboard reads the latest objects
without blocking, and how fresh they are.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client

from tubedemo.cluster.errors import status_message
from tubedemo.cluster.gateway_proxy import proxy_path
from tubedemo.cluster.startup_logs import StartupLogs
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError, brief
from tubedemo.telemetry.assembler import Freshness, KubeReading, MetricsTarget
from tubedemo.telemetry.kube_view import (
    hpa_for,
    hpa_state,
    interrupted_names,
    metrics_targets,
    node_state,
    replica_state,
)
from tubedemo.telemetry.prometheus import parse_forecast
from tubedemo.telemetry.snapshot import Sampled

WATCH_SECONDS = 60
"""Server-side timeout of one watch request; the watch then resumes from its last version."""


class Gone(Exception):
    """The API server no longer has our resourceVersion (HTTP 410): relist."""


class NotInstalled(Exception):
    """The collection's API does not exist (404), e.g. no Karpenter in a local cluster."""


@dataclass(frozen=True)
class WatchView:
    """What one watch knows now."""

    objects: tuple[dict[str, Any], ...]
    healthy: bool
    """Listed and streaming right now."""
    last_ok: datetime | None
    """When it was last known to be in sync (now, while healthy)."""
    error: str | None
    relists: int
    events: int


def _failure(exc: BaseException) -> str:
    if isinstance(exc, k8s_client.ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return brief(exc, limit=160)


class ResourceWatch:
    """List + watch one collection path, e.g. ``/api/v1/namespaces/demo/pods``."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        backoff_max: float = 10.0,
        watch_seconds: int = WATCH_SECONDS,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.path = path
        self.selectors = {
            k: v
            for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector))
            if v
        }
        self.backoff_max = backoff_max
        self.watch_seconds = watch_seconds
        self.on_change = on_change
        self.clock = clock
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Any]] = {}
        self._version: str | None = None
        self._healthy = False
        self._last_ok: datetime | None = None
        self._error: str | None = None
        self._relists = 0
        self._events = 0
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    # -- public ----------------------------------------------------------------------------

    def start(self) -> ResourceWatch:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the thread to end and cut its open stream; returns at once."""
        self._stop.set()
        self._abort_stream()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        self._thread.join(timeout)

    def view(self) -> WatchView:
        with self._lock:
            return WatchView(
                objects=tuple(self._objects.values()),
                healthy=self._healthy,
                last_ok=self.clock() if self._healthy else self._last_ok,
                error=self._error,
                relists=self._relists,
                events=self._events,
            )

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.view().healthy:
                return True
            time.sleep(0.05)
        return False

    # -- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if self._version is None:
                    self._list()
                self._watch()
                failures = 0
            except Gone:
                with self._lock:
                    self._version = None  # too old: list again, no backoff needed
            except NotInstalled:
                # nothing to watch (yet): an empty, in-sync collection; look again later
                with self._lock:
                    self._objects.clear()
                    self._version = None
                    self._healthy, self._last_ok, self._error = True, self.clock(), None
                self._notify()
                self._stop.wait(30.0)
            except Exception as exc:  # any failure: mark, back off, retry forever
                failures += 1
                with self._lock:
                    self._healthy = False
                    self._error = _failure(exc)
                self._notify()
                delay = min(self.backoff_max, 0.2 * 2 ** min(failures, 10))
                self._stop.wait(delay * (0.8 + 0.4 * random.random()))
        with self._lock:
            self._healthy = False

    def _request(self, query: dict[str, Any], timeout: Any) -> Any:
        return self.api.call_api(
            self.path,
            "GET",
            query_params=list({**self.selectors, **query}.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
            _return_http_data_only=True,
        )

    def _list(self) -> None:
        objects: dict[str, dict[str, Any]] = {}
        token: str | None = None
        version = ""
        while True:
            query: dict[str, Any] = {"limit": 500}
            if token:
                query["continue"] = token
            try:
                response = self._request(query, timeout=(5, 30))
            except k8s_client.ApiException as exc:
                if exc.status == 404:
                    raise NotInstalled(self.path) from exc
                if exc.status == 410:
                    raise Gone() from exc  # continue token expired mid-list
                raise
            body = json.loads(response.data)
            kind = str(body.get("kind", "")).removesuffix("List")
            api_version = body.get("apiVersion")
            for item in body.get("items") or []:
                # list items lack kind/apiVersion; add them so objects look alike either way
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                objects[_key(item)] = item
            meta = body.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                break
        with self._lock:
            self._objects = objects
            self._version = version
            self._relists += 1
            self._healthy, self._last_ok, self._error = True, self.clock(), None
        self._notify()

    def _watch(self) -> None:
        query = {
            "watch": "true",
            "resourceVersion": self._version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": self.watch_seconds,
        }
        try:
            response = self._request(query, timeout=(5, self.watch_seconds + 15))
        except k8s_client.ApiException as exc:
            if exc.status == 410:
                raise Gone() from exc
            raise
        self._response = response
        try:
            buffer = b""
            for chunk in response.stream(4096, decode_content=True):
                if self._stop.is_set():
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        self._apply(json.loads(line))
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.release_conn()
        with self._lock:
            self._last_ok = self.clock()

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ClusterError(f"watch {self.path}: {obj.get('message', 'error event')}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        with self._lock:
            if kind in ("ADDED", "MODIFIED"):
                self._objects[_key(obj)] = dict(obj)
            elif kind == "DELETED":
                self._objects.pop(_key(obj), None)
            if version:
                self._version = str(version)
            if kind != "BOOKMARK":
                self._events += 1
            self._healthy, self._last_ok, self._error = True, self.clock(), None
        if kind != "BOOKMARK":
            self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            with contextlib.suppress(Exception):
                self.on_change()

    def _abort_stream(self) -> None:
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()
            with contextlib.suppress(Exception):
                response.close()


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


# --- the dashboard's feed --------------------------------------------------------------------


def _freshness(views: list[WatchView], stale_after: float, now: datetime, group: Sampled) -> Any:
    fresh = Freshness(stale_after)
    times = [v.last_ok for v in views]
    fresh.last_ok = None if any(t is None for t in times) else min(t for t in times if t)
    errors = [v.error for v in views if v.error]
    if errors:
        fresh.failed(errors[0])
    return fresh.mark(group, now)


class KubeWatchFeed:
    """The watches behind the dashboard: the vLLM Deployment, its pods, GPU nodes, NodeClaims
    and the HPA, plus vLLM /metrics through the API server's pod proxy."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        *,
        namespace: str,
        deployment: str = "vllm",
        pod_selector: str = "app.kubernetes.io/name=vllm",
        nodepool: str = "tubedemo-gpu",
        metrics_port: int = 8000,
        metrics_direct: bool = False,
        max_replicas: int | None = None,
        stale_after: float = 5.0,
        backoff_max: float = 10.0,
        on_change: Callable[[], None] | None = None,
        forecast: Callable[[], str] | None = None,
        startup_logs: bool = True,
    ) -> None:
        """``forecast``: the /forecast answer KEDA's forecast trigger reads (scaling.proactive:
        timeline), asked at each read; None: scaling is reactive, the HPA shows no forecast.
        ``startup_logs``: read each starting pod's vLLM log for the waterfall's weights and
        compile milestones (off in the lab: pods on KWOK nodes have no kubelet to ask)."""
        self.api = api
        self.forecast = forecast
        self.namespace = namespace
        self.deployment = deployment
        self.metrics_port = metrics_port
        self.metrics_direct = metrics_direct
        self.max_replicas = max_replicas
        self.stale_after = stale_after
        pool = f"karpenter.sh/nodepool={nodepool}"

        def watch(path: str, **kw: Any) -> ResourceWatch:
            return ResourceWatch(api, path, backoff_max=backoff_max, on_change=on_change, **kw)

        self.deployments = watch(
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            field_selector=f"metadata.name={deployment}",
        )
        self.pods = watch(f"/api/v1/namespaces/{namespace}/pods", label_selector=pod_selector)
        self.nodes = watch("/api/v1/nodes", label_selector=pool)
        self.nodeclaims = watch("/apis/karpenter.sh/v1/nodeclaims", label_selector=pool)
        self.hpas = watch(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers")
        # Karpenter announces a spot interruption only as an Event on the NodeClaim and Node
        self.interruptions = watch("/api/v1/events", field_selector="reason=SpotInterrupted")
        self.watches = [
            self.deployments,
            self.pods,
            self.nodes,
            self.nodeclaims,
            self.hpas,
            self.interruptions,
        ]
        self.logs = (
            StartupLogs(api, lambda: self.pods.view().objects, namespace=namespace)
            if startup_logs
            else None
        )

    @classmethod
    def connect(
        cls,
        cfg: DemoConfig,
        *,
        kubeconfig: Path | None,
        context: str | None,
        namespace: str,
        stale_after: float,
    ) -> KubeWatchFeed:
        """Connect with a kubeconfig (one-line ClusterError when it is unusable) and start."""
        api = api_client(kubeconfig, context)
        forecast = None
        if cfg.scaling.proactive == "timeline" and cfg.scaling.forecast.url is None:
            # where KEDA reads it on EKS: the gateway's /forecast, here through the API server
            forecast = functools.partial(_service_get, api, f"{proxy_path(namespace)}/forecast")
        return cls(
            api,
            forecast=forecast,
            namespace=namespace,
            nodepool=cfg.gpu_pool.name,
            metrics_port=cfg.model.port,
            metrics_direct=cfg.dashboard.metrics_via == "direct",
            max_replicas=cfg.scaling.max_replicas,
            stale_after=stale_after,
        ).start()

    def start(self) -> KubeWatchFeed:
        for w in self.watches:
            w.start()
        if self.logs is not None:
            self.logs.start()
        return self

    def close(self) -> None:
        for w in self.watches:
            w.request_stop()  # all at once, so closing takes one stream's time, not six
        for w in self.watches:
            w.stop(timeout=2.0)
        if self.logs is not None:
            self.logs.stop()

    def read(self, now: datetime, *, forecast: bool = True) -> KubeReading:
        """What the watches hold now; ``forecast``: also ask the forecast's source (one HTTP
        request; the twin-vs-lab sampler, which counts replicas and nodes only, skips it)."""
        deployments, pods = self.deployments.view(), self.pods.view()
        nodes, claims, hpas = self.nodes.view(), self.nodeclaims.view(), self.hpas.view()
        interrupted = interrupted_names(self.interruptions.view().objects)
        deployment = next(iter(deployments.objects), None)
        replicas = replica_state(
            deployment,
            pods.objects,
            now,
            self.max_replicas,
            nodes=nodes.objects,
            logs=self.logs.startups() if self.logs is not None else None,
        )
        hpa = hpa_state(hpa_for(hpas.objects, self.deployment))
        if forecast and self.forecast is not None:
            hpa = hpa.model_copy(update={"forecast": self._forecast()})
        return KubeReading(
            replicas=_freshness([deployments, pods], self.stale_after, now, replicas),
            nodes=_freshness(
                [nodes, claims, self.interruptions.view()],
                self.stale_after,
                now,
                node_state(nodes.objects, claims.objects, now, interrupted),
            ),
            hpa=_freshness([hpas], self.stale_after, now, hpa),
            targets=metrics_targets(
                pods.objects, self.namespace, self.metrics_port, self.metrics_direct
            ),
        )

    def _forecast(self) -> int | None:
        """The forecast trigger's value now; None when its source does not answer (the panel
        then shows the HPA's metric, as with reactive scaling)."""
        assert self.forecast is not None
        try:
            return parse_forecast(self.forecast())
        except Exception:  # a failing source must never stop the dashboard's tick
            return None

    def fetch_metrics(self, target: MetricsTarget, timeout: float) -> str:
        """GET /metrics of a pod through the API server's pod proxy (no port-forward needed)."""
        namespace = target.namespace or self.namespace
        port = target.port or self.metrics_port
        path = f"/api/v1/namespaces/{namespace}/pods/{target.name}:{port}/proxy/metrics"
        try:
            return _service_get(self.api, path, timeout)
        except k8s_client.ApiException as exc:
            raise ClusterError(
                f"pod proxy {target.name}:{port}: HTTP {exc.status} {status_message(exc)}"
            ) from exc


def _service_get(api: k8s_client.ApiClient, path: str, timeout: float = 2.0) -> str:
    """GET an API server path (a pod or service proxy's) as text, within ``timeout`` seconds."""
    response = api.call_api(
        path,
        "GET",
        header_params={"Accept": "text/plain"},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=(min(timeout, 5.0), timeout),
        _return_http_data_only=True,
    )
    return bytes(response.data).decode("utf-8", errors="replace")


def api_client(kubeconfig: Path | None, context: str | None) -> k8s_client.ApiClient:
    """The kubeconfig's client; a missing or broken kubeconfig is a one-line ClusterError."""
    from tubedemo.cluster.api import connect

    return connect(kubeconfig, context).client
