"""What `cluster create` and `cluster delete` will do, step by step (pure: no AWS, no cluster).

The plan is printed before anything happens (`--dry-run` prints only the plan); then each step
prints one line saying what it made or found. Every step can find its result already there, so
running create again changes nothing, and an interrupted create continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tubedemo.aws import s3_layout
from tubedemo.cluster import scaler_tls
from tubedemo.core.config import DemoConfig
from tubedemo.eks import eksctl_config, karpenter_stack, pins
from tubedemo.eks.releases import releases


@dataclass(frozen=True)
class PlannedStep:
    """One step: what it makes (or removes), with which tool, roughly how long."""

    key: str
    what: str
    tool: str
    takes: str = ""


CLUSTER_MINUTES = "~15-20 min"
"""eksctl create cluster: the EKS control plane ~10 min, then node group and add-ons."""
CLUSTER_DELETE_MINUTES = "~10-15 min"
"""eksctl delete cluster: node group, add-on roles, cluster, VPC stacks in turn."""


def config_problems(cfg: DemoConfig) -> list[str]:
    """Why this demo.yaml cannot become a cluster with `cluster create` ([] when it can): the
    names Karpenter's CloudFormation gives must be the ones the render uses."""
    problems = []
    if cfg.profile != "eks":
        problems.append("profile is local: `cluster create` makes EKS clusters (set profile: eks)")
    node_role = eksctl_config.karpenter_node_role(cfg)
    if cfg.gpu_pool.node_role != node_role:
        problems.append(
            f"gpu_pool.node_role is {cfg.gpu_pool.node_role}, but Karpenter's CloudFormation "
            f"names the node role {node_role}: set gpu_pool.node_role: {node_role}"
        )
    ingress = cfg.web.ingress
    if ingress.hosted_zone is not None:
        zone = ingress.hosted_zone.rstrip(".")
        if not (ingress.host or "").rstrip(".").endswith(f".{zone}"):
            problems.append(
                f"web.ingress.hosted_zone is {zone}: set web.ingress.host to the audience's name "
                f"in it (e.g. talk.{zone}), the name the certificate is for"
            )
    if cfg.interruption_queue != cfg.cluster.name:
        problems.append(
            f"gpu_pool.interruption_queue is {cfg.interruption_queue}, but Karpenter's "
            f"CloudFormation names the queue {cfg.cluster.name}: leave it unset"
        )
    return problems


def create_plan(cfg: DemoConfig, folder: Path) -> list[PlannedStep]:
    """Every step of `cluster create`, in order."""
    name, region = cfg.cluster.name, cfg.cluster.region
    steps = [
        PlannedStep("account", f"AWS account and region {region} (STS)", "boto3"),
        PlannedStep(
            "karpenter-stack",
            f"Karpenter {pins.KARPENTER}'s CloudFormation stack "
            f"{karpenter_stack.stack_name(cfg)}: node role, 6 controller policies, interruption "
            f"queue {cfg.interruption_queue} and its EventBridge rules "
            f"({folder / karpenter_stack.TEMPLATE_FILE})",
            "CloudFormation",
            "~1 min",
        ),
        PlannedStep(
            "cluster",
            f"EKS {pins.KUBERNETES} cluster {name}: VPC {cfg.cluster.vpc_cidr} tagged for "
            f"Karpenter, OIDC, add-ons, {pins.SYSTEM_NODES} x {pins.SYSTEM_NODE_TYPE} system "
            f"nodes, the controllers' roles ({folder / 'eksctl.yaml'})",
            f"eksctl {pins.EKSCTL}",
            CLUSTER_MINUTES,
        ),
        PlannedStep("kubeconfig", f"kubeconfig context for {name}", "eksctl"),
        PlannedStep("spot-role", "EC2 Spot service-linked role", "boto3"),
        *(
            PlannedStep(
                f"quota-{capacity}", f"G and VT {capacity} vCPU quota for the GPU pool", "boto3"
            )
            for capacity in cfg.gpu_pool.capacity_types
        ),
        PlannedStep(
            "s3-endpoint",
            "S3 gateway endpoint on the private subnets' route tables (weights bypass the NAT)",
            "boto3",
        ),
        PlannedStep("bucket", f"S3 bucket {cfg.s3_bucket} (versioned, not public)", "boto3"),
        PlannedStep(
            "irsa-gateway", f"IAM role {cfg.storage.iam_role} (`tubedemo policy gateway`)", "boto3"
        ),
    ]
    if s3_layout.weights_location(cfg):
        steps.append(
            PlannedStep(
                "irsa-vllm", f"IAM role {cfg.model.iam_role} (`tubedemo policy vllm`)", "boto3"
            )
        )
    ingress = cfg.web.ingress
    if ingress.hosted_zone is not None:
        steps += [
            PlannedStep(
                "certificate",
                f"ACM certificate for {ingress.host} (DNS validation), waited for until issued",
                "boto3",
                "~2-5 min",
            ),
            PlannedStep(
                "certificate-dns",
                f"its validation CNAME in Route 53 hosted zone {ingress.hosted_zone}",
                "boto3",
            ),
        ]
    if cfg.scaling.otlp_ca_configmap:
        keda_ns = cfg.prerequisites.keda_namespace
        steps.append(
            PlannedStep(
                "scaler-tls",
                f"Secret {keda_ns}/{scaler_tls.secret_name(cfg.scaling.scaler_address)} (the "
                f"OTEL scaler's OTLP certificate, made once) and ConfigMap "
                f"{cfg.cluster.namespace}/{cfg.scaling.otlp_ca_configmap} (its CA, for the "
                "collector)",
                "kubernetes",
            )
        )
    for release in releases(cfg, vpc_id="<the cluster's VPC>"):
        steps.append(
            PlannedStep(
                f"helm-{release.name}",
                f"{release.name} {release.version} in {release.namespace}: {release.why}",
                f"helm {pins.HELM}",
                "~1-3 min",
            )
        )
    steps += [
        PlannedStep(
            "admin-token",
            f"namespace {cfg.cluster.namespace} and Secret {cfg.gateway.admin_token_secret} "
            "(the gateway's admin token)",
            "kubernetes",
        ),
    ]
    return steps


def delete_plan(cfg: DemoConfig) -> list[PlannedStep]:
    """Every step of `cluster delete`, in order: what bills first, the cluster, then the stack."""
    name = cfg.cluster.name
    ns = cfg.cluster.namespace
    steps = [
        PlannedStep(
            "cloudfront",
            "the audience's CloudFront distribution: disabled, then deleted",
            "boto3",
            "~5-15 min",
        ),
        PlannedStep(
            "kubeconfig",
            f"kubeconfig context for {name} (this machine may not have it)",
            "eksctl",
        ),
        PlannedStep(
            "ingress",
            f"Ingress in {ns}, then wait until its load balancer, target groups and security "
            "groups are gone",
            "kubernetes + boto3",
            "~1-3 min",
        ),
        PlannedStep(
            "volumes",
            f"PVCs in {ns}, then wait until their EBS volumes are gone",
            "kubernetes + boto3",
        ),
        PlannedStep(
            "gpu-nodes",
            f"NodePool {cfg.gpu_pool.name}, then wait until its NodeClaims and instances are gone",
            "kubernetes + boto3",
            "~1-2 min",
        ),
        PlannedStep("s3-endpoint", "S3 gateway endpoint (it would keep the VPC)", "boto3"),
        PlannedStep(
            "irsa-roles",
            f"IAM roles {cfg.storage.iam_role} and {cfg.model.iam_role} (they trust this "
            "cluster's OIDC provider only)",
            "boto3",
        ),
        PlannedStep(
            "cluster",
            f"EKS cluster {name}: node group, add-on roles, control plane, VPC",
            f"eksctl {pins.EKSCTL}",
            CLUSTER_DELETE_MINUTES,
        ),
        PlannedStep(
            "karpenter-stack",
            f"Karpenter's CloudFormation stack {karpenter_stack.stack_name(cfg)}",
            "CloudFormation",
            "~1 min",
        ),
        PlannedStep(
            "proof",
            "no instance, load balancer, volume, network interface, security group, NAT gateway "
            "or Elastic IP of the talk is left",
            "boto3",
        ),
    ]
    return steps


def format_plan(
    heading: str, steps: list[PlannedStep], *, width: int = 2
) -> list[str]:  # pure: lines to print
    """The plan as numbered lines."""
    lines = [heading]
    for number, step in enumerate(steps, 1):
        takes = f", {step.takes}" if step.takes else ""
        lines.append(f"{number:>{width}}. {step.what} [{step.tool}{takes}]")
    return lines
