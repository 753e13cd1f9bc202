"""up, diff, mode, status, teardown: the commands that touch a cluster (via tubedemo.cluster)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from tubedemo.commands.options import (
    AdminToken,
    ConfigPath,
    Context,
    GatewayUrl,
    Kubeconfig,
    Overrides,
    config_from,
)
from tubedemo.core.errors import Cancelled, ClusterError, TubedemoError, UsageError

if TYPE_CHECKING:
    from tubedemo.core.config import DemoConfig

__all__ = ["Context", "Kubeconfig", "register"]  # audience.py imports the two option types

if TYPE_CHECKING:
    from tubedemo.cluster.api import Api
    from tubedemo.cluster.plan import DiffEntry

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command(name="diff")(diff_cmd)
    app.command()(mode)
    app.command()(status)
    app.command()(teardown)


def _connect(cfg: DemoConfig, kubeconfig: Path | None, context: str | None) -> Api:
    from tubedemo.cluster.api import connect

    return connect(kubeconfig, context or cfg.cluster.context)


def _manifests(cfg: DemoConfig) -> list[dict[str, Any]]:
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
) -> None:
    """Render, validate and server-side apply to the cluster; wait until ready; prune."""
    from tubedemo.cluster import preflight
    from tubedemo.cluster import up as up_ops
    from tubedemo.core import images as own_images

    cfg = config_from(config, set_)
    # Our own images must have been pushed (or set): never deploy a placeholder reference.
    own_images.require_deployable(cfg)
    manifests = _manifests(cfg)
    api = _connect(cfg, kubeconfig, context)
    console.print("[bold]preflight[/]")
    preflight.run_checks(
        api,
        preflight.required_checks(cfg, manifests),
        lambda ok, text: console.print(f"  {'[green]ok[/]' if ok else '[red]no[/]'}  {text}"),
    )
    ns = cfg.cluster.namespace
    if dry_run:
        entries = up_ops.diff(api, manifests, ns)
        _print_diff(entries, heading="dry run (server-side), nothing changed")
        return
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


def _print_diff(entries: list[DiffEntry], heading: str) -> None:
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

    cfg = config_from(config, set_)
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
    cfg: DemoConfig,
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
    console.print("[green]torn down[/]: no tubedemo GPU node remains")
