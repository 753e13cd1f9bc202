"""The lab's data plane, seen from the API server: which vLLM pods run, and which are Ready.

Pods on KWOK nodes run no process; the fleet simulator serves one simulated engine for each
of them (``tubedemo.rehearsal.fleet.Fleet.sync_pods``). ``ReadyPodWatch`` keeps a list+watch
(``ResourceWatch``: resourceVersion, bookmarks, relist on 410) of the Deployment's pods and of
the Deployment itself; ``running_pods`` (and ``ready_pods``, for `up`) and
``deployment_replicas`` are the pure reading of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client

from tubedemo.cluster.watch import ResourceWatch, api_client

Obj = Mapping[str, Any]


def _ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def ready_pods(pods: Sequence[Obj]) -> dict[str, str | None]:
    """Pod name -> node name of every pod that is Ready and not being deleted. Pure.

    A pod with a deletionTimestamp is out even while its Ready condition is still True: the
    endpoints controller drops it at once, so it takes no new requests (its engine drains).
    """
    found: dict[str, str | None] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or not _ready(pod):
            continue
        node = (pod.get("spec") or {}).get("nodeName")
        found[str(meta.get("name"))] = str(node) if node else None
    return found


def running_pods(pods: Sequence[Obj]) -> dict[str, bool]:
    """Pod name -> Ready, for every pod in phase Running and not being deleted. Pure.

    What the rendered collector scrapes (it keeps Running pods): a pod that was Ready and
    missed its readiness probes (busy at the peak) is here with False; it takes no new
    requests but still runs, and its queue still counts."""
    found: dict[str, bool] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
            continue
        found[str(meta.get("name"))] = _ready(pod)
    return found


def deployment_replicas(deployments: Sequence[Obj]) -> int | None:
    """spec.replicas of the (one) watched Deployment, None when it is not there. Pure."""
    for deployment in deployments:
        replicas = (deployment.get("spec") or {}).get("replicas")
        if isinstance(replicas, int):
            return replicas
    return None


class ReadyPodWatch:
    """Watches the vLLM Deployment and its pods; ``read()`` never blocks."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        *,
        namespace: str,
        deployment: str = "vllm",
        pod_selector: str = "app.kubernetes.io/name=vllm",
        backoff_max: float = 5.0,
    ) -> None:
        self.pods = ResourceWatch(
            api,
            f"/api/v1/namespaces/{namespace}/pods",
            label_selector=pod_selector,
            backoff_max=backoff_max,
        )
        self.deployments = ResourceWatch(
            api,
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            field_selector=f"metadata.name={deployment}",
            backoff_max=backoff_max,
        )

    @classmethod
    def connect(
        cls, kubeconfig: Path | None, context: str | None = None, **kw: Any
    ) -> ReadyPodWatch:
        """From a kubeconfig (one-line ClusterError when it is unusable); started."""
        return cls(api_client(kubeconfig, context), **kw).start()

    def start(self) -> ReadyPodWatch:
        self.pods.start()
        self.deployments.start()
        return self

    def read(self) -> tuple[dict[str, bool], int | None] | None:
        """(Running pods -> Ready, Deployment spec.replicas), or None until the pod list has
        synced once (an empty list before the first sync would drain every engine)."""
        pods = self.pods.view()
        if pods.last_ok is None:
            return None
        return running_pods(pods.objects), deployment_replicas(self.deployments.view().objects)

    def close(self) -> None:
        self.pods.request_stop()
        self.deployments.request_stop()
        self.pods.stop(timeout=2.0)
        self.deployments.stop(timeout=2.0)
