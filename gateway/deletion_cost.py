"""Cheap survivors: keep each vLLM pod's ``controller.kubernetes.io/pod-deletion-cost`` at minus
its node's price, so a scale-down removes the replicas of the most expensive nodes first.

The ReplicaSet deletes Ready pods with a lower deletion cost before those with a higher one
(before its own "doubled up" and "most recently Ready" rules), so with every pod carrying
``-round($/h x 1000)`` of its node the replicas on a g5.12xlarge go before the one on a
g5.2xlarge, that node empties, Karpenter consolidates it, and the warm replica left after the
cooldown sits on the cheapest node. Without it which node keeps the last replica is chance (the
lab kept a g5.12xlarge, $2.40/h, for the rest of a talk), and Karpenter replaces a spot node
with a cheaper spot node only behind its spot-to-spot consolidation gate, which also wants 15
cheaper instance types to choose from: the talk's pool allows three.

The price of a node is ``--prices`` (JSON: capacity type -> instance type -> $/h, the config's
``prices`` section) at its ``node.kubernetes.io/instance-type`` and
``karpenter.sh/capacity-type`` labels; a pod on a node of unknown price is left alone. Every
``--interval`` seconds the program lists the pods of ``--selector`` in ``--namespace``, reads
the nodes they are on and merge-patches each pod whose annotation differs (a pod is annotated
seconds after it is bound, long before a scale-down can pick it).

Run: ``python -m gateway.deletion_cost --namespace tubedemo --selector
app.kubernetes.io/name=vllm --prices '{...}'``; the Kubernetes API from the pod's environment
(KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount's token and CA), or ``--api`` with
``--token-file``/``--ca-file`` (the lab runs it so). ``--once``: one pass, exit 0 when every
patch went through, 1 otherwise. No `kubernetes` package (the gateway image stays small).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from gateway.modewatch import default_api_url

ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE = {"Content-Type": "application/merge-patch+json"}

Prices = Mapping[str, Mapping[str, float]]
"""Capacity type (spot, on-demand) -> instance type -> $/h."""


def node_price(labels: Mapping[str, str], prices: Prices) -> float | None:
    """A node's $/h from its labels; None when its type or capacity type is not priced. Pure."""
    kind = labels.get(INSTANCE_TYPE)
    capacity = labels.get(CAPACITY_TYPE, "on-demand")
    if kind is None:
        return None
    return prices.get(capacity, {}).get(kind)


def deletion_cost(price: float) -> str:
    """The annotation's value for a pod on a node of ``price`` $/h: minus thousandths. Pure."""
    return str(-round(price * 1000))


def patches(
    pods: Sequence[Mapping[str, Any]], nodes: Mapping[str, Mapping[str, str]], prices: Prices
) -> dict[str, str]:
    """Pod name -> the deletion cost it should carry, for every bound, live pod whose
    annotation differs from its node's price (``nodes``: node name -> labels). Pure."""
    out: dict[str, str] = {}
    for pod in pods:
        meta = pod.get("metadata", {})
        node = pod.get("spec", {}).get("nodeName")
        if not node or meta.get("deletionTimestamp") or node not in nodes:
            continue
        price = node_price(nodes[node], prices)
        if price is None:
            continue
        wanted = deletion_cost(price)
        if (meta.get("annotations") or {}).get(ANNOTATION) != wanted:
            out[meta["name"]] = wanted
    return out


def client(api: str, token_file: Path, ca_file: Path) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token_file.exists():
        headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(ca_file)) if ca_file.exists() else True
    )
    return httpx.Client(base_url=api.rstrip("/"), headers=headers, verify=verify, timeout=10.0)


def sync(http: httpx.Client, namespace: str, selector: str, prices: Prices) -> dict[str, str]:
    """One pass: list the pods, read their nodes, patch what differs. Returns what it patched;
    raises httpx.HTTPStatusError when the API refuses (RBAC, a gone pod is skipped)."""
    listed = http.get(f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector})
    listed.raise_for_status()
    pods = listed.json().get("items") or []
    nodes: dict[str, Mapping[str, str]] = {}
    for name in sorted({p.get("spec", {}).get("nodeName") for p in pods} - {None, ""}):
        resp = http.get(f"/api/v1/nodes/{name}")
        if resp.status_code == 404:
            continue
        resp.raise_for_status()
        nodes[name] = resp.json().get("metadata", {}).get("labels") or {}
    done: dict[str, str] = {}
    for pod, cost in patches(pods, nodes, prices).items():
        body = {"metadata": {"annotations": {ANNOTATION: cost}}}
        resp = http.patch(
            f"/api/v1/namespaces/{namespace}/pods/{pod}", content=json.dumps(body), headers=MERGE
        )
        if resp.status_code == 404:
            continue
        resp.raise_for_status()
        done[pod] = cost
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.deletion_cost")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--selector", required=True, help="label selector of the vLLM pods")
    parser.add_argument("--prices", required=True, help="JSON: capacity type -> type -> $/h")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--api", default=None, help="API server URL (default: in-cluster)")
    parser.add_argument("--token-file", type=Path, default=SA / "token")
    parser.add_argument("--ca-file", type=Path, default=SA / "ca.crt")
    args = parser.parse_args(argv)
    try:
        prices = json.loads(args.prices)
    except json.JSONDecodeError as exc:
        parser.error(f"--prices is not JSON: {exc}")
    api = args.api or default_api_url()
    if api is None:
        print("error: no API server: KUBERNETES_SERVICE_HOST is not set (pass --api)",
              file=sys.stderr)  # fmt: skip
        return 1
    while True:
        try:
            with client(api, args.token_file, args.ca_file) as http:  # the token rotates
                for pod, cost in sync(http, args.namespace, args.selector, prices).items():
                    print(f"{pod}: {ANNOTATION}={cost}", flush=True)
        except httpx.HTTPError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            if args.once:
                return 1
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
