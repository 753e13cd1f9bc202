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


def _execute(
    api: Api, config: DemoConfig, plan: TeardownPlan, *, report: Report, node_timeout: float
) -> None:
    for step in plan.steps:
        if step.action == "delete":
            for ref in step.refs:
                if api.delete(ref):
                    report(f"deleted   {ref}")
        elif step.action == "scale-to-zero":
            for ref in step.refs:
                if api.get(ref) is not None:
                    api.patch_merge(ref, {"spec": {"replicas": 0}})
                    report(f"scaled    {ref} to 0")
        elif step.action == "wait-nodes-gone":
            for pool in step.nodepools:
                wait_nodes_gone(api, config, pool, timeout=node_timeout, report=report)


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
