"""tubedemo drill spot: interrupt the node of one replica, as EC2 would.

On EKS the interruption is AWS Fault Injection Service's ``aws:ec2:send-spot-instance-
interruptions`` (EC2's own two-minute notice, then the interruption); ``--dry-run`` prints the
experiment template and the role FIS needs (tubedemo.aws.fis). The twin's equivalent is
``twin.startup.spot_interruptions`` (simulate and rehearse); the dashboard shows any of them
the same way (the notice's countdown, the drain, when a replacement serves).
"""

from typing import Annotated

import typer

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
) -> None:
    """Interrupt one GPU node with EC2's two-minute spot notice (AWS FIS on EKS)."""
    import json

    from tubedemo.aws import fis
    from tubedemo.core.errors import ConfigError, UsageError

    cfg = config_from(config, set_)
    if cfg.profile != "eks":
        raise ConfigError(
            "drill spot interrupts an EKS node (profile eks); without a cloud the twin does it: "
            "tubedemo simulate --set 'twin.startup.spot_interruptions=[10m]' (or rehearse)"
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


def register(app: typer.Typer) -> None:
    drill_app = command_group(DRILL_HELP)
    app.add_typer(drill_app, name="drill")
    drill_app.command()(spot)
