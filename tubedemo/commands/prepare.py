"""prepare: make what the prepared talk starts from (S3 weights, image snapshot), or delete it."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import ConfigPath, Overrides, config_from, lazy_console
from tubedemo.core.errors import Cancelled, UsageError

if TYPE_CHECKING:
    from tubedemo.aws.session import Aws
    from tubedemo.core.config import DemoConfig

console = lazy_console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(prepare)


def _line(text: str) -> None:
    console.print(f"  {text}", soft_wrap=True)


def prepare(
    config: ConfigPath = None,
    set_: Overrides = None,
    weights: Annotated[
        bool, typer.Option("--weights/--no-weights", help="Copy the model's weights to S3.")
    ] = True,
    snapshot: Annotated[
        bool,
        typer.Option("--snapshot/--no-snapshot", help="Make the EBS snapshot with model.image."),
    ] = True,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            help="Delete this config's prepared snapshot(s) and S3 weights (and the builder's "
            "IAM role) instead; `teardown` keeps them for the next talk.",
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Where the hub download goes (default: the Hugging Face cache, HF_HOME).",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --delete.")] = False,
) -> None:
    """Prepare the talk once per account, region and image: weights in S3, image on a snapshot.

    `up` with the default `auto` finds both and starts a GPU pod in ~3 min instead of ~10;
    run again any time: what exists is reused (idempotent)."""
    from tubedemo.aws import account
    from tubedemo.aws.session import Aws

    cfg = config_from(config, set_)
    if cfg.profile != "eks":
        raise UsageError(
            "prepare is for the eks profile (GPU nodes, S3); the local profile needs nothing"
        )
    aws = Aws(cfg.cluster.region)
    # credentials and the account first: nothing is downloaded for an account we cannot reach
    account_id = aws.account_id()
    problem = account.account_mismatch(account_id, cfg)
    if problem:
        raise UsageError(problem)
    cfg = cfg.with_account(account_id)
    if delete:
        _delete(aws, cfg, yes)
    else:
        _make(aws, cfg, weights=weights, snapshot=snapshot, cache_dir=cache_dir)


def _where(cfg: "DemoConfig") -> str:
    return f"account {cfg.cluster.account_id}, {cfg.cluster.region}"


def _delete(aws: "Aws", cfg: "DemoConfig", yes: bool) -> None:
    """prepare --delete: say what goes, ask unless --yes, delete it."""
    from tubedemo.aws import s3_layout
    from tubedemo.prepare.delete import delete_prepared

    console.print(
        f"[bold]prepare --delete[/] in {_where(cfg)}: snapshots of {cfg.model.image}, weights at "
        f"{s3_layout.weights_uri(cfg)}, vLLM's compile caches under s3://{cfg.s3_bucket}/"
        f"{s3_layout.COMPILE_CACHE_PREFIX}/, IAM role tubedemo-snapshot-builder"
    )
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete without --yes (no terminal to ask)")
        if not typer.confirm("Delete them?", default=False):
            raise Cancelled("nothing was deleted")
    gone = delete_prepared(aws, cfg, _line)
    console.print(f"[green]deleted[/] {gone} prepared item(s)" if gone else "nothing to delete")


def _make(
    aws: "Aws", cfg: "DemoConfig", *, weights: bool, snapshot: bool, cache_dir: Path | None
) -> None:
    """Copy the weights and make the snapshot (each when asked and `auto`); Ctrl-C, SIGTERM
    and a closed terminal still terminate the builder."""
    from tubedemo.aws import s3_layout
    from tubedemo.core.signals import term_and_hangup_as_interrupt
    from tubedemo.prepare import image_snapshot as snapshots
    from tubedemo.prepare import weights as weights_ops

    console.print(f"[bold]prepare[/] the talk in {_where(cfg)}")
    made: list[str] = []
    with term_and_hangup_as_interrupt():
        if weights and cfg.weights_are_auto:
            console.print(f"[bold]weights[/] {cfg.model.name}@{cfg.model.revision}")
            folder, commit = weights_ops.download_weights(cfg, cache_dir, _line)
            result = weights_ops.upload_weights(aws, cfg, folder, commit, _line)
            _line(
                f"weights: {result.uri} ({result.uploaded} uploaded, {result.skipped} already "
                "there)"
            )
            made.append(f"weights {result.uri}")
        elif weights:
            _line(
                f"weights: model.weights_uri is {cfg.model.weights_uri or 'empty'!r}, not auto: "
                "nothing to copy"
            )
        if snapshot and cfg.snapshot_is_auto:
            console.print(f"[bold]image snapshot[/] {cfg.model.image}")
            snap = snapshots.make_snapshot(aws, cfg, _line)
            made.append(f"image snapshot {snap}")
        elif snapshot:
            _line(
                f"snapshot: gpu_pool.image_snapshot_id is "
                f"{cfg.gpu_pool.image_snapshot_id or 'empty'!r}, not auto: nothing to make"
            )
        if s3_layout.compile_cache_rendered(cfg):
            from tubedemo.prepare.lookup import compile_cache_state

            _line(compile_cache_state(aws, cfg))
    if made:
        console.print(
            f"[green]prepared[/]: {', '.join(made)}; `up` finds them (auto). `teardown` keeps "
            "them for the next talk; `tubedemo prepare --delete` removes them",
            soft_wrap=True,
        )
