"""What to build and push, and where the references land. Pure: no processes, no files.

Every image is built from this repository (the Dockerfile's context is the repository root,
trimmed by its ignore file) for ``linux/amd64`` by default, the GPU nodes' platform. A pushed
image is referred to by tag and digest (``<registry>/tubedemo/<name>:<tag>@sha256:...``), so
what ``up`` deploys is exactly what was pushed, even if someone pushes the tag again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tubedemo.core.errors import UsageError
from tubedemo.core.own_images import GATEWAY, STANDIN, OwnImage

DEFAULT_PLATFORM = "linux/amd64"
"""The EKS GPU nodes (g5/g6) are x86-64."""
LOCAL_REGISTRY = "localhost/tubedemo"
"""Where `images build` tags what it built (the image tool's local storage)."""

_ECR = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Recipe:
    """How one of our images is built from this repository."""

    image: OwnImage
    dockerfile: str
    """Path from the repository root; the build context is the root."""
    ignorefile: str
    """Trims the context (docker reads <Dockerfile>.dockerignore itself; buildah/podman get it)."""
    needs_page: bool
    """The built web page (web/dist) goes into the image: build it first."""

    @property
    def name(self) -> str:
        return self.image.name

    def local_ref(self, tag: str) -> str:
        return f"{LOCAL_REGISTRY}/{self.name}:{tag}"

    def repository(self, registry: str) -> str:
        """``<registry>/tubedemo/<name>``; the ECR repository name is ``tubedemo/<name>``."""
        return f"{registry.rstrip('/')}/tubedemo/{self.name}"


RECIPES = (
    Recipe(GATEWAY, "gateway/Dockerfile", "gateway/Dockerfile.dockerignore", needs_page=True),
    Recipe(
        STANDIN,
        "images/standin.Dockerfile",
        "images/standin.Dockerfile.dockerignore",
        needs_page=False,
    ),
)


def select(names: list[str] | None) -> list[Recipe]:
    """The recipes named (all when none); an unknown name is a usage error listing the known."""
    if not names:
        return list(RECIPES)
    known = {r.name: r for r in RECIPES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown image {', '.join(unknown)}; images: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


@dataclass(frozen=True)
class EcrRegistry:
    account: str
    region: str


def ecr_registry(registry: str) -> EcrRegistry | None:
    """``<account>.dkr.ecr.<region>.amazonaws.com`` -> account and region; else None."""
    match = _ECR.match(registry.strip().rstrip("/"))
    if match is None:
        return None
    return EcrRegistry(match["account"], match["region"])


def check_registry(registry: str) -> str:
    """A registry host, host:port or host/path, without scheme; a usage error otherwise."""
    value = registry.strip().rstrip("/")
    if not value or "://" in value or " " in value or value != value.lower():
        raise UsageError(
            f"--registry {registry!r} is not a registry: give host, host:port or host/path in "
            "lower case, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com or ghcr.io/my-org"
        )
    return value


def pinned(repository: str, tag: str, digest: str) -> str:
    """``repository:tag@digest``: readable and immutable."""
    if not _DIGEST.match(digest):
        raise ValueError(f"not an image digest: {digest!r}")
    return f"{repository}:{tag}@{digest}"


def set_lines(refs: dict[str, str]) -> list[str]:
    """``--set key=value`` for each config key -> reference."""
    return [f"--set {key}={ref}" for key, ref in refs.items()]


def edit_yaml(text: str, key: str, value: str) -> str:
    """demo.yaml ``text`` with the scalar at ``section.field`` set to ``value``, comments kept.

    Edits only the one line (or adds it to its section, or adds the section). The result is
    parsed back; if it does not hold the value (a flow-style section, say), a UsageError asks
    for the edit by hand instead of guessing.
    """
    section, field = key.split(".", 1)
    quoted = json.dumps(value)  # a JSON string is a YAML scalar
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, ln in enumerate(lines) if re.match(rf"^{section}:\s*(#.*)?$", ln)), None)
    if start is None:
        lines += ["\n", f"{section}:\n", f"  {field}: {quoted}\n"]
    else:
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        pattern = re.compile(
            rf"^(?P<lead>[ \t]+{re.escape(field)}:)(?P<value>[^#\n]*?)(?P<tail>[ \t]+#.*)?$"
        )
        hit = next((i for i in range(start + 1, end) if pattern.match(lines[i].rstrip("\n"))), None)
        if hit is not None:
            m = pattern.match(lines[hit].rstrip("\n"))
            assert m is not None
            lines[hit] = f"{m['lead']} {quoted}{m['tail'] or ''}\n"
        else:
            last = max((i for i in range(start + 1, end) if lines[i].strip()), default=start)
            indent = "  "
            for i in range(start + 1, end):
                stripped = lines[i].lstrip(" \t")
                if stripped.strip() and not stripped.startswith("#"):
                    indent = lines[i][: len(lines[i]) - len(stripped)]
                    break
            lines.insert(last + 1, f"{indent}{field}: {quoted}\n")
    result = "".join(lines)
    import yaml  # here, not at the top: `tubedemo images --help` needs no YAML parser

    # The edit is right only if the file means what it meant, plus this one value.
    try:
        expected = yaml.safe_load(text) or {}
        expected.setdefault(section, {})[field] = value
        ok = yaml.safe_load(result) == expected
    except (yaml.YAMLError, AttributeError, TypeError):
        ok = False
    if not ok:
        raise UsageError(
            f"cannot set {key} in demo.yaml automatically; set it by hand: {key}: {quoted}"
        )
    return result
