"""Do: apply rendered manifests in dependency order, wait for rollouts, prune, record inventory.

The decisions (order, what to prune, what an apply changed) come from plan.py; this module
only performs them and reports progress through a callback.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tubedemo.cluster.api import Api, NotFound
from tubedemo.cluster.plan import (
    NODE_CLASS_KINDS,
    SENT_POINTS,
    DiffEntry,
    FirstExport,
    Outcome,
    Ref,
    apply_order,
    apply_outcome,
    diff_entry,
    exported,
    inventory_manifest,
    inventory_ref,
    nodeclass_problem,
    parse_inventory,
    pod_problem,
    prune_set,
    scale_targets,
    up_plan,
    workload_health,
)
from tubedemo.core.errors import ClusterError

Report = Callable[[str], None]
MODE_KEY = "mode"
MODE_FIELD_MANAGER = "tubedemo-mode"


class RolloutTimeout(ClusterError):
    """A workload did not become ready in time; the message names it and why."""


@dataclass
class UpResult:
    outcomes: list[tuple[Ref, Outcome]] = field(default_factory=list)
    pruned: list[Ref] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.pruned) or any(o != "unchanged" for _, o in self.outcomes)


def mode_configmap(manifests: Iterable[Mapping[str, Any]]) -> Ref | None:
    """The ConfigMap the gateway watches for the mode (its TUBEDEMO_MODE_CONFIGMAP). Pure."""
    for m in manifests:
        if m["kind"] != "Deployment":
            continue
        for container in (
            m.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            for env in container.get("env") or []:
                if env.get("name") == "TUBEDEMO_MODE_CONFIGMAP" and "/" in str(env.get("value")):
                    ns, _, name = str(env["value"]).partition("/")
                    return Ref("v1", "ConfigMap", ns, name)
    return None


def prepare(manifests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Manifests as `up` applies them. Pure.

    spec.replicas of a ScaledObject's target is left to the HPA: applying it would fight (and
    conflict with) the HPA's field manager. The render already leaves it out; this keeps a
    hand-edited template from breaking the second `up`. A target rendered at 0 (the warm
    capacity's placeholders, which KEDA scales from zero in their window) keeps its 0: left
    out, the API server would create it at 1 and launch a GPU node before the window, and a
    later `up` that dropped the field tubedemo alone owns would reset it to 1. Outside the
    window KEDA holds it at 0 too, so the second `up` changes nothing; inside it, `up` reports
    the conflict with KEDA's count (--force-conflicts: 0 until KEDA's next poll).
    """
    items = [copy.deepcopy(dict(m)) for m in manifests]
    targets = scale_targets(items)
    for m in items:
        spec = m.get("spec", {})
        if Ref.of(m) in targets and spec.get("replicas") != 0:
            spec.pop("replicas", None)
    return items


def _namespace_manifest(namespace: str) -> dict[str, Any]:
    from tubedemo.cluster.plan import MANAGED_BY, OURS, PART_OF

    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {PART_OF: OURS, MANAGED_BY: OURS}},
    }


def with_namespace(manifests: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Add the Namespace when the render does not carry it, so `up` works on an empty cluster."""
    if any(m["kind"] == "Namespace" and m["metadata"]["name"] == namespace for m in manifests):
        return manifests
    return [_namespace_manifest(namespace), *manifests]


def read_inventory(api: Api, namespace: str) -> list[Ref]:
    return parse_inventory(api.get(inventory_ref(namespace)))


def up(
    api: Api,
    manifests: list[dict[str, Any]],
    namespace: str,
    *,
    report: Report,
    force_conflicts: bool = False,
    timeout: float = 900.0,
    wait: bool = True,
    progress: Report | None = None,
    first_export: FirstExport | None = None,
) -> UpResult:
    """Apply, wait, prune. Second run on an unchanged render changes nothing.

    With ``first_export`` (and ``wait``), the scaling objects are applied only once every
    collector has sent the scaler its first points; if that does not happen in time they are
    not applied at all, and the error says so."""
    prepared = prepare(with_namespace(manifests, namespace))
    ordered = apply_order(prepared)
    plan = up_plan(ordered)
    previous = read_inventory(api, namespace)
    result = UpResult()

    def apply_all(batch: list[dict[str, Any]]) -> None:
        for manifest in batch:
            ref = Ref.of(manifest)
            before = api.get(ref)
            after = api.apply(manifest, force=force_conflicts)
            outcome = apply_outcome(before, after)
            result.outcomes.append((ref, outcome))
            if outcome != "unchanged":
                report(f"{outcome:<10} {ref}")

    node_classes = [Ref.of(m) for m in ordered if m["kind"] in NODE_CLASS_KINDS]

    def wait_for(refs: tuple[Ref, ...], blockers: list[Ref] | None = None) -> list[str]:
        if not wait:
            return []
        return wait_ready(
            api, list(refs), timeout=timeout, report=report, progress=progress, blockers=blockers
        )

    rendered = [Ref.of(m) for m in ordered]
    apply_all(plan.namespaces)
    # Record what is about to exist before creating it: if this run stops half-way (a rollout
    # timeout, Ctrl-C), a later `up` can still prune it and `teardown` still finds it.
    api.apply(inventory_manifest(namespace, [*previous, *rendered]), force=True)
    apply_all(plan.first)
    stuck = wait_for(plan.metric_path)
    held = None
    if wait and first_export is not None and plan.scaling:
        held = (
            "the collectors are not ready"
            if stuck
            else wait_first_export(api, namespace, first_export, report=report, progress=progress)
        )
    if held is None:
        # Whatever the other waits found, scaling is set up: a broken gateway must not leave
        # vLLM without its ScaledObject.
        apply_all(plan.scaling)
    stuck += wait_for(plan.workloads, node_classes)
    if held is not None:
        stuck.append(
            f"{', '.join(str(Ref.of(m)) for m in plan.scaling)} not applied: {held} (until "
            "the scaler has every collector's heartbeat, KEDA holds fallback.replicas and "
            "Karpenter starts a GPU node); fix that and run `tubedemo up` again (with "
            "otel.first_export_timeout: 0s it applies them without waiting)"
        )
    if stuck:
        applied = ", ".join(str(Ref.of(m)) for m in plan.scaling)
        scaling = (
            f"; scaling is set up all the same ({applied} applied)"
            if applied and held is None
            else ""
        )
        raise RolloutTimeout("; ".join(stuck) + scaling)
    result.pruned = prune(api, previous, rendered, report=report)
    api.apply(inventory_manifest(namespace, rendered), force=True)
    return result


def wait_first_export(
    api: Api,
    namespace: str,
    check: FirstExport,
    *,
    report: Report,
    progress: Report | None = None,
) -> str | None:
    """Poll each Ready collector pod's own telemetry (through the pod proxy) until every one
    counts points sent by its exporters, or ``check.timeout`` passed. None when they all did;
    else why not, naming each collector still waiting and what it showed."""
    from tubedemo.cluster.ready_pods import ready_pods

    start = time.monotonic()
    exporters = ", ".join(check.exporters)
    waiting: dict[str, str] = {}
    while True:
        pods = sorted(ready_pods(api.list("v1", "Pod", namespace, check.selector)))
        waiting = {} if pods else {"no collector pod": "none is Ready"}
        for pod in pods:
            try:
                text = api.pod_text(namespace, pod, check.port, "/metrics")
            except ClusterError as exc:
                # not listening yet, or the proxy cannot reach it: keep asking until the end
                waiting[pod] = f"its telemetry unreadable ({exc.message})"
                continue
            if not exported(text, check.exporters):
                waiting[pod] = f"no {SENT_POINTS}{{exporter={exporters}}} yet"
        waited = time.monotonic() - start
        if not waiting:
            report(f"{'exported':<10} {', '.join(pods)} to the scaler after {waited:.0f}s")
            return None
        if waited >= check.timeout:
            break
        if progress is not None:
            first, why = next(iter(waiting.items()))
            progress(
                f"waiting for the collectors' first export to the scaler ({first}: {why}), "
                f"{waited:.0f}s of {check.timeout:.0f}s"
            )
        time.sleep(1.0)
    seen = "; ".join(f"{pod}: {why}" for pod, why in waiting.items())
    return f"no first export to the scaler ({exporters}) after {check.timeout:.0f}s ({seen})"


def prune(api: Api, previous: list[Ref], rendered: list[Ref], *, report: Report) -> list[Ref]:
    candidates = set(previous) - set(rendered)
    live = {r: _get_or_none(api, r) for r in candidates}
    pruned: list[Ref] = []
    for ref in prune_set(previous, rendered, live):
        if api.delete(ref):
            pruned.append(ref)
            report(f"{'pruned':<10} {ref}")
    return pruned


def _get_or_none(api: Api, ref: Ref) -> dict[str, Any] | None:
    try:
        return api.get(ref)
    except ClusterError:
        # A kind whose CRD is gone cannot hold anything to prune.
        return None


def diff(api: Api, manifests: list[dict[str, Any]], namespace: str) -> list[DiffEntry]:
    """What `up` would change, from a server-side dry run of every object."""
    prepared = prepare(with_namespace(manifests, namespace))
    ordered = apply_order(prepared)
    entries: list[DiffEntry] = []
    namespace_exists = api.get(Ref("v1", "Namespace", "", namespace)) is not None
    for manifest in ordered:
        ref = Ref.of(manifest)
        live = api.get(ref) if (namespace_exists or not ref.namespace) else None
        if live is None and ref.namespace and not namespace_exists:
            # The dry run cannot create into a namespace that does not exist yet.
            entries.append(DiffEntry(ref, "create"))
            continue
        try:
            dry = api.apply(manifest, dry_run=True)
        except NotFound:
            entries.append(DiffEntry(ref, "create"))
            continue
        entries.append(diff_entry(ref, live, dry))
    rendered = [Ref.of(m) for m in ordered]
    previous = read_inventory(api, namespace) if namespace_exists else []
    candidates = set(previous) - set(rendered)
    live_candidates = {r: _get_or_none(api, r) for r in candidates}
    entries += [DiffEntry(r, "prune") for r in prune_set(previous, rendered, live_candidates)]
    return entries


def get_mode(api: Api, ref: Ref) -> str:
    """The current mode; a ConfigMap without the key means quiz (what the gateway assumes)."""
    live = api.get(ref)
    if live is None:
        raise ClusterError(f"{ref} not found; run `tubedemo up` first")
    return str((live.get("data") or {}).get(MODE_KEY, "quiz"))


def set_mode(api: Api, ref: Ref, mode: str) -> None:
    """Own data.mode with a separate field manager, so `up` never resets it mid-talk."""
    api.apply_configmap_key(ref, MODE_KEY, mode, field_manager=MODE_FIELD_MANAGER)


BLOCKER_GRACE = 30.0
"""Seconds a node class must keep saying it cannot become Ready before `up` stops waiting (a
first reconcile may fail once, e.g. IAM's eventual consistency for a new instance profile)."""


def wait_ready(
    api: Api,
    refs: list[Ref],
    *,
    timeout: float,
    report: Report,
    progress: Report | None = None,
    blockers: list[Ref] | None = None,
    blocker_grace: float = BLOCKER_GRACE,
) -> list[str]:
    """Poll until every workload rolled out or `timeout` passed; returns, for each one still
    not ready then, a line naming it and why (its pods' waiting reason). Empty: all ready.

    `blockers` (EC2NodeClasses) end the wait early: when one keeps saying it cannot become
    Ready for `blocker_grace` s, no GPU node will start, so the wait returns that instead of
    running out the whole `timeout` on a Pending pod.

    `progress` gets a short "what we wait for" line on every poll (the CLI's spinner)."""
    if not refs:
        return []
    start = time.monotonic()
    deadline = start + timeout
    pending = list(refs)
    failing_since: dict[Ref, float] = {}
    while pending:
        for blocker in blockers or []:
            problem = nodeclass_problem(api.get(blocker))
            if problem is None:
                failing_since.pop(blocker, None)
                continue
            since = failing_since.setdefault(blocker, time.monotonic())
            if time.monotonic() - since >= blocker_grace:
                for ref in refs:
                    if ref not in pending:
                        report(f"{'ready':<10} {ref}")
                return [f"{', '.join(str(r) for r in pending)} cannot become ready: {problem}"]
        still: list[tuple[Ref, str]] = []
        for ref in pending:
            live = api.get(ref)
            health = workload_health(live) if live is not None else None
            if health is None or not health.ready:
                still.append((ref, health.summary if health else "not found"))
        pending = [ref for ref, _ in still]
        if not pending:
            break
        if progress is not None:
            waited = time.monotonic() - start
            ref, summary = still[0]
            more = f" (+{len(still) - 1} more)" if len(still) > 1 else ""
            progress(f"waiting for {ref}: {summary}{more}, {waited:.0f}s of {timeout:.0f}s")
        if time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    for ref in refs:
        if ref not in pending:
            report(f"{'ready':<10} {ref}")
    return [_stuck_message(api, ref, timeout) for ref in pending]


def _stuck_message(api: Api, ref: Ref, timeout: float) -> str:
    live = api.get(ref)
    if live is None:
        return f"{ref} disappeared while waiting for it"
    health = workload_health(live)
    reason = "no pods yet"
    selector = (live.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    if selector:
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = api.list("v1", "Pod", ref.namespace, sel)
        for pod in pods:
            name = pod["metadata"]["name"]
            events = api.request(
                "GET",
                f"/api/v1/namespaces/{ref.namespace}/events",
                query={"fieldSelector": f"involvedObject.name={name}"},
            ).get("items", [])
            problem = pod_problem(pod, events)
            if problem:
                reason = problem
                break
        else:
            if pods:
                reason = "pods exist but are not ready yet"
    return f"{ref} not ready after {timeout:.0f}s ({health.summary}): {reason}"
