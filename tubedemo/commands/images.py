"""`tubedemo images build|push`: our images from this checkout, into a registry, into demo.yaml."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tubedemo.commands.options import command_group, lazy_console
from tubedemo.core import DEFAULT_CONFIG_PATH
from tubedemo.core.errors import ImageError, UsageError
from tubedemo.images import plan

if TYPE_CHECKING:
    from tubedemo.images.tool import ImageTool

images_app = command_group(
    "Build and push tubedemo's own images (gateway with the page, vLLM stand-in). "
    "Platform linux/amd64 by default: the GPU nodes."
)
console = lazy_console(highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")


def _default_tag() -> str:
    # importlib.metadata takes ~0.02 s (0.1 s on a loaded machine) to import: only when a
    # command needs the tag, never for --help
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tubedemo")
    except PackageNotFoundError:  # pragma: no cover - a checkout without an install
        return "dev"


Images = Annotated[
    list[str] | None,
    typer.Option(
        "--image",
        help="Only this image: gateway or vllm-standin (repeatable; default: both).",
        show_default=False,
    ),
]
Tool = Annotated[
    str | None,
    typer.Option(
        "--tool",
        help="docker, podman or buildah (default: docker if its daemon answers, else podman, "
        "else buildah, whichever is on PATH).",
        show_default=False,
    ),
]
Tag = Annotated[str | None, typer.Option("--tag", help="Image tag (default: tubedemo's version).")]


def _tool(name: str | None) -> "ImageTool":
    from tubedemo.images import tool

    if name is not None and name not in tool.TOOLS:
        raise UsageError(f"--tool {name}: use one of {', '.join(tool.TOOLS)}")
    return tool.detect(name)


@images_app.command("build")
def build(
    image: Images = None,
    tool_name: Tool = None,
    tag: Tag = None,
    platform: Annotated[
        str,
        typer.Option(
            "--platform", help="Target platform; linux/amd64 is what the EKS GPU nodes run."
        ),
    ] = plan.DEFAULT_PLATFORM,
    build_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg",
            help="KEY=VALUE for the Dockerfiles, e.g. BASE=<a local python 3.11 image> "
            "(default base: python:3.11-slim).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide the tool's output.")] = False,
) -> None:
    """Build the images from this checkout (the gateway's page is built first when stale)."""
    from tubedemo.images import tool as image_tool

    recipes = plan.select(image)
    args: dict[str, str] = {}
    for item in build_arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--build-arg {item!r}: write KEY=VALUE")
        args[key] = value
    chosen = _tool(tool_name)
    repo = image_tool.build_checkout()
    tag = tag or _default_tag()
    if any(r.needs_page for r in recipes) and not image_tool.page_is_current(repo):
        console.print("building the page (web/ → web/dist) …")
        image_tool.build_page(repo, stream=not quiet)
    for recipe in recipes:
        ref = recipe.local_ref(tag)
        console.print(f"building {recipe.name} for {platform} with {chosen.name} …")
        chosen.build(recipe, repo, ref, platform, args, stream=not quiet)
        console.print(f"[green]built[/] {ref}")


@images_app.command("push")
def push(
    registry: Annotated[
        str,
        typer.Option(
            "--registry",
            help="host, host:port or host/path; an ECR registry "
            "(<account>.dkr.ecr.<region>.amazonaws.com) gets its repositories created and a "
            "login through boto3.",
            show_default=False,
        ),
    ],
    image: Images = None,
    tool_name: Tool = None,
    tag: Tag = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Plain HTTP / unverified TLS (a local test registry)."),
    ] = False,
    write: Annotated[
        bool,
        typer.Option("--write", help="Set the pushed references in demo.yaml (comments kept)."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="demo.yaml that --write edits (default ./demo.yaml)."),
    ] = None,
) -> None:
    """Push the built images (`images build` first); prints the digest-pinned references."""

    registry = plan.check_registry(registry)
    recipes = plan.select(image)
    chosen = _tool(tool_name)
    tag = tag or _default_tag()
    missing = [r.local_ref(tag) for r in recipes if not chosen.exists(r.local_ref(tag))]
    if missing:
        raise ImageError(
            f"not built with {chosen.name}: {', '.join(missing)}; run `tubedemo images build`"
        )
    ecr = plan.ecr_registry(registry)
    if ecr is not None:
        from tubedemo.aws import ecr as ecr_api
        from tubedemo.aws.session import Aws

        aws = Aws(ecr.region)
        names = [r.repository(registry).split("/", 1)[1] for r in recipes]
        for name in ecr_api.ensure_repositories(aws, ecr.account, names):
            console.print(f"created ECR repository {name}")
        creds = ecr_api.login(aws, ecr.account)
        chosen.login(registry, creds.username, creds.password, tls_verify=not insecure)
        console.print(f"logged in to {registry}")
    refs: dict[str, str] = {}
    for recipe in recipes:
        remote = f"{recipe.repository(registry)}:{tag}"
        digest = chosen.push(recipe.local_ref(tag), remote, tls_verify=not insecure)
        refs[recipe.image.config_key] = plan.pinned(recipe.repository(registry), tag, digest)
        console.print(f"[green]pushed[/] {refs[recipe.image.config_key]}")
    for line in plan.set_lines(refs):
        print(line)
    if write:
        path = config or DEFAULT_CONFIG_PATH
        if not path.is_file():
            raise UsageError(
                f"{path} not found: run `tubedemo init` first, or use the --set lines above"
            )
        text = path.read_text(encoding="utf-8")
        for key, ref in refs.items():
            text = plan.edit_yaml(text, key, ref)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        console.print(f"wrote {', '.join(refs)} to {path}")
