"""Where the lab's binaries are: the folders scripts/build-controlplane and scripts/build-lab
build into (keyed by their pins), as tubedemo.core.gobuild defines them for both.

The builds need a checkout (the Go wrapper modules live in tools/); an installed wheel has
no lab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tubedemo.core import gobuild
from tubedemo.core.errors import ExternalToolError
from tubedemo.core.resources import repo_root


class LabNotBuilt(ExternalToolError):
    """The control plane or the lab controllers have not been built on this machine."""


def _checkout() -> None:
    if repo_root() is None:
        raise LabNotBuilt(
            "the lab needs a tubedemo checkout: its controllers are built from the Go modules "
            "pinned in tools/ (scripts/build-controlplane, scripts/build-lab)"
        )


def _built(build: gobuild.GoBuild) -> Path | None:
    _checkout()
    out = build.cache_dir()
    return out if build.is_built(out) else None


def control_plane_dir() -> Path | None:
    """The control plane's binary folder, or None when scripts/build-controlplane has not run."""
    return _built(gobuild.CONTROL_PLANE)


def lab_dir() -> Path | None:
    """KEDA's and Karpenter's binary folder, or None when scripts/build-lab has not run."""
    return _built(gobuild.LAB)


def otelcol() -> Path | None:
    """The OpenTelemetry Collector scripts/build-otelcol built (the rendered config's
    components), or None when it has not run."""
    _checkout()
    return gobuild.OTELCOL.binary() if gobuild.OTELCOL.is_current() else None


def require() -> tuple[Path, Path]:
    """(control plane folder, lab folder); LabNotBuilt naming the missing build."""
    missing = []
    cp, lab = control_plane_dir(), lab_dir()
    if cp is None:
        missing.append("scripts/build-controlplane")
    if lab is None:
        missing.append("scripts/build-lab")
    if missing:
        raise LabNotBuilt(
            f"the lab's binaries are not built: run {' and '.join(missing)} "
            "(or `make test`, which builds them; about 15 min cold on 2 cores)"
        )
    assert cp is not None and lab is not None
    return cp, lab


def stamp(folder: Path) -> dict[str, Any]:
    """The build's stamp: pins, and where the unpacked upstream modules are."""
    data: dict[str, Any] = json.loads((folder / "stamp.json").read_text())
    return data
