"""Preflight: decide which checks a deployment needs (pure), then run them (one API call each).

Every failed check is one line that says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tubedemo.cluster.api import Api, CredentialsRejected, Forbidden, Unreachable
from tubedemo.cluster.plan import MANAGED_BY, OURS, Ref
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError


class PreflightFailed(ClusterError):
    """A prerequisite of `up` is missing; the message is the first failing check."""


@dataclass(frozen=True)
class Check:
    """One thing to verify before applying."""

    kind: str  # "api" | "namespace" | "secret" | "service"
    subject: str
    detail: tuple[str, ...] = ()


def required_checks(config: DemoConfig, manifests: Iterable[Mapping[str, Any]]) -> list[Check]:
    """What must be true on the cluster before `up` applies these manifests. Pure."""
    checks: list[Check] = [Check("reachable", "API server")]
    seen: set[tuple[str, str]] = set()
    for m in manifests:
        key = (str(m["apiVersion"]), str(m["kind"]))
        if key not in seen:
            seen.add(key)
            checks.append(Check("api", f"{key[1]} ({key[0]})", key))
    ns = config.cluster.namespace
    checks.append(Check("namespace", ns))
    if config.profile == "eks":
        checks.append(Check("secret", config.model.hf_token_secret, (ns,)))
    # Both profiles scale through the collector -> OTEL scaler path that the ScaledObject names.
    host = config.scaling.scaler_address.rpartition(":")[0] or config.scaling.scaler_address
    parts = host.split(".")
    if len(parts) >= 2:
        checks.append(Check("service", f"{parts[0]}.{parts[1]}", (parts[1], parts[0])))
    return checks


def namespace_problem(live: Mapping[str, Any] | None) -> str | None:
    """A namespace is usable when it is missing (we create it), ours, or unlabelled."""
    if live is None:
        return None
    labels = live.get("metadata", {}).get("labels") or {}
    owner = labels.get(MANAGED_BY)
    if owner and owner != OURS:
        name = live["metadata"]["name"]
        return (
            f"namespace {name} is managed by {owner}, not tubedemo; "
            f"set cluster.namespace in demo.yaml to another namespace"
        )
    return None


def run_checks(api: Api, checks: Iterable[Check], report: Callable[[bool, str], None]) -> None:
    """Run every check, report each as one line; raise the first failure afterwards."""
    failures: list[ClusterError] = []
    for check in checks:
        try:
            line = _run(api, check)
        except ClusterError as exc:
            # Transport and credential problems make every later check fail the same way.
            if isinstance(exc, Unreachable | CredentialsRejected | Forbidden):
                report(False, exc.message)
                raise
            report(False, exc.message)
            failures.append(exc)
        else:
            report(True, line)
    if failures:
        first = failures[0]
        extra = f" (and {len(failures) - 1} more above)" if len(failures) > 1 else ""
        raise type(first)(first.message + extra)


def _run(api: Api, check: Check) -> str:
    if check.kind == "reachable":
        version = api.request("GET", "/version").get("gitVersion", "?")
        return f"context {api.context} -> {api.server} (Kubernetes {version}, user {api.user})"
    if check.kind == "api":
        api_version, kind = check.detail
        api.resource(api_version, kind)
        return f"{check.subject} is served"
    if check.kind == "namespace":
        live = api.get(Ref("v1", "Namespace", "", check.subject))
        problem = namespace_problem(live)
        if problem:
            raise PreflightFailed(problem)
        return f"namespace {check.subject} " + ("exists" if live else "will be created")
    if check.kind == "secret":
        (ns,) = check.detail
        if api.get(Ref("v1", "Secret", ns, check.subject)) is None:
            raise PreflightFailed(
                f"secret {ns}/{check.subject} with the Hugging Face token is missing; create it: "
                f"kubectl create namespace {ns}; kubectl -n {ns} create secret generic "
                f"{check.subject} --from-literal=token=hf_..."
            )
        return f"secret {ns}/{check.subject} exists"
    if check.kind == "service":
        ns, name = check.detail
        if api.get(Ref("v1", "Service", ns, name)) is None:
            raise PreflightFailed(
                f"service {ns}/{name} (the Kedify OTEL scaler) is missing; install it first "
                f"(README: cluster prerequisites) or fix scaling.scaler_address"
            )
        return f"Kedify OTEL scaler service {ns}/{name} exists"
    raise AssertionError(check.kind)
