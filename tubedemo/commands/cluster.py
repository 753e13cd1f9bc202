"""up, diff, mode, status, teardown: the commands that touch a cluster (via tubedemo.cluster)."""

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
from tubedemo.core.errors import Cancelled, ClusterError, ConfigError, TubedemoError, UsageError

if TYPE_CHECKING:
    from tubedemo.core.config import DemoConfig

__all__ = ["Context", "Kubeconfig", "register"]  # audience.py imports the two option types

if TYPE_CHECKING:
    from tubedemo.cluster import aws as aws_ops
    from tubedemo.cluster.api import Api
    from tubedemo.cluster.plan import DiffEntry

console = lazy_console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(preflight)
    app.command()(policy)
    app.command()(up)
    app.command(name="diff")(diff_cmd)
    app.command()(mode)
    app.command()(status)
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
    from tubedemo.core import images as own_images

    cfg = config_from(config, set_)
    # Our own images must have been pushed (or set): never deploy a placeholder reference.
    # Checked first: it needs nothing but the config (no AWS, no cluster).
    own_images.require_deployable(cfg)
    cfg, aws = _with_aws(cfg)
    # auto -> the snapshot and weights `tubedemo prepare` made; refuses (NotPrepared) without
    # them, so the talk never goes on stage cold by accident. The render gets concrete ids.
    cfg = _prepared(cfg, aws)
    manifests = _manifests(cfg)
    api = _connect(cfg, kubeconfig, context)
    _preflight(cfg, api, manifests, aws)
    ns = cfg.cluster.namespace
    if dry_run:
        entries = up_ops.diff(api, manifests, ns)
        _print_diff(entries, heading="dry run (server-side), nothing changed")
        return
    if aws is not None and cfg.storage.kind == "s3" and cfg.storage.create_bucket:
        from tubedemo.cluster import aws as aws_ops

        if aws_ops.create_bucket(aws, cfg.s3_bucket):
            console.print(f"  created    S3 bucket {cfg.s3_bucket} (versioned, not public)")
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
        )
    if result.changed:
        counts: dict[str, int] = {}
        for _, outcome in result.outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
        parts = [f"{n} {k}" for k, n in sorted(counts.items())]
        if result.pruned:
            parts.append(f"{len(result.pruned)} pruned")
        done = "ready" if wait else "applied (not waited for)"
        console.print(f"[green]{done}[/]: {', '.join(parts)}")
    else:
        console.print(
            f"[green]nothing changed[/]: {len(result.outcomes)} objects already up to date"
        )
    _audience_address(cfg, api, manifests, wait=wait and wait_address, timeout=address_timeout)


def _audience_address(
    cfg: "DemoConfig", api: "Api", manifests: list[dict[str, Any]], *, wait: bool, timeout: float
) -> None:
    """Wait for the load balancer, record the audience URL for the gateway, print it."""
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
    if mode_ref is not None:
        exposure.record_audience_url(api, mode_ref, url)
    console.print(f"audience URL: [bold]{url}[/] (from {source}; `tubedemo qr` shows it)")


def _with_aws(cfg: "DemoConfig") -> "tuple[DemoConfig, aws_ops.Aws | None]":
    """The config with the account id from STS (EKS), and the AWS clients preflight uses."""
    if cfg.profile != "eks" or not cfg.prerequisites.aws_checks:
        return cfg, None
    from tubedemo.cluster import aws as aws_ops

    aws = aws_ops.Aws(cfg.cluster.region)
    if cfg.cluster.account_id:
        return cfg, aws
    try:
        return aws_ops.with_account(cfg, aws), aws
    except aws_ops.AwsUnavailable as exc:
        raise aws_ops.AwsUnavailable(
            f"{exc.message}; the account id names the bucket and IAM roles (or set "
            "cluster.account_id)"
        ) from exc


def _prepared(cfg: "DemoConfig", aws: "aws_ops.Aws | None") -> "DemoConfig":
    """The config with `auto` resolved (tubedemo.cluster.prepare.resolve), with a line saying
    what was found."""
    if not (cfg.snapshot_is_auto or cfg.weights_are_auto):
        return cfg
    from tubedemo.cluster import prepare as prepare_ops

    resolved = prepare_ops.resolve(aws, cfg)
    found = []
    if cfg.snapshot_is_auto:
        found.append(f"image snapshot {resolved.gpu_pool.image_snapshot_id}")
    if cfg.weights_are_auto:
        found.append(f"weights {resolved.model.weights_uri}")
    console.print(f"prepared (auto): {', '.join(found)}")
    return resolved


def _preflight(
    cfg: "DemoConfig", api: "Api", manifests: list[dict[str, Any]], aws: "aws_ops.Aws | None"
) -> int:
    from tubedemo.cluster import preflight as checks

    console.print("[bold]preflight[/]")
    todo = checks.required_checks(cfg, manifests)
    if cfg.profile == "eks" and not cfg.prerequisites.aws_checks:
        console.print("  [yellow]skip[/] AWS account checks (prerequisites.aws_checks is off)")
    checks.run_checks(
        api,
        todo,
        lambda ok, text: console.print(f"  {'[green]ok[/]' if ok else '[red]no[/]'}  {text}"),
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
    manifests = _manifests(cfg)
    api = _connect(cfg, kubeconfig, context)
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

    from tubedemo.cluster import aws as aws_ops

    cfg = config_from(config, set_)
    if role not in ("gateway", "vllm"):
        raise UsageError(f"policy {role!r}: choose gateway or vllm")
    if role == "vllm" and not cfg.weights_location:
        raise ConfigError(
            "model.weights_uri is empty (weights from the hub): vLLM needs no AWS role without it"
        )
    if trust:
        if not oidc_issuer:
            raise UsageError(
                "--trust needs --oidc-issuer (aws eks describe-cluster --name "
                f"{cfg.cluster.name} --query cluster.identity.oidc.issuer --output text)"
            )
        if not cfg.cluster.account_id:
            raise ConfigError("set cluster.account_id: the trust policy names the OIDC provider")
        provider = oidc_issuer.removeprefix("https://").rstrip("/")
        document = aws_ops.irsa_trust(cfg, provider, role)
    else:
        if role == "gateway" and not cfg.storage.s3_bucket and not cfg.cluster.account_id:
            raise ConfigError(
                "set cluster.account_id or storage.s3_bucket: the policy names the bucket"
            )
        document = aws_ops.gateway_policy(cfg) if role == "gateway" else aws_ops.weights_policy(cfg)
    typer.echo(json.dumps(document, indent=2))


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
    manifests = _manifests(cfg)
    api = _connect(cfg, kubeconfig, context)
    _print_diff(up_ops.diff(api, manifests, cfg.cluster.namespace), heading=f"diff {api.context}")


def mode(
    new: Annotated[str | None, typer.Argument(help="quiz or survey; omit to print it.")] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Print the audience page's mode, or flip it (quiz | survey)."""
    from tubedemo.cluster import up as up_ops
    from tubedemo.manifests.render import render

    if new is not None and new not in ("quiz", "survey"):
        raise UsageError(f"mode {new!r}: choose quiz or survey")
    cfg = config_from(config, set_)
    ref = up_ops.mode_configmap(render(cfg))
    if ref is None:
        raise ClusterError("the render has no mode ConfigMap (gateway TUBEDEMO_MODE_CONFIGMAP)")
    api = _connect(cfg, kubeconfig, context)
    old = up_ops.get_mode(api, ref)
    if new is None:
        console.print(old)
        return
    up_ops.set_mode(api, ref, new)
    console.print(f"mode: {old} → {new}")


def _survey_line(
    cfg: "DemoConfig",
    gateway_url: str | None,
    admin_token: str | None,
    kubeconfig: Path | None,
    context: str | None,
) -> str:
    """Survey answers of the current talk session, from the gateway; never fails `status`."""
    from tubedemo.commands.wiring import open_gateway

    try:
        with open_gateway(
            cfg,
            url=gateway_url,
            admin_token=admin_token,
            kubeconfig=kubeconfig,
            context=context,
            timeout=3.0,
        ) as gw:
            sessions = gw.sessions()
    except TubedemoError as exc:
        return f"unavailable ({exc.message.splitlines()[0][:240]})"
    current = [s for s in sessions if s.current] or [s for s in sessions if not s.archived]
    if not current:
        return "no talk session yet"
    session = current[-1]
    name = f" in session {session.name}" if session.name else ""
    return f"{session.submissions} answers{name}"


def status(
    config: ConfigPath = None,
    set_: Overrides = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
) -> None:
    """One screen: context, objects and health, replicas, GPU nodes, mode, survey, $/h."""
    from rich.table import Table

    from tubedemo.cluster import status as status_ops
    from tubedemo.cluster import up as up_ops
    from tubedemo.cluster.plan import Ref, format_age, scale_targets
    from tubedemo.manifests.render import render

    cfg = config_from(config, set_)
    manifests = render(cfg)
    api = _connect(cfg, kubeconfig, context)
    inventory = up_ops.read_inventory(api, cfg.cluster.namespace)
    targets = sorted(scale_targets(manifests))
    view = status_ops.gather(
        api,
        cfg,
        inventory,
        up_ops.mode_configmap(manifests),
        targets[0] if targets else None,
    )
    console.print(
        f"[bold]{view.context}[/] {view.server} (Kubernetes {view.version}) "
        f"namespace {view.namespace}"
    )
    table = Table(box=None, pad_edge=False, show_header=True)
    table.add_column("object")
    table.add_column("health")
    colour = {"ok": "green", "progressing": "yellow", "missing": "red", "foreign": "red"}
    for o in view.objects:
        if o.ref == Ref("v1", "ConfigMap", cfg.cluster.namespace, "tubedemo-inventory"):
            continue
        table.add_row(str(o.ref), f"[{colour[o.state]}]{o.detail}[/]")
    if not view.objects:
        console.print("nothing deployed (run `tubedemo up`)")
    else:
        console.print(table)
    console.print(f"vLLM replicas: {view.replicas}")
    console.print(f"mode: {view.mode or 'quiz (default)'}")
    survey = _survey_line(cfg, gateway_url, admin_token, kubeconfig, context)
    console.print(f"survey: {survey}")
    if view.nodes:
        nodes = Table(box=None, pad_edge=False)
        for col in ("GPU node", "type", "capacity", "age", "$/h"):
            nodes.add_column(col)
        for n in view.nodes:
            nodes.add_row(
                n.name,
                n.instance_type,
                n.capacity_type,
                format_age(n.age_s),
                f"{n.price_per_hour:.2f}",
            )
        console.print(nodes)
    else:
        console.print(f"GPU nodes: none in NodePool {cfg.gpu_pool.name}")
    console.print(f"cost now: [bold]${view.per_hour:.2f}/h[/]")


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
