"""The talk's GPU deadline, enforced by the cluster itself: no laptop needed.

A CronJob of the tubedemo namespace runs this every few minutes in the gateway's image (`tubedemo
up` renders it, templates/deadline.yaml.j2). It reads the deadline from its ConfigMap (`data.
deadline`, ISO 8601 UTC: the talk's end + talk.gpu_grace; `up` sets it, `show` moves it later).
Before it: nothing. Past it, in this order, each step idempotent:

1. the ScaledObject gets ``autoscaling.keda.sh/paused-replicas: "0"``: KEDA scales the
   Deployment to zero and stops autoscaling it, so the HPA does not bring vLLM back;
2. the vLLM Deployment is scaled to zero (its scale subresource) at once, for a cluster whose
   KEDA is gone or slow;
3. the GPU NodePool is deleted: Karpenter drains and terminates its nodes;

then ``data.reaped_at`` is written into the ConfigMap (`tubedemo status` shows it). A missing
object is already done. The ServiceAccount may do exactly this, by name.

Run: ``python -m gateway.deadline --configmap NS/NAME --deployment vllm --scaledobject vllm
--nodepool POOL``; the Kubernetes API from the pod's environment (KUBERNETES_SERVICE_HOST/PORT,
the ServiceAccount token and CA), or ``--api``. Exit 0: before the deadline, or the GPUs were
removed; 1: the deadline cannot be read or the API refused (the Job retries; the message says
why); 2: bad arguments. No `kubernetes` package (the gateway image stays small).
"""

from __future__ import annotations

import argparse
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.modewatch import default_api_url

SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
MERGE = {"Content-Type": "application/merge-patch+json"}


class DeadlineError(Exception):
    """The deadline cannot be read or enforced; one line says why."""


@dataclass(frozen=True)
class Targets:
    namespace: str
    configmap: str
    deployment: str
    scaledobject: str
    nodepool: str


def parse_deadline(text: str | None) -> datetime:
    """The ConfigMap's deadline as an aware UTC time. Pure."""
    value = (text or "").strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DeadlineError(
            f"deadline {value!r} is not a time (ISO 8601, UTC): run `tubedemo up` to set it"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def due(deadline: datetime, now: datetime) -> bool:
    """The GPUs must go. Pure."""
    return now >= deadline


def client(api: str, sa: Path) -> httpx.Client:
    token = sa / "token"
    headers = {"Accept": "application/json"}
    if token.exists():
        headers["Authorization"] = f"Bearer {token.read_text().strip()}"
    ca = sa / "ca.crt"
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(ca)) if ca.exists() else True
    )
    return httpx.Client(base_url=api.rstrip("/"), headers=headers, verify=verify, timeout=20.0)


def _checked(resp: httpx.Response, what: str) -> bool:
    """True: done; False: the object does not exist (nothing to do); else DeadlineError."""
    if resp.status_code == 404:
        return False
    if resp.status_code >= 400:
        reason = resp.json().get("message", resp.text) if resp.content else resp.reason_phrase
        raise DeadlineError(f"{what}: the API server answered {resp.status_code}: {reason}")
    return True


def enforce(http: httpx.Client, t: Targets, now: datetime, say: Any = print) -> bool:
    """Read the deadline; past it, remove the GPUs. True when it acted."""
    ns = t.namespace
    cm_path = f"/api/v1/namespaces/{ns}/configmaps/{t.configmap}"
    resp = http.get(cm_path)
    if not _checked(resp, f"read ConfigMap {ns}/{t.configmap}"):
        raise DeadlineError(f"ConfigMap {ns}/{t.configmap} is missing: run `tubedemo up`")
    data = resp.json().get("data") or {}
    deadline = parse_deadline(data.get("deadline"))
    if not due(deadline, now):
        left = deadline - now
        say(f"GPU deadline {deadline:%Y-%m-%d %H:%M:%S} UTC, in {_duration(left.total_seconds())}")
        return False
    say(f"GPU deadline {deadline:%Y-%m-%d %H:%M:%S} UTC has passed: removing the GPUs")
    so = f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects/{t.scaledobject}"
    patch = {"metadata": {"annotations": {PAUSED_REPLICAS: "0"}}}
    done = _checked(
        http.patch(so, json=patch, headers=MERGE), f"pause ScaledObject {t.scaledobject}"
    )
    say(f"ScaledObject {ns}/{t.scaledobject}: " + ("paused at 0 replicas" if done else "not there"))
    scale = f"/apis/apps/v1/namespaces/{ns}/deployments/{t.deployment}/scale"
    body = {"spec": {"replicas": 0}}
    done = _checked(http.patch(scale, json=body, headers=MERGE), f"scale {t.deployment} to 0")
    say(f"Deployment {ns}/{t.deployment}: " + ("scaled to 0" if done else "not there"))
    pool = f"/apis/karpenter.sh/v1/nodepools/{t.nodepool}"
    done = _checked(http.delete(pool), f"delete NodePool {t.nodepool}")
    say(f"NodePool {t.nodepool}: " + ("deleted (Karpenter removes its nodes)" if done else "gone"))
    mark = {"data": {"reaped_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    _checked(http.patch(cm_path, json=mark, headers=MERGE), "mark the ConfigMap")
    return True


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.deadline")
    parser.add_argument("--configmap", required=True, help="NAMESPACE/NAME of the deadline")
    parser.add_argument("--deployment", required=True)
    parser.add_argument("--scaledobject", required=True)
    parser.add_argument("--nodepool", required=True)
    parser.add_argument("--api", default=None, help="API server URL (default: in-cluster)")
    args = parser.parse_args(argv)
    ns, _, name = args.configmap.partition("/")
    if not ns or not name:
        parser.error("--configmap must be NAMESPACE/NAME")
    api = args.api or default_api_url()
    if api is None:
        print(
            "error: no API server: KUBERNETES_SERVICE_HOST is not set (pass --api)", file=sys.stderr
        )
        return 1
    targets = Targets(ns, name, args.deployment, args.scaledobject, args.nodepool)
    try:
        with client(api, SA) as http:
            enforce(http, targets, datetime.now(UTC))
    except (DeadlineError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
