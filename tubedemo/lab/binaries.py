"""Where the lab's binaries are: the folders scripts/build-controlplane and scripts/build-lab
build into (keyed by their pins), read from those scripts so the key has one definition.

The builds need a checkout (the Go wrapper modules live in tools/); an installed wheel has
no lab.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from tubedemo.core.errors import ExternalToolError
from tubedemo.core.resources import repo_root

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
LAB = ("keda-operator", "keda-adapter", "keda-webhooks", "karpenter-kwok")


class LabNotBuilt(ExternalToolError):
    """The control plane or the lab controllers have not been built on this machine."""


def _script(name: str) -> ModuleType:
    root = repo_root()
    if root is None:
        raise LabNotBuilt(
            "the lab needs a tubedemo checkout: its controllers are built from the Go modules "
            "pinned in tools/ (scripts/build-controlplane, scripts/build-lab)"
        )
    path = root / "scripts" / name
    module_name = name.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(module_name, str(path))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _built(script: str, binaries: tuple[str, ...]) -> Path | None:
    out: Path = _script(script).cache_dir()
    if not (out / "stamp.json").is_file() or not all((out / b).is_file() for b in binaries):
        return None
    return out


def control_plane_dir() -> Path | None:
    """The control plane's binary folder, or None when scripts/build-controlplane has not run."""
    return _built("build-controlplane", CONTROL_PLANE)


def lab_dir() -> Path | None:
    """KEDA's and Karpenter's binary folder, or None when scripts/build-lab has not run."""
    return _built("build-lab", LAB)


def otelcol() -> Path | None:
    """The OpenTelemetry Collector scripts/build-otelcol built (the rendered config's
    components), or None when it has not run."""
    script = _script("build-otelcol")
    path: Path = script.binary()
    return path if script.is_current() else None


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
