"""Do: carry out a teardown plan (plan.teardown_plan decides the order) and wait for GPU nodes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import (
    NODEPOOL_LABEL,
    Ref,
    TeardownPlan,
    inventory_ref,
    is_ours,
    scale_targets,
    teardown_plan,
)
from tubedemo.cluster.status import gpu_nodes_of
from tubedemo.cluster.up import read_inventory
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError

Report = Callable[[str], None]


class NodesRemain(ClusterError):
    """GPU nodes of tubedemo's NodePool were still there when the wait ran out."""


def present_objects(
    api: Api, config: DemoConfig, rendered: Iterable[Ref] = ()
) -> tuple[list[Ref], list[dict[str, Any]]]:
    """tubedemo's objects that exist now, and the live ScaledObjects.

    Candidates are the inventory, what the config renders now (in case the inventory was
    lost) and the NodePool; each must still carry tubedemo's labels to count.
    """
    ns = config.cluster.namespace
    refs: set[Ref] = set(read_inventory(api, ns)) | set(rendered)
    refs.add(Ref("karpenter.sh/v1", "NodePool", "", config.gpu_pool.name))
    present: list[Ref] = []
    live_scaled: list[dict[str, Any]] = []
    if api.get(inventory_ref(ns)) is not None:
        present.append(inventory_ref(ns))
    for ref in sorted(refs):
        try:
            live = api.get(ref)
        except ClusterError:
            continue  # its CRD is gone, so is the object
        if live is None or not is_ours(live):
            continue
        present.append(ref)
        if ref.kind == "ScaledObject":
            live_scaled.append(live)
    return present, live_scaled


def plan_for(
    api: Api, config: DemoConfig, *, purge_data: bool, rendered: Iterable[Ref] = ()
) -> TeardownPlan:
    present, live_scaled = present_objects(api, config, rendered)
    pool = config.gpu_pool.name
    nodes = api.list("v1", "Node", selector=f"{NODEPOOL_LABEL}={pool}")
    return teardown_plan(
        present,
        scale_targets(live_scaled),
        nodes_of_pools={pool: len(nodes)},
        purge_data=purge_data,
        namespace=config.cluster.namespace,
    )


def execute(
    api: Api,
    config: DemoConfig,
    plan: TeardownPlan,
    *,
    report: Report,
    node_timeout: float = 900.0,
) -> None:
    try:
        _execute(api, config, plan, report=report, node_timeout=node_timeout)
    except ClusterError as exc:
        left = _still_there(api, plan)
        suffix = f"; still there: {', '.join(str(r) for r in left)}" if left else ""
        # The same error with what is left appended; keep the original's own cause.
        raise type(exc)(exc.message + suffix) from exc.__cause__


def _still_there(api: Api, plan: TeardownPlan) -> list[Ref]:
    left: list[Ref] = []
    for step in plan.steps:
        for ref in step.refs:
            try:
                if api.get(ref) is not None:
                    left.append(ref)
            except ClusterError:
                continue
    return left


LOAD_BALANCER_TIMEOUT = 300.0
"""Seconds for the AWS Load Balancer Controller to delete a load balancer (an ALB: ~1 min)."""


def holds_a_load_balancer(live: dict[str, Any] | None) -> bool:
    """An Ingress, or a Service of type LoadBalancer: a controller deletes a load balancer (and
    its target groups and security groups) before the object goes. Pure."""
    if live is None:
        return False
    if live.get("kind") == "Ingress":
        return True
    return live.get("kind") == "Service" and (live.get("spec") or {}).get("type") == "LoadBalancer"


def _execute(
    api: Api, config: DemoConfig, plan: TeardownPlan, *, report: Report, node_timeout: float
) -> None:
    from tubedemo.cluster.bootstrap import wait_deleted

    for step in plan.steps:
        if step.action == "delete":
            holders = [ref for ref in step.refs if holds_a_load_balancer(_get(api, ref))]
            for ref in step.refs:
                if api.delete(ref):
                    report(f"deleted   {ref}")
            if holders:
                # The load balancer bills until its controller has deleted it; deleting the
                # cluster before then strands it: wait for the finalizer to be let go.
                names = ", ".join(str(ref) for ref in holders)
                report(f"waiting for the load balancer of {names} to be deleted")
                wait_deleted(
                    api, holders, what=f"load balancer of {names}", timeout=LOAD_BALANCER_TIMEOUT
                )
                report(f"gone      the load balancer of {names}")
        elif step.action == "scale-to-zero":
            for ref in step.refs:
                if api.get(ref) is not None:
                    api.patch_merge(ref, {"spec": {"replicas": 0}})
                    report(f"scaled    {ref} to 0")
        elif step.action == "wait-nodes-gone":
            for pool in step.nodepools:
                wait_nodes_gone(api, config, pool, timeout=node_timeout, report=report)


def _get(api: Api, ref: Ref) -> dict[str, Any] | None:
    try:
        return api.get(ref)
    except ClusterError:
        return None  # its CRD is gone, so is the object


def wait_nodes_gone(
    api: Api, config: DemoConfig, pool: str, *, timeout: float, report: Report
) -> None:
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        nodes = api.list("v1", "Node", selector=f"{NODEPOOL_LABEL}={pool}")
        if not nodes:
            report(f"no nodes of NodePool {pool} remain")
            return
        if not announced:
            report(f"waiting for {len(nodes)} node(s) of NodePool {pool} to go")
            announced = True
        if time.monotonic() >= deadline:
            gpu = gpu_nodes_of(nodes, pool, config, now=time.time())
            per_hour = sum(n.price_per_hour for n in gpu)
            names = ", ".join(f"{n.name} ({n.instance_type} {n.capacity_type})" for n in gpu)
            raise NodesRemain(
                f"{len(gpu)} node(s) of NodePool {pool} still running after {timeout:.0f}s, "
                f"costing ${per_hour:.2f}/h: {names}; check Karpenter's logs, or delete the "
                f"NodeClaims (kubectl delete nodeclaims -l {NODEPOOL_LABEL}={pool})"
            )
        time.sleep(1.0)
