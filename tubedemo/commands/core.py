"""init, config show, render, validate, crds fetch: the offline commands."""

from pathlib import Path
from typing import Annotated

import typer

from tubedemo.commands.options import (
    ConfigPath,
    Overrides,
    command_group,
    config_from,
    lazy_console,
)
from tubedemo.core import DEFAULT_CONFIG_PATH
from tubedemo.core.errors import ConfigError, UsageError

console = lazy_console(highlight=False)
config_app = command_group("Inspect the effective configuration.")
crds_app = command_group("Upstream CRD schemas used by validate.")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.add_typer(config_app, name="config")
    app.command(name="render")(render_cmd)
    app.command()(validate)
    app.add_typer(crds_app, name="crds")


def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = DEFAULT_CONFIG_PATH,
    profile: Annotated[str, typer.Option(help="eks (GPUs on EKS) or local (kind/k3d).")] = "eks",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented default demo.yaml."""
    from tubedemo.manifests import default_demo_yaml

    if profile not in ("eks", "local"):
        raise ConfigError(f"--profile {profile!r}: choose eks or local")
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    text = default_demo_yaml(profile)
    if profile == "local":
        # A kind/k3d cluster has no S3 and no Kedify build of KEDA: local store, upstream KEDA.
        text = text.replace("  kind: s3\n", "  kind: local\n", 1)
        text = text.replace("  scaler: kedify-otel\n", "  scaler: external\n", 1)
        # kind/k3d: the page is port-forwarded to this laptop (EKS discovers the ALB instead).
        text = text.replace("  audience_url: null\n", "  audience_url: http://localhost:8080\n", 1)
    try:
        # a folder of its own (`init talks/berlin/demo.yaml`) is made, as `render -o` makes its
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    console.print(f"wrote [bold]{path}[/] (profile {profile}); next: tubedemo render -o out/")


@config_app.command("show")
def config_show(config: ConfigPath = None, set_: Overrides = None) -> None:
    """Print the effective configuration (defaults + demo.yaml + --set)."""
    import yaml

    cfg = config_from(config, set_)
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, width=100), nl=False)


def render_cmd(
    output: Annotated[
        str, typer.Option("--output", "-o", help="Folder for one file per object, or - for stdout.")
    ] = "-",
    config: ConfigPath = None,
    set_: Overrides = None,
    skip_validation: Annotated[
        bool, typer.Option("--skip-validation", help="Do not check the schemas first.")
    ] = False,
) -> None:
    """Render the manifests (validated first) to stdout or a folder."""
    from tubedemo.manifests import crds, ensure_valid, to_yaml, write_files
    from tubedemo.manifests.render import render

    cfg = config_from(config, set_)
    manifests = render(cfg)
    if not skip_validation:
        ensure_valid(manifests, crds.load_crds(fetch_missing=True))
    if output == "-":
        typer.echo(to_yaml(manifests), nl=False)
        return
    files = write_files(manifests, Path(output))
    lazy_console(stderr=True, highlight=False).print(
        f"wrote {len(files)} objects ({cfg.profile} profile) to [bold]{output}[/]"
    )


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Manifest files or folders; default: render demo.yaml and check it."),
    ] = None,
    config: ConfigPath = None,
    set_: Overrides = None,
) -> None:
    """Check manifests against Kubernetes and the upstream KEDA/Karpenter CRD schemas."""
    from tubedemo.manifests import (
        KUBERNETES_VERSION,
        crds,
        ensure_valid,
        load_manifest_files,
        object_ref,
    )
    from tubedemo.manifests.render import render

    if paths:
        manifests = load_manifest_files(paths)
        source = ", ".join(str(p) for p in paths)
    else:
        cfg = config_from(config, set_)
        manifests = render(cfg)
        source = f"{cfg.profile} profile render"
    ensure_valid(manifests, crds.load_crds(fetch_missing=True))
    console.print(
        f"[green]✓[/] {len(manifests)} objects valid ({source}; Kubernetes "
        f"{KUBERNETES_VERSION.rsplit('.', 1)[0]}, KEDA {crds.KEDA.version}, "
        f"Karpenter {crds.KARPENTER.version}, EC2NodeClass {crds.KARPENTER_AWS.version})"
    )
    for obj in manifests:
        console.print(f"  {object_ref(obj)}", style="dim")


@crds_app.command("fetch")
def crds_fetch(
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
) -> None:
    """Download the pinned upstream CRDs into the cache (needs the Go module proxy)."""
    from tubedemo.manifests import crds

    files = crds.fetch(force=force)
    console.print(f"{len(files)} CRDs cached in {crds.cache_dir()}")
    for module in crds.MODULES:
        console.print(f"  {module.path}@{module.version}", style="dim")
