"""Upstream CRDs (KEDA, Karpenter, Karpenter's AWS provider) from their pinned release modules.

The CRDs are never hand-written: they come out of the released Go modules' zips, fetched from the
Go module proxy over HTTP (its URL from GOPROXY, or Go's own setting when Go is installed), so
users without Go can validate too, and are cached on first use. Plain HTTP rather than
`go mod download` also sidesteps the go-version gate of modules that need a newer toolchain.
Tests read only the cache; `tubedemo crds fetch` (run by nox and .ci/run) fills it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tubedemo.core import processes
from tubedemo.core.errors import CrdCacheError, ExternalToolError
from tubedemo.core.resources import repo_root


@dataclass(frozen=True)
class UpstreamModule:
    """A released Go module and the CRD files inside it that tubedemo reads."""

    path: str
    version: str
    files: tuple[str, ...]


KEDA = UpstreamModule(
    path="github.com/kedacore/keda/v2",
    version="v2.20.2",
    files=(
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_scaledjobs.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
        "config/crd/bases/keda.sh_clustertriggerauthentications.yaml",
    ),
)
KARPENTER = UpstreamModule(
    path="sigs.k8s.io/karpenter",
    version="v1.14.3",
    files=(
        "pkg/apis/crds/karpenter.sh_nodepools.yaml",
        "pkg/apis/crds/karpenter.sh_nodeclaims.yaml",
        "kwok/apis/crds/karpenter.kwok.sh_kwoknodeclasses.yaml",
    ),
)
KARPENTER_AWS = UpstreamModule(
    path="github.com/aws/karpenter-provider-aws",
    version="v1.14.3",
    files=("pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml",),
)
MODULES: tuple[UpstreamModule, ...] = (KEDA, KARPENTER, KARPENTER_AWS)


def cache_dir() -> Path:
    """Where CRDs are cached: $TUBEDEMO_CRD_CACHE, a checkout's .cache/, or the user cache."""
    override = os.environ.get("TUBEDEMO_CRD_CACHE")
    if override:
        return Path(override)
    root = repo_root()
    if root is not None:
        return root / ".cache" / "crds"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tubedemo" / "crds"


def _module_cache(cache: Path, module: UpstreamModule) -> Path:
    return cache / f"{module.path.replace('/', '_')}@{module.version}"


def is_cached(cache: Path | None = None) -> bool:
    """True when every pinned CRD file is in the cache."""
    cache = cache or cache_dir()
    return all((_module_cache(cache, m) / f).is_file() for m in MODULES for f in m.files)


def fetch(cache: Path | None = None, *, force: bool = False) -> list[Path]:
    """Fill the cache from the pinned modules; returns the CRD files. Idempotent."""
    cache = cache or cache_dir()
    written: list[Path] = []
    for module in MODULES:
        target = _module_cache(cache, module)
        if not force and all((target / f).is_file() for f in module.files):
            written.extend(target / f for f in module.files)
            continue
        source = _download_zip(module)
        try:
            written.extend(_extract(module, source, target))
        finally:
            shutil.rmtree(source.parent, ignore_errors=True)
    return written


def load_crds(cache: Path | None = None, *, fetch_missing: bool = False) -> list[dict[str, Any]]:
    """Every cached CRD document; missing cache is an error unless ``fetch_missing``."""
    cache = cache or cache_dir()
    if not is_cached(cache):
        if not fetch_missing:
            raise CrdCacheError(
                f"upstream CRDs are not cached in {cache}; run `tubedemo crds fetch` "
                "(needs Go or GOPROXY set)"
            )
        fetch(cache)
    docs: list[dict[str, Any]] = []
    for module in MODULES:
        for rel in module.files:
            path = _module_cache(cache, module) / rel
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise CrdCacheError(
                    f"cached CRD {path} is unreadable ({exc}); run `tubedemo crds fetch --force`"
                ) from exc
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                raise CrdCacheError(
                    f"{path} is not a CustomResourceDefinition; run `tubedemo crds fetch --force`"
                )
            docs.append(doc)
    return docs


def _proxy_url() -> str:
    """First proxy URL of GOPROXY (the environment's, else Go's own setting)."""
    candidates = [os.environ.get("GOPROXY", "")]
    go = shutil.which("go")
    if go and not candidates[0]:
        with contextlib.suppress(ExternalToolError):
            candidates.append(
                processes.run([go, "env", "GOPROXY"], what="go env", timeout=30).output
            )
    for value in candidates:
        for entry in value.replace("|", ",").split(","):
            entry = entry.strip()
            if entry.startswith(("https://", "http://")):
                return entry.rstrip("/")
    raise CrdCacheError(
        "cannot fetch upstream CRDs: no Go module proxy is configured; set GOPROXY to your "
        "Go module proxy's URL (or install Go, whose default is used)"
    )


def _escape(module_path: str) -> str:
    # The module proxy protocol writes upper-case letters as '!' + lower-case.
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in module_path)


def _download_zip(module: UpstreamModule) -> Path:
    import httpx

    url = f"{_proxy_url()}/{_escape(module.path)}/@v/{module.version}.zip"
    folder = Path(tempfile.mkdtemp(prefix="tubedemo-crds-"))
    target = folder / "module.zip"
    try:
        with (
            httpx.stream("GET", url, follow_redirects=True, timeout=120.0) as response,
            target.open("wb") as sink,
        ):
            if response.status_code != 200:
                raise CrdCacheError(
                    f"module proxy answered {response.status_code} for "
                    f"{module.path}@{module.version}"
                )
            for chunk in response.iter_bytes():
                sink.write(chunk)
    except httpx.HTTPError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise CrdCacheError(
            f"cannot download {module.path}@{module.version} from the module proxy: {exc}"
        ) from exc
    return target


def _extract(module: UpstreamModule, source: Path, target: Path) -> list[Path]:
    written = []
    target.parent.mkdir(parents=True, exist_ok=True)
    # Staged beside the target so the final move is a rename on the same file system.
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        prefix = f"{module.path}@{module.version}/"
        try:
            with zipfile.ZipFile(source) as archive:
                names = set(archive.namelist())
                for rel in module.files:
                    member = prefix + rel
                    if member not in names:
                        raise CrdCacheError(f"{module.path}@{module.version} has no {rel}")
                    dest = staging / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(archive.read(member))
        except zipfile.BadZipFile as exc:
            raise CrdCacheError(
                f"the module proxy sent a damaged zip for {module.path}@{module.version}"
            ) from exc
        # Swap in whole so a failed fetch never leaves a half-filled cache behind.
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), str(target))
        written = [target / rel for rel in module.files]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
