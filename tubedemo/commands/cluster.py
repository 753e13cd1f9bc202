"""preflight, policy, up, diff, mode, teardown: the commands that change or check a cluster (via
tubedemo.cluster); its read-out on stage is ``commands.status``."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tubedemo.commands.options import (
    AdminToken,
    ConfigPath,
    Context,
    GatewayUrl,
    Kubeconfig,
    Overrides,
    config_from,
    lazy_console,
)
from tubedemo.core.errors import Cancelled, ClusterError, ConfigError, UsageError

if TYPE_CHECKING:
    from tubedemo.core.config import DemoConfig

__all__ = ["Context", "Kubeconfig", "register"]  # audience.py imports the two option types

if TYPE_CHECKING:
    from tubedemo.aws.session import Aws
    from tubedemo.cluster.api import Api
    from tubedemo.cluster.plan import DiffEntry
    from tubedemo.cluster.up import UpResult

console = lazy_console(highlight=False)
err = lazy_console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(preflight)
    app.command()(policy)
    app.command()(up)
    app.command(name="diff")(diff_cmd)
    app.command()(mode)
    app.command()(teardown)


def _connect(cfg: "DemoConfig", kubeconfig: Path | None, context: str | None) -> "Api":
    from tubedemo.cluster.api import connect

    return connect(kubeconfig, context or cfg.cluster.context)


def _manifests(cfg: "DemoConfig") -> list[dict[str, Any]]:
    from tubedemo.manifests import crds
    from tubedemo.manifests.render import render
    from tubedemo.manifests.validate import ensure_valid

    manifests = render(cfg)
    ensure_valid(manifests, crds.load_crds(fetch_missing=True))
    return manifests


def _line(text: str) -> None:
    console.print(f"  {text}")


def up(
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Server-side dry run: show, change nothing.")
    ] = False,
    force_conflicts: Annotated[
        bool,
        typer.Option("--force-conflicts", help="Take over fields another manager changed."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each rollout before naming what's stuck.")
    ] = 900.0,
    wait: Annotated[bool, typer.Option(help="Wait for rollouts.")] = True,
    wait_address: Annotated[
        bool,
        typer.Option(help="Wait for the load balancer's address and record the audience URL."),
    ] = True,
    address_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the load balancer (an ALB takes ~2-3 min).")
    ] = 600.0,
) -> None:
    """Render, validate and server-side apply to the cluster; wait until ready; prune."""
    from tubedemo.cluster import up as up_ops
    from tubedemo.core import own_images

    cfg = config_from(config, set_)
    # Our own images must have been pushed (or set): never deploy a placeholder reference.
    # Checked first: it needs nothing but the config (no AWS, no cluster).
    own_images.require_deployable(cfg)
    cfg, aws = _with_aws(cfg)
    # auto -> the snapshot and weights `tubedemo prepare` made; refuses (NotPrepared) without
    # them, so the talk never goes on stage cold by accident. The render gets concrete ids.
    cfg = _prepared(cfg, aws)
    api = _connect(cfg, kubeconfig, context)
    cfg, manifests = _what_up_applies(cfg, api)
    _preflight(cfg, api, manifests, aws)
    ns = cfg.cluster.namespace
    if dry_run:
        entries = up_ops.diff(api, manifests, ns)
        _print_diff(entries, heading="dry run (server-side), nothing changed")
        return
    if aws is not None and cfg.storage.kind == "s3" and cfg.storage.create_bucket:
        from tubedemo.aws import account

        if account.create_bucket(aws, cfg.s3_bucket):
            console.print(f"  created    S3 bucket {cfg.s3_bucket} (versioned, not public)")
    from tubedemo.cluster.plan import first_export

    # eks: the ScaledObject only after every collector's first export (see OtelConfig)
    export_wait = cfg.otel.first_export_timeout if cfg.profile == "eks" else 0.0
    console.print(f"[bold]apply[/] (field manager tubedemo) to {api.context}")
    with console.status("applying…") as spinner:
        result = up_ops.up(
            api,
            manifests,
            ns,
            report=_line,
            force_conflicts=force_conflicts,
            timeout=timeout,
            wait=wait,
            progress=spinner.update,
            first_export=first_export(manifests, export_wait),
        )
    console.print(_applied(result, waited=wait))
    _audience_address(cfg, api, manifests, aws, wait=wait and wait_address, timeout=address_timeout)
    if cfg.profile == "eks":
        from datetime import UTC, datetime

        from tubedemo.cluster import deadline

        live = deadline.read(api, ns)
        console.print(deadline.describe(live, cfg.gpu_pool.name, datetime.now(UTC)))


def _applied(result: "UpResult", *, waited: bool) -> str:
    """up's closing line: how many objects each outcome had (and how many were pruned), or
    that nothing changed."""
    if not result.changed:
        return f"[green]nothing changed[/]: {len(result.outcomes)} objects already up to date"
    counts: dict[str, int] = {}
    for _, outcome in result.outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    parts = [f"{n} {k}" for k, n in sorted(counts.items())]
    if result.pruned:
        parts.append(f"{len(result.pruned)} pruned")
    done = "ready" if waited else "applied (not waited for)"
    return f"[green]{done}[/]: {', '.join(parts)}"


def _audience_address(
    cfg: "DemoConfig",
    api: "Api",
    manifests: list[dict[str, Any]],
    aws: "Aws | None",
    *,
    wait: bool,
    timeout: float,
) -> None:
    """Wait for the load balancer, put CloudFront's https name in front of it (web.https:
    cloudfront), record the audience URL for the gateway, print it."""
    from tubedemo.audience.audience_url import discovered
    from tubedemo.cluster import exposure
    from tubedemo.cluster import up as up_ops

    mode_ref = up_ops.mode_configmap(manifests)
    if cfg.talk.audience_url:
        url, source = cfg.talk.audience_url, "talk.audience_url"
    elif cfg.exposure == "none" or not wait:
        if cfg.exposure != "none":
            console.print("audience URL: not waited for (`tubedemo qr` finds it later)")
        return
    else:
        with console.status("waiting for the load balancer…") as spinner:
            url = exposure.wait_for_address(
                api,
                cfg.cluster.namespace,
                exposure=cfg.exposure,
                discover=discovered,
                timeout=timeout,
                progress=spinner.update,
            )
        source = f"the {'Ingress' if cfg.exposure == 'ingress' else 'Service'}'s load balancer"
        if cfg.audience_https == "cloudfront" and aws is not None:
            url, source = _behind_cloudfront(cfg, api, aws, url, timeout=timeout)
    if mode_ref is not None:
        exposure.record_audience_url(api, mode_ref, url)
    console.print(f"audience URL: [bold]{url}[/] (from {source}; `tubedemo qr` shows it)")


def _behind_cloudfront(
    cfg: "DemoConfig", api: "Api", aws: "Aws", url: str, *, timeout: float
) -> tuple[str, str]:
    """The https name of the CloudFront distribution in front of the load balancer at ``url``
    (made, found or re-pointed, then waited for until deployed), put on the Ingress."""
    from urllib.parse import urlsplit

    from tubedemo.cluster import exposure
    from tubedemo.eks import cloudfront

    already = urlsplit(url).hostname or ""
    if already.endswith(".cloudfront.net"):  # the Ingress carries it from an earlier `up`
        return url, "the CloudFront distribution `up` made"
    verb, https_url = cloudfront.ensure(aws, cfg, already)
    console.print(f"  {verb:<7} CloudFront distribution {https_url} in front of {already}")
    found = cloudfront.find(aws, cfg)
    if found is not None:
        with console.status("waiting for CloudFront to deploy (~5 min)…"):
            aws.wait("cloudfront", "distribution_deployed", timeout=max(timeout, 1200.0),
                     poll=15.0, Id=found["Id"])  # fmt: skip
    if cfg.exposure == "ingress":
        exposure.annotate_audience_url(api, cfg.cluster.namespace, https_url)
    return https_url, "CloudFront in front of the load balancer (web.https: cloudfront)"


def _with_aws(cfg: "DemoConfig") -> "tuple[DemoConfig, Aws | None]":
    """The config with the account id from STS (EKS), and the AWS clients preflight uses."""
    if cfg.profile != "eks" or not cfg.prerequisites.aws_checks:
        return cfg, None
    from tubedemo.aws import account
    from tubedemo.aws.session import Aws

    aws = Aws(cfg.cluster.region)
    return account.with_account(cfg, aws), aws


def _what_up_applies(cfg: "DemoConfig", api: "Api") -> "tuple[DemoConfig, list[dict[str, Any]]]":
    """The config and manifests `up` applies to this cluster; `up`, its dry run, `diff` and
    `preflight` all take them from here, so `diff` shows what `up` would change (it showed the
    deadline ConfigMap as changed after every `up` when only `up` read the live deadline).

    On eks the config has the talk's end known, so the render carries the GPU deadline
    (tubedemo.cluster.deadline.for_up: explicit, else the live one while it is ahead, else
    now + talk.duration)."""
    if cfg.profile == "eks":
        from datetime import UTC, datetime

        from tubedemo.cluster import deadline

        live = deadline.read(api, cfg.cluster.namespace)
        cfg = deadline.for_up(cfg, live, datetime.now(UTC))
    return cfg, _manifests(cfg)


def _prepared(cfg: "DemoConfig", aws: "Aws | None") -> "DemoConfig":
    """The config with `auto` resolved (tubedemo.prepare.lookup.resolve), with a line saying
    what was found."""
    if not (cfg.snapshot_is_auto or cfg.weights_are_auto):
        return cfg
    from tubedemo.prepare import lookup

    resolved = lookup.resolve(aws, cfg)
    console.print(lookup.found_line(cfg, resolved))
    return resolved


def _preflight_line(ok: bool, text: str) -> None:
    """One check's line: ok, no, or warn (passed, but asks for attention)."""
    from rich.markup import escape

    from tubedemo.aws.account import WARNING

    if ok and text.startswith(WARNING):
        console.print(f"  [yellow]warn[/] {escape(text.removeprefix(WARNING))}")
        return
    console.print(f"  {'[green]ok[/]' if ok else '[red]no[/]'}  {escape(text)}")


def _preflight(
    cfg: "DemoConfig", api: "Api", manifests: list[dict[str, Any]], aws: "Aws | None"
) -> int:
    from tubedemo.cluster import preflight as checks

    console.print("[bold]preflight[/]")
    todo = checks.required_checks(cfg, manifests)
    if cfg.profile == "eks" and not cfg.prerequisites.aws_checks:
        console.print("  [yellow]skip[/] AWS account checks (prerequisites.aws_checks is off)")
    checks.run_checks(
        api,
        todo,
        _preflight_line,
        cfg,
        aws,
    )
    return len(todo)


def preflight(
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Check everything `up` needs, in the cluster and the AWS account; one line per check."""
    cfg, aws = _with_aws(config_from(config, set_))
    api = _connect(cfg, kubeconfig, context)
    cfg, manifests = _what_up_applies(cfg, api)
    count = _preflight(cfg, api, manifests, aws)
    console.print(f"[green]all {count} checks passed[/]: `tubedemo up` can apply")


def policy(
    role: Annotated[str, typer.Argument(help="gateway (survey bucket) or vllm (weights).")],
    trust: Annotated[
        bool, typer.Option("--trust", help="Print the IRSA trust policy instead.")
    ] = False,
    oidc_issuer: Annotated[
        str | None,
        typer.Option(
            help="The cluster's OIDC issuer (aws eks describe-cluster --query "
            "cluster.identity.oidc.issuer), for --trust."
        ),
    ] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
) -> None:
    """Print an IAM policy document (JSON) for the gateway's or vLLM's IRSA role."""
    import json

    from tubedemo.aws import iam, s3_layout
    from tubedemo.core.config import ACCOUNT_PLACEHOLDER

    cfg = config_from(config, set_)
    if role not in ("gateway", "vllm"):
        raise UsageError(f"policy {role!r}: choose gateway or vllm")
    if role == "vllm" and not s3_layout.weights_location(cfg):
        raise ConfigError(
            "model.weights_uri is empty (weights from the hub): vLLM needs no AWS role without it"
        )
    if trust:
        if not oidc_issuer:
            raise UsageError(
                "--trust needs --oidc-issuer (aws eks describe-cluster --name "
                f"{cfg.cluster.name} --query cluster.identity.oidc.issuer --output text)"
            )
        provider = oidc_issuer.removeprefix("https://").rstrip("/")
        document = iam.irsa_trust(cfg, provider, role)
        names = "the trust policy names the OIDC provider of the account"
    else:
        document = iam.gateway_policy(cfg) if role == "gateway" else iam.weights_policy(cfg)
        where = "storage.s3_bucket" if role == "gateway" else "model.weights_uri"
        names = f"the policy names the account's bucket (or set {where})"
    text = json.dumps(document, indent=2)
    if ACCOUNT_PLACEHOLDER in text:
        # a document with ${AWS_ACCOUNT_ID} in it is refused by IAM, or worse, a shell expands
        # it to an empty string; never print one
        raise ConfigError(
            f"set cluster.account_id (--set cluster.account_id=$(aws sts get-caller-identity "
            f"--query Account --output text)): {names}"
        )
    typer.echo(text)


def _print_diff(entries: "list[DiffEntry]", heading: str) -> None:
    changes = [e for e in entries if e.action != "unchanged"]
    console.print(f"[bold]{heading}[/]")
    for e in changes:
        paths = f" ({', '.join(e.paths[:4])}{'…' if len(e.paths) > 4 else ''})" if e.paths else ""
        console.print(f"  {e.action:<8} {e.ref}{paths}")
    unchanged = len(entries) - len(changes)
    if changes:
        console.print(f"{len(changes)} to change, {unchanged} unchanged")
    else:
        console.print(f"no changes: {unchanged} objects up to date")


def diff_cmd(
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """What `up` would change (server-side dry run against the cluster)."""
    from tubedemo.cluster import up as up_ops

    cfg, aws = _with_aws(config_from(config, set_))
    cfg = _prepared(cfg, aws)
    api = _connect(cfg, kubeconfig, context)
    cfg, manifests = _what_up_applies(cfg, api)
    _print_diff(up_ops.diff(api, manifests, cfg.cluster.namespace), heading=f"diff {api.context}")


def mode(
    new: Annotated[str | None, typer.Argument(help="quiz or survey; omit to print it.")] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
) -> None:
    """Print the audience page's mode, or flip it (quiz | survey).

    A gateway called directly (--gateway-url, a rehearsal running from this folder, gateway.url)
    is flipped through its admin API; else the cluster's mode ConfigMap."""
    from tubedemo.cluster import up as up_ops
    from tubedemo.commands.wiring import direct_target, gateway_line, open_gateway
    from tubedemo.manifests.render import render

    if new is not None and new not in ("quiz", "survey"):
        raise UsageError(f"mode {new!r}: choose quiz or survey")
    cfg = config_from(config, set_)
    # where the mode lives goes to stderr: `tubedemo mode` alone prints the bare mode
    if direct_target(cfg, gateway_url, admin_token) is not None:
        with open_gateway(cfg, url=gateway_url, admin_token=admin_token) as gw:
            err.print(gateway_line(gw), markup=False)
            old = str(gw.public_config().get("mode") or "quiz")
            if new is None:
                console.print(old)
                return
            gw.set_mode(new)
        console.print(f"mode: {old} → {new}")
        return
    ref = up_ops.mode_configmap(render(cfg))
    if ref is None:
        raise ClusterError("the render has no mode ConfigMap (gateway TUBEDEMO_MODE_CONFIGMAP)")
    api = _connect(cfg, kubeconfig, context)
    err.print(f"mode: ConfigMap {ref.namespace}/{ref.name} on {api.context}", markup=False)
    old = up_ops.get_mode(api, ref)
    if new is None:
        console.print(old)
        return
    up_ops.set_mode(api, ref, new)
    console.print(f"mode: {old} → {new}")


def teardown(
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    purge_data: Annotated[
        bool,
        typer.Option("--purge-data", help="Also delete survey data (PVC) and the namespace."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for GPU nodes to go before giving up.")
    ] = 900.0,
) -> None:
    """Delete in safe order and wait until no GPU node of tubedemo's NodePool remains."""
    from tubedemo.cluster import teardown as td
    from tubedemo.manifests.render import render

    cfg = config_from(config, set_)
    api = _connect(cfg, kubeconfig, context)
    from tubedemo.cluster.plan import Ref

    rendered = [Ref.of(m) for m in render(cfg)]
    plan = td.plan_for(api, cfg, purge_data=purge_data, rendered=rendered)
    if plan.empty:
        console.print(f"nothing left: no tubedemo objects or GPU nodes on {api.context}")
        _kept_prepared(cfg)
        return
    console.print(f"[bold]teardown[/] on {api.context}:")
    for step in plan.steps:
        what = ", ".join(str(r) for r in step.refs) or ", ".join(step.nodepools)
        why = f"  [dim]({step.why})[/]" if step.why else ""
        console.print(f"  {step.action}: {what}{why}")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to tear down without --yes (no terminal to ask)")
        if not typer.confirm("Proceed?", default=False):
            raise Cancelled("teardown cancelled; nothing was deleted")
    td.execute(api, cfg, plan, report=_line, node_timeout=timeout)
    for ref in plan.kept:
        console.print(f"  kept {ref} (your Secrets and survey data; --purge-data deletes it)")
    _kept_prepared(cfg)
    console.print("[green]torn down[/]: no tubedemo GPU node remains")


def _kept_prepared(cfg: "DemoConfig") -> None:
    """teardown never touches what `tubedemo prepare` made: say so (the next talk reuses it)."""
    if cfg.profile == "eks" and (cfg.snapshot_is_auto or cfg.weights_are_auto):
        console.print(
            "  kept the prepared image snapshot and S3 weights (reused by the next talk; "
            "`tubedemo prepare --delete` removes them)"
        )
