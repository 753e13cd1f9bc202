"""Preflight: decide which checks a deployment needs (pure), then run them (one API call each).

Every failed check is one line that says what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tubedemo.cluster import aws as aws_ops
from tubedemo.cluster.api import Api, CredentialsRejected, Forbidden, Unreachable
from tubedemo.cluster.aws import AwsUnavailable, PreflightFailed
from tubedemo.cluster.plan import MANAGED_BY, OURS, Ref
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import ClusterError


@dataclass(frozen=True)
class Check:
    """One thing to verify before applying."""

    kind: str
    subject: str
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Component:
    """A cluster add-on tubedemo needs, found as a Deployment, with the release we validate."""

    title: str
    deployment: str
    minimum: str
    why: str
    fix: str


SUPPORTED_KUBERNETES = ((1, 33), (1, 35))
"""Cluster versions tubedemo supports on EKS: each has an NVIDIA variant in the Bottlerocket
alias (v1.66.0: 1.31-1.37), is in Karpenter's published compatibility range (1.29-1.35 for
the 1.9-1.11 releases checked) and in EKS standard support (1.32 and older left it in 2026)."""

KEDA = Component(
    "KEDA (Kedify build)",
    "keda-operator",
    "2.20.0",
    "the ScaledObject schema is validated against KEDA v2.20.2's CRDs",
    "install Kedify's KEDA (README: From zero to talk on EKS) or set prerequisites.keda_namespace",
)
KARPENTER = Component(
    "Karpenter",
    "karpenter",
    "1.14.0",
    "NodePool/EC2NodeClass are validated against Karpenter v1.14.3's CRDs",
    "install Karpenter (README: From zero to talk on EKS) or set prerequisites.karpenter_namespace",
)
LOAD_BALANCER_CONTROLLER = Component(
    "AWS Load Balancer Controller",
    "aws-load-balancer-controller",
    "2.14.0",
    "v2.14 is the oldest release reported working on EKS 1.35 (v2.15.0 is current)",
    "helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n kube-system "
    "(README), or set web.exposure: none",
)
EBS_CSI = Component(
    "EBS CSI driver",
    "ebs-csi-controller",
    "1.0.0",
    "any GA release provisions gp3 volumes",
    "aws eks create-addon --addon-name aws-ebs-csi-driver (README), or set "
    "prerequisites.ebs_csi_namespace",
)


def pod_secrets(manifests: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Every Secret a rendered pod mounts or reads, (namespace, name) -> keys it needs ("" for
    the whole Secret). Pure; derived from the manifests, so a new reference is never missed."""
    found: dict[tuple[str, str], set[str]] = {}

    def need(ns: str, name: str | None, key: str = "") -> None:
        if name:
            found.setdefault((ns, str(name)), set()).add(key)

    for m in manifests:
        ns = str(m.get("metadata", {}).get("namespace") or "")
        spec = m.get("spec") or {}
        if m.get("kind") == "Pod":
            pod = spec
        else:
            pod = (spec.get("template") or {}).get("spec") or {}
            if m.get("kind") == "CronJob":
                pod = (
                    ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
                ).get("spec") or {}
        for ref in pod.get("imagePullSecrets") or []:
            need(ns, ref.get("name"))
        for vol in pod.get("volumes") or []:
            if "secret" in vol:
                need(ns, vol["secret"].get("secretName"))
            for source in (vol.get("projected") or {}).get("sources") or []:
                if "secret" in source:
                    need(ns, source["secret"].get("name"))
        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    need(ns, ref.get("name"), str(ref.get("key") or ""))
            for source in container.get("envFrom") or []:
                ref = source.get("secretRef")
                if ref and not ref.get("optional"):
                    need(ns, ref.get("name"))
    rendered = {
        (str(m["metadata"].get("namespace") or ""), str(m["metadata"]["name"]))
        for m in manifests
        if m.get("kind") == "Secret"
    }
    return {k: v for k, v in found.items() if k not in rendered}


def claimed_storage_classes(manifests: Iterable[Mapping[str, Any]]) -> set[str]:
    """StorageClasses the rendered claims name that the render does not create itself. Pure."""
    items = list(manifests)
    rendered = {str(m["metadata"]["name"]) for m in items if m.get("kind") == "StorageClass"}
    named = {
        str((m.get("spec") or {}).get("storageClassName"))
        for m in items
        if m.get("kind") == "PersistentVolumeClaim"
        and (m.get("spec") or {}).get("storageClassName")
    }
    return named - rendered


def version_tuple(text: str) -> tuple[int, ...] | None:
    """(major, minor, patch) from an image tag or version like v1.14.3-eks-abc; None if none."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return tuple(int(g or 0) for g in match.groups())


def kubernetes_version_problem(git_version: str) -> str | None:
    """Why a cluster's version is outside the supported range, or None. Pure."""
    found = version_tuple(git_version)
    low, high = SUPPORTED_KUBERNETES
    span = f"{low[0]}.{low[1]}-{high[0]}.{high[1]}"
    if found is None:
        return f"cannot read the cluster version {git_version!r}; tubedemo supports {span}"
    if not low <= found[:2] <= high:
        return (
            f"Kubernetes {found[0]}.{found[1]} is outside the supported {span} (the Bottlerocket "
            f"NVIDIA variant, Karpenter and EKS support); upgrade the cluster (aws eks "
            f"update-cluster-version) or create it at {high[0]}.{high[1]}"
        )
    return None


def image_version(deployment: Mapping[str, Any]) -> str | None:
    """The release a Deployment runs: its app.kubernetes.io/version label, else its image tag."""
    labels = deployment.get("metadata", {}).get("labels") or {}
    if labels.get("app.kubernetes.io/version"):
        return str(labels["app.kubernetes.io/version"])
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    for container in containers:
        image = str(container.get("image") or "").split("@", 1)[0]
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        if tag:
            return tag
    return None


def component_problem(component: Component, deployment: Mapping[str, Any] | None) -> str | None:
    """Why an add-on is not usable (absent, not ready, too old), or None. Pure."""
    if deployment is None:
        return f"{component.title} is not installed (no Deployment {component.deployment}); " + (
            component.fix
        )
    meta = deployment.get("metadata", {})
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    if ready < 1:
        return (
            f"{component.title} ({where}) has no ready replica; kubectl -n {meta.get('namespace')}"
            f" describe deployment {meta.get('name')}"
        )
    version = image_version(deployment)
    found = version_tuple(version or "")
    minimum = version_tuple(component.minimum)
    if found is None or minimum is None or found < minimum:
        return (
            f"{component.title} ({where}) runs {version or 'an unknown version'}, tubedemo needs "
            f">= {component.minimum} ({component.why}); upgrade it"
        )
    return None


def required_checks(config: DemoConfig, manifests: Iterable[Mapping[str, Any]]) -> list[Check]:
    """What must be true on the cluster before `up` applies these manifests. Pure."""
    items = list(manifests)
    eks = config.profile == "eks"
    pre = config.prerequisites
    checks: list[Check] = [Check("reachable", "API server")]
    if eks:
        checks.append(Check("version", "Kubernetes version"))
    seen: set[tuple[str, str]] = set()
    for m in items:
        key = (str(m["apiVersion"]), str(m["kind"]))
        if key not in seen:
            seen.add(key)
            checks.append(Check("api", f"{key[1]} ({key[0]})", key))
    ns = config.cluster.namespace
    checks.append(Check("namespace", ns))
    for (secret_ns, name), keys in sorted(pod_secrets(items).items()):
        checks.append(Check("secret", name, (secret_ns, *sorted(k for k in keys if k))))
    for name in sorted(claimed_storage_classes(items)):
        checks.append(Check("storageclass", name))
    # Both profiles scale through the collector -> OTEL scaler path that the ScaledObject names.
    host = config.scaling.scaler_address.rpartition(":")[0] or config.scaling.scaler_address
    parts = host.split(".")
    if len(parts) >= 2:
        checks.append(Check("service", f"{parts[0]}.{parts[1]}", (parts[1], parts[0])))
    if eks:
        checks.append(Check("component", "keda", (pre.keda_namespace,)))
        checks.append(Check("component", "karpenter", (pre.karpenter_namespace,)))
        if config.exposure != "none":
            checks.append(
                Check("component", "load-balancer", (pre.load_balancer_controller_namespace,))
            )
        if config.exposure == "ingress":
            checks.append(Check("ingressclass", config.web.ingress.class_name))
        if any(m.get("kind") == "PersistentVolumeClaim" for m in items):
            checks.append(Check("csidriver", "ebs.csi.aws.com", (pre.ebs_csi_namespace,)))
    if eks and pre.aws_checks:
        checks += aws_checks(config)
    return checks


def aws_checks(config: DemoConfig) -> list[Check]:
    """The AWS account's side of the EKS profile, in the order a new account meets them. Pure."""
    checks = [Check("aws", "account"), Check("aws", "spot-role")]
    for capacity in config.gpu_pool.capacity_types:
        checks.append(Check("aws", "quota", (capacity,)))
    checks += [Check("aws", "node-role"), Check("aws", "interruption-queue")]
    if config.storage.kind == "s3":
        checks += [
            Check("aws", "bucket"),
            Check("aws", "irsa", (config.storage.iam_role, "gateway")),
        ]
    if config.snapshot_is_auto or config.weights_are_auto:
        checks.append(Check("aws", "prepared"))
    if config.weights_location:
        checks.append(Check("aws", "irsa", (config.model.iam_role, "vllm")))
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


def run_checks(
    api: Api,
    checks: Iterable[Check],
    report: Callable[[bool, str], None],
    config: DemoConfig | None = None,
    aws: aws_ops.Aws | None = None,
) -> None:
    """Run every check, report each as one line; raise the first failure afterwards."""
    failures: list[ClusterError] = []
    for check in checks:
        try:
            line = _run(api, check, config, aws)
        except ClusterError as exc:
            # Transport and credential problems make every later check fail the same way.
            if isinstance(exc, Unreachable | CredentialsRejected | Forbidden):
                report(False, exc.message)
                raise
            if isinstance(exc, AwsUnavailable):
                report(False, exc.message)
                failures.append(exc)
                aws = None  # the remaining AWS checks would fail the same way: skip them
                continue
            report(False, exc.message)
            failures.append(exc)
        else:
            if line:
                report(True, line)
    if failures:
        first = failures[0]
        extra = f" (and {len(failures) - 1} more above)" if len(failures) > 1 else ""
        raise type(first)(first.message + extra)


def _component(check: Check) -> Component:
    return {
        "keda": KEDA,
        "karpenter": KARPENTER,
        "load-balancer": LOAD_BALANCER_CONTROLLER,
        "ebs-csi": EBS_CSI,
    }[check.subject]


def _run(api: Api, check: Check, config: DemoConfig | None, aws: aws_ops.Aws | None) -> str:
    if check.kind == "reachable":
        version = api.request("GET", "/version").get("gitVersion", "?")
        return f"context {api.context} -> {api.server} (Kubernetes {version}, user {api.user})"
    if check.kind == "version":
        version = str(api.request("GET", "/version").get("gitVersion", "?"))
        problem = kubernetes_version_problem(version)
        if problem:
            raise PreflightFailed(problem)
        low, high = SUPPORTED_KUBERNETES
        return f"Kubernetes {version} is within {low[0]}.{low[1]}-{high[0]}.{high[1]}"
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
        return _secret(api, check, config)
    if check.kind == "storageclass":
        if api.get(Ref("storage.k8s.io/v1", "StorageClass", "", check.subject)) is None:
            raise PreflightFailed(
                f"StorageClass {check.subject} (the gateway volume's) does not exist; set "
                "storage.create_storage_class: true (tubedemo renders the EBS CSI gp3 class) or "
                "storage.storage_class to one `kubectl get storageclass` lists"
            )
        return f"StorageClass {check.subject} exists"
    if check.kind == "service":
        ns, name = check.detail
        if api.get(Ref("v1", "Service", ns, name)) is None:
            raise PreflightFailed(
                f"service {ns}/{name} (the Kedify OTEL scaler) is missing; install it first "
                f"(README: cluster prerequisites) or fix scaling.scaler_address"
            )
        return f"Kedify OTEL scaler service {ns}/{name} exists"
    if check.kind == "component":
        component = _component(check)
        (ns,) = check.detail
        live = api.get(Ref("apps/v1", "Deployment", ns, component.deployment))
        problem = component_problem(component, live)
        if problem:
            raise PreflightFailed(problem)
        assert live is not None
        return f"{component.title} {image_version(live)} in {ns} (>= {component.minimum})"
    if check.kind == "ingressclass":
        if api.get(Ref("networking.k8s.io/v1", "IngressClass", "", check.subject)) is None:
            raise PreflightFailed(
                f"IngressClass {check.subject} does not exist: the AWS Load Balancer Controller "
                "creates it (helm install ... --set createIngressClassResource=true); or set "
                "web.ingress.class_name"
            )
        return f"IngressClass {check.subject} exists"
    if check.kind == "csidriver":
        (ns,) = check.detail
        if api.get(Ref("storage.k8s.io/v1", "CSIDriver", "", check.subject)) is None:
            raise PreflightFailed(
                f"CSIDriver {check.subject} is not registered: the EBS CSI driver is not "
                f"installed; {EBS_CSI.fix}"
            )
        live = api.get(Ref("apps/v1", "Deployment", ns, EBS_CSI.deployment))
        problem = component_problem(EBS_CSI, live)
        if problem:
            raise PreflightFailed(problem)
        assert live is not None
        return f"EBS CSI driver {image_version(live)} ({check.subject}) in {ns}"
    if check.kind == "aws":
        if config is None:
            raise AssertionError("AWS checks need the config")
        if aws is None:
            return ""  # reported once already: no credentials / unreachable
        return _aws(aws, config, check)
    raise AssertionError(check.kind)


def _secret(api: Api, check: Check, config: DemoConfig | None) -> str:
    ns, *keys = check.detail
    name = check.subject
    live = api.get(Ref("v1", "Secret", ns, name))
    key = keys[0] if keys else "token"
    if config is not None and name == config.model.hf_token_secret:
        what, value = "the Hugging Face token", "hf_..."
    elif config is not None and name == config.gateway.admin_token_secret:
        what, value = "the gateway's admin token", "$(openssl rand -hex 24)"
    else:
        what, value = "a rendered pod reads it", "..."
    create = (
        f"kubectl create namespace {ns}; kubectl -n {ns} create secret generic {name} "
        f"--from-literal={key}={value}"
    )
    if live is None:
        raise PreflightFailed(f"secret {ns}/{name} ({what}) is missing; create it: {create}")
    data = set((live.get("data") or {}).keys()) | set((live.get("stringData") or {}).keys())
    absent = [k for k in keys if k not in data]
    if absent:
        raise PreflightFailed(
            f"secret {ns}/{name} ({what}) has no key {absent[0]}; recreate it: {create}"
        )
    return f"secret {ns}/{name} exists" + (f" (key {', '.join(keys)})" if keys else "")


def _aws(aws: aws_ops.Aws, config: DemoConfig, check: Check) -> str:
    if check.subject == "account":
        return aws_ops.check_account(aws, config)
    if check.subject == "spot-role":
        return aws_ops.check_spot_role(aws)
    if check.subject == "quota":
        return aws_ops.check_gvt_quota(aws, config, check.detail[0])
    if check.subject == "node-role":
        return aws_ops.check_node_role(aws, config)
    if check.subject == "interruption-queue":
        return aws_ops.check_interruption_queue(aws, config)
    if check.subject == "bucket":
        return aws_ops.check_bucket(aws, config)
    if check.subject == "irsa":
        role, service_account = check.detail
        return aws_ops.check_irsa_role(aws, config, role, service_account)
    if check.subject == "prepared":
        return _prepared(aws, config)
    raise AssertionError(check.subject)


def _prepared(aws: aws_ops.Aws, config: DemoConfig) -> str:
    """auto snapshot / weights: what `tubedemo prepare` made is there (up would resolve it)."""
    from tubedemo.cluster import prepare as prepare_ops
    from tubedemo.core.errors import NotPrepared, PrepareError

    try:
        resolved = prepare_ops.resolve(aws, config)
    except (NotPrepared, PrepareError) as exc:
        raise PreflightFailed(exc.message) from exc
    found = []
    if config.snapshot_is_auto:
        found.append(f"image snapshot {resolved.gpu_pool.image_snapshot_id}")
    if config.weights_are_auto:
        found.append(f"weights {resolved.model.weights_uri}")
    return f"prepared (auto): {', '.join(found)}"
