"""Carry out `cluster delete`'s plan, waiting at each step, and end with the proof.

What bills through a controller goes while the controllers still run: the talk's objects (as
`teardown --purge-data`), then the Ingress until its load balancer, target groups and security
groups are gone, the PVCs until their volumes are gone, the NodePool's NodeClaims until their
instances are gone. Then what would keep the VPC (the S3 endpoint), the IRSA roles, the cluster
(eksctl), Karpenter's stack. Last the proof: nothing of the talk left in the account, and what
was kept on purpose with its monthly cost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tubedemo.aws.session import Aws
from tubedemo.core.config import DemoConfig
from tubedemo.eks import aws_steps, cloudfront
from tubedemo.eks.aws_steps import LeftBehind
from tubedemo.eks.create import ensure_kubeconfig, say
from tubedemo.eks.tools import Tools

Report = Callable[[str], None]

KUBE_WAIT = 600.0
"""Seconds for a controller to let go of an Ingress, a PVC or a NodeClaim."""


def delete_cluster(
    cfg: DemoConfig,
    *,
    report: Report,
    folder: Path,
    aws: Aws | None = None,
    kubeconfig: Path | None = None,
    kube_wait: float = KUBE_WAIT,
    aws_wait: float = aws_steps.GONE_WAIT,
) -> None:
    aws = aws or Aws(cfg.cluster.region)
    cfg = cfg.with_account(aws.account_id())
    tools = Tools(env=aws.child_environment(), logs=folder / "logs")
    facts = aws_steps.cluster_facts(aws, cfg)
    vpc_id = facts.vpc_id if facts else None

    say(report, cloudfront.delete(aws, cfg))
    if facts is not None:
        # this machine may never have had the cluster's context (the laptop that made it died)
        say(report, ensure_kubeconfig(tools, cfg))
        release_what_bills(
            aws, cfg, report=report, kubeconfig=kubeconfig, kube_wait=kube_wait, aws_wait=aws_wait
        )
    else:
        report(f"  gone    EKS cluster {cfg.cluster.name} (nothing in it to wait for)")

    say(report, aws_steps.delete_s3_endpoint(aws, cfg, vpc_id))
    for role in (cfg.storage.iam_role, cfg.model.iam_role):
        say(report, aws_steps.delete_role(aws, role))
    if facts is not None:
        delete_eks_cluster(tools, cfg, report)
    say(report, aws_steps.delete_karpenter_stack(aws, cfg))
    prove_nothing_left(aws, cfg, vpc_id, report)


def release_what_bills(
    aws: Aws,
    cfg: DemoConfig,
    *,
    report: Report,
    kubeconfig: Path | None,
    kube_wait: float,
    aws_wait: float,
) -> None:
    """While the controllers still run: the talk's objects (as `teardown --purge-data`), then
    each object whose controller holds something that bills, waited for until that is gone too —
    the Ingress (load balancer), the PVCs (volumes), the NodePool's NodeClaims (instances)."""
    from tubedemo.cluster import bootstrap, teardown
    from tubedemo.cluster.api import connect

    api = connect(kubeconfig, cfg.cluster.context)
    plan = teardown.plan_for(api, cfg, purge_data=True)
    teardown.execute(
        api, cfg, plan, report=lambda line: report(f"  {line}"), node_timeout=kube_wait
    )
    say(
        report,
        bootstrap.wait_deleted(
            api, bootstrap.ingresses(api, cfg), what="Ingress", timeout=kube_wait
        ),
    )
    say(
        report,
        aws_steps.wait_gone(
            "load balancer, target groups, security groups",
            lambda: aws_steps.load_balancer_leftovers(aws, cfg),
            timeout=aws_wait,
        ),
    )
    say(
        report,
        bootstrap.wait_deleted(api, bootstrap.claims(api, cfg), what="PVCs", timeout=kube_wait),
    )
    say(
        report,
        aws_steps.wait_gone(
            "EBS volumes of the PVCs",
            lambda: aws_steps.volume_leftovers(aws, cfg),
            timeout=aws_wait,
        ),
    )
    say(
        report,
        bootstrap.wait_deleted(
            api,
            bootstrap.gpu_pool(api, cfg),
            what=f"NodePool {cfg.gpu_pool.name} and its NodeClaims",
            timeout=kube_wait,
        ),
    )
    say(
        report,
        aws_steps.wait_gone(
            "GPU instances",
            lambda: aws_steps.gpu_instance_leftovers(aws, cfg),
            timeout=aws_wait,
        ),
    )


def delete_eks_cluster(tools: Tools, cfg: DemoConfig, report: Report) -> None:
    """The cluster and the VPC eksctl made for it, waited for."""
    tools.run(
        [
            "eksctl",
            "delete",
            "cluster",
            "--name",
            cfg.cluster.name,
            "--region",
            cfg.cluster.region,
            "--wait",
        ],
        log="eksctl-delete-cluster",
    )
    say(report, ("deleted", f"EKS cluster {cfg.cluster.name} and its VPC (eksctl)"))


def prove_nothing_left(aws: Aws, cfg: DemoConfig, vpc_id: str | None, report: Report) -> None:
    """Nothing of the talk that bills is left in the account (else LeftBehind), and what was
    kept on purpose, with its monthly cost."""
    left = aws_steps.proof(aws, cfg, vpc_id)
    if left:
        raise LeftBehind(
            "still in the account after delete: "
            + ", ".join(f"{item.kind} {item.id}" for item in left)
            + "; delete them by hand (they bill)"
        )
    report(
        "  proof   no instance, load balancer, volume, network interface, security group, NAT "
        "gateway or Elastic IP of "
        f"cluster {cfg.cluster.name} is left in {aws.region}"
    )
    for line in aws_steps.kept(aws, cfg):
        report(f"  kept    {line}")
