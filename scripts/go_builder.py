"""How a pinned Go build runs, for build_controlplane.py and build_lab.py (and the `go`
environment build_otelcol.py uses): download the wrapper modules, run each compile step into a
staging folder beside the cache folder, write the stamp, rename, and the scripts' shared
command line. What is built and where (the key, the stamp, the binaries) is
tubedemo.core.gobuild's, which the lab reads too. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tubedemo.core.gobuild import GoBuild

GO_PARALLEL = os.environ.get("TUBEDEMO_GO_PARALLEL", "2")
"""`go build -p`: two cores shared with other work, so a build never fans out wider."""

Compile = Callable[[GoBuild, Path], None]
"""One compile step of a build: (the build, the staging folder its binaries go to)."""


def go_env(toolchain: str = "local") -> dict[str, str]:
    """Static binaries; `local` uses the Go on this machine and never fetches a toolchain
    because a go.mod suggests one (a build that needs a newer Go names its toolchain)."""
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOTOOLCHAIN"] = toolchain
    return env


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a build command, echoing it; a failure raises CalledProcessError."""
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(list(cmd), cwd=cwd, env=env if env is not None else go_env(), check=True)


def module_dir(cwd: Path, module: str, version: str, toolchain: str = "local") -> str:
    """Where Go unpacked ``module@version`` (GOMODCACHE)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=cwd,
        env=go_env(toolchain),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return str(json.loads(out)["Dir"])


def _say(build: GoBuild, message: str) -> None:
    print(f"[{build.name}] {message}", flush=True)


def _timed(build: GoBuild, label: str, fn: Callable[..., object], *args: object) -> None:
    start = time.monotonic()
    fn(*args)
    _say(build, f"{label}: {time.monotonic() - start:.0f}s")


def build(go: GoBuild, steps: Sequence[tuple[str, Compile]]) -> int:
    """Download the wrapper modules, run each compile step into a staging folder next to the
    cache folder, write the stamp, then rename: an interrupted build never looks complete.
    Only says so when the cache folder is current."""
    if shutil.which("go") is None:
        print(f"{go.name}: Go is not installed (need go >= 1.26 on PATH)", file=sys.stderr)
        return 1
    out = go.cache_dir()
    if go.is_current(out):
        _say(go, f"up to date: {out}")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    total = time.monotonic()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".building-") as tmp:
        stage = Path(tmp)
        for module in go.modules:
            download = ["go", "mod", "download"]
            env = go_env(go.toolchain(module))
            _timed(go, f"go mod download ({module})", run, download, go.tools / module, env)
        for label, step in steps:
            _timed(go, label, step, go, stage)
        stamp = go.stamp_for()
        pins = go.pins()
        for u in go.unpacked:
            wrapper = go.tools / u.wrapper
            stamp[u.stamp_key] = module_dir(wrapper, u.module, pins[u.pin], go.toolchain(u.wrapper))
        (stage / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
        stage.mkdir()  # TemporaryDirectory cleanup expects the folder
    _say(go, f"total: {time.monotonic() - total:.0f}s -> {out}")
    return 0


def main(
    go: GoBuild,
    doc: str,
    steps: Sequence[tuple[str, Compile]],
    regenerate: Callable[[], int],
    argv: Sequence[str] | None = None,
) -> int:
    """A build script's command line: build, --print-dir or --regenerate."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--print-dir", action="store_true", help="print the binary folder")
    parser.add_argument("--regenerate", action="store_true", help="rewrite wrapper go.mod files")
    args = parser.parse_args(argv)
    if args.print_dir:
        print(go.cache_dir())
        return 0
    if args.regenerate:
        return regenerate()
    try:
        return build(go, steps)
    except subprocess.CalledProcessError as exc:
        print(f"{go.name}: {' '.join(exc.cmd[:3])} failed (exit {exc.returncode})")
        return 1
