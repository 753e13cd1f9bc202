"""qr, winners, session new/list/export: the audience-facing operations on stage.

Each command reaches the gateway one of two ways (commands.wiring.direct_target): directly
(--gateway-url or TUBEDEMO_GATEWAY_URL, else the rehearsal running from this folder, found by its
stage file, else gateway.url), else the cluster's gateway through the API server's service
proxy. The first line a command prints names the gateway it used and why that one.
"""

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import (
    AdminToken,
    ConfigPath,
    Context,
    GatewayUrl,
    Kubeconfig,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)
from tubedemo.core.errors import ClusterError, ExportError, GatewayError

if TYPE_CHECKING:
    from tubedemo.audience import GatewayClient
    from tubedemo.core.config import DemoConfig

console = lazy_console(highlight=False)
err = lazy_console(stderr=True, highlight=False)
session_app = command_group("Talk sessions: archive, list, export.")


def register(app: typer.Typer) -> None:
    app.command()(qr)
    app.command()(winners)
    app.add_typer(session_app, name="session")


def _gateway(
    cfg: "DemoConfig",
    url: str | None,
    token: str | None,
    kubeconfig: Path | None,
    context: str | None,
    *,
    say_where: bool = True,
) -> "GatewayClient":
    """The gateway client; its first line (which gateway, why) printed unless ``say_where`` is
    False (a command whose standard output is data says it elsewhere)."""
    from tubedemo.commands.wiring import gateway_line, open_gateway

    gw = open_gateway(cfg, url=url, admin_token=token, kubeconfig=kubeconfig, context=context)
    if say_where:
        console.print(gateway_line(gw), markup=False)
    return gw


# --------------------------------------------------------------------------------------- qr


def resolve_audience_url(
    cfg: "DemoConfig",
    url: str | None,
    gateway_url: str | None,
    kubeconfig: Path | None,
    context: str | None,
    *,
    url_option: str = "--url",
) -> tuple[str, str]:
    """(URL, where it came from): --url, demo.yaml, the rehearsal gateway, then the cluster's
    load balancer (the Ingress's or the Service's status, the address `up` waited for).
    ``url_option``: the caller's option that gives the URL, named in its hints (qr's --url,
    show's and load's --gateway-url).

    A localhost talk.audience_url (`init --profile local` writes the port-forward's) is this
    laptop's own view: a gateway that advertises an address phones reach (a rehearsal's LAN
    address) wins over it."""
    from tubedemo.audience import discovered, phones_cannot_reach
    from tubedemo.commands.wiring import direct_target, open_gateway

    if url:
        return url, "--url"
    configured = cfg.talk.audience_url
    target = direct_target(cfg, gateway_url)
    if configured and not phones_cannot_reach(configured):
        return configured, "talk.audience_url"
    if target is not None:
        with open_gateway(cfg, url=target.url, admin_token=target.token) as gw:
            advertised = str(gw.public_config().get("audience_url") or "")
        if advertised and not (configured and phones_cannot_reach(advertised)):
            return advertised, "the gateway's /config"
        if not configured:
            return target.url, target.source
    if configured:
        return configured, "talk.audience_url"
    from tubedemo.cluster.gateway_proxy import api_client_for, public_objects

    instead = f"set talk.audience_url or pass {url_option}"
    try:
        api = api_client_for(kubeconfig, context or cfg.cluster.context)
        ingress, service = public_objects(api, cfg.cluster.namespace, then=instead)
    except ClusterError as exc:
        raise ClusterError(
            f"cannot discover the audience URL from the cluster ({exc.message}); {instead}"
        ) from exc
    found = discovered(ingress, service)
    if found is None:
        what = "the Ingress gateway" if ingress else "the gateway Service (no Ingress)"
        raise GatewayError(
            f"{what} in namespace {cfg.cluster.namespace} has no public address yet; wait for "
            f"the load balancer (tubedemo status), or set talk.audience_url / pass {url_option}"
        )
    return found, "the cluster"


def qr(
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write the code as a PNG for the slides.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Encode this URL instead.", show_default=False)
    ] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Show the audience URL as a QR code (and write a PNG for the slides)."""
    from tubedemo.audience import phones_cannot_reach
    from tubedemo.audience import qr as qrcode
    from tubedemo.commands.wiring import direct_target

    cfg = config_from(config, set_)
    target, source = resolve_audience_url(cfg, url, gateway_url, kubeconfig, context)
    direct = direct_target(cfg, gateway_url)
    if direct is not None and source in ("the gateway's /config", direct.source):
        console.print(f"gateway: {direct.url} ({direct.source})", markup=False)
    matrix = qrcode.qr_matrix(target)
    if console.is_terminal and console.color_system is not None:
        if not qrcode.fits(matrix, console.width, console.height):
            err.print("[yellow]the terminal is smaller than the code; enlarge it or zoom out[/]")
        console.print(qrcode.half_block_text(matrix))
    else:
        for line in qrcode.half_block_lines(matrix):
            typer.echo(line)
    console.print(f"[bold]{target}[/]  [dim](from {source})[/]")
    if phones_cannot_reach(target):
        err.print(
            "[yellow]warning:[/] phones cannot open a localhost address; set talk.audience_url "
            "to this laptop's LAN address (or pass --url)"
        )
    if png is not None:
        written = qrcode.write_png(target, png)
        console.print(f"wrote [bold]{written}[/] for the slides")


# ---------------------------------------------------------------------------------- winners


def _reveal(lines_frames: list[tuple[str, ...]], title: str) -> None:
    from rich.live import Live

    from tubedemo.audience.reveal import FRAME_SECONDS, board

    with Live(
        board(lines_frames[0], title=title), console=console, auto_refresh=False, transient=False
    ) as live:
        for frame in lines_frames[1:]:
            time.sleep(FRAME_SECONDS)
            live.update(board(frame, title=title), refresh=True)


def winners(
    count: Annotated[int, typer.Option(min=1, max=1000, help="How many winners to draw.")] = 2,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the draw (default: random; printed, so a draw can be redone)."),
    ] = None,
    redraw: Annotated[
        bool, typer.Option("--redraw", help="Draw new winners; earlier winners are excluded.")
    ] = False,
    instant: Annotated[bool, typer.Option("--instant", help="Skip the reveal animation.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Show the entries, how many the draw keeps and the most concentrated "
            "networks; draw nothing.",
        ),
    ] = False,
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Draw the raffle winners through the gateway and reveal them on stage."""
    from tubedemo.audience.reveal import (
        board,
        board_frames,
        raffle_line,
        winner_lines,
        winners_table,
    )

    cfg = config_from(config, set_)
    with _gateway(cfg, gateway_url, admin_token, kubeconfig, context) as gw:
        before = gw.public_winners()
        raffle = gw.raffle()
        console.print(raffle_line(raffle))
        if check:
            return
        draw = gw.draw(count, seed, redraw=redraw)
    repeat = before.drawn and not redraw
    if repeat:
        err.print(
            f"already drawn in session {draw.session}: showing draw {draw.draw_id} again "
            "(--redraw draws new winners, never an earlier one)"
        )
    lines = winner_lines(draw)
    frames = board_frames(lines, seed=draw.seed)
    title = "WINNERS" if len(lines) != 1 else "WINNER"
    if console.is_terminal and not instant and not repeat:
        _reveal(frames, title)
    else:
        console.print(board(frames[-1], title=title))
    console.print(winners_table(draw, redraw=redraw))
    if len(lines) < count and not repeat:
        err.print(f"only {len(lines)} eligible, drew everyone left")


# ---------------------------------------------------------------------------------- session


@session_app.command("new")
def session_new(
    name: Annotated[str | None, typer.Argument(help="Name of the new session.")] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Archive the current talk session (kept whole) and start an empty one."""
    cfg = config_from(config, set_)
    with _gateway(cfg, gateway_url, admin_token, kubeconfig, context) as gw:
        previous = next((s for s in gw.sessions() if s.current), None)
        started = gw.new_session(name)
    if previous is not None:
        console.print(
            f"archived session [bold]{previous.id}[/]"
            + (f" ({previous.name})" if previous.name else "")
            + f": {previous.submissions} submissions, {previous.questions} questions"
        )
    label = f" ({started.name})" if started.name else ""
    console.print(f"[green]✓[/] new session [bold]{started.id}[/]{label}: phones start afresh")


@session_app.command("list")
def session_list(
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """List the talk sessions, oldest first."""
    from rich.table import Table

    cfg = config_from(config, set_)
    with _gateway(cfg, gateway_url, admin_token, kubeconfig, context) as gw:
        sessions = gw.sessions()
    table = Table(title=f"talk sessions ({gw.where})")
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("submissions", justify="right")
    table.add_column("questions", justify="right")
    table.add_column("state")
    for s in sessions:
        state = "current" if s.current else ("archived" if s.archived else "")
        created = s.created_at.replace("T", " ")[:16]  # minutes are enough to tell talks apart
        table.add_row(s.id, s.name or "", created, str(s.submissions), str(s.questions), state)
    console.print(table)


def _write_atomic(path: Path, text: str) -> None:
    target = path.expanduser()
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".csv", dir=directory)
    try:
        # newline="" keeps the gateway's CRLF rows byte for byte (CSV's own line ends).
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


@session_app.command("export")
def session_export(
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the CSV here (default: standard output)."),
    ] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
    gateway_url: GatewayUrl = None,
    admin_token: AdminToken = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Export the current session's survey responses with their winners as CSV."""
    from tubedemo.audience import parse_export

    cfg = config_from(config, set_)
    # standard output may be the CSV itself: the gateway line goes to standard error
    with _gateway(cfg, gateway_url, admin_token, kubeconfig, context, say_where=False) as gw:
        from tubedemo.commands.wiring import gateway_line

        text = gw.export_csv()
        err.print(gateway_line(gw), markup=False)
    if csv_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    rows = parse_export(text)  # refuse to save something that would not read back
    _write_atomic(csv_file, text)
    won = sum(1 for r in rows if r.winner)
    err.print(f"wrote {len(rows)} submissions ({won} winners) to [bold]{csv_file}[/]")
