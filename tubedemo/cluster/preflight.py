"""Preflight: decide which checks a deployment needs (pure), then run them (one API call each).

Every failed check is one line that says what is wrong and how to fix it. The cluster's checks
are here; the AWS account's run in tubedemo.aws.account, the prepared talk's (``auto``) in
tubedemo.prepare.lookup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tubedemo.aws import account, errors, s3_layout
from tubedemo.aws.errors import AwsUnavailable
from tubedemo.aws.session import Aws
from tubedemo.cluster import audience_https
from tubedemo.cluster.api import Api, CredentialsRejected, Forbidden, Unreachable
from tubedemo.cluster.bootstrap import VLLM_KEY
from tubedemo.cluster.plan import MANAGED_BY, OURS, Ref
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import AwsError, ClusterError, NotPrepared, PreflightFailed
from tubedemo.prepare import lookup


@dataclass(frozen=True)
class Check:
    """One thing to verify before applying."""

    kind: str
    subject: str
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddOn:
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

KEDA = AddOn(
    "KEDA (Kedify build)",
    "keda-operator",
    "2.20.0",
    "the ScaledObject schema is validated against KEDA v2.20.2's CRDs",
    "install Kedify's KEDA (README: From zero to talk on EKS) or set prerequisites.keda_namespace",
)
KARPENTER = AddOn(
    "Karpenter",
    "karpenter",
    "1.14.0",
    "NodePool/EC2NodeClass are validated against Karpenter v1.14.3's CRDs",
    "install Karpenter (README: From zero to talk on EKS) or set prerequisites.karpenter_namespace",
)
LOAD_BALANCER_CONTROLLER = AddOn(
    "AWS Load Balancer Controller",
    "aws-load-balancer-controller",
    "2.14.0",
    "v2.14 is the oldest release reported working on EKS 1.35 (v2.15.0 is current)",
    "helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n kube-system "
    "(README), or set web.exposure: none",
)
EBS_CSI = AddOn(
    "EBS CSI driver",
    "ebs-csi-controller",
    "1.0.0",
    "any GA release provisions gp3 volumes",
    "aws eks create-addon --addon-name aws-ebs-csi-driver (README), or set "
    "prerequisites.ebs_csi_namespace",
)

CLUSTER_OBJECTS: dict[str, tuple[str, str, str]] = {
    "storageclass": (
        "storage.k8s.io/v1",
        "StorageClass",
        "(the gateway volume's) does not exist; set storage.create_storage_class: true "
        "(tubedemo renders the EBS CSI gp3 class) or storage.storage_class to one `kubectl get "
        "storageclass` lists",
    ),
    "ingressclass": (
        "networking.k8s.io/v1",
        "IngressClass",
        "does not exist: the AWS Load Balancer Controller creates it (helm install ... --set "
        "createIngressClassResource=true); or set web.ingress.class_name",
    ),
}
"""Cluster-scoped objects a check wants by name: kind of check -> (apiVersion, kind, what is
wrong and what to do when it is missing)."""


def pod_secrets(
    manifests: Iterable[Mapping[str, Any]], *, optional_keys: bool = False
) -> dict[tuple[str, str], set[str]]:
    """Every Secret a rendered pod mounts or reads, (namespace, name) -> keys it needs ("" for
    the whole Secret). Pure; derived from the manifests, so a new reference is never missed.
    With `optional_keys`, a key an env var reads optionally is needed too."""
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
                if ref and (optional_keys or not ref.get("optional")):
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


STORAGE_CLASS_FIXED = ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")
"""StorageClass fields the API server refuses to change once the class exists."""


def rendered_storage_classes(manifests: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """name -> the fixed fields (JSON) of each StorageClass the render creates itself. Pure."""
    return {
        str(m["metadata"]["name"]): json.dumps(
            {k: m.get(k) for k in STORAGE_CLASS_FIXED}, sort_keys=True
        )
        for m in manifests
        if m.get("kind") == "StorageClass"
    }


def storage_class_conflict(
    name: str, rendered: Mapping[str, Any], live: Mapping[str, Any] | None
) -> str | None:
    """Why `up` cannot apply the rendered class over the live one (a fixed field differs), or
    None: missing (created) or the same. Pure."""
    if live is None:
        return None
    differ = [k for k in STORAGE_CLASS_FIXED if live.get(k) != rendered.get(k)]
    if not differ:
        return None
    shown = ", ".join(f"{k} {live.get(k)!r} (tubedemo renders {rendered.get(k)!r})" for k in differ)
    return (
        f"StorageClass {name} exists with {shown}, which cannot be changed; set "
        "storage.create_storage_class: false to use it as it is, or storage.storage_class to "
        "another name"
    )


VPC_CNI = "aws-node"
"""The VPC CNI's DaemonSet (EKS add-on or self-managed, same name)."""
NETWORK_POLICY_AGENTS = ("aws-network-policy-agent", "aws-eks-nodeagent")
"""Its network policy agent's container, by its name since VPC CNI v1.14 (and the earlier one)."""
ENFORCING = "--enable-network-policy=true"
"""The agent's argument when the add-on's ``enableNetworkPolicy`` is "true"; "false" (the
add-on's default) leaves every NetworkPolicy accepted by the API server and not enforced."""


def network_policy_problem(cluster: str, region: str, daemonset: Mapping[str, Any]) -> str | None:
    """Why the VPC CNI of this aws-node DaemonSet does not enforce NetworkPolicy, with the
    fix, or None when it does. Pure."""
    containers = daemonset.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    agents = [c for c in containers or [] if c.get("name") in NETWORK_POLICY_AGENTS]
    if any(ENFORCING in (c.get("args") or []) for c in agents):
        return None
    now = (
        f"its {agents[0]['name']} runs without {ENFORCING}"
        if agents
        else "it has no network policy agent (VPC CNI before v1.14)"
    )
    values = '{"enableNetworkPolicy":"true"}'
    return (
        f"the VPC CNI ({VPC_CNI}) does not enforce NetworkPolicy: {now}, so the vllm "
        "NetworkPolicy would be accepted and ignored and any pod could reach vLLM (a cluster "
        "made before `tubedemo cluster create` turned it on); turn it on: `eksctl update "
        "addon -f tubedemo-eks/eksctl.yaml` (the ClusterConfig `tubedemo cluster create` "
        f"writes) or `aws eks update-addon --cluster-name {cluster} --region {region} "
        f"--addon-name vpc-cni --configuration-values '{values}'`"
    )


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


def add_on_problem(add_on: AddOn, deployment: Mapping[str, Any] | None) -> str | None:
    """Why an add-on is not usable (absent, not ready, too old), or None. Pure."""
    if deployment is None:
        return f"{add_on.title} is not installed (no Deployment {add_on.deployment}); " + (
            add_on.fix
        )
    meta = deployment.get("metadata", {})
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    if ready < 1:
        return (
            f"{add_on.title} ({where}) has no ready replica; kubectl -n {meta.get('namespace')}"
            f" describe deployment {meta.get('name')}"
        )
    version = image_version(deployment)
    found = version_tuple(version or "")
    minimum = version_tuple(add_on.minimum)
    if found is None or minimum is None or found < minimum:
        return (
            f"{add_on.title} ({where}) runs {version or 'an unknown version'}, tubedemo needs "
            f">= {add_on.minimum} ({add_on.why}); upgrade it"
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
    # On EKS the keys read optionally are needed too: it is vLLM's API key, which vLLM and the
    # gateway read optionally (a Secret from before it), and without it vLLM answers /v1 to
    # any pod or host in the VPC. The local stand-in takes no key.
    for (secret_ns, name), keys in sorted(pod_secrets(items, optional_keys=eks).items()):
        checks.append(Check("secret", name, (secret_ns, *sorted(k for k in keys if k))))
    for name in sorted(claimed_storage_classes(items)):
        checks.append(Check("storageclass", name))
    for name, fixed in sorted(rendered_storage_classes(items).items()):
        checks.append(Check("storageclass-rendered", name, (fixed,)))
    # Both profiles scale through the collector -> OTEL scaler path that the ScaledObject names.
    host = config.scaling.scaler_address.rpartition(":")[0] or config.scaling.scaler_address
    parts = host.split(".")
    if len(parts) >= 2:
        checks.append(Check("service", f"{parts[0]}.{parts[1]}", (parts[1], parts[0])))
    if eks and config.scaling.otlp_ca_configmap:
        # the collector's pods mount it (OTLP to the scaler over TLS); without it they never
        # start and `up` waits out its rollout
        checks.append(Check("scaler-ca", config.scaling.otlp_ca_configmap, (ns,)))
    if eks:
        checks.append(Check("component", "keda", (pre.keda_namespace,)))
        checks.append(Check("component", "karpenter", (pre.karpenter_namespace,)))
        if config.exposure != "none":
            checks.append(
                Check("component", "load-balancer", (pre.load_balancer_controller_namespace,))
            )
        if config.exposure == "ingress":
            checks.append(Check("ingressclass", config.web.ingress.class_name))
        if config.exposure != "none" or config.talk.audience_url:
            checks.append(Check("https", "audience"))
        if any(m.get("kind") == "PersistentVolumeClaim" for m in items):
            checks.append(Check("csidriver", "ebs.csi.aws.com", (pre.ebs_csi_namespace,)))
        if any(m.get("kind") == "NetworkPolicy" for m in items):
            checks.append(Check("network-policy", VPC_CNI, (pre.vpc_cni_namespace,)))
    if eks and pre.aws_checks:
        checks += aws_checks(config)
    return checks


def aws_checks(config: DemoConfig) -> list[Check]:
    """The AWS account's side of the EKS profile, in the order a new account meets them. Pure."""
    checks = [Check("aws", "account"), Check("aws", "credentials"), Check("aws", "eks-cluster")]
    checks.append(Check("aws", "spot-role"))
    for capacity in config.gpu_pool.capacity_types:
        checks.append(Check("aws", "quota", (capacity,)))
    checks += [
        Check("aws", "node-role"),
        Check("aws", "interruption-queue"),
        Check("aws", "discovery-tags"),
        Check("aws", "nvidia-ami"),
    ]
    if s3_layout.weights_location(config):
        checks.append(Check("aws", "s3-endpoint"))
    if config.storage.kind == "s3":
        checks += [
            Check("aws", "bucket"),
            Check("aws", "irsa", (config.storage.iam_role, "gateway")),
        ]
    if config.snapshot_is_auto or config.weights_are_auto:
        checks.append(Check("aws", "prepared"))
    if s3_layout.weights_location(config):
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
    aws: Aws | None = None,
) -> None:
    """Run every check, report each as one line; raise the first failure afterwards."""
    failures: list[ClusterError | AwsError] = []
    for check in checks:
        try:
            line = _run(api, check, config, aws)
        except (ClusterError, AwsError) as exc:
            report(False, exc.message)
            # Transport and credential problems make every later check fail the same way.
            if isinstance(exc, Unreachable | CredentialsRejected | Forbidden):
                raise
            failures.append(exc)
            if isinstance(exc, AwsUnavailable):
                aws = None  # the remaining AWS checks would fail the same way: skip them
        else:
            if line:
                report(True, line)
    if failures:
        first = failures[0]
        if len(failures) == 1:
            raise first
        raise reworded_first(first, f"{first.message} (and {len(failures) - 1} more above)")


def reworded_first(first: ClusterError | AwsError, message: str) -> ClusterError | AwsError:
    """The first failure again, its family kept, with the count of the others."""
    if isinstance(first, AwsError):
        return errors.reworded(first, message)
    return type(first)(message)


def _add_on(check: Check) -> AddOn:
    return {
        "keda": KEDA,
        "karpenter": KARPENTER,
        "load-balancer": LOAD_BALANCER_CONTROLLER,
        "ebs-csi": EBS_CSI,
    }[check.subject]


def _run(api: Api, check: Check, config: DemoConfig | None, aws: Aws | None) -> str:
    if check.kind == "reachable":
        version = api.request("GET", "/version").get("gitVersion", "?")
        return f"context {api.context} -> {api.server} (Kubernetes {version}, user {api.user})"
    if check.kind == "https" and config is not None:
        problem = audience_https.plain_http_problem(config)
        if problem:
            raise PreflightFailed(problem)
        return audience_https.audience_line(config)
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
    if check.kind in CLUSTER_OBJECTS:
        api_version, kind, missing = CLUSTER_OBJECTS[check.kind]
        ref = Ref(api_version, kind, "", check.subject)
        _must_exist(api, ref, f"{kind} {check.subject} {missing}")
        return f"{kind} {check.subject} exists"
    if check.kind == "storageclass-rendered":
        live = api.get(Ref("storage.k8s.io/v1", "StorageClass", "", check.subject))
        problem = storage_class_conflict(check.subject, json.loads(check.detail[0]), live)
        if problem:
            raise PreflightFailed(problem)
        return f"StorageClass {check.subject} " + (
            "exists as tubedemo renders it" if live else "will be created by up"
        )
    if check.kind == "scaler-ca":
        (ns,) = check.detail
        live = api.get(Ref("v1", "ConfigMap", ns, check.subject))
        if live is None or not (live.get("data") or {}).get("ca.crt"):
            raise PreflightFailed(
                f"configmap {ns}/{check.subject} (key ca.crt: the CA the collector checks the "
                "OTEL scaler's certificate with) is missing; `tubedemo cluster create` makes it "
                'with the scaler\'s certificate, or set scaling.otlp_ca_configmap: "" for a '
                "scaler serving OTLP without TLS"
            )
        return f"ConfigMap {ns}/{check.subject} holds the OTEL scaler's CA"
    if check.kind == "service":
        ns, name = check.detail
        _must_exist(
            api,
            Ref("v1", "Service", ns, name),
            f"service {ns}/{name} (the Kedify OTEL scaler) is missing; install it first "
            f"(README: cluster prerequisites) or fix scaling.scaler_address",
        )
        return f"Kedify OTEL scaler service {ns}/{name} exists"
    if check.kind == "component":
        (ns,) = check.detail
        add_on = _add_on(check)
        deployment = _ready_add_on(api, add_on, ns)
        return f"{add_on.title} {image_version(deployment)} in {ns} (>= {add_on.minimum})"
    if check.kind == "csidriver":
        (ns,) = check.detail
        _must_exist(
            api,
            Ref("storage.k8s.io/v1", "CSIDriver", "", check.subject),
            f"CSIDriver {check.subject} is not registered: the EBS CSI driver is not "
            f"installed; {EBS_CSI.fix}",
        )
        deployment = _ready_add_on(api, EBS_CSI, ns)
        return f"EBS CSI driver {image_version(deployment)} ({check.subject}) in {ns}"
    if check.kind == "network-policy" and config is not None:
        return _network_policy(api, check, config)
    if check.kind == "aws":
        if config is None:
            raise AssertionError("AWS checks need the config")
        if aws is None:
            return ""  # reported once already: no credentials / unreachable
        return _aws(aws, config, check)
    raise AssertionError(check.kind)


def _network_policy(api: Api, check: Check, config: DemoConfig) -> str:
    """The rendered NetworkPolicy is enforced: the VPC CNI runs its network policy agent on."""
    (ns,) = check.detail
    live = api.get(Ref("apps/v1", "DaemonSet", ns, check.subject))
    if live is None:
        return (
            f"{account.WARNING}no {check.subject} DaemonSet in {ns} (not the VPC CNI, or "
            "prerequisites.vpc_cni_namespace): the vllm NetworkPolicy holds only if this "
            "cluster's CNI enforces NetworkPolicy"
        )
    problem = network_policy_problem(config.cluster.name, config.cluster.region, live)
    if problem:
        raise PreflightFailed(problem)
    return f"the VPC CNI ({ns}/{check.subject}) enforces NetworkPolicy ({ENFORCING})"


def _ready_add_on(api: Api, add_on: AddOn, ns: str) -> Mapping[str, Any]:
    """The add-on's Deployment, or PreflightFailed saying why it is not usable."""
    live = api.get(Ref("apps/v1", "Deployment", ns, add_on.deployment))
    problem = add_on_problem(add_on, live)
    if problem or live is None:
        raise PreflightFailed(problem or f"{add_on.title} is not installed")
    return live


def _must_exist(api: Api, ref: Ref, missing: str) -> None:
    """PreflightFailed(missing) unless the object is there."""
    if api.get(ref) is None:
        raise PreflightFailed(missing)


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
    if absent == [VLLM_KEY]:
        patch = f'{{"stringData":{{"{VLLM_KEY}":"\'$(openssl rand -hex 24)\'"}}}}\''
        raise PreflightFailed(
            f"secret {ns}/{name} ({what}) has no key {VLLM_KEY}, so vLLM would answer /v1 "
            f"without a key; add it, keeping the token: `tubedemo cluster create` (or kubectl "
            f"-n {ns} patch secret {name} -p '{patch})"
        )
    if absent:
        raise PreflightFailed(
            f"secret {ns}/{name} ({what}) has no key {absent[0]}; recreate it: {create}"
        )
    return f"secret {ns}/{name} exists" + (f" (key {', '.join(keys)})" if keys else "")


def _aws(aws: Aws, config: DemoConfig, check: Check) -> str:
    if check.subject == "prepared":
        return _prepared(aws, config)
    return account.run_check(aws, config, check.subject, check.detail)


def _prepared(aws: Aws, config: DemoConfig) -> str:
    """auto snapshot / weights: what `tubedemo prepare` made is there (up would resolve it)."""
    try:
        resolved = lookup.resolve(aws, config)
    except NotPrepared as exc:
        raise PreflightFailed(exc.message) from exc
    return lookup.found_line(config, resolved)
