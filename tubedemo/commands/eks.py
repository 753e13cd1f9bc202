"""cluster create / cluster delete: from an AWS account to the talk's EKS cluster and back."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import (
    ConfigPath,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)
from tubedemo.core.errors import Cancelled, ConfigError, UsageError

if TYPE_CHECKING:
    from tubedemo.core.config import DemoConfig

console = lazy_console(highlight=False, soft_wrap=True)

DEFAULT_FOLDER = Path("tubedemo-eks")
"""Where create keeps what it hands the tools (ClusterConfig, Karpenter's CloudFormation, the
charts' values), for the presenter to read."""

Folder = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="Folder for the eksctl ClusterConfig, Karpenter's CloudFormation and the charts' "
        "values (kept for you to read).",
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan only: nothing is made or changed.")
]


def register(app: typer.Typer) -> None:
    group = command_group(
        "The talk's EKS cluster: from an AWS account to `tubedemo preflight` passing, and back."
    )
    group.command()(create)
    group.command()(delete)
    app.add_typer(group, name="cluster")


def _checked(cfg: "DemoConfig") -> "DemoConfig":
    from tubedemo.eks.plan import config_problems

    problems = config_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def _say(line: str) -> None:
    console.print(line, markup=False)


def _print(lines: list[str]) -> None:
    for line in lines:
        console.print(line, markup=False)


def create(
    config: ConfigPath = None,
    set_: Overrides = None,
    folder: Folder = DEFAULT_FOLDER,
    dry_run: DryRun = False,
) -> None:
    """Make the talk's EKS cluster and everything `tubedemo preflight` checks (idempotent:
    run again and nothing changes; interrupted, run again and it continues)."""
    from tubedemo.eks.plan import create_plan, format_plan

    cfg = _checked(config_from(config, set_))
    folder = folder.resolve()
    account = cfg.cluster.account_id or "from STS when create runs"
    heading = (
        f"plan: cluster {cfg.cluster.name} in {cfg.cluster.region}, account {account}; "
        f"files in {folder}"
    )
    _print(format_plan(heading, create_plan(cfg, folder)))
    if dry_run:
        console.print("dry run: nothing was made or changed")
        return
    from tubedemo.eks.create import create_cluster

    create_cluster(cfg, folder, report=_say)


def delete(
    config: ConfigPath = None,
    set_: Overrides = None,
    folder: Folder = DEFAULT_FOLDER,
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the talk's EKS cluster and wait until nothing of it bills; keep the survey bucket
    and the prepared weights and snapshot (listed with their monthly cost)."""
    from tubedemo.eks.plan import delete_plan, format_plan

    cfg = _checked(config_from(config, set_))
    heading = f"plan: delete cluster {cfg.cluster.name} in {cfg.cluster.region}"
    _print(format_plan(heading, delete_plan(cfg)))
    if dry_run:
        console.print("dry run: nothing was deleted")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete the cluster without --yes (no terminal to ask)")
        if not typer.confirm("Proceed?", default=False):
            raise Cancelled("cluster delete cancelled; nothing was deleted")
    from tubedemo.eks.delete import delete_cluster

    delete_cluster(cfg, report=_say, folder=folder.resolve())
