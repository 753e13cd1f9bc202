"""status: one screen of the talk's cluster (or of a running rehearsal, through its gateway):
objects and their health, replicas, GPU nodes, mode, survey answers, the GPU deadline, $/h."""

from pathlib import Path
from typing import TYPE_CHECKING

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
from tubedemo.core.errors import TubedemoError

if TYPE_CHECKING:
    from tubedemo.core.config import DemoConfig

console = lazy_console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(status)


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


def _gateway_status(cfg: "DemoConfig", gateway_url: str | None, admin_token: str | None) -> None:
    """`status` of a running rehearsal: mode, survey answers and the replicas and GPU nodes its
    status strip shows the phones."""
    from tubedemo.commands.wiring import gateway_line, open_gateway

    with open_gateway(cfg, url=gateway_url, admin_token=admin_token, timeout=3.0) as gw:
        console.print(gateway_line(gw), markup=False)
        config = gw.public_config()
        strip = gw.public_status()
    console.print(f"mode: {config.get('mode') or 'quiz'}")
    console.print(f"survey: {_survey_line(cfg, gateway_url, admin_token, None, None)}")
    if not strip.get("available"):
        console.print("vLLM replicas: unknown (no fresh status from the rehearsal)")
        return
    replicas = strip.get("replicas") or {}
    console.print(
        f"vLLM replicas: {replicas.get('ready', 0)} Ready / {replicas.get('desired', 0)} desired"
        f" (max {replicas.get('max', 0)}); queue {strip.get('queue', 0)}"
    )
    console.print(f"GPU nodes: {strip.get('gpu_nodes', 0)}")


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
    from tubedemo.cluster.api import connect
    from tubedemo.cluster.plan import Ref, format_age, scale_targets
    from tubedemo.commands.wiring import direct_target
    from tubedemo.manifests.render import render

    cfg = config_from(config, set_)
    # a rehearsal has no cluster: its own view; any other gateway only feeds the survey line
    target = direct_target(cfg, gateway_url, admin_token)
    if target is not None and target.rehearsal:
        _gateway_status(cfg, gateway_url, admin_token)
        return
    manifests = render(cfg)
    api = connect(kubeconfig, context or cfg.cluster.context)
    inventory = up_ops.read_inventory(api, cfg.cluster.namespace)
    view = status_ops.gather(
        api,
        cfg,
        inventory,
        up_ops.mode_configmap(manifests),
        status_ops.vllm_target(scale_targets(manifests)),
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
    if cfg.profile == "eks":
        from datetime import UTC, datetime

        from tubedemo.cluster import deadline

        live = deadline.read(api, cfg.cluster.namespace)
        console.print(deadline.describe(live, cfg.gpu_pool.name, datetime.now(UTC)))
    console.print(f"cost now: [bold]${view.per_hour:.2f}/h[/]")
    if cfg.scaling.warm_capacity.replicas:
        # the GPUs placeholders hold idle (scaling.warm_capacity), inside the cost above
        console.print(
            f"of it warm capacity: ${view.warm_per_hour:.2f}/h "
            f"({view.placeholders} placeholder(s) holding a GPU)"
        )
