"""tubedemo drill spot: interrupt the node of one replica, as EC2 would.

On EKS the interruption is AWS Fault Injection Service's
``aws:ec2:send-spot-instance-interruptions`` (EC2's own two-minute notice, then the
interruption); ``--dry-run`` prints the experiment template and the role FIS needs
(tubedemo.aws.fis). ``--lab`` does in the running lab what Karpenter does on the notice
(tubedemo.lab.drill: the replica's NodeClaim deleted). The twin's equivalent is
``twin.startup.spot_interruptions`` (simulate and rehearse); the dashboard shows any of them
the same way (the notice's countdown, the drain, when a replacement serves).
"""

from pathlib import Path
from typing import Annotated

import typer

from tubedemo.commands.lab import LabDir
from tubedemo.commands.options import (
    ConfigPath,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)

DRILL_HELP = "Drills on stage: interrupt a GPU node the way the cloud would."


def spot(
    config: ConfigPath = None,
    set_: Overrides = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the FIS experiment and its role; start nothing."),
    ] = False,
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="The GPU node's instance (i-...); default: one running spot instance of the "
            "NodePool, picked by FIS."
        ),
    ] = None,
    lab: Annotated[
        bool,
        typer.Option(
            "--lab",
            help="Interrupt a replica's node in the running lab (`tubedemo lab up`): its "
            "NodeClaim deleted, as Karpenter does on EC2's notice.",
        ),
    ] = False,
    workdir: LabDir = None,
) -> None:
    """Interrupt one GPU node with EC2's two-minute spot notice (AWS FIS on EKS)."""
    import json

    from tubedemo.aws import fis
    from tubedemo.core.errors import ConfigError, UsageError

    cfg = config_from(config, set_)
    if lab:
        _lab_drill(cfg.cluster.namespace, workdir)
        return
    if cfg.profile != "eks":
        raise ConfigError(
            "drill spot interrupts an EKS node (profile eks); without a cloud: --lab (the "
            "running lab), or the twin: tubedemo simulate --set "
            "'twin.startup.spot_interruptions=[10m]' (or rehearse)"
        )
    template = fis.spot_drill_template(cfg, instance_id)
    if not dry_run:
        raise UsageError(
            "drill spot starts nothing from tubedemo yet: run it with --dry-run, save the "
            "template and start it with `aws fis create-experiment-template --cli-input-json "
            "file://drill.json` then `aws fis start-experiment --experiment-template-id <id>` "
            f"(role {fis.FIS_ROLE}: the policy and trust --dry-run prints)"
        )
    # stdout: the template alone, so `> drill.json` is what --cli-input-json reads
    typer.echo(json.dumps(template, indent=2))
    notice = template["actions"]["interrupt"]["parameters"]["durationBeforeInterruption"]
    err = lazy_console(stderr=True, highlight=False, soft_wrap=True)
    err.print(
        f"FIS experiment template above ({fis.ACTION}, notice {notice}); start it with "
        "`aws fis create-experiment-template --cli-input-json file://drill.json` and "
        f"`aws fis start-experiment --experiment-template-id <id>`. Role {fis.FIS_ROLE}, "
        "permissions:"
    )
    err.print(json.dumps(fis.fis_role_policy(), indent=2))
    err.print(f"role {fis.FIS_ROLE}, trust:")
    err.print(json.dumps(fis.fis_role_trust(), indent=2))


def _lab_drill(namespace: str, workdir: Path | None) -> None:
    from tubedemo.cluster.api import connect
    from tubedemo.lab import LabError, default_home
    from tubedemo.lab.drill import interrupt
    from tubedemo.lab.state_file import status

    home = (workdir or default_home()).absolute()
    state = status(home)
    if state is None or not state.get("ready"):
        raise LabError(f"no lab running from {home}: `tubedemo lab up --detach` first")
    drill = interrupt(connect(state["kubeconfig"]), namespace)
    if drill is None:
        raise LabError(
            f"no vLLM replica of namespace {namespace} serves on a Karpenter node in the lab: "
            "nothing to interrupt"
        )
    typer.echo(
        f"interrupted NodeClaim {drill.nodeclaim} (node {drill.node}, {drill.capacity_type}) "
        f"as Karpenter does on EC2's notice: {', '.join(drill.pods)} drain(s); Karpenter "
        "launches a node for the replacement"
    )


def register(app: typer.Typer) -> None:
    drill_app = command_group(DRILL_HELP)
    app.add_typer(drill_app, name="drill")
    drill_app.command()(spot)
