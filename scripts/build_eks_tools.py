#!/usr/bin/env python3
"""Build the tools `tubedemo cluster create` hands work to, from the Go module proxy, and lay
out the charts the tests render: eksctl and helm at the pins of tubedemo/eks/pins.py, Karpenter's
chart (karpenter-provider-aws) and the AWS Load Balancer Controller's chart (its module's helm/).

The tests cannot let eksctl create a cluster or helm install into EKS; they run these real
binaries on what `cluster create` asked of them (tests/eks): eksctl loads and validates the
ClusterConfig (`create cluster --dry-run` against moto), helm parses every flag and renders the
charts with our values.

eksctl's go.mod has replace directives, so `go install` refuses it: its module is copied out of
the module cache and built as the main module. helm has none: `go install`. Idempotent: the
results live in ~/.cache/tubedemo/eks-tools/<key>/ (base overridable with TUBEDEMO_EKS_TOOLS_DIR;
$XDG_CACHE_HOME is followed), <key> naming every pin; a folder with a matching stamp is only
reported. Measured cold on the shared 2-core machine (load ~25 from other builds and tests,
2026-12-07): eksctl 72 min, helm 41 min, side by side (9.3 and 4.0 min of CPU); with Go's build
cache warm, 6 min. Standard library only (and scripts/go_builder.py).

Usage:
  scripts/build-eks-tools              build if needed, print the folder
  scripts/build-eks-tools --print-dir  only print the folder
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.go_builder import GO_PARALLEL, go_env, module_dir, run
from tubedemo.core.cache import cache_dir as tubedemo_cache
from tubedemo.core.gobuild import platform_tag

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / "tubedemo" / "eks" / "pins.py"

EKSCTL_MODULE = "github.com/weaveworks/eksctl"
HELM_MODULE = "helm.sh/helm/v4"
KARPENTER_MODULE = "github.com/aws/karpenter-provider-aws"
# The only version of the Load Balancer Controller's module the proxy serves (its v2/v3 tags
# are not valid versions of a module path without /v2 or /v3); its chart is 3.2.2.
LBC_MODULE = "sigs.k8s.io/aws-load-balancer-controller"
LBC_VERSION = "v0.0.0-20260423195125-93ff3b5fdaad"


def pin(name: str) -> str:
    """A constant of tubedemo/eks/pins.py (read as text: this script imports no tubedemo)."""
    found = re.search(rf'^{name} = "([^"]+)"$', PINS.read_text(), re.M)
    if found is None:
        raise SystemExit(f"build-eks-tools: {PINS} has no {name}")
    return found.group(1)


def key() -> str:
    return (
        f"eksctl-{pin('EKSCTL')}_helm-{pin('HELM')}_karpenter-{pin('KARPENTER')}_"
        f"lbc-{pin('LOAD_BALANCER_CONTROLLER_CHART')}_{platform_tag()}"
    )


def cache_dir() -> Path:
    return tubedemo_cache("eks-tools", override="TUBEDEMO_EKS_TOOLS_DIR") / key()


def is_current() -> bool:
    folder = cache_dir()
    stamp = folder / "stamp.json"
    needed = [
        folder / "bin" / "eksctl",
        folder / "bin" / "helm",
        folder / "charts" / "karpenter" / "Chart.yaml",
        folder / "charts" / "aws-load-balancer-controller" / "Chart.yaml",
    ]
    if not stamp.is_file() or not all(p.is_file() for p in needed):
        return False
    return bool(json.loads(stamp.read_text()).get("key") == key())


def _env(gobin: Path | None = None) -> dict[str, str]:
    env = go_env()
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -p={GO_PARALLEL}".strip()
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    return env


def proxy_zip(module: str, version: str) -> zipfile.ZipFile:
    """A module's zip straight from the proxy: `go mod download` refuses modules that need a
    newer Go than this one (karpenter-provider-aws v1.14.3 wants go 1.26.10)."""
    proxy = next(
        (
            p.strip()
            for p in (os.environ.get("GOPROXY") or "https://proxy.golang.org").split(",")
            if p.strip().startswith("http")
        ),
        "https://proxy.golang.org",
    )
    escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
    with urllib.request.urlopen(f"{proxy.rstrip('/')}/{escaped}/@v/{version}.zip") as reply:
        return zipfile.ZipFile(io.BytesIO(reply.read()))


def build_eksctl(stage: Path) -> None:
    source = Path(module_dir(stage, EKSCTL_MODULE, pin("EKSCTL")))
    work = stage / "eksctl-src"
    shutil.copytree(source, work)
    for path in [work, *work.rglob("*")]:  # the module cache is read-only
        path.chmod(path.stat().st_mode | 0o200)
    # as eksctl's release build: no "dev" pre-release suffix on `eksctl version`
    flags = "-s -w -X github.com/weaveworks/eksctl/pkg/version.PreReleaseID="
    cmd = ["go", "build", "-ldflags", flags, "-o", str(stage / "bin" / "eksctl"), "./cmd/eksctl"]
    run(cmd, work, _env())
    shutil.rmtree(work)


def build_helm(stage: Path) -> None:
    run(["go", "install", f"{HELM_MODULE}/cmd/helm@{pin('HELM')}"], stage, _env(stage / "bin"))


def lay_out_charts(stage: Path) -> None:
    charts = stage / "charts"
    archive = proxy_zip(KARPENTER_MODULE, "v" + pin("KARPENTER"))
    prefix = f"{KARPENTER_MODULE}@v{pin('KARPENTER')}/charts/karpenter/"
    for name in archive.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = charts / "karpenter" / name.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    lbc = Path(module_dir(stage, LBC_MODULE, LBC_VERSION)) / "helm" / "aws-load-balancer-controller"
    shutil.copytree(lbc, charts / "aws-load-balancer-controller")
    for path in (charts / "aws-load-balancer-controller").rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    chart = (charts / "aws-load-balancer-controller" / "Chart.yaml").read_text()
    want = pin("LOAD_BALANCER_CONTROLLER_CHART")
    if f"\nversion: {want}\n" not in f"\n{chart}":
        raise SystemExit(f"build-eks-tools: {LBC_MODULE}@{LBC_VERSION} has no chart {want}")


def build() -> int:
    if shutil.which("go") is None:
        print("build-eks-tools: Go is not installed", file=sys.stderr)
        return 1
    out = cache_dir()
    if is_current():
        print(out)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    seconds: dict[str, int] = {}
    # Build in a sibling temp folder and rename: an interrupted build never looks complete.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".building-") as tmp:
        stage = Path(tmp)
        (stage / "bin").mkdir()
        steps: tuple[tuple[str, Callable[[Path], None]], ...] = (
            ("charts", lay_out_charts),
            ("helm", build_helm),
            ("eksctl", build_eksctl),
        )
        for name, step in steps:
            began = time.monotonic()
            step(stage)
            seconds[name] = round(time.monotonic() - began)
        stamp = {"key": key(), "seconds": seconds}
        (stage / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
        final = out.parent / f".final-{out.name}"
        if final.exists():
            shutil.rmtree(final)
        stage.rename(final)
        stage.mkdir()  # TemporaryDirectory removes its (now empty) folder
        if out.exists():
            shutil.rmtree(out)
        final.rename(out)
    print(f"[build-eks-tools] built in {time.monotonic() - start:.0f}s ({seconds})", flush=True)
    print(out)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--print-dir", action="store_true", help="print the folder")
    args = parser.parse_args()
    if args.print_dir:
        print(cache_dir())
        return 0
    try:
        return build()
    except subprocess.CalledProcessError as exc:
        print(f"build-eks-tools: {' '.join(exc.cmd[:3])} failed (exit {exc.returncode})")
        return 1


if __name__ == "__main__":
    sys.exit(main())
