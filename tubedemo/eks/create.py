"""Carry out `cluster create`'s plan: one line per step, "made" or "found".

The files handed to the tools are written first (the ClusterConfig, Karpenter's CloudFormation,
the charts' values) and kept. Every step looks before it acts, so a second run makes nothing and
an interrupted run continues: a stack still creating is waited for, a cluster whose node group
is missing gets it, a release already at its version with the same values is left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tubedemo.aws import account as aws_account
from tubedemo.aws import iam as aws_iam
from tubedemo.aws import s3_layout
from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import AwsError, ConfigError
from tubedemo.eks import aws_steps, eksctl_config, karpenter_stack
from tubedemo.eks.releases import Release, releases
from tubedemo.eks.tools import Tools

Report = Callable[[str], None]

CLUSTER_FILE = "eksctl.yaml"
TEMPLATE_URL_ENV = "TUBEDEMO_KARPENTER_TEMPLATE_URL"
"""Another address of Karpenter's CloudFormation (a mirror; the tests' loopback server)."""


def say(report: Report, outcome: tuple[str, str]) -> None:
    verb, what = outcome
    report(f"  {verb:<7} {what}")


def karpenter_template(folder: Path) -> tuple[str, str]:
    """Karpenter's CloudFormation: the copy in ``folder``, else downloaded at the pinned tag
    (and kept there); checked for what create relies on either way."""
    path = folder / karpenter_stack.TEMPLATE_FILE
    verb = "found"
    if not path.is_file():
        import httpx

        url = os.environ.get(TEMPLATE_URL_ENV) or karpenter_stack.template_url()
        try:
            reply = httpx.get(url, follow_redirects=True, timeout=60.0)
        except httpx.HTTPError as exc:
            raise AwsError(f"cannot download Karpenter's CloudFormation from {url}: {exc}") from exc
        if reply.status_code != 200:
            raise AwsError(
                f"Karpenter's CloudFormation: {url} answered {reply.status_code}; download it "
                f"to {path} by hand and run create again"
            )
        path.write_text(reply.text, encoding="utf-8")
        verb = "made"
    text = path.read_text(encoding="utf-8")
    try:
        problems = karpenter_stack.required_problems(karpenter_stack.parse_template(text))
    except ValueError as exc:
        problems = [str(exc)]
    if problems:
        raise ConfigError(
            f"{path} is not the Karpenter CloudFormation create needs ({'; '.join(problems)}); "
            "delete it and run create again to download it"
        )
    return verb, text


def write_files(cfg: DemoConfig, folder: Path, vpc_id: str) -> list[Release]:
    """The ClusterConfig and the charts' values, written for the tools and for the reader."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLUSTER_FILE).write_text(eksctl_config.cluster_config_yaml(cfg), encoding="utf-8")
    chosen = releases(cfg, vpc_id)
    for release in chosen:
        (folder / release.values_file).write_text(release.values_yaml(), encoding="utf-8")
    return chosen


def ensure_cluster(aws: Aws, tools: Tools, cfg: DemoConfig, folder: Path) -> tuple[str, str]:
    """eksctl creates the cluster from the ClusterConfig; a cluster an interrupted create left
    without its node group gets the rest from the same file."""
    name = cfg.cluster.name
    config = str(folder / CLUSTER_FILE)
    facts = aws_steps.cluster_facts(aws, cfg)
    if facts is None:
        tools.run(["eksctl", "create", "cluster", "-f", config], log="eksctl-create-cluster")
        return "made", f"EKS cluster {name} (eksctl, {config})"
    group = aws.call(
        "eks",
        "describe_nodegroup",
        missing=aws_steps.NO_SUCH_CLUSTER,
        clusterName=name,
        nodegroupName="system",
    )
    if group is not None:
        return "found", f"EKS cluster {name} ({facts.status}, node group system)"
    for what in ("nodegroup", "addon", "podidentityassociation", "accessentry"):
        tools.run(["eksctl", "create", what, "-f", config], log=f"eksctl-create-{what}")
    return "made", f"EKS cluster {name}: node group, add-ons, roles and access entry"


def ensure_kubeconfig(tools: Tools, cfg: DemoConfig) -> tuple[str, str]:
    """kubectl's (and tubedemo's) context for the cluster, made current."""
    name, region = cfg.cluster.name, cfg.cluster.region
    tools.run(
        ["eksctl", "utils", "write-kubeconfig", "--cluster", name, "--region", region],
        log="eksctl-write-kubeconfig",
    )
    return "made", f"kubeconfig: current context is cluster {name}"


def deployed(tools: Tools) -> dict[tuple[str, str], dict[str, Any]]:
    """helm's releases: (namespace, name) -> its listing."""
    listing = json.loads(
        tools.run(["helm", "list", "--all-namespaces", "--output", "json"], log="helm-list") or "[]"
    )
    return {(str(r["namespace"]), str(r["name"])): r for r in listing}


def ensure_release(
    tools: Tools, release: Release, folder: Path, present: dict[tuple[str, str], dict[str, Any]]
) -> tuple[str, str]:
    """helm upgrade --install, unless the release is deployed at this version with these
    values (then nothing is asked of helm)."""
    what = f"helm release {release.namespace}/{release.name} {release.version}"
    live = present.get((release.namespace, release.name))
    chart_name = release.chart.rpartition("/")[2]
    if (
        live is not None
        and live.get("status") == "deployed"
        and live.get("chart") == f"{chart_name}-{release.version}"
    ):
        values = tools.run(
            [
                "helm",
                "get",
                "values",
                release.name,
                "--namespace",
                release.namespace,
                "--output",
                "json",
            ],
            log=f"helm-{release.name}",
        )
        if (json.loads(values or "null") or {}) == release.values:
            return "found", what
    tools.run(release.argv(folder), log=f"helm-{release.name}")
    return "made", what


def create_cluster(
    cfg: DemoConfig,
    folder: Path,
    *,
    report: Report,
    aws: Aws | None = None,
    kubeconfig: Path | None = None,
) -> None:
    """Every step of the plan, in order (see tubedemo.eks.plan.create_plan)."""
    from tubedemo.cluster import bootstrap
    from tubedemo.cluster.api import connect

    aws = aws or Aws(cfg.cluster.region)
    cfg = in_the_configured_account(aws, cfg, report)
    folder.mkdir(parents=True, exist_ok=True)
    tools = Tools(env=aws.child_environment(), logs=folder / "logs")

    verb, template = karpenter_template(folder)
    say(report, (verb, f"Karpenter's CloudFormation {folder / karpenter_stack.TEMPLATE_FILE}"))
    say(report, aws_steps.ensure_karpenter_stack(aws, cfg, template))

    facts = cluster_with_its_network(aws, tools, cfg, folder, report)
    chosen = write_files(cfg, folder, vpc_id=facts.vpc_id)
    say(report, ensure_kubeconfig(tools, cfg))
    ensure_account_side(aws, cfg, facts, report)

    # before the releases: the scaler's pod mounts its OTLP certificate Secret, and would not
    # start (helm --wait would time out) without it
    api = connect(kubeconfig, cfg.cluster.context)
    for outcome in bootstrap.ensure_scaler_tls(api, cfg):
        say(report, outcome)
    present = deployed(tools)
    for release in chosen:
        say(report, ensure_release(tools, release, folder, present))

    # the gp3 StorageClass is part of `up`'s render (storage.create_storage_class)
    say(report, bootstrap.ensure_admin_token(api, cfg))
    report(
        "next: `tubedemo prepare` (weights in S3 and the image snapshot, once per account, "
        "~15-20 min), then `tubedemo preflight && tubedemo up`"
    )


def in_the_configured_account(aws: Aws, cfg: DemoConfig, report: Report) -> DemoConfig:
    """The config with the credentials' account filled in, refused (ConfigError) when the
    config names another account."""
    account = aws.account_id()
    problem = aws_account.account_mismatch(account, cfg)
    if problem:
        raise ConfigError(problem)
    cfg = cfg.with_account(account)
    say(report, ("found", f"AWS account {account}, region {aws.region}"))
    return cfg


def cluster_with_its_network(
    aws: Aws, tools: Tools, cfg: DemoConfig, folder: Path, report: Report
) -> aws_steps.ClusterFacts:
    """The EKS cluster (eksctl, from the ClusterConfig written first) and its VPC and OIDC
    issuer, which every later step needs."""
    write_files(cfg, folder, vpc_id="<the cluster's VPC>")
    if aws_steps.cluster_facts(aws, cfg) is None:
        report(
            f"  ...     eksctl create cluster -f {folder / CLUSTER_FILE} (~15-20 min; its log: "
            f"{folder / 'logs' / 'eksctl-create-cluster.log'})"
        )
    say(report, ensure_cluster(aws, tools, cfg, folder))
    facts = aws_steps.cluster_facts(aws, cfg)
    if facts is None or not facts.vpc_id or not facts.oidc_issuer:
        raise AwsError(
            f"EKS cluster {cfg.cluster.name} has no VPC or OIDC issuer after eksctl; see "
            f"{folder / 'logs'}"
        )
    return facts


def ensure_account_side(
    aws: Aws, cfg: DemoConfig, facts: aws_steps.ClusterFacts, report: Report
) -> None:
    """What the cluster needs of the account around it: the spot service role, GPU quotas, the
    VPC's S3 endpoint, the bucket, the IRSA roles of the gateway (and of vLLM when the
    weights come from S3), and the audience's certificate when demo.yaml names a hosted zone."""
    say(report, aws_steps.ensure_spot_role(aws))
    for capacity in cfg.gpu_pool.capacity_types:
        say(report, aws_steps.ensure_quota(aws, cfg, capacity))
    say(report, aws_steps.ensure_s3_endpoint(aws, cfg, facts.vpc_id))
    made = aws_account.create_bucket(aws, cfg.s3_bucket)
    say(report, ("made" if made else "found", f"S3 bucket {cfg.s3_bucket}"))
    say(
        report,
        aws_steps.ensure_irsa_role(
            aws,
            cfg,
            cfg.storage.iam_role,
            "gateway",
            facts.oidc_issuer,
            "survey",
            aws_iam.gateway_policy(cfg),
        ),
    )
    if s3_layout.weights_location(cfg):
        say(
            report,
            aws_steps.ensure_irsa_role(
                aws,
                cfg,
                cfg.model.iam_role,
                "vllm",
                facts.oidc_issuer,
                "weights",
                aws_iam.weights_policy(cfg),
            ),
        )
    # the audience's https name (web.ingress.hosted_zone)
    if cfg.web.ingress.hosted_zone is not None:
        arn, outcome = aws_steps.ensure_certificate(aws, cfg)
        say(report, outcome)
        say(report, aws_steps.ensure_validation_record(aws, cfg, arn))
        say(report, aws_steps.wait_certificate(aws, arn))
